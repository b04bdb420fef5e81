/**
 * The TCP check: connect to a port (optionally over TLS), send a payload and
 * wait for a reply that matches a pattern, like blackbox_exporter's `tcp`
 * prober. The port is `open` (connected), `closed` (refused) or `filtered`
 * (no answer before the deadline).
 *
 * Plain TCP uses `Deno.connect`. TLS uses `node:tls`, because
 * `Deno.startTls` can neither skip verification (`tls_verify: false`) nor
 * report the negotiated version or the peer's certificates.
 *
 * @example
 * ```ts ignore
 * import { checkTcp } from "./tcp.ts";
 * import { parseTcpParams } from "../../shared/params/tcp.ts";
 * const params = parseTcpParams({ port: 22, expect: "^SSH-" }, "127.0.0.1");
 * const outcome = await checkTcp(params, {
 *   signal: AbortSignal.timeout(2000),
 *   timeoutMs: 2000,
 *   target: "127.0.0.1",
 * });
 * console.log(outcome.summary);
 * ```
 *
 * @module
 */
import tls from "node:tls";
import net, { isIP } from "node:net";
import type { CheckFn, CheckOutcome, DetailValue } from "../../shared/checks.ts";
import { parsePayload } from "../../shared/params/common.ts";
import type { TcpParams } from "../../shared/params/tcp.ts";
import { metricKey } from "../../shared/prom.ts";
import { ResolveError, resolveHost } from "../net/resolve.ts";
import {
  type ChainCert,
  clientContext,
  dateProblem,
  earliestExpiring,
  peerChain,
  verifyReason,
} from "../net/tls_peer.ts";

/** The most reply bytes read while waiting for `expect` to match. */
const MAX_REPLY_BYTES = 64 * 1024;

/** How the port looked: blackbox has no such word, nmap does. */
type PortState = "open" | "closed" | "filtered" | "unreachable";

/** A connected byte stream, plain or TLS. */
interface Link {
  /** The next chunk, or null once the peer closed. */
  read(): Promise<Uint8Array | null>;
  write(bytes: Uint8Array): Promise<void>;
  close(): void;
}

interface TlsInfo {
  version: string;
  authorized: boolean;
  verifyError: string | null;
  subject: string | null;
  /** Earliest `notAfter` in the peer's chain, seconds since the epoch. */
  earliestExpiry: number | null;
  handshakeMs: number;
  /** The negotiated cipher suite's IANA name. */
  cipher: string;
}

interface Opened {
  link: Link;
  connectMs: number;
  tls?: TlsInfo;
}

/** The TCP connect did not succeed. */
class ConnectFailure extends Error {
  readonly state: PortState;
  constructor(state: PortState, message: string) {
    super(message);
    this.name = "ConnectFailure";
    this.state = state;
  }
}

/** TCP connected but TLS did not come up. */
class TlsFailure extends Error {
  readonly connectMs: number;
  constructor(connectMs: number, message: string) {
    super(message);
    this.name = "TlsFailure";
    this.connectMs = connectMs;
  }
}

/** `p`, or a rejection with `signal.reason` as soon as `signal` aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** "Connection reset by peer (os error 104)" → "connection reset by peer". */
function plainMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const short = text.replace(/\s*\(os error \d+\)$/, "");
  return short.charAt(0).toLowerCase() + short.slice(1);
}

function denoLink(conn: Deno.Conn): Link {
  // made on the first read: most checks only connect, and 16 KiB per run was garbage
  let buf: Uint8Array | undefined;
  return {
    async read() {
      buf ??= new Uint8Array(16 * 1024);
      const n = await conn.read(buf);
      return n === null ? null : buf.slice(0, n);
    },
    async write(bytes) {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    },
    close() {
      try {
        conn.close();
      } catch {
        // already closed by the abort signal given to Deno.connect
      }
    },
  };
}

function nodeLink(socket: tls.TLSSocket): Link {
  const queue: (Uint8Array | null)[] = [];
  let waiter: ((chunk: Uint8Array | null) => void) | null = null;
  const push = (chunk: Uint8Array | null) => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(chunk);
    } else queue.push(chunk);
  };
  socket.on("data", (d: Uint8Array) => push(new Uint8Array(d)));
  // a reset after the handshake ends the reply like a close does
  socket.on("error", () => push(null));
  socket.on("end", () => push(null));
  socket.on("close", () => push(null));
  return {
    read: () =>
      queue.length > 0
        ? Promise.resolve(queue.shift()!)
        : new Promise((resolve) => waiter = resolve),
    write: (bytes) =>
      new Promise((resolve, reject) => socket.write(bytes, (e) => e ? reject(e) : resolve())),
    close: () => void socket.destroy(),
  };
}

async function connectPlain(address: string, port: number, signal: AbortSignal): Promise<Opened> {
  const start = performance.now();
  try {
    // the signal also aborts the pending connect itself, so nothing is left half-open
    const conn = await Deno.connect({ hostname: address, port, signal });
    return { link: denoLink(conn), connectMs: performance.now() - start };
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    if (e instanceof Deno.errors.ConnectionRefused) {
      throw new ConnectFailure("closed", "connection refused");
    }
    throw new ConnectFailure("unreachable", plainMessage(e));
  }
}

