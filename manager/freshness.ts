/**
 * Whether the newest result of a check from one monitor still says anything
 * about now. It does not once the monitor is offline (its link is not
 * Online: a dead vantage point must not keep showing green) or once the
 * result is older than two intervals plus the timeout (one run may be late
 * or lost; two in a row mean the monitor is not checking). The API, `ctl`,
 * the dashboard, the live view, `/metrics` and the alerts all judge by this
 * one rule. Pure: the caller passes the clock in.
 *
 * @example
 * ```ts
 * import { freshness } from "./freshness.ts";
 * const f = freshness({
 *   online: true, lastResultAt: 1_000, intervalMs: 10_000, timeoutMs: 5_000, now: 20_000,
 * });
 * console.assert(f === "fresh");
 * ```
 *
 * @module
 */
import type { Config } from "../shared/config.ts";

/**
 * - `fresh`: the monitor is online and its newest result is recent enough;
 * - `stale`: the monitor is online, but its newest result is too old;
 * - `offline`: the monitor's link is not Online;
 * - `none`: the monitor is online and has no result yet.
 *
 * @example
 * ```ts
 * import type { Freshness } from "./freshness.ts";
 * const f: Freshness = "stale";
 * ```
 */
export type Freshness = "fresh" | "stale" | "offline" | "none";

/**
 * What {@linkcode freshness} judges by.
 *
 * @example
 * ```ts
 * import type { FreshnessInput } from "./freshness.ts";
 * const i: FreshnessInput = { online: false, lastResultAt: null, intervalMs: 1, timeoutMs: 1, now: 0 };
 * ```
 */
export interface FreshnessInput {
  /** Whether the monitor's link is Online. */
  online: boolean;
  /** Wall-clock start of the newest result (epoch ms), or null for none. */
  lastResultAt: number | null;
  /** The check's interval and timeout. */
  intervalMs: number;
  timeoutMs: number;
  /** Wall-clock now (epoch ms). */
  now: number;
}

/**
 * How long a result counts: two intervals plus the timeout.
 *
 * @example
 * ```ts
 * import { staleAfterMs } from "./freshness.ts";
 * console.assert(staleAfterMs(10_000, 5_000) === 25_000);
 * ```
 */
export function staleAfterMs(intervalMs: number, timeoutMs: number): number {
  return 2 * intervalMs + timeoutMs;
}

/**
 * Judges one (check, monitor): see {@linkcode Freshness}.
 *
 * @example
 * ```ts
 * import { freshness } from "./freshness.ts";
 * const at = { lastResultAt: 0, intervalMs: 10_000, timeoutMs: 5_000 };
 * console.assert(freshness({ ...at, online: true, now: 25_001 }) === "stale");
 * console.assert(freshness({ ...at, online: false, now: 1 }) === "offline");
 * ```
 */
export function freshness(i: FreshnessInput): Freshness {
  if (!i.online) return "offline";
  if (i.lastResultAt === null) return "none";
  return i.now - i.lastResultAt > staleAfterMs(i.intervalMs, i.timeoutMs) ? "stale" : "fresh";
}

/**
 * A check's state as the API shows it: `up`/`down` from a fresh result,
 * `pending` before the first one, `unknown` when the monitor is offline or
 * its result is stale (neither up nor down).
 *
 * @example
 * ```ts
 * import { stateOf } from "./freshness.ts";
 * console.assert(stateOf("fresh", true) === "up");
 * console.assert(stateOf("offline", true) === "unknown");
 * ```
 */
export function stateOf(f: Freshness, up: boolean | undefined): CheckState {
  if (f === "offline" || f === "stale") return "unknown";
  if (f === "none" || up === undefined) return "pending";
  return up ? "up" : "down";
}

/**
 * A check's state on one monitor.
 *
 * @example
 * ```ts
 * import type { CheckState } from "./freshness.ts";
 * const s: CheckState = "unknown";
 * ```
 */
export type CheckState = "up" | "down" | "pending" | "unknown";

/**
 * What {@linkcode freshnessOf} reads: the configuration in force and which
 * monitors are online (a `Manager` is one).
 *
 * @example
 * ```ts
 * import type { FreshnessSource } from "./freshness.ts";
 * const s: FreshnessSource = { config: { monitors: [], checks: [], targets: [] }, links: new Map() };
 * ```
 */
export interface FreshnessSource {
  readonly config: Config;
  readonly links: ReadonlyMap<string, { readonly online: boolean }>;
  /** Whether the monitor's link is Online wherever it is served (several managers); else `links` says. */
  isOnline?(monitorName: string): boolean;
}

/**
 * Judges a check on a monitor by name.
 *
 * @example
 * ```ts
 * import type { Judge } from "./freshness.ts";
 * const always: Judge = () => "fresh";
 * ```
 */
export type Judge = (
  checkId: string,
  monitorName: string,
  lastResultAt: number | null,
  now: number,
) => Freshness;

/**
 * A {@linkcode Judge} over `source`, reading its configuration and links at
 * each call (so it follows reloads). A check no longer configured is
 * `stale`: nothing current is known of it.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../shared/config.ts";
 * import { freshnessOf } from "./freshness.ts";
 * const config = parseConfig(
 *   "monitors: [{address: 'h:1', name: a}]\ntargets: {x: {TCP: {port: 80, frequency: 10}}}\n",
 *   "tasks.yaml",
 * );
 * const judge = freshnessOf({ config, links: new Map([["a", { online: true }]]) });
 * console.assert(judge("x/TCP", "a", 0, 1_000) === "fresh");
 * console.assert(judge("x/TCP", "b", 0, 1_000) === "offline");
 * ```
 */
export function freshnessOf(source: FreshnessSource): Judge {
  let config: Config | undefined;
  let timing = new Map<string, { intervalMs: number; timeoutMs: number }>();
  return (checkId, monitorName, lastResultAt, now) => {
    if (source.config !== config) {
      config = source.config;
      timing = new Map(config.checks.map((c) => [c.spec.id, c.spec]));
    }
    const online = source.isOnline
      ? source.isOnline(monitorName)
      : source.links.get(monitorName)?.online ?? false;
    const t = timing.get(checkId);
    if (t === undefined) return online ? "stale" : "offline";
    return freshness({
      online,
      lastResultAt,
      intervalMs: t.intervalMs,
      timeoutMs: t.timeoutMs,
      now,
    });
  };
}
