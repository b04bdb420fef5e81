/**
 * The HTTP check, and the request engine the HTTPS check shares: resolve the
 * name ourselves, dial the address ourselves (TCP, then TLS on it, sending
 * the TLS server name and the `Host` header, as blackbox_exporter does),
 * speak HTTP/1.1 with `node:http` or, when the server picks it by ALPN,
 * HTTP/2 with `node:http2`, follow redirects by hand, time every phase, read
 * the peer certificate and check the status code, the HTTP version, the body
 * and the certificate's expiry.
 *
 * `node:http` rather than `fetch`, because only it gives the phase timings and
 * the certificate. The timings agree with curl's `-w` figures within a
 * millisecond or so on loopback, because nothing of ours runs on the clock:
 * the request is built and the TLS context exists before the TCP connect
 * starts, and the certificate is read once the response is in.
 *
 * @example
 * ```ts ignore
 * import { checkHttp } from "./http.ts";
 * import { parseHttpParams } from "../../shared/params/http.ts";
 * const outcome = await checkHttp(parseHttpParams({ url: "http://127.0.0.1:8080/" }, "x"), {
 *   signal: AbortSignal.timeout(2000),
 *   timeoutMs: 2000,
 *   target: "x",
 * });
 * console.log(outcome.summary); // HTTP URL: http://127.0.0.1:8080/, HTTP server status: True, Status Code: 200, ...
 * ```
 *
 * @module
 */
import http from "node:http";
import http2 from "node:http2";
import net, { isIP } from "node:net";
import type { Readable } from "node:stream";
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from "node:tls";
import type { CheckFn, CheckOptions, DetailValue } from "../../shared/checks.ts";
import type { HttpParams } from "../../shared/params/http.ts";
import { metricKey } from "../../shared/prom.ts";
import { type Resolved, ResolveError, resolveHost } from "../net/resolve.ts";
import {
  certDate,
  clientContext,
  type DateProblem,
  dateProblem,
  earliestExpiring,
  peerChain,
  verifyReason,
  whichCert,
} from "../net/tls_peer.ts";
import { maskSecrets } from "../../shared/secrets.ts";

/** The most body bytes one response may hand us; the rest is not read. */
export const BODY_LIMIT = 1 << 20;

const USER_AGENT = "Mozilla/5.0 (compatible; netmon)";
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
const DAY_MS = 86_400_000;

/** Why a probe failed, so a caller can describe it in a word. */
export type HttpFailure =
  | "timeout"
  | "resolve"
  | "connect"
  | "tls"
  | "certificate"
  | "cert_expired"
  | "cert_not_yet_valid"
  | "cert_expiry"
  | "protocol"
  | "redirects"
  | "status"
  | "http_version"
  | "body"
  | "config";

/** What the TLS handshake of the last request showed. */
export interface TlsFacts {
  /** Negotiated protocol as OpenSSL names it, e.g. `TLSv1.3`. */
  protocol: string;
  /** Subject of the server's certificate in its RDN order, e.g. `CN=localhost, O=Example`. */
  subject: string;
  issuer: string;
  /** Earliest `notAfter` among the certificates the server presented, ms since the epoch. */
  earliestExpiry: number;
  /** Null when the leaf expires first, else `certificate "<CN>" in the chain`. */
  earliestWhich: string | null;
  /** A certificate of the chain that is expired or not yet valid now. */
  dateProblem: DateProblem | null;
  /** Whether the chain verified against the trusted CAs and matched the host name. */
  authorized: boolean;
  /** OpenSSL's code for why it did not, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`. */
  authorizationError: string | null;
  /** Earliest `notAfter` of the verified chain (ms since the epoch), null when it did not verify. */
  lastChainExpiry: number | null;
  /** The negotiated cipher suite's IANA name, e.g. `TLS_AES_256_GCM_SHA384`. */
  cipher: string;
  /** The leaf's SHA-256 fingerprint, serial number (lower-case hex) and DNS names, comma-separated. */
  fingerprint: string;
  serialNumber: string;
  dnsNames: string;
}

/** Everything one run of the engine found; {@linkcode checkHttp} and `checkHttps` word it. */
export interface HttpProbe {
  up: boolean;
  failure?: HttpFailure;
  error?: string;
  /** Status code of the last response, or null when none arrived. */
  statusCode: number | null;
  /** The URL of the last request (differs from `params.url` after redirects). */
  finalUrl: string;
  redirects: number;
  /** TLS facts of the last handshake, or null when it was plain HTTP or never got that far. */
  tls: TlsFacts | null;
  latencyMs: number | null;
  metrics: Record<string, number>;
  details: Record<string, DetailValue>;
}

