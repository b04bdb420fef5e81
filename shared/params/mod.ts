/**
 * Every check type's parameters: their types by check type
 * ({@linkcode CheckParams}), the parser that reads them from `tasks.yaml` on
 * the manager, and the shape a monitor checks them against when an
 * assignment arrives ({@linkcode validateCheck}).
 *
 * @example
 * ```ts
 * import { parseParams } from "./mod.ts";
 * const params = parseParams("TCP", { port: 80 }, "example.com");
 * console.assert(params.port === 80);
 * ```
 *
 * @module
 */
import type { CheckSpec, CheckSpecOf, UncheckedSpec } from "../checks.ts";
import { type CheckType, ParamError, type ParamParser } from "./types.ts";
import { checkShape, type Shape } from "./shape.ts";
import { HTTP_SHAPE, type HttpParams, parseHttpParams } from "./http.ts";
import { HTTPS_SHAPE, type HttpsParams, parseHttpsParams } from "./https.ts";
import { ICMP_SHAPE, type IcmpParams, parseIcmpParams } from "./icmp.ts";
import { DNS_SHAPE, type DnsParams, parseDnsParams } from "./dns.ts";
import { NTP_SHAPE, type NtpParams, parseNtpParams } from "./ntp.ts";
import { parseTcpParams, TCP_SHAPE, type TcpParams } from "./tcp.ts";
import { parseUdpParams, UDP_SHAPE, type UdpParams } from "./udp.ts";

/** Check type → the type of its parsed, fully defaulted parameters. */
export type CheckParams = {
  HTTP: HttpParams;
  HTTPS: HttpsParams;
  ICMP: IcmpParams;
  DNS: DnsParams;
  NTP: NtpParams;
  TCP: TcpParams;
  UDP: UdpParams;
};

/** Check type → parser of its parameters as written in `tasks.yaml`. */
export const PARAM_PARSERS: { [K in CheckType]: ParamParser<CheckParams[K]> } = {
  HTTP: parseHttpParams,
  HTTPS: parseHttpsParams,
  ICMP: parseIcmpParams,
  DNS: parseDnsParams,
  NTP: parseNtpParams,
  TCP: parseTcpParams,
  UDP: parseUdpParams,
};

/** Check type → the shape of its parsed parameters. */
export const PARAM_SHAPES: { [K in CheckType]: Shape<CheckParams[K]> } = {
  HTTP: HTTP_SHAPE,
  HTTPS: HTTPS_SHAPE,
  ICMP: ICMP_SHAPE,
  DNS: DNS_SHAPE,
  NTP: NTP_SHAPE,
  TCP: TCP_SHAPE,
  UDP: UDP_SHAPE,
};

/**
 * Parses the parameters of a `type` check as written in `tasks.yaml`.
 * Throws {@linkcode ParamError} naming the field.
 *
 * @example
 * ```ts
 * import { parseParams } from "./mod.ts";
 * console.assert(parseParams("NTP", {}, "time.example.com").port === 123);
 * ```
 */
export function parseParams<K extends CheckType>(
  type: K,
  raw: Record<string, unknown>,
  target: string,
): CheckParams[K] {
  return PARAM_PARSERS[type](raw, target);
}

/**
 * A check of `type` on `target` with its parameters parsed from `raw` (as
 * written in `tasks.yaml`), for code that builds assignments itself
 * (benchmarks, tests). Throws {@linkcode ParamError} naming the field.
 *
 * @example
 * ```ts
 * import { checkSpec } from "./mod.ts";
 * const spec = checkSpec("TCP", { port: 22 }, { target: "h", intervalMs: 1000, timeoutMs: 500 });
 * console.assert(spec.id === "h/TCP" && spec.params.host === "h");
 * ```
 */
export function checkSpec<K extends CheckType>(
  type: K,
  raw: Record<string, unknown>,
  at: { target: string; intervalMs: number; timeoutMs: number; id?: string },
): CheckSpecOf<K> {
  const { id = `${at.target}/${type}`, ...rest } = at;
  return { ...rest, id, type, params: parseParams(type, raw, at.target) };
}

/**
 * The parameters of `spec`, checked to be a `type` check's: for code that
 * knows which check it holds (tests, tools). Throws {@linkcode ParamError}
 * when `spec` is of another type or its params do not fit.
 *
 * @example
 * ```ts
 * import { checkSpec, paramsOf } from "./mod.ts";
 * const spec = checkSpec("NTP", {}, { target: "t", intervalMs: 1000, timeoutMs: 500 });
 * console.assert(paramsOf(spec, "NTP").port === 123);
 * ```
 */
export function paramsOf<K extends CheckType>(
  spec: CheckSpec | UncheckedSpec,
  type: K,
): CheckParams[K] {
  if (spec.type !== type) throw new ParamError("type", `is ${spec.type}, not ${type}`);
  return checkShape(PARAM_SHAPES[type], spec.params);
}

/** Why {@linkcode validateCheck} refused a check: its ID and the field. */
export class InvalidCheckError extends Error {
  /** The refused check's ID. */
  readonly checkId: string;
  /** The parameter that does not fit. */
  readonly field: string;
  /** @param checkId the check @param cause what the shape found */
  constructor(checkId: string, cause: ParamError) {
    super(`check "${checkId}": params.${cause.message}`);
    this.name = "InvalidCheckError";
    this.checkId = checkId;
    this.field = cause.field;
  }
}

/** The one generic step: `spec.type` picks the shape, and the shape types the params. */
function validateOf<K extends CheckType>(spec: UncheckedSpec & { type: K }): CheckSpecOf<K> {
  return { ...spec, params: checkShape(PARAM_SHAPES[spec.type], spec.params) };
}

/**
 * A check as it arrived (over the wire or from the saved assignment) with
 * its parameters checked against its type's shape. Throws
 * {@linkcode InvalidCheckError} naming the check and the field.
 *
 * @example
 * ```ts
 * import { validateCheck } from "./mod.ts";
 * const base = { id: "db/TCP", target: "db", type: "TCP", intervalMs: 1000, timeoutMs: 500 } as const;
 * try {
 *   validateCheck({ ...base, params: { port: "5432" } });
 * } catch (e) {
 *   console.assert(String(e).includes('check "db/TCP": params.host'));
 * }
 * ```
 */
export function validateCheck(spec: UncheckedSpec): CheckSpec {
  try {
    return validateOf(spec);
  } catch (e) {
    if (e instanceof ParamError) throw new InvalidCheckError(spec.id, e);
    throw e;
  }
}

/**
 * The checks of an assignment whose parameters fit their type; each one
 * that does not is reported to `refuse` (the monitor logs it) and left out,
 * so that one bad check does not stop the others.
 *
 * @example
 * ```ts
 * import { validChecks } from "./mod.ts";
 * const base = { target: "db", type: "TCP", intervalMs: 1000, timeoutMs: 500 } as const;
 * const refused: string[] = [];
 * const ok = validChecks([{ ...base, id: "a", params: {} }], (e) => refused.push(e.message));
 * console.assert(ok.length === 0 && refused.length === 1);
 * ```
 */
export function validChecks(
  specs: readonly UncheckedSpec[],
  refuse: (error: InvalidCheckError) => void,
): CheckSpec[] {
  const out: CheckSpec[] = [];
  for (const spec of specs) {
    try {
      out.push(validateCheck(spec));
    } catch (e) {
      if (!(e instanceof InvalidCheckError)) throw e;
      refuse(e);
    }
  }
  return out;
}
