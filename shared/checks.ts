/**
 * The shape every check shares, on both sides of the wire.
 *
 * A check is a function of one shape, like blackbox_exporter's `ProbeFn`:
 * parameters in, a {@linkcode CheckOutcome} out. A failing target is data
 * (`up: false` with an `error`), never an exception; a check throws only for
 * a programmer or configuration error, and the scheduler turns even that into
 * a `down` result.
 *
 * @example
 * ```ts
 * import type { CheckFn } from "./checks.ts";
 * const alwaysUp: CheckFn<{ host: string }> = (params) =>
 *   Promise.resolve({
 *     up: true,
 *     summary: `TCP Port: ${params.host} - Port 80 - Open`,
 *     latencyMs: 1,
 *     metrics: { probe_success: 1 },
 *   });
 * ```
 *
 * @module
 */

import type { CheckParams } from "./params/mod.ts";
import type { CheckType, JsonObject } from "./params/types.ts";

export {
  CHECK_TYPES,
  type CheckType,
  type IpProtocol,
  type JsonObject,
  type JsonValue,
  ParamError,
  type ParamParser,
} from "./params/types.ts";
export type { CheckParams } from "./params/mod.ts";

/** What every check shares besides its type and parameters. */
interface CheckSpecBase {
  /** Stable identity: `TARGET/TYPE`. Changing anything else restarts the check. */
  id: string;
  /** The target's name in `tasks.yaml` (e.g. `google.com`). */
  target: string;
  /** How often the check runs. */
  intervalMs: number;
  /** Hard deadline for one run; always below `intervalMs`. */
  timeoutMs: number;
}

/**
 * One check of type `K` (of any type when `K` is left out) with its
 * parameters, validated and defaulted by the matching parser in
 * `shared/params/`. Written as a mapped type indexed by `K`, so that a
 * generic function over `K` can hand `spec.params` to `registry[spec.type]`
 * without a cast.
 *
 * @example
 * ```ts
 * import type { CheckSpecOf } from "./checks.ts";
 * import { parseTcpParams } from "./params/tcp.ts";
 * const tcp: CheckSpecOf<"TCP"> = {
 *   id: "db/TCP", target: "db", type: "TCP", intervalMs: 60_000, timeoutMs: 10_000,
 *   params: parseTcpParams({ port: 5432 }, "db"),
 * };
 * console.assert(tcp.params.port === 5432);
 * ```
 */
export type CheckSpecOf<K extends CheckType = CheckType> = {
  [P in K]: CheckSpecBase & { type: P; params: CheckParams[P] };
}[K];

/**
 * One check as the manager assigns it to a monitor: a union over the check
 * types, so that `spec.type === "TCP"` narrows `spec.params` to `TcpParams`.
 *
 * @example
 * ```ts
 * import type { CheckSpec } from "./checks.ts";
 * function portOf(spec: CheckSpec): number | null {
 *   return spec.type === "TCP" || spec.type === "UDP" ? spec.params.port : null;
 * }
 * ```
 */
export type CheckSpec = CheckSpecOf;

/**
 * A check as it arrives over the wire or from the saved assignment, before
 * its parameters are validated (`validateCheck` in `shared/params/mod.ts`
 * makes it a {@linkcode CheckSpec}).
 */
export type UncheckedSpec = CheckSpecBase & { type: CheckType; params: JsonObject };

/** Options the scheduler hands every check. */
export interface CheckOptions {
  /** Aborted when the run's timeout passes or the check is removed. */
  signal: AbortSignal;
  /** The run's deadline in milliseconds (the same one `signal` enforces). */
  timeoutMs: number;
  /** The target's name in `tasks.yaml`, for defaults such as the DNS query name. */
  target: string;
}

/** Detail values a check may report besides its metrics. */
export type DetailValue = string | number | boolean | null | string[];

/** What one run of a check found. */
export interface CheckOutcome {
  /** Whether the target passed every condition the check's parameters set. */
  up: boolean;
  /**
   * The seed-format text that follows `Task ID: <uuid>, ` in the log, e.g.
   * `HTTP URL: http://x/, HTTP server status: True, Status Code: 200`.
   * Extra facts are appended as `, Field: value` pairs; a failure carries
   * `, Error: <reason>`.
   */
  summary: string;
  /** The run's headline latency (HTTP total, ICMP average RTT, DNS RTT, NTP delay, TCP connect), or null. */
  latencyMs: number | null;
  /**
   * Numbers in Prometheus form: the key is the full metric name with any
   * labels in braces, named as blackbox_exporter names them where it has the
   * metric, e.g. `probe_http_status_code` or
   * `probe_http_duration_seconds{phase="connect"}`.
   */
  metrics: Record<string, number>;
  /** Facts that are not numbers (resolved address, certificate subject, answers). */
  details?: Record<string, DetailValue>;
  /** Why the check is down, in words a user can act on. */
  error?: string;
}

/**
 * The one function shape every file in `monitor/checks/` exports.
 *
 * @typeParam P The check's parameter type, as produced by its parser in `shared/params/`.
 */
export type CheckFn<P> = (params: P, options: CheckOptions) => Promise<CheckOutcome>;

/** One run's result as it travels from monitor to manager and into the store. */
export interface CheckResult extends CheckOutcome {
  /** Per-monitor sequence number, increasing by one per result, kept across restarts. */
  seq: number;
  /** A fresh UUID for every run. */
  taskId: string;
  monitorId: string;
  checkId: string;
  target: string;
  type: CheckType;
  /** Wall-clock start of the run, milliseconds since the epoch. */
  startedAt: number;
  /** Monotonic duration of the run. */
  durationMs: number;
}
