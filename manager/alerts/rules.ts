/**
 * The alert rule in force for one check: the built-in defaults, overridden by
 * the top-level `alerts:`, then the target's `alert:`, then the check's own
 * `alert:`; and how many monitors make a quorum.
 *
 * @example
 * ```ts
 * import { quorumSize } from "./rules.ts";
 * console.assert(quorumSize("majority", 3) === 2);
 * ```
 *
 * @module
 */
import type { AssignedCheck, Config } from "../../shared/config.ts";
import type { AlertOverrides, Quorum } from "../../shared/config_alerts.ts";

/**
 * A fully resolved alert rule.
 *
 * @example
 * ```ts
 * import { DEFAULT_RULE, type AlertRule } from "./rules.ts";
 * const r: AlertRule = { ...DEFAULT_RULE, downAfter: 1 };
 * ```
 */
export interface AlertRule {
  downAfter: number;
  upAfter: number;
  quorum: Quorum;
  certExpiryDays: number | null;
  latencyMs: number | null;
  latencyRuns: number;
  /** Notifier names, or `null` for every configured notifier. */
  notify: string[] | null;
}

/**
 * The rule when `tasks.yaml` sets nothing: down after 3 failures, up after 2
 * successes, a majority of the monitors, no certificate or latency alerts.
 *
 * @example
 * ```ts
 * import { DEFAULT_RULE } from "./rules.ts";
 * console.assert(DEFAULT_RULE.quorum === "majority");
 * ```
 */
export const DEFAULT_RULE: Readonly<AlertRule> = {
  downAfter: 3,
  upAfter: 2,
  quorum: "majority",
  certExpiryDays: null,
  latencyMs: null,
  latencyRuns: 3,
  notify: null,
};

/**
 * The rule for a check of `target` with its own `alert:` rules `check` under `config`.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../../shared/config.ts";
 * import { ruleFor } from "./rules.ts";
 * const c = parseConfig(
 *   "monitors: [{address: 'h:1'}]\nalerts: {down_after: 5}\n" +
 *     "targets: {x: {alert: {up_after: 4}, TCP: {port: 80, alert: {down_after: 1}}}}\n",
 *   "tasks.yaml",
 * );
 * const rule = ruleFor(c, "x", c.checks[0]!.alert);
 * console.assert(rule.downAfter === 1 && rule.upAfter === 4);
 * ```
 */
export function ruleFor(config: Config, target: string, check?: AlertOverrides): AlertRule {
  const levels = [config.alerting?.defaults, config.alerting?.targets[target], check];
  const rule: AlertRule = { ...DEFAULT_RULE };
  for (const level of levels) {
    if (level === undefined) continue;
    for (const [k, v] of Object.entries(level)) {
      if (v !== undefined) (rule as unknown as Record<string, unknown>)[k] = v;
    }
  }
  return rule;
}

/**
 * The number of monitors that must agree, out of `running`.
 *
 * @example
 * ```ts
 * import { quorumSize } from "./rules.ts";
 * console.assert(quorumSize("all", 3) === 3 && quorumSize({ count: 5 }, 3) === 3);
 * ```
 */
export function quorumSize(quorum: Quorum, running: number): number {
  if (running <= 0) return 1;
  if (quorum === "all") return running;
  if (quorum === "majority") return Math.floor(running / 2) + 1;
  return Math.min(quorum.count, running);
}

/**
 * The vantage points whose verdicts count for `check`: the monitors it is
 * placed on, or the single `*` for a `spread` check, whose one running
 * monitor may change at any time.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../../shared/config.ts";
 * import { vantagePoints } from "./rules.ts";
 * const c = parseConfig(
 *   "monitors: [{address: 'h:1', name: a}, {address: 'h:2', name: b}]\n" +
 *     "targets: {x: {TCP: {port: 80}}}\n",
 *   "tasks.yaml",
 * );
 * console.assert(vantagePoints(c, c.checks[0]!).join() === "a,b");
 * ```
 */
export function vantagePoints(config: Config, check: AssignedCheck): string[] {
  const p = check.placement;
  if (p.mode === "spread") return [SPREAD_VANTAGE];
  if (p.mode === "select") return p.names;
  return config.monitors.map((m) => m.name);
}

/**
 * The vantage point of every result of a `spread` check.
 *
 * @example
 * ```ts
 * import { SPREAD_VANTAGE } from "./rules.ts";
 * console.assert(SPREAD_VANTAGE === "*");
 * ```
 */
export const SPREAD_VANTAGE = "*";
