/**
 * The few libc socket calls the ICMP and UDP checks need, through Deno FFI:
 * Deno has no raw or ICMP sockets, and its UDP socket does not report ICMP
 * port unreachable.
 *
 * Every call that can fail is synchronous on a non-blocking socket, so errno
 * is read on the thread that made the call; only `poll()` runs off the event
 * loop (a `nonblocking` FFI call), and a {@linkcode Waker} cuts it short.
 *
 * @example
 * ```ts ignore
 * import { AF_INET, IPPROTO_UDP, libc, SOCK_DGRAM, socket } from "./libc.ts";
 * const fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
 * libc().close(fd);
 * ```
 *
 * @module
 */

/** Address families. */
export const AF_INET = 2, AF_INET6 = 10;
/** Socket types. */
export const SOCK_DGRAM = 2, SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
/** Protocols, also the `level` of their socket options. */
export const IPPROTO_IP = 0, IPPROTO_ICMP = 1, IPPROTO_UDP = 17, IPPROTO_IPV6 = 41;
/** ICMPv6 protocol number and option level. */
export const IPPROTO_ICMPV6 = 58;
/** Socket-level options. */
export const SOL_SOCKET = 1, SO_TIMESTAMPNS = 35, SOL_RAW = 255, ICMP_FILTER = 1, SO_RCVBUF = 8;
/** IPv4 options. */
export const IP_TTL = 2, IP_RECVTTL = 12;
/** IPv6 options. */
export const IPV6_UNICAST_HOPS = 16, IPV6_RECVHOPLIMIT = 51, IPV6_HOPLIMIT = 52;
/** `ICMP6_FILTER` at level {@linkcode IPPROTO_ICMPV6}. */
export const ICMP6_FILTER = 1;
/** errno values the checks tell apart. */
export const EPERM = 1, EINTR = 4, EAGAIN = 11, EACCES = 13, ECONNREFUSED = 111;
const MSG_DONTWAIT = 0x40, POLLIN = 0x1, CLOCK_REALTIME = 0, EFD_NONBLOCK = 0o4000;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "usize", "i32"], result: "i32", nonblocking: true },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  inet_pton: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The opened libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * FFI is unavailable: Deno lacks `--allow-ffi`, or libc could not be opened.
 *
 * @example
 * ```ts
 * import { FfiUnavailableError } from "./libc.ts";
 * console.assert(new FfiUnavailableError("x").name === "FfiUnavailableError");
 * ```
 */
export class FfiUnavailableError extends Error {
  /** @param message what is missing, for the user */
  constructor(message: string) {
    super(message);
    this.name = "FfiUnavailableError";
  }
}

/**
 * A failed system call: `errno` and its text, e.g. `connect: Network is unreachable`.
 *
 * @example
 * ```ts
 * import { SysError } from "./libc.ts";
 * const e = new SysError("connect", 101, "Network is unreachable");
 * console.assert(e.message === "connect: Network is unreachable");
 * ```
 */
export class SysError extends Error {
  /** The C `errno`. */
  readonly errno: number;
  /** The call that failed. */
  readonly syscall: string;
  /** `strerror(errno)`, e.g. `Connection refused`. */
  readonly reason: string;
  /** @param syscall the call @param errno its errno @param reason strerror text */
  constructor(syscall: string, errno: number, reason: string) {
    super(`${syscall}: ${reason}`);
    this.name = "SysError";
    this.errno = errno;
    this.syscall = syscall;
    this.reason = reason;
  }
}

let lib: Libc | undefined;

/**
 * The libc symbols, opened on first use so that importing this module needs
 * no FFI permission. Throws {@linkcode FfiUnavailableError}.
 *
 * @example
 * ```ts ignore
 * import { libc } from "./libc.ts";
 * libc().close(-1);
 * ```
 */
