/**
 * A protocol connection: frames in and out, serialised writes, heartbeats and
 * dead-peer detection, used the same way by the monitor and the manager.
 *
 * @example
 * ```ts ignore
 * import { FramedConn } from "./connection.ts";
 * const fc = new FramedConn(await Deno.connect({ port: 54322 }), "127.0.0.1:54322");
 * for await (const msg of fc.messages()) console.log(msg.t);
 * ```
 *
 * @module
 */
import { type Clock, realClock, type TimerHandle } from "./clock.ts";
import { FrameAuthError, FrameOpener, FrameSealer } from "./frame_auth.ts";
import { logger } from "./log.ts";
import {
  DEAD_AFTER_MS,
  FrameSplitter,
  HEARTBEAT_MS,
  type Message,
  parseMessage,
} from "./protocol.ts";
import { errorText } from "./error_text.ts";

const log = logger("link");

const encoder = new TextEncoder();

/** Why a connection ended, for logs and the status display. */
export interface CloseInfo {
  reason: string;
  /** True when this side chose to close (protocol error, heartbeat timeout, shutdown). */
  local: boolean;
}

/**
 * What a protocol connection runs over: a `Deno.Conn`, a `Deno.TlsConn`, or
 * a Node TLS socket adapted to web streams (see `shared/tls.ts`).
 */
export interface Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  close(): void;
  /**
   * A `Deno.Conn`'s own read and write: when both are there they are used
   * instead of the streams, whose every pending read holds a 64 KiB buffer
   * (most of an idle link's memory, with thousands of links).
   */
  read?(p: Uint8Array): Promise<number | null>;
  write?(p: Uint8Array): Promise<number>;
}

/** How often liveness is looked at: heartbeats go out at most this late. */
const TICK_MS = 200;
/** A heartbeat's JSON, written out once. */
const HEARTBEAT_JSON = JSON.stringify({ t: "hb" });
/** What a connection reads into at first: idle links read small frames (heartbeats, acks). */
const READ_MIN_BYTES = 2048;
/** The most a read buffer grows to while large frames arrive back to back. */
const READ_MAX_BYTES = 64 * 1024;

/**
 * One timer per clock looks at the liveness of every open connection on it:
 * a timer per connection cost thousands of timer wake-ups a second on a
 * manager with thousands of links. It stops when its last connection closes.
 */
