/**
 * The DNS check: one query to one server over UDP (retried over TCP when the
 * reply is truncated) or TCP, like blackbox_exporter's `dns` prober. Up when
 * the rcode is one of `valid_rcodes` and every `expect_answers` entry is
 * among the answers.
 *
 * @example
 * ```ts ignore
 * import { checkDns } from "./dns.ts";
 * import { parseDnsParams } from "../../shared/params/dns.ts";
 * const params = parseDnsParams({ server_address: "127.0.0.1", query_name: "example.com" }, "x");
 * const out = await checkDns(params, { signal: AbortSignal.timeout(2000), timeoutMs: 2000, target: "x" });
 * console.log(out.summary); // DNS Server: 127.0.0.1 - Query: example.com, Type: A, Query Results: [...]
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type Answer,
  decode,
  type DecodedPacket,
  encode,
  type RecordType,
  RECURSION_DESIRED,
} from "dns-packet";
import type { CheckFn, CheckOutcome } from "../../shared/checks.ts";
import { errorText } from "../../shared/error_text.ts";
import type { DnsParams } from "../../shared/params/dns.ts";
import { ResolveError, resolveHost } from "../net/resolve.ts";
import { udpRequest, UdpRequestError, type UdpServer } from "../net/udp_request.ts";

/** EDNS0 buffer size we advertise: the DNS Flag Day 2020 value, safe from fragmentation. */
const EDNS_UDP_SIZE = 1232;

/**
 * A DNS exchange that failed in a way the user can act on (refused
 * connection, no nameserver configured, …).
 *
 * @example
 * ```ts
 * import { DnsError } from "./dns.ts";
 * const e = new DnsError("connection refused");
 * console.assert(e.name === "DnsError");
 * ```
 */
export class DnsError extends Error {
  /** @param message what went wrong, for the user */
  constructor(message: string) {
    super(message);
    this.name = "DnsError";
  }
}

/**
 * A decoded reply as dns-packet produces it, with the rcode it adds.
 *
 * @example
 * ```ts
 * import type { DnsReply } from "./dns.ts";
 * const rcodeOf = (reply: DnsReply) => reply.rcode ?? "NOERROR";
 * ```
 */
export type DnsReply = DecodedPacket & { rcode?: string };

/**
 * What a received message turned out to be: our (possibly truncated) reply,
 * or `null` for something to ignore.
 *
 * @example
 * ```ts
 * import type { DnsReplyMatch } from "./dns.ts";
 * const m: DnsReplyMatch = { kind: "truncated" };
 * ```
 */
export type DnsReplyMatch = { kind: "reply"; packet: DnsReply } | { kind: "truncated" } | null;

/** Where to send the query. */
type Server = UdpServer;

/**
 * The first `nameserver` in `/etc/resolv.conf`, the server a DNS check without
 * `server_address` asks.
 *
 * @example
 * ```ts ignore
 * import { systemResolver } from "./dns.ts";
 * console.log(await systemResolver()); // e.g. "10.0.0.53"
 * ```
 */
export async function systemResolver(path = "/etc/resolv.conf"): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new DnsError(`no server_address given and cannot read ${path}: ${errorText(e)}`);
  }
  const match = text.match(/^\s*nameserver\s+(\S+)/m);
  if (!match) throw new DnsError(`no server_address given and no nameserver in ${path}`);
  return match[1]!;
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

function fqdn(name: string): string {
  return name.endsWith(".") ? name : `${name}.`;
}

/** A TXT chunk or other binary data as text, the way dig shows printable bytes. */
function text(data: string | Uint8Array): string {
  return typeof data === "string" ? data : new TextDecoder().decode(data);
}

/**
 * One answer in dig's `+short` form, except that TXT strings are joined
 * without quotes: `1.2.3.4`, `10 mail.example.com.`, `v=spf1 -all`, and the
 * SOA's seven fields.
 *
 * @example
 * ```ts
 * import { formatAnswer } from "./dns.ts";
 * console.assert(formatAnswer({ type: "MX", name: "x", data: { preference: 10, exchange: "mail.x" } }) === "10 mail.x.");
 * ```
 */
export function formatAnswer(answer: Answer): string {
  switch (answer.type) {
    case "A":
    case "AAAA":
      return answer.data;
    case "CNAME":
    case "DNAME":
    case "NS":
    case "PTR":
      return fqdn(answer.data);
    case "MX":
      return `${answer.data.preference ?? 0} ${fqdn(answer.data.exchange)}`;
    case "TXT": {
      const chunks = Array.isArray(answer.data) ? answer.data : [answer.data];
      return chunks.map(text).join("");
    }
    case "SOA": {
      const d = answer.data;
      return [fqdn(d.mname), fqdn(d.rname), d.serial, d.refresh, d.retry, d.expire, d.minimum]
        .map((v) => v ?? 0).join(" ");
    }
    case "SRV": {
      const d = answer.data;
      return `${d.priority ?? 0} ${d.weight ?? 0} ${d.port} ${fqdn(d.target)}`;
    }
    case "CAA":
      return `${answer.data.flags ?? 0} ${answer.data.tag} "${answer.data.value}"`;
    case "OPT":
      return "OPT";
    default: {
      const data = (answer as { data?: unknown }).data;
      const hex = data instanceof Uint8Array
        ? Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("")
        : JSON.stringify(data);
      return `${answer.type} ${hex}`;
    }
  }
}