type Phase = "resolve" | "connect" | "tls" | "processing" | "transfer";

/** A failure of the target, carried out of one request. */
class HopError extends Error {
  readonly failure: HttpFailure;
  readonly tls: TlsFacts | null;
  constructor(message: string, failure: HttpFailure, tls: TlsFacts | null = null) {
    super(message);
    this.name = "HopError";
    this.failure = failure;
    this.tls = tls;
  }
}

interface Hop {
  status: number;
  httpVersion: string;
  location: string | undefined;
  /** The `Content-Length` header, -1 when absent. */
  contentLength: number;
  body: Uint8Array;
  truncated: boolean;
  tls: TlsFacts | null;
  address: string;
  family: 4 | 6;
  /** The `Last-Modified` header, ms since the epoch, NaN when absent or unparsable. */
  lastModified: number;
}

/** A response's head and its body stream, whichever HTTP version brought it. */
interface Answer {
  status: number;
  /** `1.1`, `2`, … as `probe_http_version` shows it. */
  version: string;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/** Headers that belong to one HTTP/1 connection and are malformed in HTTP/2 (RFC 9113 8.2.2). */
const CONNECTION_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/** The HTTP/1 request headers as HTTP/2 sends them: lower case, `Host` as `:authority`. */
function h2Headers(
  headers: Record<string, string>,
  method: string,
  path: string,
): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = { ":method": method, ":path": path, ":scheme": "https" };
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === "host") out[":authority"] = value;
    else if (!CONNECTION_HEADERS.has(lower)) out[lower] = value;
  }
  return out;
}

interface HopRequest {
  method: string;
  body: string;
  ca: string | undefined;
  params: HttpParams;
  phases: Record<Phase, number>;
}

const NET_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  EADDRNOTAVAIL: "address not available",
  EPIPE: "connection closed by the server",
};

function authorizationCode(socket: TLSSocket): string | null {
  const error = socket.authorizationError as Error | string | null | undefined;
  return error ? String(error instanceof Error ? error.message : error) : null;
}

/**
 * Reads the handshake's facts. Parsing the chain takes a while (tens of ms
 * with a context of its own per request), so it is called only once the
 * phase timings are taken.
 */
function readTls(socket: TLSSocket): TlsFacts {
  const chain = peerChain(socket);
  const earliest = earliestExpiring(chain);
  const leaf = socket.getPeerCertificate(false) as Partial<PeerCertificate> | undefined;
  return {
    protocol: socket.getProtocol() ?? "unknown",
    subject: chain[0]?.subject ?? "",
    issuer: chain[0]?.issuer ?? "",
    earliestExpiry: earliest?.cert.notAfter ?? NaN,
    earliestWhich: earliest ? whichCert(earliest.cert, earliest.index) : null,
    dateProblem: dateProblem(chain),
    authorized: socket.authorized,
    authorizationError: authorizationCode(socket),
    lastChainExpiry: socket.authorized && earliest ? earliest.cert.notAfter : null,
    cipher: socket.getCipher()?.standardName ?? "unknown",
    fingerprint: (leaf?.fingerprint256 ?? "").replaceAll(":", "").toLowerCase(),
    serialNumber: (leaf?.serialNumber ?? "").toLowerCase().replace(/^0+(?=.)/, ""),
    dnsNames: (leaf?.subjectaltname ?? "").split(", ").filter((n) => n.startsWith("DNS:"))
      .map((n) => n.slice(4)).join(","),
  };
}

/**
 * Why a chain that did not verify is not trusted: its dates when they are
 * wrong (Deno's code 21 hides them), else OpenSSL's code in words.
 */
function untrusted(tls: TlsFacts): HopError {
  if (tls.dateProblem) {
    const kind = tls.dateProblem.kind === "expired" ? "cert_expired" : "cert_not_yet_valid";
    return new HopError(tls.dateProblem.message, kind, tls);
  }
  return new HopError(
    `certificate not trusted: ${verifyReason(tls.authorizationError)}`,
    "certificate",
    tls,
  );
}

