/**
 * Parameters of the TCP check: connect to a port, optionally speak TLS, send
 * a payload and expect a reply, like blackbox_exporter's `tcp` prober.
 *
 * @example
 * ```ts
 * import { parseTcpParams } from "./tcp.ts";
 * const p = parseTcpParams({ port: 25, expect: "^220 " }, "mail.example.com");
 * console.assert(p.host === "mail.example.com" && p.expect === "^220 ");
 * ```
 *
 * @module
 */
import { type IpProtocol, ParamError, type ParamParser } from "./types.ts";
import {
  ipProtocol,
  optBool,
  optPort,
  optString,
  parsePayload,
  rejectSpecialAddress,
  rejectUnknown,
} from "./common.ts";
import { bool, ipProtocolField, nullable, port, regex, type Shape, text } from "./shape.ts";

/**
 * The TCP check's parameters, fully defaulted. A type alias (not an
 * interface) so that it stays assignable to `JsonObject`.
 *
 * @example
 * ```ts
 * import type { TcpParams } from "./tcp.ts";
 * const p: TcpParams = {
 *   host: "127.0.0.1", port: 22, send: null, expect: "^SSH-", tls: false,
 *   tls_verify: true, ca_file: null, server_name: "127.0.0.1", ip_protocol: "auto",
 * };
 * ```
 */
export type TcpParams = {
  /** Host name or address to connect to (the target's name unless set). */
  host: string;
  port: number;
  /** Text or `hex:`-prefixed bytes written once connected, or null. */
  send: string | null;
  /** Regular expression (source) the reply must match, or null to not read. */
  expect: string | null;
  /** Whether to speak TLS once connected. */
  tls: boolean;
  /** Whether the TLS peer's certificate chain and name must verify. */
  tls_verify: boolean;
  /** PEM file of extra CA certificates to trust, read on the monitor. */
  ca_file: string | null;
  /** Name sent as SNI and checked against the certificate. */
  server_name: string;
  ip_protocol: IpProtocol;
};

const KNOWN_KEYS = [
  "host",
  "server_address",
  "port",
  "send",
  "expect",
  "tls",
  "tls_verify",
  "ca_file",
  "server_name",
] as const;

/** Most bytes of `send` (as text or `hex:`), enough for any banner exchange. */
const MAX_SEND_LENGTH = 65_536;

function optNullable(
  raw: Record<string, unknown>,
  field: string,
  maxLength?: number,
): string | null {
  const v = optString(raw, field, "", maxLength);
  return v === "" ? null : v;
}

/**
 * Parses the TCP check's parameters. `port` is required; `host` (or the
 * seed's `server_address`) defaults to the target's name.
 *
 * @example
 * ```ts
 * import { parseTcpParams } from "./tcp.ts";
 * const p = parseTcpParams({ port: 443, tls: true }, "example.com");
 * console.assert(p.server_name === "example.com" && p.tls_verify);
 * ```
 */
export const parseTcpParams: ParamParser<TcpParams> = (raw, target) => {
  rejectUnknown(raw, KNOWN_KEYS);
  if (raw.host != null && raw.server_address != null) {
    throw new ParamError("server_address", 'give either "host" or "server_address", not both');
  }
  const hostField = raw.server_address != null ? "server_address" : "host";
  const host = optString(raw, hostField, target);
  if (host.trim() === "") throw new ParamError(hostField, "must not be empty");
  rejectSpecialAddress(raw, hostField, host);
  if (raw.port == null) throw new ParamError("port", "is required");
  const port = optPort(raw, "port", 0);
  const send = optNullable(raw, "send", MAX_SEND_LENGTH);
  if (send !== null) parsePayload("send", send);
  const expect = optNullable(raw, "expect");
  if (expect !== null) {
    try {
      new RegExp(expect);
    } catch (e) {
      throw new ParamError("expect", `is not a valid regular expression: ${(e as Error).message}`);
    }
  }
  const tls = optBool(raw, "tls", false);
  return {
    host,
    port,
    send,
    expect,
    tls,
    tls_verify: optBool(raw, "tls_verify", true),
    ca_file: optNullable(raw, "ca_file"),
    server_name: optString(raw, "server_name", host.replace(/^\[(.*)\]$/, "$1")),
    ip_protocol: ipProtocol(raw),
  };
};

/**
 * The parsed form of {@linkcode TcpParams}, as a monitor checks it on arrival.
 *
 * @example
 * ```ts
 * import { checkShape } from "./shape.ts";
 * import { parseTcpParams, TCP_SHAPE } from "./tcp.ts";
 * const p = parseTcpParams({ port: 22 }, "h");
 * console.assert(checkShape(TCP_SHAPE, p).port === 22);
 * ```
 */
export const TCP_SHAPE: Shape<TcpParams> = {
  host: text,
  port,
  send: nullable(text),
  expect: nullable(regex),
  tls: bool,
  tls_verify: bool,
  ca_file: nullable(text),
  server_name: text,
  ip_protocol: ipProtocolField,
};