function tlsVersionLabel(protocol: string | null): string {
  return (protocol ?? "unknown").replace(/^TLSv/, "TLS ");
}

/** Why a chain that did not verify is not trusted: its dates first (Deno's code 21 hides them). */
function untrusted(chain: ChainCert[], code: string | null, serverName: string): string {
  const problem = dateProblem(chain);
  if (problem) return problem.message;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return `TLS handshake failed: certificate does not match the server name "${serverName}" (${code})`;
  }
  return `TLS handshake failed: ${verifyReason(code)}`;
}

function connectTls(
  address: string,
  port: number,
  params: TcpParams,
  ca: string | undefined,
  signal: AbortSignal,
): Promise<Opened> {
  signal.throwIfAborted();
  const serverName = params.server_name;
  // built (or found) before the clock starts
  const secureContext = clientContext(ca);
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let connectMs: number | null = null;
    // TLS over a TCP socket of our own, so that the connect time is the TCP connect alone
    const tcp = net.connect({ host: address, port });
    let socket: tls.TLSSocket | null = null;
    const destroy = () => {
      socket?.destroy();
      tcp.destroy();
    };
    const fail = (e: Error & { code?: string }) => {
      signal.removeEventListener("abort", onAbort);
      destroy();
      if (connectMs !== null) {
        reject(new TlsFailure(connectMs, `TLS handshake failed: ${e.message}`));
      } else if (e.code === "ECONNREFUSED") {
        reject(new ConnectFailure("closed", "connection refused"));
      } else reject(new ConnectFailure("unreachable", plainMessage(e)));
    };
    const onAbort = () => {
      destroy();
      reject(
        connectMs === null
          ? signal.reason
          : new TlsFailure(connectMs, "TLS handshake did not finish before the deadline"),
      );
    };
    const onClose = () => fail(new Error("connection closed"));
    signal.addEventListener("abort", onAbort, { once: true });
    tcp.once("error", fail);
    tcp.once("close", onClose);
    tcp.once("connect", () => {
      connectMs = performance.now() - start;
      const secure = tls.connect({
        socket: tcp,
        // SNI must be a name (RFC 6066); an address is still checked below
        servername: isIP(serverName) ? undefined : serverName,
        secureContext,
        // verification is ours (on secureConnect), so that the certificate can say why it failed
        rejectUnauthorized: false,
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
      });
      socket = secure;
      secure.once("error", fail);
      secure.once("close", onClose);
      secure.once("secureConnect", () => {
        const tcpMs = connectMs ?? 0;
        const handshakeMs = performance.now() - start - tcpMs;
        signal.removeEventListener("abort", onAbort);
        tcp.removeListener("error", fail).removeListener("close", onClose);
        secure.removeAllListeners("error").removeAllListeners("close");
        const chain = peerChain(secure);
        const verifyError = secure.authorizationError ? String(secure.authorizationError) : null;
        if (params.tls_verify && !secure.authorized) {
          destroy();
          reject(new TlsFailure(tcpMs, untrusted(chain, verifyError, serverName)));
          return;
        }
        resolve({
          link: nodeLink(secure),
          connectMs: tcpMs,
          tls: {
            version: tlsVersionLabel(secure.getProtocol()),
            authorized: secure.authorized,
            verifyError,
            subject: chain[0]?.cn ?? null,
            earliestExpiry: chain.length > 0 ? earliestExpiring(chain)!.cert.notAfter / 1000 : null,
            handshakeMs,
            cipher: secure.getCipher()?.standardName ?? "unknown",
          },
        });
      });
    });
  });
}

/** What was read while waiting for `expect`. */
interface Reply {
  text: string;
  matched: boolean;
}

async function readUntilMatch(
  link: Link,
  re: RegExp,
  signal: AbortSignal,
  reply: Reply,
): Promise<void> {
  const decoder = new TextDecoder();
  let bytes = 0;
  while (!(reply.matched = re.test(reply.text)) && bytes < MAX_REPLY_BYTES) {
    let chunk: Uint8Array | null;
    try {
      chunk = await abortable(link.read(), signal);
    } catch (e) {
      if (signal.aborted) throw e;
      return; // a reset ends the reply like a close
    }
    if (chunk === null) return;
    bytes += chunk.length;
    reply.text += decoder.decode(chunk.subarray(0, MAX_REPLY_BYTES - bytes + chunk.length), {
      stream: true,
    });
  }
}