class LivenessTicker {
  readonly #clock: Clock;
  readonly #conns = new Set<FramedConn>();
  #timer: TimerHandle | undefined;
  #lastTick = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  add(fc: FramedConn, tick: (now: number, lateMs: number) => void): void {
    if (this.#conns.size === 0) {
      this.#lastTick = this.#clock.now();
      this.#arm();
    }
    this.#conns.add(fc);
    TICKS.set(fc, tick);
  }

  delete(fc: FramedConn): void {
    if (!this.#conns.delete(fc)) return;
    TICKS.delete(fc);
    if (this.#conns.size === 0) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      TICKERS.delete(this.#clock);
    }
  }

  #arm() {
    this.#timer = this.#clock.setTimeout(() => {
      const now = this.#clock.now();
      // a late tick means this process was busy (a long synchronous task, a paused VM, a
      // loaded event loop): what the peers sent meanwhile may be unread, so the time it is
      // late is our silence, not theirs
      const lateMs = Math.max(0, now - this.#lastTick - TICK_MS);
      this.#lastTick = now;
      for (const fc of [...this.#conns]) TICKS.get(fc)?.(now, lateMs);
      if (this.#conns.size > 0) this.#arm();
    }, TICK_MS);
  }
}

const TICKERS = new Map<Clock, LivenessTicker>();
const TICKS = new WeakMap<FramedConn, (now: number, lateMs: number) => void>();

function tickerFor(clock: Clock): LivenessTicker {
  let t = TICKERS.get(clock);
  if (!t) TICKERS.set(clock, t = new LivenessTicker(clock));
  return t;
}

/** Options of {@linkcode FramedConn}. */
export interface FramedConnOptions {
  /** Time for heartbeats and dead-peer detection (default: the real clock). */
  clock?: Clock;
}

/**
 * One framed, heartbeated protocol connection. Until {@linkcode authenticate}
 * its frames are plain JSON; from then on every frame is sealed and verified
 * (`shared/frame_auth.ts`), except that plain heartbeats and a plain `bye`
 * are still taken until the first sealed frame has arrived: the peer may
 * have sent them before it switched to sealed frames itself.
 */
export class FramedConn {
  /** The peer's address as `host:port`, for logs. */
  readonly peer: string;
  readonly conn: Transport;
  /** The stream's writer, for a transport without its own `write`. */
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** The last direct write queued: writes go out one after another, in order. */
  #writing: Promise<unknown> = Promise.resolve();
  #clock: Clock;
  #ticker: LivenessTicker;
  #lastSent: number;
  #lastReceived: number;
  /** Set while the reader of {@linkcode messages} holds a message and reads no further. */
  #consuming = false;
  #closed: CloseInfo | undefined;
  #onClose: ((info: CloseInfo) => void)[] = [];
  #bytesReceived = 0;
  #sealer: FrameSealer | undefined;
  #opener: FrameOpener | undefined;

  /** Wraps `conn`, whose peer is shown as `peer`; heartbeats start at once. */
  constructor(conn: Transport, peer: string, options: FramedConnOptions = {}) {
    this.conn = conn;
    this.peer = peer;
    this.#clock = options.clock ?? realClock;
    this.#lastSent = this.#lastReceived = this.#clock.now();
    if (!direct(conn)) this.#writer = conn.writable.getWriter();
    this.#ticker = tickerFor(this.#clock);
    this.#ticker.add(this, (now, lateMs) => this.#tick(now, lateMs));
  }

  /** Set once the connection has ended. */
  get closed(): CloseInfo | undefined {
    return this.#closed;
  }

  /** Bytes received from the peer so far. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Registers a callback for the end of the connection. */
  onClose(cb: (info: CloseInfo) => void): void {
    if (this.#closed) cb(this.#closed);
    else this.#onClose.push(cb);
  }

  #tick(now: number, lateMs: number) {
    if (this.#consuming) this.#lastReceived = now;
    else this.#lastReceived = Math.min(now, this.#lastReceived + lateMs);
    if (now - this.#lastReceived >= DEAD_AFTER_MS) {
      this.close(`no frame from ${this.peer} for ${Math.round(now - this.#lastReceived)} ms`);
    } else if (now - this.#lastSent >= HEARTBEAT_MS) {
      this.sendFrame(HEARTBEAT_JSON);
    }
  }

  /**
   * Seals every frame sent from now on with `sendKey` and verifies every
   * frame received from now on with `receiveKey`. Called by the handshake.
   */
  authenticate(sendKey: Uint8Array, receiveKey: Uint8Array): void {
    this.#sealer = new FrameSealer(sendKey);
    this.#opener = new FrameOpener(receiveKey);
  }

  /** Whether frames are sealed and verified. */
  get authenticated(): boolean {
    return this.#sealer !== undefined;
  }

  /**
   * Queues a message. Resolves once written to the socket; never rejects (a
   * failed write closes the connection instead).
   */
  send(msg: Message): Promise<boolean> {
    return this.sendFrame(JSON.stringify(msg));
  }

  /**
   * Writes a frame already serialised as JSON (without its newline), for
   * senders that hold the JSON already. Same contract as {@linkcode send}.
   */
  async sendFrame(json: string): Promise<boolean> {
    if (this.#closed) return false;
    this.#lastSent = this.#clock.now();
    try {
      // sealed here, synchronously, so that frame counters follow the order of the writes
      const line = this.#sealer ? this.#sealer.seal(json) : json;
      const bytes = encoder.encode(line + "\n");
      if (this.#writer) await this.#writer.write(bytes);
      else await (this.#writing = this.#writing.then(() => this.#writeAll(bytes)));
      return true;
    } catch (e) {
      this.close(`write to ${this.peer} failed: ${errorText(e)}`);
      return false;
    }
  }

  /** Writes all of `bytes` with the transport's own `write`, which may take part of them. */
  async #writeAll(bytes: Uint8Array) {
    const conn = this.conn as DirectTransport;
    let off = 0;
    while (off < bytes.length) off += await conn.write(off === 0 ? bytes : bytes.subarray(off));
  }

  /** The transport's chunks as they arrive: its own reads where it has them, else its stream. */
  async *#chunks(): AsyncGenerator<Uint8Array> {
    const conn = this.conn;
    if (!direct(conn)) {
      yield* conn.readable;
      return;
    }
    let buf = new Uint8Array(READ_MIN_BYTES);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      // the splitter copies what it keeps, so one buffer serves every read; it grows while
      // reads fill it (a large frame arriving) and shrinks back once they do not
      yield buf.subarray(0, n);
      if (n === buf.length && buf.length < READ_MAX_BYTES) buf = new Uint8Array(buf.length * 2);
      else if (n < READ_MIN_BYTES && buf.length > READ_MIN_BYTES) {
        buf = new Uint8Array(READ_MIN_BYTES);
      }
    }
  }

  /**
   * Yields validated messages until the peer closes or misbehaves; then
   * closes the connection with the reason and returns.
   */
  async *messages(): AsyncGenerator<Message> {
    try {
      const splitter = new FrameSplitter();
      for await (const chunk of this.#chunks()) {
        this.#lastReceived = this.#clock.now();
        this.#bytesReceived += chunk.length;
        for (const frame of splitter.push(chunk)) {
          const json = this.#open(frame);
          // most frames of an idle link: no need to parse them
          if (json === HEARTBEAT_JSON) continue;
          const msg = parseMessage(json);
          if (msg.t === "hb") continue;
          if (msg.t === "bye") {
            this.close(`peer said goodbye: ${msg.reason}`, false, msg.code);
            return;
          }
          // while the reader works on this message it reads nothing: the peer's bytes wait
          // unread (a store under load, thousands of links handled at once), which is no
          // silence of the peer's
          this.#consuming = true;
          try {
            yield msg;
          } finally {
            this.#consuming = false;
          }
          if (this.#closed) return;
        }
        if (splitter.failed) throw splitter.failed;
      }
      if (this.#closed) return;
      this.close("peer closed the connection", false);
    } catch (e) {
      if (e instanceof FrameAuthError) {
        log.warn("Closed the connection with {peer}: {reason}", {
          peer: this.peer,
          reason: e.message,
        });
      }
      this.close(errorText(e));
    }
  }

  /** The JSON of a received frame, verified once frames are sealed. */
  #open(frame: string): string {
    const opener = this.#opener;
    if (!opener) return frame;
    if (opener.count === 0n && frame.startsWith("{")) {
      // before the peer's first sealed frame: its heartbeats from before it keyed, or its
      // refusal (it could not key); neither carries anything a forger could use
      const t = parseMessage(frame).t;
      if (t === "hb" || t === "bye") return frame;
    }
    return opener.open(frame);
  }

  /** The `bye` code the peer sent, if it closed with one. */
  peerByeCode: string | undefined;

  /** Closes the connection (idempotent), recording why. */
  close(reason: string, local = true, peerCode?: string): void {
    if (this.#closed) return;
    this.#closed = { reason, local };
    if (peerCode) this.peerByeCode = peerCode;
    this.#ticker.delete(this);
    // apart: the socket must close even when releasing the writer throws
    try {
      this.#writer?.releaseLock();
    } catch { /* released */ }
    try {
      this.conn.close();
    } catch { /* already closed */ }
    for (const cb of this.#onClose.splice(0)) cb(this.#closed);
  }

  /** Sends `bye` with a reason, waits briefly for it to leave, then closes. */
  async goodbye(
    reason: string,
    code: "auth" | "busy" | "replaced" | "shutdown" | "protocol",
  ): Promise<void> {
    if (this.#closed) return;
    let timer: TimerHandle | undefined;
    await Promise.race([
      this.send({ t: "bye", reason, code }),
      new Promise<void>((r) => timer = this.#clock.setTimeout(() => r(), 500)),
    ]);
    this.#clock.clearTimeout(timer);
    this.close(reason);
  }
}

/** A transport with its own read and write. */
type DirectTransport = Transport & Required<Pick<Transport, "read" | "write">>;

function direct(conn: Transport): conn is DirectTransport {
  return typeof conn.read === "function" && typeof conn.write === "function";
}

/** `host:port`, with brackets around IPv6 hosts. */
export function formatAddr(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export { errorText } from "./error_text.ts";
