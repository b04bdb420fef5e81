/**
 * The link's handshake, the same both ways: whoever dials (the manager
 * dialing a monitor's port, or a monitor started with `--connect` dialing a
 * manager's `--listen-monitors`) is the *dialer*, whoever accepted is the
 * *listener*, whatever their roles (manager or monitor).
 *
 * 1. listener → `hello` (its versions, capabilities, nonce and role fields)
 * 2. dialer → `hello` (the same of its own), or `bye` when no protocol
 *    version is common to both
 * 3. listener → `auth` {mac}: HMAC-SHA-256(token, "netmon listener proof\n" + T)
 * 4. dialer → `auth` {mac}: HMAC-SHA-256(token, "netmon dialer proof\n" + T + "\n" + listener's mac),
 *    sent only once the listener's proof has verified
 * 5. listener → `welcome` {}, the first frame under the frame keys, or `bye`.
 *
 * T is "netmon-handshake\n" followed by both hellos, each as its validated
 * message re-serialised (so both sides hash the same bytes, and every field
 * either side sent — IDs, epoch, takeover — is bound by both proofs). The
 * listener proves first, so whoever answers at an address it was dialed to
 * learns nothing it can test a guess against; whoever *dials* a listener does
 * receive a proof it can test a guess against offline, which is why a token
 * must be random and long (`openssl rand -hex 32`; at least 128 bits).
 *
 * From step 5 on, every frame is `MAC JSON` (see `shared/frame_auth.ts`) with
 * keys HKDF-SHA-256(token, salt = SHA-256(T, both macs), info = direction).
 * Without a token the proofs and keys use a fixed key: such a link is loopback
 * only and its MACs guard against nothing but corruption; the code path is the
 * same, so it is the one tested.
 *
 * Versions: each hello carries `vmin`–`v`, the range this build speaks; both
 * sides use the highest common one, or the side that finds none refuses with
 * one line naming both builds and ranges (see {@linkcode versionMismatch}).
 *
 * @example
 * ```ts ignore
 * import { handshake } from "./handshake.ts";
 * const fc = new FramedConn(await Deno.connect({ port: 54322 }), "127.0.0.1:54322");
 * const messages = fc.messages();
 * const done = await handshake(fc, messages, {
 *   side: "dialer", token: "", fields: { role: "manager", managerId: "m", takeover: true },
 * });
 * console.log(done.peer);
 * ```
 *
 * @module
 */
import { createHash, createHmac, hkdfSync } from "node:crypto";
import { type Clock, realClock } from "./clock.ts";
import type { FramedConn } from "./connection.ts";
import {
  type ByeCode,
  canonicalHello,
  HANDSHAKE_MS,
  type HelloMsg,
  type Message,
} from "./protocol.ts";
import { VERSION } from "./version.ts";
import { timingSafeEqual } from "./timing_safe.ts";

/** The lowest protocol version this build speaks. */
export const PROTOCOL_MIN = 3;
/** The highest protocol version this build speaks. */
export const PROTOCOL_MAX = 3;
/** What this build can do beyond the protocol version, sent in the hello. */
export const CAPABILITIES: readonly string[] = ["frame-mac", "assign-parts", "stats"];

/** What a monitor tells about itself in its hello. */
export interface MonitorFields {
  role: "monitor";
  monitorId: string;
  name: string;
  /** The spool's epoch. */
  epoch: string;
  /** The spool's last sequence number when the hello was sent. */
  lastSeq: number;
}
/** What a manager tells about itself in its hello. */
export interface ManagerFields {
  role: "manager";
  managerId: string;
  /** False asks a monitor to accept this manager only if no other is connected. */
  takeover: boolean;
}
/** One side's fields. */
export type SideFields = MonitorFields | ManagerFields;

/** A protocol version range, inclusive. */
export interface VersionRange {
  min: number;
  max: number;
}

/**
 * What the handshake needs of a connection: a `FramedConn`, or a test's own
 * frame-level peer.
 */
export type HandshakeConn = Pick<
  FramedConn,
  "peer" | "send" | "goodbye" | "close" | "authenticate" | "closed" | "peerByeCode"
>;

/** Options for {@linkcode handshake}. */
export interface HandshakeOptions {
  /** This side of the connection. */
  side: "dialer" | "listener";
  /** The shared token ("" for none). */
  token: string;
  /** This side's role and fields. */
  fields: SideFields;
  /** The versions to offer (default {@linkcode PROTOCOL_MIN}–{@linkcode PROTOCOL_MAX}; tests use others). */
  versions?: VersionRange;
  /** The whole handshake must end within this (default `HANDSHAKE_MS`). */
  timeoutMs?: number;
  /** Time for that deadline (default: the real clock). */
  clock?: Clock;
  /**
   * Listener only: called once the dialer has proved the token, before the
   * `welcome`; a returned refusal is sent as `bye` and the handshake fails.
   */
  accept?: (peer: PeerFields) => { reason: string; code: ByeCode } | undefined;
}

/** The peer's fields, as its hello gave them. */
export type PeerFields = (MonitorFields | ManagerFields) & {
  /** The peer's software version. */
  version: string;
  /** Its capabilities. */
  caps: string[];
};

