/**
 * Dispatch from check type to check function, like blackbox_exporter's
 * `Probers` map. Every entry has the one {@linkcode CheckFn} shape, typed
 * with its own parameters ({@linkcode CheckParams}), and
 * {@linkcode runCheck} is the one place that picks an entry for a spec.
 *
 * @example
 * ```ts ignore
 * import { CHECKS, runCheck } from "./mod.ts";
 * const outcome = await runCheck(CHECKS, spec, { signal, timeoutMs: 1000, target: spec.target });
 * ```
 *
 * @module
 */
import type {
  CheckFn,
  CheckOptions,
  CheckOutcome,
  CheckParams,
  CheckSpec,
  CheckSpecOf,
  CheckType,
  UncheckedSpec,
} from "../../shared/checks.ts";
import { logger } from "../../shared/log.ts";
import { validChecks } from "../../shared/params/mod.ts";
import { checkHttp } from "./http.ts";
import { checkHttps } from "./https.ts";
import { checkIcmp } from "./icmp.ts";
import { checkDns } from "./dns.ts";
import { checkNtp } from "./ntp.ts";
import { checkTcp } from "./tcp.ts";
import { checkUdp } from "./udp.ts";

/** Check type → the function that runs a check of that type. */
export type CheckRegistry = { [K in CheckType]: CheckFn<CheckParams[K]> };

/** Some of the check functions, as a test may pass to the scheduler. */
export type PartialCheckRegistry = { [K in CheckType]?: CheckFn<CheckParams[K]> };

/** The real check functions. Parameters were validated by `shared/params/`. */
export const CHECKS: CheckRegistry = {
  HTTP: checkHttp,
  HTTPS: checkHttps,
  ICMP: checkIcmp,
  DNS: checkDns,
  NTP: checkNtp,
  TCP: checkTcp,
  UDP: checkUdp,
};

/** A check type that `checks` has no function for. */
export class NoCheckError extends Error {
  /** @param type the missing type */
  constructor(type: CheckType) {
    super(`no check of type ${type}`);
    this.name = "NoCheckError";
  }
}

/**
 * Runs `spec` with the function `checks` holds for its type: the one
 * dispatch from a spec to a check. Rejects with {@linkcode NoCheckError}
 * when there is none.
 *
 * @example
 * ```ts
 * import { runCheck } from "./mod.ts";
 * import { parseTcpParams } from "../../shared/params/tcp.ts";
 * const spec = {
 *   id: "x/TCP", target: "x", type: "TCP", intervalMs: 1000, timeoutMs: 500,
 *   params: parseTcpParams({ port: 1 }, "x"),
 * } as const;
 * const up = { up: true, summary: "", latencyMs: 1, metrics: {} };
 * const checks = { TCP: () => Promise.resolve(up) };
 * const signal = new AbortController().signal;
 * console.assert((await runCheck(checks, spec, { signal, timeoutMs: 500, target: "x" })).up);
 * ```
 */
export function runCheck<K extends CheckType>(
  checks: PartialCheckRegistry,
  spec: CheckSpecOf<K>,
  options: CheckOptions,
): Promise<CheckOutcome> {
  const check = checks[spec.type];
  return check ? check(spec.params, options) : Promise.reject(new NoCheckError(spec.type));
}

/**
 * The checks of an arriving assignment that a monitor can run: each one
 * whose parameters do not fit its type is refused with one warning naming
 * the check and the field, and the others run.
 *
 * @example
 * ```ts
 * import { assignable } from "./mod.ts";
 * const base = { target: "db", type: "TCP", intervalMs: 1000, timeoutMs: 500 } as const;
 * console.assert(assignable([{ ...base, id: "db/TCP", params: { port: 0 } }]).length === 0);
 * ```
 */
export function assignable(specs: readonly UncheckedSpec[]): CheckSpec[] {
  return validChecks(specs, (e) =>
    logger("monitor").warn(
      "Refused {checkId}: {reason}; the other checks of the assignment run",
      { checkId: e.checkId, field: e.field, reason: e.message },
    ));
}
