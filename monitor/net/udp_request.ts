/**
 * One UDP request and its answer, as the DNS and NTP checks need: a fresh
 * connected socket (so the kernel drops datagrams from other peers), one
 * datagram out, and the first datagram back that the caller accepts.
 *
 * @example
 * ```ts ignore
 * import { udpRequest } from "./udp_request.ts";
 * const reply = await udpRequest(
 *   { address: "127.0.0.1", family: 4, port: 123 },
 *   () => new Uint8Array(48),
 *   (bytes) => bytes,
 *   AbortSignal.timeout(1000),
 * );
 * ```
 *
 * @module
 */
import dgram from "node:dgram";

/**
 * The socket failed (refused, unreachable, cannot send); the message says
 * why in words a user can act on.
 *
 * @example
 * ```ts
 * import { UdpRequestError } from "./udp_request.ts";
 * console.assert(new UdpRequestError("cannot send").name === "UdpRequestError");
 * ```
 */
export class UdpRequestError extends Error {
  /** @param message what went wrong */
  constructor(message: string) {
    super(message);
    this.name = "UdpRequestError";
  }
}

/** Where a request goes. */
export interface UdpServer {
  address: string;
  family: 4 | 6;
  port: number;
}

/**
 * Sends `request()` (built just before sending, so a timestamp in it is
 * fresh) to `server` and resolves with the first non-null `accept(bytes,
 * arrivedMs)` of a datagram from the server's port; `arrivedMs` is
 * `performance.now()` when the datagram arrived. Rejects with
 * `signal.reason` on abort and with {@linkcode UdpRequestError} when the
 * socket fails.
 *
 * @example
 * ```ts ignore
 * import { udpRequest } from "./udp_request.ts";
 * const at = await udpRequest(server, () => query, (_bytes, arrivedMs) => arrivedMs, signal);
 * ```
 */
export function udpRequest<T>(
  server: UdpServer,
  request: () => Uint8Array,
  accept: (bytes: Uint8Array, arrivedMs: number) => T | null,
  signal: AbortSignal,
): Promise<T> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const socket = dgram.createSocket(server.family === 6 ? "udp6" : "udp4");
    let done = false;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      socket.close();
      settle();
    };
    const onAbort = () => finish(() => reject(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    socket.on("error", (e) => finish(() => reject(new UdpRequestError(e.message))));
    socket.on("message", (bytes, rinfo) => {
      const arrivedMs = performance.now();
      if (rinfo.port !== server.port) return;
      const found = accept(bytes, arrivedMs);
      if (found !== null) finish(() => resolve(found));
    });
    socket.connect(server.port, server.address, () => {
      socket.send(request(), (err) => {
        if (err) finish(() => reject(new UdpRequestError(`cannot send: ${err.message}`)));
      });
    });
  });
}
