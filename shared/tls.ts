/**
 * TLS for the monitor port. The monitor serves with `Deno.listenTls`; the
 * manager dials with `node:tls`, because pinning a certificate by its SHA-256
 * fingerprint (like SSH's known hosts) needs a verification step that Deno's
 * own TLS client does not offer.
 *
 * @example
 * ```ts ignore
 * import { certFingerprint, formatFingerprint } from "./tls.ts";
 * console.log(formatFingerprint(await certFingerprint(await Deno.readTextFile("cert.pem"))));
 * ```
 *
 * @module
 */
import * as tls from "node:tls";
import { Duplex } from "node:stream";
import type { MonitorTls } from "./config.ts";
import type { Transport } from "./connection.ts";

/** The monitor's certificate did not pass the manager's verification. */
export class TlsVerifyError extends Error {
  /** @param message what did not match, and what to do */
  constructor(message: string) {
    super(message);
    this.name = "TlsVerifyError";
  }
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

/** SHA-256 of the first certificate in `pem` (its DER bytes), as 64 uppercase hex digits. */
export function certFingerprint(pem: string): Promise<string> {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new TlsVerifyError("no PEM certificate found");
  return sha256Hex(Uint8Array.from(atob(m[1]!.replace(/\s+/g, "")), (c) => c.charCodeAt(0)));
}

/** `AB:CD:…`, the form `openssl x509 -fingerprint -sha256` prints. */
export function formatFingerprint(hex: string): string {
  return hex.match(/../g)!.join(":");
}

/** The connection, and the certificate fingerprint the monitor presented. */
export interface TlsDial {
  transport: Transport;
  fingerprint: string;
}

/**
 * Connects to a monitor over TLS and verifies it: by pinned fingerprint when
 * one is configured (the CA chain is then not consulted), else by `ca` or the
 * system's CAs together with the host name.
 */
export async function dialTls(
  host: string,
  port: number,
  options: MonitorTls,
  signal: AbortSignal,
): Promise<TlsDial> {
  const pinned = options.fingerprint !== undefined;
  const ca = options.ca ? await Deno.readTextFile(options.ca) : undefined;
  const cert = options.clientCert ? await Deno.readTextFile(options.clientCert) : undefined;
  const key = options.clientKey ? await Deno.readTextFile(options.clientKey) : undefined;
  const servername = options.serverName ?? (/^[\d.]+$|:/.test(host) ? undefined : host);
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({
      host,
      port,
      servername,
      ca,
      cert,
      key,
      rejectUnauthorized: !pinned,
      checkServerIdentity: pinned
        ? () => undefined
        : (h, c) => tls.checkServerIdentity(options.serverName ?? h, c),
    });
    const onAbort = () => {
      s.destroy();
      reject(signal.reason ?? new Error("aborted"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    s.once("secureConnect", () => {
      signal.removeEventListener("abort", onAbort);
      s.setKeepAlive(true);
      resolve(s);
    });
    s.once("error", (e) => {
      signal.removeEventListener("abort", onAbort);
      reject(e);
    });
  });
  const fingerprint = await sha256Hex(new Uint8Array(socket.getPeerCertificate().raw));
  if (pinned && fingerprint !== options.fingerprint) {
    socket.destroy();
    throw new TlsVerifyError(
      `certificate fingerprint ${formatFingerprint(fingerprint)} does not match the pinned ${
        formatFingerprint(options.fingerprint!)
      }; if the monitor's certificate was replaced on purpose, update "fingerprint" in tasks.yaml`,
    );
  }
  const web = Duplex.toWeb(socket);
  return {
    fingerprint,
    transport: {
      readable: web.readable as ReadableStream<Uint8Array>,
      writable: web.writable as WritableStream<Uint8Array>,
      close: () => socket.destroy(),
    },
  };
}

/** A connection accepted by {@linkcode listenTlsClientAuth}. */
export interface AcceptedTls {
  transport: Transport;
  hostname: string;
  port: number;
}

/** A TLS listener that demands a client certificate signed by a given CA. */
export interface ClientAuthListener extends AsyncIterable<AcceptedTls> {
  readonly addr: Deno.NetAddr;
  close(): void;
}

/**
 * Listens with TLS and requires every client (the manager) to present a
 * certificate signed by `ca` (PEM text); a client without one fails the TLS
 * handshake and never reaches the protocol. Uses `node:tls`, because
 * `Deno.listenTls` cannot ask for client certificates.
 */
export async function listenTlsClientAuth(
  options: { hostname: string; port: number; cert: string; key: string; ca: string },
): Promise<ClientAuthListener> {
  const queue: AcceptedTls[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: true,
    rejectUnauthorized: true,
  }, (socket) => {
    socket.setKeepAlive(true);
    const web = Duplex.toWeb(socket);
    queue.push({
      transport: {
        readable: web.readable as ReadableStream<Uint8Array>,
        writable: web.writable as WritableStream<Uint8Array>,
        close: () => socket.destroy(),
      },
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    });
    wake?.();
  });
  // a client that fails verification is dropped by node:tls; nothing to serve
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => resolve());
  });
  const a = server.address();
  const addr: Deno.NetAddr = {
    transport: "tcp",
    hostname: typeof a === "object" && a ? a.address : options.hostname,
    port: typeof a === "object" && a ? a.port : options.port,
  };
  return {
    addr,
    close() {
      closed = true;
      server.close();
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      while (!closed) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}