/** Python's `repr()` of a string, as the seed printed its lists. */
function pyRepr(s: string): string {
  const escaped = s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t");
  if (s.includes("'") && !s.includes('"')) return `"${escaped}"`;
  return `'${escaped.replace(/'/g, "\\'")}'`;
}

function pyList(items: string[]): string {
  return `[${items.map(pyRepr).join(", ")}]`;
}

function buildQuery(params: DnsParams, id: number): Buffer {
  return encode({
    type: "query",
    id,
    flags: params.recursion_desired ? RECURSION_DESIRED : 0,
    // dns-packet encodes ANY (255); its type definitions just leave it out
    questions: [{ type: params.query_type as RecordType, name: params.query_name, class: "IN" }],
    additionals: [{
      type: "OPT",
      name: ".",
      udpPayloadSize: EDNS_UDP_SIZE,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: 0,
      flag_do: false,
      options: [],
    }],
  });
}

/**
 * Decodes one datagram (or TCP message) received for the query `id` asking
 * for `name` and `type`, and says whether it is our reply, our reply
 * truncated (TC bit), or something to ignore (`null`): a stray or forged
 * message, another question, or bytes that are not DNS at all. A stub
 * resolver ignores such messages and keeps waiting; so does the check. Never
 * throws, whatever the bytes.
 *
 * @example
 * ```ts
 * import { decodeDnsReply } from "./dns.ts";
 * console.assert(decodeDnsReply(new Uint8Array(3), { id: 1, name: "x.test", type: "A" }) === null);
 * ```
 */
export function decodeDnsReply(
  msg: Uint8Array,
  query: { id: number; name: string; type: string },
): DnsReplyMatch {
  if (msg.length < 12) return null;
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const flags = view.getUint16(2);
  if (view.getUint16(0) !== query.id || (flags & 0x8000) === 0) return null;
  if (flags & 0x0200) return { kind: "truncated" };
  let packet: DnsReply;
  try {
    packet = decode(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength));
  } catch {
    return null;
  }
  const q = packet.questions?.[0];
  // a FORMERR/NOTIMP reply may leave the question out
  if (q === undefined) return packet.rcode !== "NOERROR" ? { kind: "reply", packet } : null;
  if (normalizeName(q.name) !== normalizeName(query.name) || q.type !== query.type) return null;
  return { kind: "reply", packet };
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const got = await conn.read(buf.subarray(filled));
    if (got === null) {
      throw new Deno.errors.UnexpectedEof("Server closed the connection before answering");
    }
    filled += got;
  }
  return buf;
}

/** Sends `query` over TCP (RFC 7766 length-prefixed) and reads replies until `match` accepts one. */
async function tcpExchange(
  server: Server,
  query: Uint8Array,
  match: (msg: Uint8Array) => DnsReplyMatch,
  signal: AbortSignal,
): Promise<DnsReply> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: server.address, port: server.port, signal });
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw new DnsError(`TCP connect failed: ${errorText(e)}`);
  }
  let closed = false;
  const close = () => {
    if (!closed) conn.close();
    closed = true;
  };
  // the signal may have fired while the connect was settling
  if (signal.aborted) close();
  signal.addEventListener("abort", close, { once: true });
  try {
    const framed = new Uint8Array(2 + query.length);
    new DataView(framed.buffer).setUint16(0, query.length);
    framed.set(query, 2);
    for (let written = 0; written < framed.length;) {
      written += await conn.write(framed.subarray(written));
    }
    for (;;) {
      const length = new DataView((await readExactly(conn, 2)).buffer).getUint16(0);
      const found = match(await readExactly(conn, length));
      // over TCP there is nothing to fall back to, so a TC bit is just noted
      if (found?.kind === "truncated") throw new DnsError("truncated reply over TCP");
      if (found) return found.packet;
    }
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    if (e instanceof DnsError) throw e;
    throw new DnsError(`TCP exchange failed: ${errorText(e)}`);
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
}

/** The reply and how it was obtained. */
interface Exchange {
  packet: DnsReply;
  transport: "udp" | "tcp";
  truncated: boolean;
}

async function exchange(params: DnsParams, server: Server, signal: AbortSignal): Promise<Exchange> {
  const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
  const query = buildQuery(params, id);
  const question = { id, name: params.query_name, type: params.query_type };
  const match = (msg: Uint8Array) => decodeDnsReply(msg, question);
  if (params.transport === "udp") {
    const found = await udpRequest(server, () => query, match, signal);
    if (found.kind === "reply") return { packet: found.packet, transport: "udp", truncated: false };
  }
  const packet = await tcpExchange(server, query, match, signal);
  return { packet, transport: "tcp", truncated: params.transport === "udp" };
}

function seconds(ms: number): number {
  return ms / 1000;
}