export function libc(): Libc {
  if (lib) return lib;
  let lastError: unknown;
  for (const path of ["libc.so.6", "libc.so"]) {
    try {
      lib = Deno.dlopen(path, SYMBOLS).symbols;
      return lib;
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        throw new FfiUnavailableError("netmon needs --allow-ffi for ICMP and UDP checks");
      }
      lastError = e;
    }
  }
  throw new FfiUnavailableError(`cannot open libc: ${lastError}`);
}

/** The calling thread's errno. */
function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/** The SysError for the errno a call on this thread just set. */
function sysError(syscall: string): SysError {
  const code = errno();
  const text = libc().strerror(code);
  return new SysError(
    syscall,
    code,
    text === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(text),
  );
}

/**
 * A non-blocking, close-on-exec socket. Throws {@linkcode SysError}.
 *
 * @example
 * ```ts ignore
 * import { AF_INET, IPPROTO_UDP, SOCK_DGRAM, socket } from "./libc.ts";
 * const fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
 * ```
 */
export function socket(family: number, type: number, protocol: number): number {
  const fd = libc().socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw sysError("socket");
  return fd;
}

/**
 * Sets a socket option to an int, or to raw bytes. Throws {@linkcode SysError}.
 *
 * @example
 * ```ts ignore
 * import { IP_TTL, IPPROTO_IP, setsockopt } from "./libc.ts";
 * setsockopt(fd, IPPROTO_IP, IP_TTL, 64);
 * ```
 */
export function setsockopt(fd: number, level: number, name: number, value: number | Uint8Array) {
  const buf = typeof value === "number" ? new Uint8Array(new Int32Array([value]).buffer) : value;
  if (libc().setsockopt(fd, level, name, buf, buf.byteLength) < 0) throw sysError("setsockopt");
}

/**
 * Closes a file descriptor, ignoring errors (nothing useful can follow).
 *
 * @example
 * ```ts ignore
 * import { close } from "./libc.ts";
 * close(fd);
 * ```
 */
export function close(fd: number): void {
  libc().close(fd);
}

/**
 * Encodes an IPv4 or IPv6 address (with an optional `%zone`) and a port as a
 * `sockaddr_in` / `sockaddr_in6`. Throws {@linkcode SysError} for a bad
 * address.
 *
 * @example
 * ```ts ignore
 * import { sockaddr } from "./libc.ts";
 * const sa = sockaddr("127.0.0.1", 4, 53);
 * console.assert(sa.byteLength === 16);
 * ```
 */
export function sockaddr(address: string, family: 4 | 6, port = 0): Uint8Array {
  const [ip = "", zone] = address.split("%");
  const sa = new Uint8Array(family === 4 ? 16 : 28);
  const view = new DataView(sa.buffer);
  view.setUint16(0, family === 4 ? AF_INET : AF_INET6, true);
  view.setUint16(2, port, false);
  const dst = sa.subarray(family === 4 ? 4 : 8, family === 4 ? 8 : 24);
  const text = new TextEncoder().encode(`${ip}\0`);
  if (libc().inet_pton(family === 4 ? AF_INET : AF_INET6, text, dst) !== 1) {
    throw new SysError("inet_pton", 0, `not an IPv${family} address: ${address}`);
  }
  if (family === 6 && zone) {
    const index = libc().if_nametoindex(new TextEncoder().encode(`${zone}\0`));
    view.setUint32(24, index || Number(zone) || 0, true);
  }
  return sa;
}

/**
 * The address bytes of a `sockaddr_in`/`sockaddr_in6` (4 or 16 bytes).
 *
 * @example
 * ```ts ignore
 * import { sockaddr, sockaddrIp } from "./libc.ts";
 * console.assert(sockaddrIp(sockaddr("10.0.0.1", 4)).join(".") === "10.0.0.1");
 * ```
 */
export function sockaddrIp(sa: Uint8Array): Uint8Array {
  const family = sa[0]! | (sa[1]! << 8);
  return family === AF_INET ? sa.subarray(4, 8) : sa.subarray(8, 24);
}

/**
 * Connects a datagram socket. Throws {@linkcode SysError}.
 *
 * @example
 * ```ts ignore
 * import { connect, sockaddr } from "./libc.ts";
 * connect(fd, sockaddr("127.0.0.1", 4, 53));
 * ```
 */
