/**
 * Parameters of the DNS check: one query to one server, like
 * blackbox_exporter's `dns` prober.
 *
 * @example
 * ```ts
 * import { parseDnsParams } from "./dns.ts";
 * const p = parseDnsParams({ server_address: "8.8.8.8" }, "google.com");
 * console.assert(p.query_name === "google.com" && p.query_type === "A");
 * ```
 *
 * @module
 */
import { isIP } from "node:net";
import { type IpProtocol, ParamError, type ParamParser } from "./types.ts";
import {
  ipProtocol,
  optBool,
  optChoice,
  optPort,
  optString,
  optStringList,
  rejectSpecialAddress,
  rejectUnknown,
} from "./common.ts";
import { bool, choice, ipProtocolField, list, nullable, port, type Shape, text } from "./shape.ts";

/** Query types the DNS check can ask for. */
export const DNS_QUERY_TYPES = [
  "A",
  "AAAA",
  "CNAME",
  "MX",
  "NS",
  "TXT",
  "SOA",
  "PTR",
  "SRV",
  "CAA",
  "ANY",
] as const;

/** One of {@linkcode DNS_QUERY_TYPES}. */
export type DnsQueryType = typeof DNS_QUERY_TYPES[number];

/** Response codes a reply may carry (RFC 1035, RFC 2136), by name. */
export const DNS_RCODES = [
  "NOERROR",
  "FORMERR",
  "SERVFAIL",
  "NXDOMAIN",
  "NOTIMP",
  "REFUSED",
  "YXDOMAIN",
  "YXRRSET",
  "NXRRSET",
  "NOTAUTH",
  "NOTZONE",
] as const;

/** The query name the seed used when the target is not a host name. */
export const SEED_QUERY_NAME = "yahoo.com";

/**
 * The DNS check's parameters, fully defaulted. A type alias (not an
 * interface) so that it stays assignable to `JsonObject`.
 *
 * @example
 * ```ts
 * import type { DnsParams } from "./dns.ts";
 * const p: DnsParams = {
 *   server_address: null, port: 53, query_name: "example.com", query_type: "A",
 *   transport: "udp", recursion_desired: true, valid_rcodes: ["NOERROR"],
 *   expect_answers: [], ip_protocol: "auto",
 * };
 * ```
 */
export type DnsParams = {
  /** The DNS server to ask, or null for the monitor's system resolver (`/etc/resolv.conf`). */
  server_address: string | null;
  port: number;
  query_name: string;
  query_type: DnsQueryType;
  /** `udp` falls back to TCP when the reply is truncated; `tcp` always uses TCP. */
  transport: "udp" | "tcp";
  recursion_desired: boolean;
  /** Response codes that count as up, upper case. */
  valid_rcodes: string[];
  /** Answers (in dig's short form) that must all be present. */
  expect_answers: string[];
  ip_protocol: IpProtocol;
};

const KNOWN_KEYS = [
  "server_address",
  "port",
  "query_name",
  "query_type",
  "transport",
  "recursion_desired",
  "valid_rcodes",
  "expect_answers",
] as const;

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/i;

/**
 * Whether `name` is a fully qualified host name (at least two labels, a
 * letter-only top-level label), as opposed to an address or a bare word.
 *
 * @example
 * ```ts
 * import { looksLikeHostname } from "./dns.ts";
 * console.assert(looksLikeHostname("google.com") && !looksLikeHostname("8.8.8.8"));
 * ```
 */
export function looksLikeHostname(name: string): boolean {
  const labels = name.replace(/\.$/, "").split(".");
  return name.length <= 253 && labels.length >= 2 && labels.every((l) => LABEL.test(l)) &&
    /^[a-z]{2,63}$/i.test(labels[labels.length - 1]!);
}

/**
 * The reverse-lookup name of an IP address (`1.2.3.4` → `4.3.2.1.in-addr.arpa`).
 *
 * @example
 * ```ts
 * import { reverseName } from "./dns.ts";
 * console.assert(reverseName("192.0.2.1") === "1.2.0.192.in-addr.arpa");
 * ```
 */
