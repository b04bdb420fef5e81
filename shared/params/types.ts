/**
 * The words every check parameter parser shares: the check types, JSON, the
 * address family, the parser's shape and its error. The bottom layer of
 * `shared/params/`, re-exported by `shared/checks.ts`.
 *
 * @example
 * ```ts
 * import { CHECK_TYPES, ParamError } from "./types.ts";
 * console.assert(CHECK_TYPES.includes("TCP") && new ParamError("port", "x").field === "port");
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
 * A parameter in `tasks.yaml` that is missing, of the wrong type or out of range.
 * `field` is the key inside the check's parameters (e.g. `port`).
 *
 * @example
 * ```ts
 * import { ParamError } from "./types.ts";
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
