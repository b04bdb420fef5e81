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

/** The check types netmon runs, spelled as in `tasks.yaml`. */
export const CHECK_TYPES = ["HTTP", "HTTPS", "ICMP", "DNS", "NTP", "TCP", "UDP"] as const;

/** One of {@linkcode CHECK_TYPES}. */
export type CheckType = typeof CHECK_TYPES[number];

/** A JSON value, as carried by the protocol. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** Address family choice shared by every check (`ip_protocol` in `tasks.yaml`). */
export type IpProtocol = "ip4" | "ip6" | "auto";

/**
 * One check as the manager assigns it to a monitor. `params` is already
 * validated and defaulted by the matching parser in `shared/params/`.
 */
export interface CheckSpec {
  /** Stable identity: `TARGET/TYPE`. Changing anything else restarts the check. */
  id: string;
  /** The target's name in `tasks.yaml` (e.g. `google.com`). */
  target: string;
  type: CheckType;
  /** How often the check runs. */
  intervalMs: number;
  /** Hard deadline for one run; always below `intervalMs`. */
  timeoutMs: number;
  params: JsonObject;
}

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

/**
 * A parameter in `tasks.yaml` that is missing, of the wrong type or out of range.
 * `field` is the key inside the check's parameters (e.g. `port`).
 *
 * @example
 * ```ts
 * import { ParamError } from "./checks.ts";
 * const err = new ParamError("port", "must be an integer from 1 to 65535");
 * console.assert(err.message === "port: must be an integer from 1 to 65535");
 * ```
 */
export class ParamError extends Error {
  /** The parameter's key. */
  readonly field: string;
  /** @param field the parameter's key @param reason what is wrong with it */
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = "ParamError";
    this.field = field;
  }
}

/**
 * Parses the raw parameters of one check from `tasks.yaml` into its typed,
 * fully defaulted form. Throws {@linkcode ParamError} naming the field.
 *
 * `raw` holds the keys as written (`url`, `server_address`, `port`,
 * `frequency`, …); `target` is the target's name, the default host for
 * several checks.
 */
export type ParamParser<P> = (raw: Record<string, unknown>, target: string) => P;