/** What a completed handshake agreed. */
export interface HandshakeResult {
  /** The protocol version both speak. */
  version: number;
  /** Capabilities both have. */
  caps: string[];
  peer: PeerFields;
}

/**
 * Why a handshake failed. `code` is the `bye` code sent or received
 * ("closed" when the connection just ended); `remote` is true when the peer
 * refused.
 */
export class HandshakeError extends Error {
  readonly code: ByeCode | "closed";
  readonly remote: boolean;
  /**
   * Whether this side had sent its proof: a listener counts such failures
   * per address and slows that address down, since each one handed out a
   * proof that can be tested offline.
   */
  proved = false;
  /**
   * @param message what happened, for the log
   * @param code the refusal's code
   * @param remote whether the peer refused (else we did)
   */
  constructor(message: string, code: ByeCode | "closed", remote: boolean) {
    super(message);
    this.name = "HandshakeError";
    this.code = code;
    this.remote = remote;
  }
}

const encoder = new TextEncoder();
const NO_TOKEN_KEY = "\0netmon-no-token";

/** `2–3`, or `3` for a range of one version. */
function rangeText(r: VersionRange): string {
  return r.min === r.max ? `${r.min}` : `${r.min}–${r.max}`;
}

/**
 * The one line both sides log when no protocol version is common, e.g.
 * "monitor 0.2.0 speaks protocol 3; this manager (0.1.0) needs 2".
 *
 * @example
 * ```ts
 * import { versionMismatch } from "./handshake.ts";
 * console.assert(
 *   versionMismatch("monitor", "0.2.0", { min: 3, max: 3 }, "manager", { min: 2, max: 2 }) ===
 *     `monitor 0.2.0 speaks protocol 3; this manager (${"0.1.0"}) needs 2`,
 * );
 * ```
 */
export function versionMismatch(
  peerRole: string,
  peerVersion: string,
  peer: VersionRange,
  ourRole: string,
  ours: VersionRange,
  ourVersion = VERSION,
): string {
  return `${peerRole} ${peerVersion} speaks protocol ${rangeText(peer)}; ` +
    `this ${ourRole} (${ourVersion}) needs ${rangeText(ours)}`;
}

function tokenBytes(token: string): Uint8Array {
  return encoder.encode(token === "" ? NO_TOKEN_KEY : token);
}

// node:crypto's synchronous HMAC and HKDF, not WebCrypto's: a handshake is a few short
// hashes, and WebCrypto's key import and async round trips cost more than the hashing
// (a manager reconnecting thousands of links runs thousands of handshakes at once)
function hmacHex(token: string, data: string): string {
  return createHmac("sha256", tokenBytes(token)).update(data).digest("hex");
}

/** The two directions' frame keys. */
export interface FrameKeys {
  listenerToDialer: Uint8Array;
  dialerToListener: Uint8Array;
}

/**
 * Derives the frame keys from the token and the handshake transcript:
 * HKDF-SHA-256 with the transcript's SHA-256 as salt and the direction as info.
 *
 * @example
 * ```ts
 * import { deriveFrameKeys } from "./handshake.ts";
 * const k = deriveFrameKeys("", "transcript");
 * console.assert(k.listenerToDialer.length === 32);
 * ```
 */
export function deriveFrameKeys(token: string, transcript: string): FrameKeys {
  const salt = createHash("sha256").update(transcript).digest();
  const ikm = tokenBytes(token);
  const derive = (info: string) => new Uint8Array(hkdfSync("sha256", ikm, salt, info, 32));
  return {
    listenerToDialer: derive("netmon frames listener to dialer"),
    dialerToListener: derive("netmon frames dialer to listener"),
  };
}