function formatMs(ms: number): string {
  return `${ms.toFixed(2)} ms`;
}

/**
 * Runs one DNS check.
 *
 * @example
 * ```ts ignore
 * import { checkDns } from "./dns.ts";
 * import { parseDnsParams } from "../../shared/params/dns.ts";
 * const params = parseDnsParams({ server_address: "127.0.0.1", port: 5353, query_name: "a.test" }, "x");
 * const out = await checkDns(params, { signal: AbortSignal.timeout(1000), timeoutMs: 1000, target: "x" });
 * console.log(out.up, out.details?.answers);
 * ```
 */
export const checkDns: CheckFn<DnsParams> = async (params, options) => {
  const start = performance.now();
  const { signal, timeoutMs } = options;
  let serverName = params.server_address ?? "system resolver";
  const head = () =>
    `DNS Server: ${serverName} - Query: ${params.query_name}, Type: ${params.query_type}`;
  const portNote = params.port === 53 ? "" : `, Port: ${params.port}`;
  const metrics: Record<string, number> = {};
  const fail = (reason: string, transport: string): CheckOutcome => {
    metrics.probe_success = 0;
    metrics.probe_dns_query_succeeded = 0;
    metrics.probe_duration_seconds = seconds(performance.now() - start);
    return {
      up: false,
      summary: `${head()}, Query Results: ${reason}, Transport: ${transport}${portNote}, ` +
        `Error: ${reason}`,
      latencyMs: null,
      metrics,
      details: { server: serverName, query_name: params.query_name, query_type: params.query_type },
      error: reason,
    };
  };

  let server: Server;
  try {
    serverName = params.server_address ?? await systemResolver();
    const resolved = await resolveHost(serverName, params.ip_protocol, signal);
    metrics['probe_dns_duration_seconds{phase="resolve"}'] = seconds(resolved.lookupMs);
    metrics.probe_ip_protocol = resolved.family;
    server = { address: resolved.address, family: resolved.family, port: params.port };
  } catch (e) {
    if (signal.aborted) return fail(`timeout after ${timeoutMs} ms`, params.transport);
    if (e instanceof ResolveError || e instanceof DnsError) {
      return fail(e.message, params.transport);
    }
    throw e;
  }

  const sent = performance.now();
  let result: Exchange;
  try {
    result = await exchange(params, server, signal);
  } catch (e) {
    if (signal.aborted) return fail(`timeout after ${timeoutMs} ms`, params.transport);
    if (e instanceof DnsError || e instanceof UdpRequestError) {
      return fail(e.message, params.transport);
    }
    throw e;
  }
  const rttMs = performance.now() - sent;

  const { packet, transport, truncated } = result;
  const rcode = packet.rcode ?? "RCODE_UNKNOWN";
  const answers = (packet.answers ?? []).filter((a) => a.type !== "OPT").map(formatAnswer);
  const normalized = new Set(answers.map(normalizeName));
  const missing = params.expect_answers.filter((e) => !normalized.has(normalizeName(e)));
  const rcodeOk = params.valid_rcodes.includes(rcode);
  const error = !rcodeOk
    ? `rcode ${rcode} is not one of ${params.valid_rcodes.join(", ")}`
    : missing.length > 0
    ? `expected answer${missing.length > 1 ? "s" : ""} not found: ${pyList(missing)}`
    : undefined;
  const up = error === undefined;
  const results = rcode === "NOERROR" || answers.length > 0 ? pyList(answers) : rcode;

  Object.assign(metrics, {
    probe_success: up ? 1 : 0,
    probe_duration_seconds: seconds(performance.now() - start),
    probe_dns_lookup_time_seconds: seconds(rttMs),
    'probe_dns_duration_seconds{phase="request"}': seconds(rttMs),
    probe_dns_answer_rrs: packet.answers?.length ?? 0,
    probe_dns_authority_rrs: packet.authorities?.length ?? 0,
    probe_dns_additional_rrs: packet.additionals?.length ?? 0,
    netmon_dns_rcode: (packet.flags ?? 0) & 0xf,
    probe_dns_query_succeeded: 1,
  });
  const soa = [...packet.answers ?? [], ...packet.authorities ?? []].find((a) => a.type === "SOA");
  if (soa?.type === "SOA" && soa.data.serial !== undefined) {
    metrics.probe_dns_serial = soa.data.serial;
  }
  const summary = `${head()}, Query Results: ${results}, Rcode: ${rcode}, ` +
    `Transport: ${transport}, RTT: ${formatMs(rttMs)}${portNote}, ` +
    `Authoritative: ${packet.flag_aa ? "True" : "False"}` +
    (truncated ? ", Truncated: True (retried over TCP)" : "") +
    (error ? `, Error: ${error}` : "");
  return {
    up,
    summary,
    latencyMs: rttMs,
    metrics,
    details: {
      server: serverName,
      server_ip: server.address,
      query_name: params.query_name,
      query_type: params.query_type,
      rcode,
      answers,
      authoritative: packet.flag_aa,
      truncated,
      transport,
    },
    ...(error ? { error } : {}),
  };
};
