/**
 * Parameters of the UDP check: one datagram to `server_address:port`, then
 * the reply, an ICMP port unreachable, or silence decides the state.
 *
 * @example
 * ```ts
 * import { parseUdpParams } from "./udp.ts";
 * const p = parseUdpParams({ port: 53 }, "ns.example");
 * console.assert(p.server_address === "ns.example" && p.payload.startsWith("hex:"));
 * ```
 *
 * @module
 */
import { type IpProtocol, ParamError, type ParamParser } from "./types.ts";
import {
  ipProtocol,
  optPort,
  optString,
  parsePayload,
  rejectSpecialAddress,
  rejectUnknown,
} from "./common.ts";
import { ipProtocolField, nullable, port, regex, type Shape, text } from "./shape.ts";

/** UDP parameters, fully defaulted. */
export type UdpParams = {
  /** Host name or address (default: the target's name). */
  server_address: string;
  port: number;
  /** What to send: text, or bytes as `hex:0a0b…`. */
  payload: string;
  /** A regular expression the reply text must match, or null to accept any reply. */
  expect: string | null;
  ip_protocol: IpProtocol;
};

const KNOWN_KEYS = ["server_address", "port", "payload", "expect"] as const;

/** The largest UDP payload over IPv4 (65535 − 8 − 20). */
const MAX_PAYLOAD_BYTES = 65_507;

/**
 * Probes that make common services answer, as `hex:` payloads: a DNS query
 * for the root's NS records and a 48-byte SNTPv4 client request.
 */
const DEFAULT_PAYLOADS: Record<number, string> = {
  // id 0x6e6d, RD, one question: "." NS IN
  53: "hex:6e6d01000001000000000000" + "0000020001",
  // LI 0, version 4, mode 3 (client), rest zero
  123: "hex:23" + "00".repeat(47),
};

/**
 * Parses UDP parameters; throws `ParamError` naming the bad field. `port` is
 * required; `payload` defaults to a probe that port's usual service answers.
 *
 * @example
 * ```ts
 * import { parseUdpParams } from "./udp.ts";
 * const p = parseUdpParams({ port: 7, payload: "ping", expect: "^pong" }, "h");
 * console.assert(p.payload === "ping" && p.expect === "^pong");
 * ```
 */
export const parseUdpParams: ParamParser<UdpParams> = (raw, target) => {
  rejectUnknown(raw, KNOWN_KEYS);
  if (raw.port === undefined || raw.port === null) throw new ParamError("port", "is required");
  const port = optPort(raw, "port", 0);
  // as hex, every byte takes two characters after "hex:"
  const payload = optString(
    raw,
    "payload",
    DEFAULT_PAYLOADS[port] ?? "",
    4 + 2 * MAX_PAYLOAD_BYTES,
  );
  if (parsePayload("payload", payload).length > MAX_PAYLOAD_BYTES) {
    throw new ParamError("payload", `must be at most ${MAX_PAYLOAD_BYTES} bytes`);
  }
  const expect = optString(raw, "expect", "") || null;
  if (expect !== null) {
    try {
      new RegExp(expect);
    } catch (e) {
      throw new ParamError("expect", `not a valid regular expression: ${(e as Error).message}`);
    }
  }
  const server = optString(raw, "server_address", target) || target;
  rejectSpecialAddress(raw, "server_address", server);
  return {
    server_address: server,
    port,
    payload,
    expect,
    ip_protocol: ipProtocol(raw),
  };
};

/**
 * The parsed form of {@linkcode UdpParams}, as a monitor checks it on arrival.
 *
 * @example
 * ```ts
 * import { checkShape } from "./shape.ts";
 * import { parseUdpParams, UDP_SHAPE } from "./udp.ts";
 * console.assert(checkShape(UDP_SHAPE, parseUdpParams({ port: 53 }, "h")).port === 53);
 * ```
 */
export const UDP_SHAPE: Shape<UdpParams> = {
  server_address: text,
  port,
  payload: text,
  expect: nullable(regex),
  ip_protocol: ipProtocolField,
};