export function reverseName(address: string): string {
  if (isIP(address) === 4) return `${address.split(".").reverse().join(".")}.in-addr.arpa`;
  // an embedded IPv4 tail (::ffff:192.0.2.1) is two more hex groups
  const hex = address.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_, a, b, c, d) =>
      [[a, b], [c, d]].map(([x, y]) => ((Number(x) << 8) | Number(y)).toString(16)).join(":"),
  );
  const [head = "", tail = ""] = hex.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const h = groups(head), t = groups(tail);
  const full = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const nibbles = full.map((g) => g.padStart(4, "0")).join("").split("").reverse();
  return `${nibbles.join(".")}.ip6.arpa`;
}

function queryName(raw: Record<string, unknown>, target: string, type: DnsQueryType): string {
  const dflt = looksLikeHostname(target) ? target : SEED_QUERY_NAME;
  const name = optString(raw, "query_name", dflt).trim();
  if (type === "PTR" && isIP(name) !== 0) return reverseName(name);
  if (name === "" || name === ".") return ".";
  const labels = name.replace(/\.$/, "").split(".");
  if (name.length > 253 || labels.some((l) => l.length === 0 || l.length > 63)) {
    throw new ParamError("query_name", `"${name}" is not a valid domain name`);
  }
  return name;
}

/**
 * Parses the DNS check's parameters. `query_name` defaults to the target's
 * name when that is a host name, else to the seed's `yahoo.com`; a PTR query
 * for an IP address asks for its reverse name.
 *
 * @example
 * ```ts
 * import { parseDnsParams } from "./dns.ts";
 * const p = parseDnsParams({ query_type: "mx", valid_rcodes: ["noerror", "NXDOMAIN"] }, "8.8.8.8");
 * console.assert(p.query_name === "yahoo.com" && p.query_type === "MX");
 * console.assert(p.valid_rcodes.join() === "NOERROR,NXDOMAIN");
 * ```
 */
export const parseDnsParams: ParamParser<DnsParams> = (raw, target) => {
  rejectUnknown(raw, KNOWN_KEYS);
  const server = optString(raw, "server_address", "").trim();
  if (server !== "") rejectSpecialAddress(raw, "server_address", server);
  const queryType = optChoice(raw, "query_type", DNS_QUERY_TYPES, "A");
  const validRcodes = optStringList(raw, "valid_rcodes", ["NOERROR"]).map((r) =>
    r.trim().toUpperCase()
  );
  const unknown = validRcodes.find((r) => !(DNS_RCODES as readonly string[]).includes(r));
  if (unknown !== undefined) {
    throw new ParamError(
      "valid_rcodes",
      `unknown rcode "${unknown}"; known: ${DNS_RCODES.join(", ")}`,
    );
  }
  if (validRcodes.length === 0) throw new ParamError("valid_rcodes", "must not be empty");
  return {
    server_address: server === "" ? null : server,
    port: optPort(raw, "port", 53),
    query_name: queryName(raw, target, queryType),
    query_type: queryType,
    transport: optChoice(raw, "transport", ["udp", "tcp"] as const, "udp"),
    recursion_desired: optBool(raw, "recursion_desired", true),
    valid_rcodes: validRcodes,
    expect_answers: optStringList(raw, "expect_answers", []),
    ip_protocol: ipProtocol(raw),
  };
};

/**
 * The parsed form of {@linkcode DnsParams}, as a monitor checks it on arrival.
 *
 * @example
 * ```ts
 * import { checkShape } from "./shape.ts";
 * import { DNS_SHAPE, parseDnsParams } from "./dns.ts";
 * console.assert(checkShape(DNS_SHAPE, parseDnsParams({}, "example.com")).query_type === "A");
 * ```
 */
export const DNS_SHAPE: Shape<DnsParams> = {
  server_address: nullable(text),
  port,
  query_name: text,
  query_type: choice(DNS_QUERY_TYPES),
  transport: choice(["udp", "tcp"] as const),
  recursion_desired: bool,
  valid_rcodes: list(choice(DNS_RCODES)),
  expect_answers: list(text),
  ip_protocol: ipProtocolField,
};