/** Runs one TCP check; see the module doc. */
export const checkTcp: CheckFn<TcpParams> = async (params, options) => {
  const { signal, timeoutMs } = options;
  const start = performance.now();
  const { host, port } = params;
  const head = `TCP Port: ${host} - Port ${port} - `;
  const metrics: Record<string, number> = {};
  const details: Record<string, DetailValue> = {};
  const finish = (
    up: boolean,
    text: string,
    latencyMs: number | null,
    error?: string,
  ): CheckOutcome => {
    metrics.probe_success = up ? 1 : 0;
    metrics.probe_duration_seconds = (performance.now() - start) / 1000;
    const summary = head + text + (error === undefined ? "" : `, Error: ${error}`);
    return { up, summary, latencyMs, metrics, details, ...(error === undefined ? {} : { error }) };
  };
  const notOpen = (state: PortState, description: string, error: string) => {
    details.state = state;
    const word = state.charAt(0).toUpperCase() + state.slice(1);
    return finish(false, `${word}, Description: ${description}`, null, error);
  };
  const timeoutError = `timeout after ${timeoutMs} ms`;

  let ca: string | undefined;
  if (params.tls && params.ca_file !== null) {
    try {
      ca = await Deno.readTextFile(params.ca_file);
    } catch (e) {
      return notOpen(
        "unreachable",
        `Could not read the CA file for port ${port} on ${host}.`,
        `cannot read ca_file "${params.ca_file}": ${plainMessage(e)}`,
      );
    }
  }

  let address: string;
  try {
    const resolved = await resolveHost(host, params.ip_protocol, signal);
    address = resolved.address;
    details.address = address;
    metrics.probe_ip_protocol = resolved.family;
    metrics.probe_dns_lookup_time_seconds = resolved.lookupMs / 1000;
  } catch (e) {
    if (signal.aborted) {
      return notOpen(
        "unreachable",
        `Could not resolve ${host} within ${timeoutMs} ms.`,
        timeoutError,
      );
    }
    if (e instanceof ResolveError) {
      return notOpen("unreachable", `Could not resolve ${host}.`, e.message);
    }
    throw e;
  }

  let opened: Opened;
  try {
    opened = params.tls
      ? await connectTls(address, port, params, ca, signal)
      : await connectPlain(address, port, signal);
  } catch (e) {
    if (e instanceof ConnectFailure && e.state === "closed") {
      return notOpen("closed", `Port ${port} on ${host} refused the connection.`, e.message);
    }
    if (e instanceof ConnectFailure) {
      return notOpen("unreachable", `Could not reach port ${port} on ${host}.`, e.message);
    }
    if (e instanceof TlsFailure) {
      details.state = "open";
      metrics.netmon_tcp_connect_seconds = e.connectMs / 1000;
      const text = `Open, Description: Port ${port} on ${host} is open., Connect: ${
        e.connectMs.toFixed(2)
      } ms`;
      return finish(false, text, e.connectMs, e.message);
    }
    if (signal.aborted) {
      return notOpen(
        "filtered",
        `No answer from port ${port} on ${host} within ${timeoutMs} ms.`,
        timeoutError,
      );
    }
    throw e;
  }

  const { link, connectMs } = opened;
  details.state = "open";
  metrics.netmon_tcp_connect_seconds = connectMs / 1000;
  let text = `Open, Description: Port ${port} on ${host} is open., Connect: ${
    connectMs.toFixed(2)
  } ms`;
  if (opened.tls) {
    const t = opened.tls;
    metrics[`probe_tls_version_info{version="${t.version}"}`] = 1;
    metrics.netmon_tls_handshake_seconds = t.handshakeMs / 1000;
    if (t.earliestExpiry !== null) metrics.probe_ssl_earliest_cert_expiry = t.earliestExpiry;
    if (t.earliestExpiry !== null && t.authorized) {
      metrics.probe_ssl_last_chain_expiry_timestamp_seconds = t.earliestExpiry;
    }
    metrics[metricKey("probe_tls_cipher_info", { cipher: t.cipher })] = 1;
    details.tls_version = t.version;
    details.tls_verified = t.authorized;
    if (t.verifyError !== null) details.tls_verify_error = t.verifyError;
    if (t.subject !== null) details.tls_subject = t.subject;
    text += `, TLS: ${t.version}`;
  }

  try {
    if (params.send !== null) {
      try {
        await abortable(link.write(parsePayload("send", params.send)), signal);
      } catch (e) {
        if (signal.aborted) throw e;
        return finish(false, text, connectMs, `could not send: ${plainMessage(e)}`);
      }
    }
    if (params.expect === null) return finish(true, text, connectMs);

    const re = new RegExp(params.expect);
    const reply: Reply = { text: "", matched: false };
    let late = false;
    try {
      await readUntilMatch(link, re, signal, reply);
    } catch (e) {
      if (!signal.aborted) throw e;
      late = true;
    }
    metrics.probe_failed_due_to_regex = reply.matched ? 0 : 1;
    details.reply = reply.text.slice(0, 80);
    if (reply.matched) {
      const match = reply.text.match(re)?.[0] ?? "";
      metrics[metricKey("probe_expect_info", { expect: re.source, match: match.slice(0, 80) })] = 1;
      return finish(true, `${text}, Reply matched: /${re.source}/`, connectMs);
    }
    const within = late ? ` within ${timeoutMs} ms` : "";
    return finish(
      false,
      text,
      connectMs,
      `reply did not match /${re.source}/${within}: ${JSON.stringify(reply.text.slice(0, 80))}`,
    );
  } catch (e) {
    if (!signal.aborted) throw e;
    return finish(false, text, connectMs, timeoutError);
  } finally {
    link.close();
  }
};
