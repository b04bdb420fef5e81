/**
 * Parameters of the ICMP check: `count` echo requests `interval_ms` apart to
 * `server_address`, like fping's `-C count -p interval`.
 *
 * @example
 * ```ts
 * import { parseIcmpParams } from "./icmp.ts";
 * const p = parseIcmpParams({ count: 5 }, "example.com");
 * console.assert(p.server_address === "example.com" && p.count === 5 && p.ttl === 64);
 * ```
 *
 * @module
 */
import type { IpProtocol, ParamParser } from "./types.ts";
import {
  ipProtocol,
  optInt,
  optNumber,
  optString,
  rejectSpecialAddress,
  rejectUnknown,
} from "./common.ts";
import { int, ipProtocolField, num, type Shape, text } from "./shape.ts";

/** ICMP parameters, fully defaulted. */
export type IcmpParams = {
  /** Host name or address to ping (default: the target's name). */
  server_address: string;
  /** Echo requests per run. */
  count: number;
  /** Pause between two requests, in milliseconds (shortened to fit the timeout). */
  interval_ms: number;
  /** Bytes of payload after the 8-byte ICMP header. */
  payload_size: number;
  /** IPv4 TTL / IPv6 hop limit of the requests. */
  ttl: number;
  /** The check is down when more than this percentage is lost; 100: only when all are. */
  max_loss_percent: number;
  ip_protocol: IpProtocol;
};

const KNOWN_KEYS = [
  "server_address",
  "count",
  "interval_ms",
  "payload_size",
  "ttl",
  "max_loss_percent",
] as const;

/**
 * Parses ICMP parameters; throws `ParamError` naming the bad field.
 *
 * @example
 * ```ts
 * import { parseIcmpParams } from "./icmp.ts";
 * const p = parseIcmpParams({ server_address: "::1", ip_protocol: "ip6" }, "x");
 * console.assert(p.count === 3 && p.interval_ms === 200 && p.payload_size === 56);
 * ```
 */
export const parseIcmpParams: ParamParser<IcmpParams> = (raw, target) => {
  rejectUnknown(raw, KNOWN_KEYS);
  const server = optString(raw, "server_address", target) || target;
  rejectSpecialAddress(raw, "server_address", server);
  return {
    server_address: server,
    count: optInt(raw, "count", 3, { min: 1, max: 100 }),
    interval_ms: optInt(raw, "interval_ms", 200, { min: 1, max: 60_000 }),
    payload_size: optInt(raw, "payload_size", 56, { min: 0, max: 65_000 }),
    ttl: optInt(raw, "ttl", 64, { min: 1, max: 255 }),
    max_loss_percent: optNumber(raw, "max_loss_percent", 100, { min: 0, max: 100 }),
    ip_protocol: ipProtocol(raw),
  };
};

/**
 * The parsed form of {@linkcode IcmpParams}, as a monitor checks it on arrival.
 *
 * @example
 * ```ts
 * import { checkShape } from "./shape.ts";
 * import { ICMP_SHAPE, parseIcmpParams } from "./icmp.ts";
 * console.assert(checkShape(ICMP_SHAPE, parseIcmpParams({}, "h")).count === 3);
 * ```
 */
export const ICMP_SHAPE: Shape<IcmpParams> = {
  server_address: text,
  count: int(1, 100),
  interval_ms: int(1, 60_000),
  payload_size: int(0, 65_000),
  ttl: int(1, 255),
  max_loss_percent: num(0, 100),
  ip_protocol: ipProtocolField,
};
