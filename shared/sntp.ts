/**
 * SNTP version 4 packets (RFC 5905 §7.3, RFC 4330): the 48-byte header a
 * client sends and a server answers with, and the checks a client must make
 * before it trusts an answer. Pure code, no sockets, so that it can be fuzzed.
 *
 * @example
 * ```ts
 * import { decodePacket, makeRequest } from "./sntp.ts";
 * const { bytes, transmit } = makeRequest(Date.now());
 * const packet = decodePacket(bytes);
 * console.assert(packet.mode === 3 && packet.transmitTime.seconds === transmit.seconds);
 * ```
 *
 * @module
 */

/** Size of an NTP header without extension fields or MAC. */
export const NTP_PACKET_SIZE = 48;

/** Largest reply accepted: a header plus a generous amount of extension fields. */
export const NTP_MAX_PACKET_SIZE = 1024;

/** Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01). */
export const NTP_UNIX_OFFSET_SECONDS = 2_208_988_800;

const TWO_32 = 0x1_0000_0000;

/** Packet modes (RFC 5905 Figure 10). */
export const NtpMode = { client: 3, server: 4 } as const;

/** The "alarm" leap indicator: the server's clock is not synchronised. */
export const LEAP_UNSYNCHRONISED = 3;

/** Highest stratum of a synchronised server; 16 means unsynchronised. */
export const MAX_STRATUM = 15;

/**
 * A raw 64-bit NTP timestamp: whole seconds since 1900 (modulo 2^32, era
 * ignored) and a 32-bit binary fraction of a second.
 */
export interface NtpTimestamp {
  seconds: number;
  fraction: number;
}

/** The fields of one NTP header, decoded but not interpreted. */
export interface SntpPacket {
  /** Leap indicator: 0 none, 1 +1 s, 2 −1 s, 3 unsynchronised. */
  leap: number;
  version: number;
  mode: number;
  /** 0 kiss-of-death, 1 primary, 2–15 secondary, 16 unsynchronised. */
  stratum: number;
  /** log2 of the poll interval in seconds. */
  poll: number;
  /** log2 of the clock precision in seconds (signed). */
  precision: number;
  /** Round-trip delay to the reference clock, in seconds. */
  rootDelay: number;
  /** Dispersion to the reference clock, in seconds. */
  rootDispersion: number;
  /** Reference identifier as an unsigned 32-bit number. */
  referenceId: number;
  referenceTime: NtpTimestamp;
  originTime: NtpTimestamp;
  receiveTime: NtpTimestamp;
  transmitTime: NtpTimestamp;
}

/** Why an SNTP reply was rejected. */
export type SntpErrorCode =
  | "malformed"
  | "mode"
  | "version"
  | "origin"
  | "kiss-of-death"
  | "unsynchronised"
  | "zero-transmit";

/**
 * An NTP reply that cannot be used, with a {@linkcode SntpErrorCode} and,
 * for a kiss-of-death, the server's four-letter kiss code (`RATE`, `DENY`, …).
 *
 * @example
 * ```ts
 * import { SntpError } from "./sntp.ts";
 * const e = new SntpError("kiss-of-death", "server sent kiss-of-death RATE", "RATE");
 * console.assert(e.code === "kiss-of-death" && e.kissCode === "RATE");
 * ```
 */
export class SntpError extends Error {
  /** The kind of problem. */
  readonly code: SntpErrorCode;
  /** The kiss code of a kiss-of-death reply. */
  readonly kissCode: string | undefined;
  /**
   * @param code the kind of problem
   * @param message what is wrong, for the user
   * @param kissCode the kiss code of a kiss-of-death reply
   */
  constructor(code: SntpErrorCode, message: string, kissCode?: string) {
    super(message);
    this.name = "SntpError";
    this.code = code;
    this.kissCode = kissCode;
  }
}

function readTimestamp(view: DataView, offset: number): NtpTimestamp {
  return { seconds: view.getUint32(offset), fraction: view.getUint32(offset + 4) };
}