function netError(
  e: Error & { code?: string },
  isTls: boolean,
  connected: boolean,
  secured: boolean,
): HopError {
  const known = e.code ? NET_REASONS[e.code] : undefined;
  if (known) return new HopError(known, connected ? "protocol" : "connect");
  if (!connected) return new HopError(`cannot connect: ${e.message}`, "connect");
  if (isTls && !secured) return new HopError(`TLS handshake failed: ${e.message}`, "tls");
  if (e.code?.startsWith("HPE_")) {
    return new HopError(`invalid HTTP response: ${e.message}`, "protocol");
  }
  if (e.code === "ECONNRESET") {
    return new HopError("connection closed by the server before a complete response", "protocol");
  }
  return new HopError(e.message, "protocol");
}

async function requestOnce(url: URL, req: HopRequest, signal: AbortSignal): Promise<Hop> {
  const { params, phases } = req;
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  let resolved: Resolved;
  try {
    resolved = await resolveHost(hostname, params.ip_protocol, signal);
  } catch (e) {
    if (e instanceof ResolveError) throw new HopError(e.message, "resolve");
    throw e;
  }
  phases.resolve += resolved.lookupMs;
  signal.throwIfAborted();

  const isTls = url.protocol === "https:";
  const headers: Record<string, string> = { "User-Agent": USER_AGENT, Host: url.host };
  for (const [k, v] of Object.entries(params.headers)) {
    // a user's header replaces ours whatever its spelling
    for (const own of Object.keys(headers)) {
      if (own.toLowerCase() === k.toLowerCase()) delete headers[own];
    }
    headers[k] = v;
  }
  if (req.body !== "") {
    headers["Content-Length"] = String(new TextEncoder().encode(req.body).length);
  }
  const port = Number(url.port || (isTls ? 443 : 80));
  const options: http.RequestOptions = {
    path: url.pathname + url.search,
    method: req.method,
    headers,
  };
  // built (or found) before the clock starts
  const secureContext = isTls ? clientContext(req.ca) : undefined;

  return await new Promise<Hop>((resolve, reject) => {
    let started = NaN, connectedAt = NaN, securedAt = NaN;
    let socket: net.Socket | null = null, tlsSocket: TLSSocket | null = null;
    let request: http.ClientRequest | null = null;
    let session: http2.ClientHttp2Session | null = null;
    let tls: TlsFacts | null = null;
    /** The handshake's facts, read on first use (after the timings) while the socket is open. */
    const tlsFacts = () => {
      if (tls === null && tlsSocket !== null && !tlsSocket.destroyed) tls = readTls(tlsSocket);
      return tls;
    };
    const teardown = () => {
      // a session takes its sockets with it; destroying them under it too hangs Deno's http2
      if (session) session.destroy();
      else {
        request?.destroy();
        tlsSocket?.destroy();
        socket?.destroy();
      }
    };
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      fn();
    };
    const fail = (e: unknown) =>
      settle(() => {
        teardown();
        reject(e);
      });
    const onAbort = () => fail(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const onError = (e: Error & { code?: string }) =>
      fail(
        e instanceof HopError
          ? e
          : netError(e, isTls, !Number.isNaN(connectedAt), !Number.isNaN(securedAt)),
      );

    /** Reads a response's body, from HTTP/1 (`http.IncomingMessage`) or HTTP/2 (the stream). */
    const onResponse = (res: Answer) => {
      const firstByteAt = performance.now();
      phases.processing += firstByteAt - (isTls ? securedAt : connectedAt);
      const chunks: Uint8Array[] = [];
      let size = 0, truncated = false;
      const done = () =>
        settle(() => {
          phases.transfer += performance.now() - firstByteAt;
          tlsFacts();
          const body = new Uint8Array(size);
          let at = 0;
          for (const c of chunks) {
            body.set(c, at);
            at += c.length;
          }
          const length = Number(res.headers["content-length"]);
          const location = res.headers.location;
          resolve({
            status: res.status,
            httpVersion: res.version,
            location: Array.isArray(location) ? location[0] : location,
            contentLength: Number.isInteger(length) ? length : -1,
            body,
            truncated,
            tls,
            address: resolved.address,
            family: resolved.family,
            lastModified: Date.parse(String(res.headers["last-modified"] ?? "")),
          });
          teardown();
        });
      res.body.on("data", (chunk: Uint8Array) => {
        if (settled) return;
        const room = BODY_LIMIT - size;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          size = BODY_LIMIT;
          truncated = true;
          done();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.body.on("end", done);
      res.body.on(
        "error",
        () => fail(new HopError("connection lost while reading the body", "protocol", tlsFacts())),
      );
      res.body.on(
        "aborted",
        () => fail(new HopError("connection lost while reading the body", "protocol", tlsFacts())),
      );
    };

    const onConnect = () => {
      connectedAt = performance.now();
      phases.connect += connectedAt - started;
    };
    /** Dials the TCP connection: the clock starts here. */
    const dial = () => {
      started = performance.now();
      const tcp = net.connect({ host: resolved.address, port, family: resolved.family });
      socket = tcp;
      tcp.once("connect", onConnect);
      tcp.on("error", onError);
      return tcp;
    };
    /** Gives the request its socket; it sends at once. */
    const pending: { handOver?: (s: net.Socket) => void } = {};
    request = http.request({
      ...options,
      // the socket comes once the request is built and, for TLS, the handshake done (below)
      createConnection: (_opts, oncreate) => {
        pending.handOver = (s) => oncreate(null, s);
        return undefined;
      },
    });
    request.on("error", onError);
    request.on("response", (res: http.IncomingMessage) =>
      onResponse({
        status: res.statusCode ?? 0,
        version: res.httpVersion,
        headers: res.headers,
        body: res,
      }));
    request.end(req.body === "" ? undefined : req.body);

    /** The server chose HTTP/2: the same request as a stream of a session on `secure`. */
    const sendH2 = (secure: TLSSocket) => {
      // the HTTP/1.1 request built in advance never got a socket; it goes quietly
      request?.removeListener("error", onError).on("error", () => {}).destroy();
      request = null;
      session = http2.connect(`https://${url.host}`, { createConnection: () => secure });
      session.on("error", onError);
      const stream = session.request(h2Headers(headers, req.method, options.path!), {
        endStream: req.body === "",
      });
      stream.on("error", onError);
      stream.on(
        "response",
        (h: http2.IncomingHttpHeaders) =>
          onResponse({ status: Number(h[":status"]), version: "2", headers: h, body: stream }),
      );
      if (req.body !== "") stream.end(req.body);
    };
    // dialled last, so that no work of ours sits between the connect and its event
    const tcp = dial();
    if (!isTls) {
      tcp.once("connect", () => pending.handOver?.(tcp));
      return;
    }
    // TLS over our own TCP socket, so that the connect phase is the TCP connect alone
    tcp.once("connect", () => {
      const secure = tlsConnect({
        socket: tcp,
        // SNI must be a name (RFC 6066)
        servername: isIP(hostname) === 0 ? hostname : undefined,
        secureContext,
        // verification is ours (on secureConnect), so the certificate is read even when it fails
        rejectUnauthorized: false,
        ALPNProtocols: ["h2", "http/1.1"],
      });
      tlsSocket = secure;
      secure.on("error", onError);
      secure.once("secureConnect", () => {
        securedAt = performance.now();
        phases.tls += securedAt - connectedAt;
        if (params.tls_verify && !secure.authorized) fail(untrusted(tlsFacts()!));
        else if (secure.alpnProtocol === "h2") sendH2(secure);
        else pending.handOver?.(secure);
      });
    });
  });
}

async function readCa(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new HopError(
      `cannot read ca_file "${path}": ${e instanceof Error ? e.message : e}`,
      "config",
    );
  }
}

function inRanges(status: number, ranges: number[][]): boolean {
  return ranges.some(([low, high]) => status >= low! && status <= high!);
}

function rangesText(ranges: number[][]): string {
  return ranges.map(([low, high]) => (low === high ? `${low}` : `${low}-${high}`)).join(", ");
}

/** The first body condition that fails, or null. */
function bodyProblem(body: string, params: HttpParams): string | null {
  for (const text of params.body_contains) {
    if (!body.includes(text)) return `body does not contain "${text}"`;
  }
  for (const text of params.body_not_contains) {
    if (body.includes(text)) return `body contains "${text}"`;
  }
  for (const re of params.body_regex) {
    if (!new RegExp(re).test(body)) return `body does not match /${re}/`;
  }
  return null;
}

/** `TLSv1.3` → `TLS 1.3`, the label value blackbox_exporter uses. */
function tlsLabel(protocol: string): string {
  return protocol.replace(/^TLSv/, "TLS ");
}

/** ` (certificate "X" in the chain)`, or nothing for the leaf. */
function note(which: string | null): string {
  return which === null ? "" : ` (${which})`;
}

/** Whole days from now until `ms`, rounded down (negative once expired). */
export function daysLeft(ms: number, now = Date.now()): number {
  return Math.floor((ms - now) / DAY_MS);
}

/**
 * Runs one HTTP(S) probe: the requests, redirects and every condition of
 * `params`. Target failures come back as `up: false`, never as exceptions.
 *
 * @example
 * ```ts ignore
 * import { probeHttp } from "./http.ts";
 * const probe = await probeHttp(params, { signal, timeoutMs: 2000, target: "x" });
 * console.log(probe.statusCode, probe.metrics["probe_http_redirects"]);
 * ```
 */
export async function probeHttp(params: HttpParams, options: CheckOptions): Promise<HttpProbe> {
  const start = performance.now();
  const phases: Record<Phase, number> = {
    resolve: 0,
    connect: 0,
    tls: 0,
    processing: 0,
    transfer: 0,
  };
  let url = new URL(params.url);
  let method = params.method, body = params.body;
  let redirects = 0;
  let last: Hop | null = null;
  let tls: TlsFacts | null = null;
  let failure: { kind: HttpFailure; message: string } | null = null;
  let bodyFailed = false;

  try {
    options.signal.throwIfAborted();
    const ca = params.ca_file ? await readCa(params.ca_file) : undefined;
    for (;;) {
      last = null;
      tls = null;
      last = await requestOnce(url, { method, body, ca, params, phases }, options.signal);
      tls = last.tls;
      if (
        !params.follow_redirects || !REDIRECT_CODES.has(last.status) || last.location === undefined
      ) break;
      if (redirects >= params.max_redirects) {
        throw new HopError(`too many redirects (more than ${params.max_redirects})`, "redirects");
      }
      try {
        url = new URL(last.location, url);
      } catch {
        throw new HopError(`redirect to an invalid URL "${last.location}"`, "protocol");
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new HopError(`redirect to an unsupported URL "${last.location}"`, "protocol");
      }
      redirects++;
      // What browsers and Go's client do: 303, and 301/302 after a POST, continue as GET.
      if (last.status === 303 || (last.status <= 302 && method === "POST")) {
        method = "GET";
        body = "";
      }
    }
  } catch (e) {
    if (options.signal.aborted) {
      failure = { kind: "timeout", message: `timeout after ${options.timeoutMs} ms` };
    } else if (e instanceof HopError) {
      failure = { kind: e.failure, message: e.message };
      tls = e.tls ?? tls;
    } else {
      throw e;
    }
  }

  if (!failure && last) {
    const text = new TextDecoder().decode(last.body);
    const problem = bodyProblem(text, params);
    if (!inRanges(last.status, params.valid_status_codes)) {
      failure = {
        kind: "status",
        message: `unexpected status code ${last.status} (valid: ${
          rangesText(params.valid_status_codes)
        })`,
      };
    } else if (params.http_version.length > 0 && !params.http_version.includes(last.httpVersion)) {
      failure = {
        kind: "http_version",
        message: `server answered in HTTP/${last.httpVersion}, not ${
          params.http_version.map((v) => `HTTP/${v}`).join(" or ")
        } (http_version)`,
      };
    } else if (problem) {
      bodyFailed = true;
      failure = { kind: "body", message: problem };
    } else if (
      tls && params.cert_expiry_days > 0 &&
      tls.earliestExpiry - Date.now() < params.cert_expiry_days * DAY_MS
    ) {
      if (tls.earliestExpiry <= Date.now()) {
        // only reached under tls_verify: false; a verified chain failed at the handshake
        failure = {
          kind: "cert_expired",
          message: `certificate expired on ${certDate(tls.earliestExpiry)}${
            note(tls.earliestWhich)
          }`,
        };
      } else {
        const iso = new Date(tls.earliestExpiry).toISOString().slice(0, 10);
        failure = {
          kind: "cert_expiry",
          message: `certificate expires in ${daysLeft(tls.earliestExpiry)} days (${iso}${
            tls.earliestWhich === null ? "" : `, ${tls.earliestWhich}`
          }), within cert_expiry_days ${params.cert_expiry_days}`,
        };
      }
    }
  }

  const elapsed = performance.now() - start;
  const up = failure === null;
  const metrics: Record<string, number> = {
    probe_success: up ? 1 : 0,
    probe_duration_seconds: elapsed / 1000,
    probe_dns_lookup_time_seconds: phases.resolve / 1000,
    probe_http_status_code: last?.status ?? 0,
    probe_http_content_length: last?.contentLength ?? 0,
    probe_http_uncompressed_body_length: last?.body.length ?? 0,
    probe_http_version: last ? Number(last.httpVersion) : 0,
    probe_http_redirects: redirects,
    probe_http_ssl: last?.tls ? 1 : 0,
    probe_failed_due_to_regex: bodyFailed ? 1 : 0,
  };
  for (const [phase, ms] of Object.entries(phases)) {
    metrics[`probe_http_duration_seconds{phase="${phase}"}`] = ms / 1000;
  }
  const details: Record<string, DetailValue> = { final_url: shownUrl(url.href) };
  if (last) {
    metrics.probe_ip_protocol = last.family;
    details.resolved_address = last.address;
    details.http_version = `HTTP/${last.httpVersion}`;
    details.body_truncated = last.truncated;
    if (!Number.isNaN(last.lastModified)) {
      metrics.probe_http_last_modified_timestamp_seconds = last.lastModified / 1000;
    }
  }
  if (tls) {
    metrics.probe_ssl_earliest_cert_expiry = Math.floor(tls.earliestExpiry / 1000);
    metrics.netmon_ssl_cert_days_left = daysLeft(tls.earliestExpiry);
    metrics[`probe_tls_version_info{version="${tlsLabel(tls.protocol)}"}`] = 1;
    metrics.netmon_ssl_chain_verified = tls.authorized ? 1 : 0;
    if (tls.lastChainExpiry !== null) {
      metrics.probe_ssl_last_chain_expiry_timestamp_seconds = Math.floor(
        tls.lastChainExpiry / 1000,
      );
    }
    metrics[
      metricKey("probe_ssl_last_chain_info", {
        fingerprint_sha256: tls.fingerprint,
        subject: tls.subject,
        issuer: tls.issuer,
        subjectalternative: tls.dnsNames,
        serialnumber: tls.serialNumber,
      })
    ] = 1;
    metrics[metricKey("probe_tls_cipher_info", { cipher: tls.cipher })] = 1;
    details.cert_subject = tls.subject;
    details.cert_issuer = tls.issuer;
    details.cert_expiry = new Date(tls.earliestExpiry).toISOString();
    details.cert_days_left = daysLeft(tls.earliestExpiry);
    details.tls_version = tls.protocol;
    details.chain_verified = tls.authorized;
    details.chain_error = tls.authorizationError;
  }
  return {
    up,
    ...(failure ? { failure: failure.kind, error: failure.message } : {}),
    statusCode: last?.status ?? null,
    finalUrl: url.href,
    redirects,
    tls,
    latencyMs: last ? elapsed : null,
    metrics,
    details,
  };
}

/**
 * `url` as it may be shown: a password inside it and credential-looking
 * query parameters become `***` (see `shared/secrets.ts`), so that the log,
 * the store and the API never carry them.
 *
 * @example
 * ```ts
 * import { shownUrl } from "./http.ts";
 * console.assert(shownUrl("http://u:pw@h/?api_key=k") === "http://u:***@h/?api_key=***");
 * ```
 */
export function shownUrl(url: string): string {
  return maskSecrets(url);
}

/** `, Response Time: 3.2 ms, Redirects: 2, Final URL: …, Error: …`, shared by both summaries. */
export function summaryTail(probe: HttpProbe): string {
  let tail = "";
  if (probe.latencyMs !== null) tail += `, Response Time: ${probe.latencyMs.toFixed(1)} ms`;
  if (probe.redirects > 0) {
    tail += `, Redirects: ${probe.redirects}, Final URL: ${shownUrl(probe.finalUrl)}`;
  }
  if (probe.error) tail += `, Error: ${probe.error}`;
  return tail;
}

/**
 * Runs one HTTP check. The summary starts as the seed's
 * `HTTP URL: <url>, HTTP server status: True, Status Code: 200`.
 *
 * @example
 * ```ts ignore
 * import { checkHttp } from "./http.ts";
 * const o = await checkHttp(params, { signal: AbortSignal.timeout(2000), timeoutMs: 2000, target: "x" });
 * console.log(o.up, o.metrics["probe_http_status_code"]);
 * ```
 */
export const checkHttp: CheckFn<HttpParams> = async (params, options) => {
  const probe = await probeHttp(params, options);
  return {
    up: probe.up,
    summary:
      `HTTP URL: ${shownUrl(params.url)}, HTTP server status: ${probe.up ? "True" : "False"}, ` +
      `Status Code: ${probe.statusCode ?? "N/A"}${summaryTail(probe)}`,
    latencyMs: probe.latencyMs,
    metrics: probe.metrics,
    details: probe.details,
    ...(probe.error ? { error: probe.error } : {}),
  };
};
