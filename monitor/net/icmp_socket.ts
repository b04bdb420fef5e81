/**
 * One shared ICMP echo socket per address family: a thousand pinged hosts
 * cost one socket and one reader, not a thousand. Replies are matched to
 * pending probes by sequence number, source address and a per-probe nonce
 * in the payload (and, on raw sockets, which see every echo reply on the
 * host, by our identifier).
 *
 * The socket is an unprivileged ICMP datagram socket when
 * `net.ipv4.ping_group_range` admits this process, else a raw socket (root or
 * CAP_NET_RAW). Round-trip times come from the kernel's receive timestamp
 * (`SO_TIMESTAMPNS`) minus a CLOCK_REALTIME reading taken just before
 * `sendto`, so event-loop latency does not count.
 *
 * @example
 * ```ts ignore
 * import { icmpSocket } from "./icmp_socket.ts";
 * const sock = icmpSocket(4);
 * const echo = sock.echo("127.0.0.1", { ttl: 64, payloadSize: 56 });
 * const reply = await echo.reply; // null once cancelled
 * echo.cancel();
 * await sock.idle();
 * ```
 *
 * @module
 */
import {
  AF_INET,
  AF_INET6,
  close,
  diffMs,
  EACCES,
  EPERM,
  ICMP6_FILTER,
  ICMP_FILTER,
  IP_RECVTTL,
  IP_TTL,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_HOPLIMIT,
  IPV6_RECVHOPLIMIT,
  IPV6_UNICAST_HOPS,
  type Message,
  readTimespec,
  realtime,
  RecvBuffers,
  recvmsg,
  sendto,
  setsockopt,
  SO_RCVBUF,
  SO_TIMESTAMPNS,
  SOCK_DGRAM,
  SOCK_RAW,
  sockaddr,
  sockaddrIp,
  socket,
  SOL_RAW,
  SOL_SOCKET,
  SysError,
  type Timespec,
  waitReadable,
  Waker,
} from "./libc.ts";

/**
 * Neither an unprivileged nor a raw ICMP socket may be opened; the message
 * says what to run to allow one.
 *
 * @example
 * ```ts
 * import { IcmpPermissionError } from "./icmp_socket.ts";
 * console.assert(new IcmpPermissionError("x").name === "IcmpPermissionError");
 * ```
 */
export class IcmpPermissionError extends Error {
  /** @param message what to run, for the user */
  constructor(message: string) {
    super(message);
    this.name = "IcmpPermissionError";
  }
}

/** An echo reply. */
export interface EchoReply {
  /** Kernel receive time minus send time, in milliseconds. */
  rttMs: number;
  /** The reply's IPv4 TTL or IPv6 hop limit, when the kernel reported it. */
  hopLimit: number | null;
}

/** Options of one echo request. */
export interface EchoOptions {
  /** IPv4 TTL or IPv6 hop limit of the request. */
  ttl: number;
  /** Bytes after the 8-byte ICMP header. */
  payloadSize: number;
}

/** One echo request in flight. */
export interface Echo {
  /** The reply, or null once {@linkcode Echo.cancel} gave up on it. */
  reply: Promise<EchoReply | null>;
  /** Stops waiting; `reply` resolves with null unless a reply came first. */
  cancel(): void;
}

/** What {@linkcode icmpSocketStats} reports per open socket. */
export interface IcmpSocketStats {
  family: 4 | 6;
  /** `datagram` (unprivileged) or `raw`. */
  kind: "datagram" | "raw";
  fd: number;
  /** Reader loops running on this socket: 0 or 1. */
  readers: number;
  /** Probes waiting for a reply. */
  pending: number;
  /** Sockets ever opened for this family in this process. */
  opened: number;
}

interface Pending {
  dest: Uint8Array;
  nonce: Uint8Array;
  sent: Timespec;
  resolve: (reply: EchoReply | null) => void;
}

const ECHO_REQUEST = { 4: 8, 6: 128 } as const;
const ECHO_REPLY = { 4: 0, 6: 129 } as const;
const NONCE_BYTES = 8;
/** Upper bound of one poll, so a lost wake-up costs at most this long. */
const POLL_SLICE_MS = 1000;

// One counter for both families, so a sequence number names one probe.
let nextSeq = Math.floor(Math.random() * 0x10000);