/** A random nonce as hex. */
export function makeNonce(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function helloFor(opts: HandshakeOptions, nonce: string): HelloMsg {
  const range = opts.versions ?? { min: PROTOCOL_MIN, max: PROTOCOL_MAX };
  return {
    t: "hello",
    v: range.max,
    vmin: range.min,
    version: VERSION,
    nonce,
    caps: [...CAPABILITIES],
    ...opts.fields,
  };
}

/** The peer's fields from its hello; throws when a field of its role is missing. */
function peerFields(hello: HelloMsg, want: SideFields["role"]): PeerFields {
  const missing = (f: string): never => {
    throw new HandshakeError(`the ${want}'s hello has no "${f}"`, "protocol", false);
  };
  if (hello.role !== want) {
    throw new HandshakeError(
      `the peer is a ${hello.role ?? "peer of unknown role"}, not a ${want}`,
      "protocol",
      false,
    );
  }
  const base = { version: hello.version, caps: hello.caps ?? [] };
  if (want === "monitor") {
    return {
      ...base,
      role: "monitor",
      monitorId: hello.monitorId ?? missing("monitorId"),
      name: hello.name ?? missing("name"),
      epoch: hello.epoch ?? missing("epoch"),
      lastSeq: hello.lastSeq ?? missing("lastSeq"),
    };
  }
  return {
    ...base,
    role: "manager",
    managerId: hello.managerId ?? missing("managerId"),
    takeover: hello.takeover ?? missing("takeover"),
  };
}

/**
 * Runs the handshake on a fresh connection as `opts.side`, reading from
 * `messages` (the connection's `messages()`, which the caller goes on
 * reading afterwards). On success the connection's frames are keyed; on
 * failure a `bye` has been sent where one is due and {@linkcode HandshakeError}
 * is thrown (the connection is then closed).
 */
export async function handshake(
  fc: HandshakeConn,
  messages: AsyncGenerator<Message>,
  opts: HandshakeOptions,
): Promise<HandshakeResult> {
  const timeoutMs = opts.timeoutMs ?? HANDSHAKE_MS;
  const clock = opts.clock ?? realClock;
  const timer = clock.setTimeout(
    () => fc.close(`handshake with ${fc.peer} not done within ${timeoutMs} ms`),
    timeoutMs,
  );
  const state = { proved: false };
  try {
    return await run(fc, messages, opts, state);
  } catch (e) {
    if (e instanceof HandshakeError) e.proved = state.proved;
    if (e instanceof HandshakeError && !e.remote && e.code !== "closed") {
      await fc.goodbye(e.message, e.code);
    }
    fc.close(e instanceof Error ? e.message : String(e));
    throw e;
  } finally {
    clock.clearTimeout(timer);
  }
}

async function run(
  fc: HandshakeConn,
  messages: AsyncGenerator<Message>,
  opts: HandshakeOptions,
  state: { proved: boolean },
): Promise<HandshakeResult> {
  const ours = opts.versions ?? { min: PROTOCOL_MIN, max: PROTOCOL_MAX };
  const peerRole = opts.fields.role === "manager" ? "monitor" : "manager";
  const next = async <T extends Message["t"]>(want: T): Promise<Extract<Message, { t: T }>> => {
    const r = await messages.next();
    if (r.done) {
      const code = fc.peerByeCode as ByeCode | undefined;
      throw new HandshakeError(
        fc.closed?.reason ?? "connection closed",
        code ?? "closed",
        code !== undefined,
      );
    }
    if (r.value.t !== want) {
      throw new HandshakeError(
        `expected ${want} from the ${peerRole}, got ${r.value.t}`,
        "protocol",
        false,
      );
    }
    return r.value as Extract<Message, { t: T }>;
  };
  const check = (hello: HelloMsg) => {
    const theirs = { min: hello.vmin ?? hello.v, max: hello.v };
    const version = Math.min(ours.max, theirs.max);
    if (version < Math.max(ours.min, theirs.min)) {
      throw new HandshakeError(
        versionMismatch(hello.role ?? peerRole, hello.version, theirs, opts.fields.role, ours),
        "protocol",
        false,
      );
    }
    return version;
  };
  const mine = helloFor(opts, makeNonce());
  // the transcript is of validated messages, so both sides hash exactly the same text
  const canon = (m: HelloMsg) => JSON.stringify(m);
  let listenerHello: HelloMsg, dialerHello: HelloMsg, version: number;
  if (opts.side === "listener") {
    await fc.send(mine);
    listenerHello = mine;
    dialerHello = await next("hello");
    version = check(dialerHello);
  } else {
    listenerHello = await next("hello");
    version = check(listenerHello);
    dialerHello = mine;
    await fc.send(mine);
  }
  const theirHello = opts.side === "listener" ? dialerHello : listenerHello;
  const peer = peerFields(theirHello, peerRole);
  const transcript = `netmon-handshake\n${canon(canonicalHello(listenerHello))}\n${
    canon(canonicalHello(dialerHello))
  }`;
  const listenerMac = hmacHex(opts.token, `netmon listener proof\n${transcript}`);
  const dialerMac = hmacHex(opts.token, `netmon dialer proof\n${transcript}\n${listenerMac}`);
  const keys = deriveFrameKeys(opts.token, `${transcript}\n${listenerMac}\n${dialerMac}`);
  const wrongToken = `authentication failed: the ${peerRole} at ${fc.peer} holds another token ` +
    `(wrong or missing --token on one side)`;
  if (opts.side === "listener") {
    state.proved = true;
    await fc.send({ t: "auth", mac: listenerMac });
    const auth = await next("auth");
    if (!timingSafeEqual(auth.mac, dialerMac)) throw new HandshakeError(wrongToken, "auth", false);
    fc.authenticate(keys.listenerToDialer, keys.dialerToListener);
    const refusal = opts.accept?.(peer);
    if (refusal) throw new HandshakeError(refusal.reason, refusal.code, false);
    await fc.send({ t: "welcome" });
  } else {
    const auth = await next("auth");
    if (!timingSafeEqual(auth.mac, listenerMac)) {
      throw new HandshakeError(wrongToken, "auth", false);
    }
    // queued plain, then every later frame is sealed: nothing can slip in between
    state.proved = true;
    const sent = fc.send({ t: "auth", mac: dialerMac });
    fc.authenticate(keys.dialerToListener, keys.listenerToDialer);
    await sent;
    await next("welcome");
  }
  const caps = (theirHello.caps ?? []).filter((c) => CAPABILITIES.includes(c));
  return { version, caps, peer };
}
