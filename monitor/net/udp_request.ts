/**
 * One UDP request and its answer, as the DNS and NTP checks need: a fresh
 * connected socket (so the kernel drops datagrams from other peers), one
 * datagram out, and the first datagram back that the caller accepts.
 *
 * The socket is libc's (see `./libc.ts`), as the UDP check's is: Deno's
 * node:dgram never reports an ICMP port unreachable, so a closed port would
 * wait out the whole timeout; here it is "refused" as soon as it arrives,
 * as dig says it. Replies carry the kernel's receive time (`SO_TIMESTAMPNS`),
 * so that the time spent waking this thread is not in the round trip.
 *
 * @example
 * ```ts ignore
 * import { udpRequest } from "./udp_request.ts";
 * const reply = await udpRequest(
 *   { address: "127.0.0.1", family: 4, port: 123 },
 *   () => new Uint8Array(48),
 *   (bytes) => bytes.slice(),
 *   AbortSignal.timeout(1000),
 * );
 * ```
 *
 * @module
 */
import {
  AF_INET,
  AF_INET6,
  close,
  connect,
  diffMs,
  ECONNREFUSED,
  FfiUnavailableError,
  IPPROTO_UDP,
  readTimespec,
  realtime,
  RecvBuffers,
  recvmsg,
  sendto,
  setsockopt,
  SO_TIMESTAMPNS,
  SOCK_DGRAM,
  sockaddr,
  socket,
  SOL_SOCKET,
  SysError,
  waitReadable,
  Waker,
} from "./libc.ts";

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

/** The error's words: `refused (ICMP port unreachable)`, `network is unreachable`, … */
function socketError(e: SysError): UdpRequestError {
  if (e.errno === ECONNREFUSED) return new UdpRequestError("refused (ICMP port unreachable)");
  const text = e.reason.charAt(0).toLowerCase() + e.reason.slice(1);
  return new UdpRequestError(e.syscall === "sendto" ? `cannot send: ${text}` : text);
}

/** How long one poll waits at most; the waker cuts it short on abort. */
const POLL_SLICE_MS = 60_000;

/**
 * Sends `request()` (built just before sending, so a timestamp in it is
 * fresh) to `server` and resolves with the first non-null `accept(bytes,
 * arrivedMs)` of a datagram from the server; `arrivedMs` is the
 * `performance.now()` time at which the kernel received it, and `bytes` is
 * valid only during the call. Rejects with `signal.reason` on abort and with
 * {@linkcode UdpRequestError} when the socket fails, e.g. on an ICMP port
 * unreachable.
 *
 * @example
 * ```ts ignore
 * import { udpRequest } from "./udp_request.ts";
 * const at = await udpRequest(server, () => query, (_bytes, arrivedMs) => arrivedMs, signal);
 * ```
 */
export async function udpRequest<T>(
  server: UdpServer,
  request: () => Uint8Array,
  accept: (bytes: Uint8Array, arrivedMs: number) => T | null,
  signal: AbortSignal,
): Promise<T> {
  signal.throwIfAborted();
  let fd = -1, waker: Waker | undefined;
  const wake = () => waker?.wake();
  try {
    waker = new Waker();
    signal.addEventListener("abort", wake, { once: true });
    fd = socket(server.family === 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
    connect(fd, sockaddr(server.address, server.family, server.port));
    const bufs = new RecvBuffers();
    sendto(fd, request(), null);
    for (;;) {
      signal.throwIfAborted();
      if (await waitReadable(fd, waker, POLL_SLICE_MS) !== "readable") continue;
      // drain what is queued: several datagrams may wait behind one wake-up
      for (let msg = recvmsg(fd, bufs); msg !== null; msg = recvmsg(fd, bufs)) {
        // the two clocks read back to back, so that their difference is the kernel's stamp
        const nowReal = realtime(), nowMono = performance.now();
        const stamp = msg.control.find((c) => c.level === SOL_SOCKET && c.type === SO_TIMESTAMPNS);
        const waitedMs = stamp ? Math.max(0, diffMs(readTimespec(stamp.data), nowReal)) : 0;
        const found = accept(msg.data, nowMono - waitedMs);
        if (found !== null) return found;
      }
    }
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    if (e instanceof SysError) throw socketError(e);
    if (e instanceof FfiUnavailableError) throw new UdpRequestError(e.message);
    throw e;
  } finally {
    signal.removeEventListener("abort", wake);
    if (fd >= 0) close(fd);
    waker?.close();
  }
}