function checksum(packet: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < packet.length; i += 2) {
    sum += (packet[i]! << 8) | (packet[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The shared echo socket of one address family. */
class IcmpSocket {
  readonly family: 4 | 6;
  readonly kind: "datagram" | "raw";
  readonly fd: number;
  // Datagram sockets get their identifier from the kernel (the socket's port).
  readonly #ident = Math.floor(Math.random() * 0x10000);
  readonly #waker: Waker;
  readonly #bufs = new RecvBuffers();
  readonly #pending = new Map<number, Pending>();
  #loop: Promise<void> | null = null;
  #ttl = -1;

  constructor(family: 4 | 6, kind: "datagram" | "raw", fd: number) {
    this.family = family;
    this.kind = kind;
    this.fd = fd;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
    // one socket carries every ping of the monitor: room for bursts of replies (kernel caps it at rmem_max)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, 4 * 1024 * 1024);
    if (family === 4) {
      setsockopt(fd, IPPROTO_IP, IP_RECVTTL, 1);
      // raw sockets see all ICMP; let the kernel pass echo replies only
      if (kind === "raw") setsockopt(fd, SOL_RAW, ICMP_FILTER, ~(1 << ECHO_REPLY[4]));
    } else {
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
      if (kind === "raw") {
        const filter = new Uint32Array(8).fill(0xffffffff); // a set bit blocks a type
        filter[ECHO_REPLY[6] >> 5]! &= ~(1 << (ECHO_REPLY[6] & 31));
        setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, new Uint8Array(filter.buffer));
      }
    }
    this.#waker = new Waker();
  }

  /** Probes waiting for a reply. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Whether the reader loop runs. */
  get reading(): boolean {
    return this.#loop !== null;
  }

  /**
   * Sends one echo request to `address` (of this socket's family). Throws
   * {@linkcode SysError} when the kernel refuses to send it (e.g. no route).
   */
  echo(address: string, options: EchoOptions): Echo {
    const seq = this.#allocSeq();
    const sa = sockaddr(address, this.family);
    const packet = new Uint8Array(8 + options.payloadSize);
    const view = new DataView(packet.buffer);
    packet[0] = ECHO_REQUEST[this.family];
    view.setUint16(4, this.kind === "raw" ? this.#ident : 0);
    view.setUint16(6, seq);
    const nonce = packet.subarray(8, 8 + Math.min(NONCE_BYTES, options.payloadSize));
    crypto.getRandomValues(nonce);
    for (let i = 8 + nonce.length; i < packet.length; i++) packet[i] = i & 0xff;
    // the kernel checksums ICMPv6 and datagram-socket ICMPv4
    if (this.family === 4) view.setUint16(2, checksum(packet));
    this.#setTtl(options.ttl);

    const sent = realtime();
    sendto(this.fd, packet, sa);
    const { promise, resolve } = Promise.withResolvers<EchoReply | null>();
    const probe: Pending = { dest: sockaddrIp(sa).slice(), nonce: nonce.slice(), sent, resolve };
    this.#pending.set(seq, probe);
    this.#loop ??= this.#read();
    return {
      reply: promise,
      cancel: () => {
        if (this.#pending.get(seq) !== probe) return;
        this.#pending.delete(seq);
        resolve(null);
        if (this.#pending.size === 0) this.#waker.wake();
      },
    };
  }

  /**
   * Resolves once the reader loop has stopped, if nothing is pending, so the
   * caller leaves no poll running behind; otherwise at once.
   */
  idle(): Promise<void> {
    return this.#pending.size === 0 && this.#loop ? this.#loop : Promise.resolve();
  }

  #allocSeq(): number {
    if (this.#pending.size >= 0xffff) throw new SysError("sendto", 0, "too many pings in flight");
    while (this.#pending.has(nextSeq)) nextSeq = (nextSeq + 1) & 0xffff;
    const seq = nextSeq;
    nextSeq = (nextSeq + 1) & 0xffff;
    return seq;
  }

  #setTtl(ttl: number) {
    if (ttl === this.#ttl) return;
    if (this.family === 4) setsockopt(this.fd, IPPROTO_IP, IP_TTL, ttl);
    else setsockopt(this.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl);
    this.#ttl = ttl;
  }

  async #read(): Promise<void> {
    try {
      while (this.#pending.size > 0) {
        if (await waitReadable(this.fd, this.#waker, POLL_SLICE_MS) !== "readable") continue;
        for (let msg = this.#recv(); msg; msg = this.#recv()) this.#match(msg);
      }
    } finally {
      this.#loop = null;
    }
  }

  #recv(): Message | null {
    try {
      return recvmsg(this.fd, this.#bufs);
    } catch {
      return null; // nothing to do about a socket error here; the next poll retries
    }
  }

  #match(msg: Message) {
    let icmp = msg.data;
    let hopLimit: number | null = null;
    if (this.kind === "raw" && this.family === 4) {
      // raw IPv4 sockets deliver the IP header too
      hopLimit = icmp[8] ?? null;
      icmp = icmp.subarray((icmp[0]! & 0x0f) * 4);
    }
    if (icmp.length < 8 || icmp[0] !== ECHO_REPLY[this.family]) return;
    const view = new DataView(icmp.buffer, icmp.byteOffset, icmp.byteLength);
    if (this.kind === "raw" && view.getUint16(4) !== this.#ident) return;
    const seq = view.getUint16(6);
    const probe = this.#pending.get(seq);
    if (!probe) return;
    if (!equal(sockaddrIp(msg.from), probe.dest)) return;
    if (!equal(icmp.subarray(8, 8 + probe.nonce.length), probe.nonce)) return;

    let received: Timespec | null = null;
    for (const c of msg.control) {
      if (c.level === SOL_SOCKET && c.type === SO_TIMESTAMPNS) received = readTimespec(c.data);
      else if (c.level === IPPROTO_IP && c.type === IP_TTL) hopLimit = c.data.getInt32(0, true);
      else if (c.level === IPPROTO_IPV6 && c.type === IPV6_HOPLIMIT) {
        hopLimit = c.data.getInt32(0, true);
      }
    }
    this.#pending.delete(seq);
    // a wall-clock step between send and receive must not give a negative RTT
    probe.resolve({ rttMs: Math.max(0, diffMs(probe.sent, received ?? realtime())), hopLimit });
  }
}

const sockets = new Map<4 | 6, IcmpSocket>();
const opened = { 4: 0, 6: 0 };

function execPath(): string {
  try {
    return Deno.execPath();
  } catch {
    return "<path to the netmon or deno binary>";
  }
}

function gid(): string {
  try {
    return String(Deno.gid() ?? "?");
  } catch {
    return "?"; // no --allow-sys
  }
}

function pingGroupRange(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/net/ipv4/ping_group_range").trim().replace(/\s+/, " ");
  } catch {
    return "unknown";
  }
}

function setUp(family: 4 | 6, kind: "datagram" | "raw", fd: number): IcmpSocket {
  try {
    return new IcmpSocket(family, kind, fd);
  } catch (e) {
    close(fd);
    throw e;
  }
}

function openSocket(family: 4 | 6): IcmpSocket {
  const af = family === 4 ? AF_INET : AF_INET6;
  const proto = family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  let datagramError: SysError;
  try {
    return setUp(family, "datagram", socket(af, SOCK_DGRAM, proto));
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    datagramError = e;
  }
  try {
    return setUp(family, "raw", socket(af, SOCK_RAW, proto));
  } catch (rawError) {
    if (!(rawError instanceof SysError)) throw rawError;
    const denied = (e: SysError) => e.errno === EACCES || e.errno === EPERM;
    if (!denied(datagramError) || !denied(rawError)) {
      throw new IcmpPermissionError(
        `cannot open an ICMPv${family} socket: ${datagramError.reason} (datagram), ` +
          `${rawError.reason} (raw)`,
      );
    }
    throw new IcmpPermissionError(
      `no permission to send ICMP echo requests: group ${gid()} is outside ` +
        `net.ipv4.ping_group_range (${pingGroupRange()}) and raw sockets need root or ` +
        `CAP_NET_RAW; run \`sudo sysctl -w net.ipv4.ping_group_range="0 2147483647"\` ` +
        `or \`sudo setcap cap_net_raw+ep ${execPath()}\``,
    );
  }
}

/**
 * The shared echo socket of `family`, opened on first use. Throws
 * {@linkcode IcmpPermissionError} when no ICMP socket is allowed, and
 * `FfiUnavailableError` without `--allow-ffi`; a failed open is retried on
 * the next call, so fixing the permission needs no restart.
 *
 * @example
 * ```ts ignore
 * import { icmpSocket } from "./icmp_socket.ts";
 * const sock = icmpSocket(6);
 * ```
 */
export function icmpSocket(family: 4 | 6): IcmpSocket {
  let sock = sockets.get(family);
  if (!sock) {
    sock = openSocket(family);
    sockets.set(family, sock);
    opened[family]++;
  }
  return sock;
}

/**
 * The open shared sockets, to show (and test) that one socket and one reader
 * serve every ping of a family.
 *
 * @example
 * ```ts
 * import { icmpSocketStats } from "./icmp_socket.ts";
 * console.assert(icmpSocketStats().every((s) => s.readers <= 1));
 * ```
 */
export function icmpSocketStats(): IcmpSocketStats[] {
  return [...sockets.values()].map((s) => ({
    family: s.family,
    kind: s.kind,
    fd: s.fd,
    readers: s.reading ? 1 : 0,
    pending: s.pending,
    opened: opened[s.family],
  }));
}