function writeTimestamp(view: DataView, offset: number, ts: NtpTimestamp): void {
  view.setUint32(offset, ts.seconds >>> 0);
  view.setUint32(offset + 4, ts.fraction >>> 0);
}

/** Reads the unsigned 16.16 fixed-point "NTP short format" as seconds. */
function readShort(view: DataView, offset: number): number {
  return view.getUint16(offset) + view.getUint16(offset + 2) / 0x1_0000;
}

function writeShort(view: DataView, offset: number, seconds: number): void {
  const raw = Math.min(0xffff_ffff, Math.max(0, Math.round(seconds * 0x1_0000)));
  view.setUint32(offset, raw);
}

/**
 * Encodes a packet into 48 bytes.
 *
 * @example
 * ```ts
 * import { decodePacket, encodePacket, makeRequest } from "./sntp.ts";
 * const packet = decodePacket(makeRequest(0).bytes);
 * console.assert(encodePacket(packet).length === 48);
 * ```
 */
export function encodePacket(packet: SntpPacket): Uint8Array {
  const bytes = new Uint8Array(NTP_PACKET_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, ((packet.leap & 3) << 6) | ((packet.version & 7) << 3) | (packet.mode & 7));
  view.setUint8(1, packet.stratum & 0xff);
  view.setInt8(2, packet.poll);
  view.setInt8(3, packet.precision);
  writeShort(view, 4, packet.rootDelay);
  writeShort(view, 8, packet.rootDispersion);
  view.setUint32(12, packet.referenceId >>> 0);
  writeTimestamp(view, 16, packet.referenceTime);
  writeTimestamp(view, 24, packet.originTime);
  writeTimestamp(view, 32, packet.receiveTime);
  writeTimestamp(view, 40, packet.transmitTime);
  return bytes;
}

/**
 * Decodes the header of an NTP packet. Throws {@linkcode SntpError} with code
 * `malformed` when `bytes` is shorter than 48 bytes, longer than
 * {@linkcode NTP_MAX_PACKET_SIZE}, or not a whole number of 32-bit words
 * (NTPv4 extension fields and MACs are word-aligned and are ignored).
 *
 * @example
 * ```ts
 * import { decodePacket, SntpError } from "./sntp.ts";
 * try {
 *   decodePacket(new Uint8Array(12));
 * } catch (e) {
 *   console.assert(e instanceof SntpError && e.code === "malformed");
 * }
 * ```
 */