export function connect(fd: number, sa: Uint8Array): void {
  if (libc().connect(fd, sa, sa.byteLength) < 0) throw sysError("connect");
}

/**
 * Sends one datagram without waiting, to `sa` or (when null) to the connected
 * peer. Throws {@linkcode SysError}, with `EAGAIN` when the buffer is full.
 *
 * @example
 * ```ts ignore
 * import { sendto } from "./libc.ts";
 * sendto(fd, new Uint8Array([1]), null);
 * ```
 */
export function sendto(fd: number, data: Uint8Array, sa: Uint8Array | null): void {
  const n = libc().sendto(fd, data, BigInt(data.byteLength), MSG_DONTWAIT, sa, sa?.byteLength ?? 0);
  if (Number(n) < 0) throw sysError("sendto");
}

/** One datagram read by {@linkcode recvmsg}. */
export interface Message {
  /** The datagram (truncated to the buffer). */
  data: Uint8Array;
  /** The sender's `sockaddr`. */
  from: Uint8Array;
  /** Control messages as level, type and data. */
  control: { level: number; type: number; data: DataView }[];
}

/**
 * Buffers reused by {@linkcode recvmsg}: one reader per socket at a time.
 *
 * @example
 * ```ts ignore
 * import { RecvBuffers, recvmsg } from "./libc.ts";
 * const bufs = new RecvBuffers(1500);
 * const msg = recvmsg(fd, bufs);
 * ```
 */
export class RecvBuffers {
  readonly data: Uint8Array;
  readonly name = new Uint8Array(128);
  readonly control = new Uint8Array(256);
  readonly iov = new Uint8Array(16);
  readonly msghdr = new Uint8Array(56);
  /** @param size the largest datagram to read whole */
  constructor(size = 65536) {
    this.data = new Uint8Array(size);
    const iov = new DataView(this.iov.buffer);
    iov.setBigUint64(0, ptr(this.data), true);
    iov.setBigUint64(8, BigInt(size), true);
  }
}

