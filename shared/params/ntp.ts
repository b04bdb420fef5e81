/**
 * Parameters of the NTP check: one SNTP v4 exchange with a server, down when
 * the server is unsynchronised or its clock is too far from ours.
 *
 * @example
 * ```ts
 * import { parseNtpParams } from "./ntp.ts";
 * const p = parseNtpParams({ server_address: "pool.ntp.org" }, "google.com");
 * console.assert(p.server_address === "pool.ntp.org" && p.port === 123);
 * ```
 *
 * @module
 */
import { type IpProtocol, ParamError, type ParamParser } from "./types.ts";
import {
  ipProtocol,
  optNumber,
  optPort,
  optString,
  rejectSpecialAddress,
  rejectUnknown,
} from "./common.ts";
import { ipProtocolField, num, port, type Shape, text } from "./shape.ts";

/**
 * The NTP check's parameters, fully defaulted. A type alias (not an
 * interface) so that it stays assignable to `JsonObject`.
 *
 * @example
 * ```ts
 * import type { NtpParams } from "./ntp.ts";
 * const p: NtpParams = {
 *   server_address: "127.0.0.1", port: 123, max_offset_ms: 1000, ip_protocol: "auto",
 * };
 * ```
 */
export type NtpParams = {
  /** The NTP server's name or address (the target's name unless set). */
  server_address: string;
  port: number;
  /** Largest |offset| between the server's clock and ours that counts as up. */
  max_offset_ms: number;
  ip_protocol: IpProtocol;
};

const KNOWN_KEYS = ["server_address", "port", "max_offset_ms"] as const;

/** One day: a larger tolerance would accept any clock at all. */
const MAX_OFFSET_MS = 86_400_000;

/**
 * Parses the NTP check's parameters.
 *
 * @example
 * ```ts
 * import { parseNtpParams } from "./ntp.ts";
 * const p = parseNtpParams({ max_offset_ms: 50 }, "time.example.com");
 * console.assert(p.server_address === "time.example.com" && p.max_offset_ms === 50);
 * ```
 */
export const parseNtpParams: ParamParser<NtpParams> = (raw, target) => {
  rejectUnknown(raw, KNOWN_KEYS);
  const server = optString(raw, "server_address", target).trim();
  if (server === "") throw new ParamError("server_address", "must not be empty");
  rejectSpecialAddress(raw, "server_address", server);
  return {
    server_address: server,
    port: optPort(raw, "port", 123),
    max_offset_ms: optNumber(raw, "max_offset_ms", 1000, { min: 0, max: MAX_OFFSET_MS }),
    ip_protocol: ipProtocol(raw),
  };
};

/**
 * The parsed form of {@linkcode NtpParams}, as a monitor checks it on arrival.
 *
 * @example
 * ```ts
 * import { checkShape } from "./shape.ts";
 * import { NTP_SHAPE, parseNtpParams } from "./ntp.ts";
 * console.assert(checkShape(NTP_SHAPE, parseNtpParams({}, "h")).port === 123);
 * ```
 */
export const NTP_SHAPE: Shape<NtpParams> = {
  server_address: text,
  port,
  max_offset_ms: num(0, MAX_OFFSET_MS),
  ip_protocol: ipProtocolField,
};