export function decodePacket(bytes: Uint8Array): SntpPacket {
  if (bytes.length < NTP_PACKET_SIZE) {
    throw new SntpError(
      "malformed",
      `malformed NTP reply: ${bytes.length} bytes, expected at least ${NTP_PACKET_SIZE}`,
    );
  }
  if (bytes.length > NTP_MAX_PACKET_SIZE || bytes.length % 4 !== 0) {
    throw new SntpError("malformed", `malformed NTP reply: unexpected length ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, NTP_PACKET_SIZE);
  const first = view.getUint8(0);
  return {
    leap: first >> 6,
    version: (first >> 3) & 7,
    mode: first & 7,
    stratum: view.getUint8(1),
    poll: view.getInt8(2),
    precision: view.getInt8(3),
    rootDelay: readShort(view, 4),
    rootDispersion: readShort(view, 8),
    referenceId: view.getUint32(12),
    referenceTime: readTimestamp(view, 16),
    originTime: readTimestamp(view, 24),
    receiveTime: readTimestamp(view, 32),
    transmitTime: readTimestamp(view, 40),
  };
}

/**
 * Converts Unix milliseconds to an NTP timestamp (seconds wrap at 2^32, so
 * times after 2036-02-07 land in era 1 as RFC 5905 prescribes).
 *
 * @example
 * ```ts
 * import { unixMsToNtp } from "./sntp.ts";
 * console.assert(unixMsToNtp(0).seconds === 2_208_988_800);
 * ```
 */
export function unixMsToNtp(ms: number): NtpTimestamp {
  const totalSeconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - totalSeconds * 1000) / 1000) * TWO_32);
  return {
    seconds: (totalSeconds + NTP_UNIX_OFFSET_SECONDS) % TWO_32,
    fraction: Math.min(fraction, TWO_32 - 1),
  };
}

/**
 * Converts an NTP timestamp to Unix milliseconds. Follows RFC 4330 §3: a
 * timestamp with the top bit clear is taken to be in era 1 (2036–2104).
 *
 * @example
 * ```ts
 * import { ntpToUnixMs } from "./sntp.ts";
 * console.assert(ntpToUnixMs({ seconds: 2_208_988_800, fraction: 0x8000_0000 }) === 500);
 * ```
 */
export function ntpToUnixMs(ts: NtpTimestamp): number {
  const era = ts.seconds >= 0x8000_0000 ? 0 : TWO_32;
  return (ts.seconds + era - NTP_UNIX_OFFSET_SECONDS) * 1000 + (ts.fraction / TWO_32) * 1000;
}

/**
 * `a − b` in milliseconds, computed on the parts so that sub-microsecond
 * precision survives, and correct across the 2036 era boundary.
 *
 * @example
 * ```ts
 * import { diffMs } from "./sntp.ts";
 * console.assert(diffMs({ seconds: 11, fraction: 0 }, { seconds: 10, fraction: 0 }) === 1000);
 * ```
 */
export function diffMs(a: NtpTimestamp, b: NtpTimestamp): number {
  // The difference taken as a signed 32-bit number is right whenever the two
  // times are within 68 years of each other, whatever era each is in.
  const seconds = (a.seconds - b.seconds) | 0;
  return seconds * 1000 + ((a.fraction - b.fraction) / TWO_32) * 1000;
}

function isZero(ts: NtpTimestamp): boolean {
  return ts.seconds === 0 && ts.fraction === 0;
}

function sameTimestamp(a: NtpTimestamp, b: NtpTimestamp): boolean {
  return a.seconds === b.seconds && a.fraction === b.fraction;
}

/** A client request ready to send and the transmit timestamp to expect back as origin. */
export interface SntpRequest {
  bytes: Uint8Array;
  transmit: NtpTimestamp;
}

/**
 * Builds a version 4 client request whose transmit timestamp is `nowMs`. The
 * lowest 16 bits of the fraction (about 15 µs) are random, so that a forged
 * or stale reply is unlikely to echo it by chance (RFC 4330 §3).
 *
 * @example
 * ```ts
 * import { makeRequest } from "./sntp.ts";
 * const { bytes } = makeRequest(Date.now());
 * console.assert(bytes.length === 48 && bytes[0] === 0x23);
 * ```
 */
export function makeRequest(nowMs: number): SntpRequest {
  const ts = unixMsToNtp(nowMs);
  const noise = crypto.getRandomValues(new Uint16Array(1))[0]!;
  const transmit = { seconds: ts.seconds, fraction: ((ts.fraction & 0xffff_0000) | noise) >>> 0 };
  const zero = { seconds: 0, fraction: 0 };
  const bytes = encodePacket({
    leap: 0,
    version: 4,
    mode: NtpMode.client,
    stratum: 0,
    poll: 0,
    precision: 0,
    rootDelay: 0,
    rootDispersion: 0,
    referenceId: 0,
    referenceTime: zero,
    originTime: zero,
    receiveTime: zero,
    transmitTime: transmit,
  });
  return { bytes, transmit };
}

/**
 * The reference ID as text: four ASCII characters for stratum 0 (the kiss
 * code) and 1 (the reference clock, e.g. `GPS`), dotted quad otherwise (an
 * IPv4 address, or a hash of an IPv6 address).
 *
 * @example
 * ```ts
 * import { formatReferenceId } from "./sntp.ts";
 * console.assert(formatReferenceId(8, 0x7f7f0101) === "127.127.1.1");
 * console.assert(formatReferenceId(0, 0x52415445) === "RATE");
 * ```
 */
export function formatReferenceId(stratum: number, referenceId: number): string {
  const octets = [24, 16, 8, 0].map((shift) => (referenceId >>> shift) & 0xff);
  if (stratum > 1) return octets.join(".");
  const printable = octets.filter((o) => o !== 0).every((o) => o >= 0x20 && o < 0x7f);
  if (!printable) return `0x${(referenceId >>> 0).toString(16).padStart(8, "0")}`;
  return String.fromCharCode(...octets.filter((o) => o !== 0)).trim();
}

/**
 * Checks that `reply` answers the request whose transmit timestamp was
 * `sent` and comes from a synchronised server (RFC 4330 §5). Throws
 * {@linkcode SntpError} otherwise.
 *
 * @example
 * ```ts
 * import { decodePacket, encodePacket, makeRequest, SntpError, validateReply } from "./sntp.ts";
 * const { bytes, transmit } = makeRequest(Date.now());
 * const echo = decodePacket(bytes); // a client packet, not a server reply
 * try {
 *   validateReply(echo, transmit);
 * } catch (e) {
 *   console.assert(e instanceof SntpError && e.code === "mode");
 * }
 * ```
 */
export function validateReply(reply: SntpPacket, sent: NtpTimestamp): void {
  if (reply.mode !== NtpMode.server) {
    throw new SntpError("mode", `not a server reply: mode ${reply.mode}, expected 4`);
  }
  if (reply.version < 1 || reply.version > 4) {
    throw new SntpError("version", `unsupported NTP version ${reply.version}`);
  }
  if (!sameTimestamp(reply.originTime, sent)) {
    throw new SntpError(
      "origin",
      "reply is not for our request: origin timestamp does not match what we sent",
    );
  }
  if (reply.stratum === 0) {
    const code = formatReferenceId(0, reply.referenceId);
    if (/^[A-Z0-9]{1,4}$/.test(code)) {
      throw new SntpError("kiss-of-death", `server sent kiss-of-death ${code}`, code);
    }
    // stratum 0 without a kiss code is what an unsynchronised server (chrony, ntpd) sends
    throw new SntpError("unsynchronised", "server is unsynchronised: stratum 0 (unspecified)");
  }
  if (reply.stratum > MAX_STRATUM) {
    throw new SntpError("unsynchronised", `server is unsynchronised: stratum ${reply.stratum}`);
  }
  if (reply.leap === LEAP_UNSYNCHRONISED) {
    throw new SntpError("unsynchronised", "server is unsynchronised: leap indicator 3 (alarm)");
  }
  if (isZero(reply.transmitTime)) {
    throw new SntpError("zero-transmit", "server sent a zero transmit timestamp");
  }
}

/** Clock offset and round-trip delay of one exchange, in milliseconds. */
export interface SntpMeasurement {
  /** How far the server's clock is ahead of ours: ((t2 − t1) + (t3 − t4)) / 2. */
  offsetMs: number;
  /** Round trip minus the server's processing: (t4 − t1) − (t3 − t2). */
  delayMs: number;
}

/**
 * Offset and delay from our transmit time `t1`, the server's receive (t2) and
 * transmit (t3) times in `reply`, and the monotonic time `elapsedMs` between
 * sending and receiving, which stands in for t4 − t1 so that a clock step
 * during the exchange cannot distort it.
 *
 * @example
 * ```ts
 * import { measure } from "./sntp.ts";
 * const t1 = { seconds: 100, fraction: 0 };
 * const reply = { receiveTime: { seconds: 101, fraction: 0 }, transmitTime: { seconds: 101, fraction: 0 } };
 * const m = measure(t1, reply, 10);
 * console.assert(m.offsetMs === 995 && m.delayMs === 10);
 * ```
 */
export function measure(
  t1: NtpTimestamp,
  reply: Pick<SntpPacket, "receiveTime" | "transmitTime">,
  elapsedMs: number,
): SntpMeasurement {
  const t2MinusT1 = diffMs(reply.receiveTime, t1);
  const t3MinusT1 = diffMs(reply.transmitTime, t1);
  const t3MinusT2 = diffMs(reply.transmitTime, reply.receiveTime);
  return {
    offsetMs: (t2MinusT1 + (t3MinusT1 - elapsedMs)) / 2,
    delayMs: elapsedMs - t3MinusT2,
  };
}