function ptr(buf: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/**
 * Reads one datagram without waiting; null when none is queued. A pending
 * socket error (e.g. ECONNREFUSED from ICMP port unreachable) throws
 * {@linkcode SysError}. The result views `bufs` until the next call.
 *
 * @example
 * ```ts ignore
 * import { RecvBuffers, recvmsg } from "./libc.ts";
 * const msg = recvmsg(fd, new RecvBuffers());
 * ```
 */
export function recvmsg(fd: number, bufs: RecvBuffers): Message | null {
  const hdr = new DataView(bufs.msghdr.buffer);
  hdr.setBigUint64(0, ptr(bufs.name), true);
  hdr.setUint32(8, bufs.name.byteLength, true);
  hdr.setBigUint64(16, ptr(bufs.iov), true);
  hdr.setBigUint64(24, 1n, true);
  hdr.setBigUint64(32, ptr(bufs.control), true);
  hdr.setBigUint64(40, BigInt(bufs.control.byteLength), true);
  hdr.setInt32(48, 0, true);
  const n = Number(libc().recvmsg(fd, bufs.msghdr, MSG_DONTWAIT));
  if (n < 0) {
    const err = sysError("recvmsg");
    if (err.errno === EAGAIN || err.errno === EINTR) return null;
    throw err;
  }
  const nameLen = hdr.getUint32(8, true);
  const controlLen = Number(hdr.getBigUint64(40, true));
  const control: Message["control"] = [];
  const cview = new DataView(bufs.control.buffer);
  // cmsghdr: size_t len, int level, int type, then data, each aligned to 8
  for (let off = 0; off + 16 <= controlLen;) {
    const len = Number(cview.getBigUint64(off, true));
    if (len < 16) break;
    control.push({
      level: cview.getInt32(off + 8, true),
      type: cview.getInt32(off + 12, true),
      data: new DataView(bufs.control.buffer, off + 16, len - 16),
    });
    off += (len + 7) & ~7;
  }
  return {
    data: bufs.data.subarray(0, Math.min(n, bufs.data.byteLength)),
    from: bufs.name.subarray(0, nameLen),
    control,
  };
}

/** A CLOCK_REALTIME reading as seconds and nanoseconds, the clock of kernel packet timestamps. */
export interface Timespec {
  sec: number;
  nsec: number;
}

const tsBuf = new Uint8Array(16);

/**
 * CLOCK_REALTIME now, to compare with `SO_TIMESTAMPNS` receive stamps.
 *
 * @example
 * ```ts ignore
 * import { realtime } from "./libc.ts";
 * const t = realtime();
 * ```
 */
export function realtime(): Timespec {
  libc().clock_gettime(CLOCK_REALTIME, tsBuf);
  const v = new DataView(tsBuf.buffer);
  return { sec: Number(v.getBigInt64(0, true)), nsec: Number(v.getBigInt64(8, true)) };
}

/**
 * Reads a `struct timespec` (e.g. an `SCM_TIMESTAMPNS` control message).
 *
 * @example
 * ```ts ignore
 * import { readTimespec } from "./libc.ts";
 * const t = readTimespec(new DataView(new ArrayBuffer(16)));
 * ```
 */
export function readTimespec(v: DataView): Timespec {
  return { sec: Number(v.getBigInt64(0, true)), nsec: Number(v.getBigInt64(8, true)) };
}

/**
 * `b - a` in milliseconds.
 *
 * @example
 * ```ts
 * import { diffMs } from "./libc.ts";
 * console.assert(diffMs({ sec: 1, nsec: 0 }, { sec: 1, nsec: 500_000 }) === 0.5);
 * ```
 */
export function diffMs(a: Timespec, b: Timespec): number {
  return (b.sec - a.sec) * 1e3 + (b.nsec - a.nsec) / 1e6;
}

/**
 * An eventfd that interrupts a {@linkcode waitReadable} in progress, so a
 * waiting socket can be closed promptly and safely.
 *
 * @example
 * ```ts ignore
 * import { Waker } from "./libc.ts";
 * const w = new Waker();
 * w.wake();
 * w.close();
 * ```
 */
export class Waker {
  /** The eventfd. */
  readonly fd: number;
  #buf = new Uint8Array(8);

  constructor() {
    this.fd = libc().eventfd(0, EFD_NONBLOCK | SOCK_CLOEXEC);
    if (this.fd < 0) throw sysError("eventfd");
  }

  /** Makes the current (or next) wait return `"woken"`. */
  wake(): void {
    new DataView(this.#buf.buffer).setBigUint64(0, 1n, true);
    libc().write(this.fd, this.#buf, 8n);
  }

  /** Clears a pending wake. */
  drain(): void {
    libc().read(this.fd, this.#buf, 8n);
  }

  /** Closes the eventfd; no wait may be in progress. */
  close(): void {
    libc().close(this.fd);
  }
}

/**
 * Waits off the event loop until `fd` is readable (or has a pending error),
 * `waker` fires, or `timeoutMs` passes.
 *
 * @example
 * ```ts ignore
 * import { waitReadable, Waker } from "./libc.ts";
 * const why = await waitReadable(fd, new Waker(), 1000);
 * ```
 */
export async function waitReadable(
  fd: number,
  waker: Waker,
  timeoutMs: number,
): Promise<"readable" | "woken" | "timeout"> {
  // struct pollfd { int fd; short events; short revents; } twice
  const fds = new Uint8Array(16);
  const v = new DataView(fds.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, POLLIN, true);
  v.setInt32(8, waker.fd, true);
  v.setInt16(12, POLLIN, true);
  const n = await libc().poll(fds, 2n, Math.max(0, Math.ceil(timeoutMs)));
  if (n <= 0) return "timeout";
  if (v.getInt16(14, true) !== 0) {
    waker.drain();
    return "woken";
  }
  return v.getInt16(6, true) !== 0 ? "readable" : "timeout";
}
