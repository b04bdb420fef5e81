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
import { DEAD_AFTER_MS, HEARTBEAT_MS, type Message, parseMessage, readFrames } from "./protocol.ts";
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
}

/** A heartbeat tick later than this means this process itself was stalled. */
const STALL_MS = 1000;
/** How often liveness is looked at: heartbeats go out at most this late. */
const TICK_MS = 200;

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
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #clock: Clock;
  #lastSent: number;
  #lastReceived: number;
  #lastTick: number;
  #timer: TimerHandle | undefined;
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
    this.#lastSent = this.#lastReceived = this.#lastTick = this.#clock.now();
    this.#writer = conn.writable.getWriter();
    this.#arm();
  }

  #arm() {
    this.#timer = this.#clock.setTimeout(() => {
      this.#tick();
      if (!this.#closed) this.#arm();
    }, TICK_MS);
  }

  /** Set once the connection has ended. */
  get closed(): CloseInfo | undefined {
    return this.#closed;
  }

  /** Bytes received from the peer so far. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Milliseconds since any byte arrived from the peer (a frame still arriving counts). */
  get silentMs(): number {
    return this.#clock.now() - this.#lastReceived;
  }

  /** Registers a callback for the end of the connection. */
  onClose(cb: (info: CloseInfo) => void): void {
    if (this.#closed) cb(this.#closed);
    else this.#onClose.push(cb);
  }

  #tick() {
    const now = this.#clock.now();
    if (now - this.#lastTick > STALL_MS) {
      // this process was stalled (a long synchronous task, a paused VM): what the peer sent
      // meanwhile is still unread, so the silence is ours, not the peer's
      this.#lastReceived = Math.max(this.#lastReceived, now - STALL_MS);
    }
    this.#lastTick = now;
    if (now - this.#lastReceived >= DEAD_AFTER_MS) {
      this.close(`no frame from ${this.peer} for ${Math.round(now - this.#lastReceived)} ms`);
    } else if (now - this.#lastSent >= HEARTBEAT_MS) {
      this.send({ t: "hb" });
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
      await this.#writer.write(encoder.encode(line + "\n"));
      return true;
    } catch (e) {
      this.close(`write to ${this.peer} failed: ${errorText(e)}`);
      return false;
    }
  }

  /**
   * Yields validated messages until the peer closes or misbehaves; then
   * closes the connection with the reason and returns.
   */
  async *messages(): AsyncGenerator<Message> {
    try {
      const alive = (n: number) => {
        this.#lastReceived = this.#clock.now();
        this.#bytesReceived += n;
      };
      for await (const frame of readFrames(this.conn.readable, undefined, alive)) {
        const msg = parseMessage(this.#open(frame));
        if (msg.t === "hb") continue;
        if (msg.t === "bye") {
          this.close(`peer said goodbye: ${msg.reason}`, false, msg.code);
          return;
        }
        yield msg;
        if (this.#closed) return;
      }
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
    this.#clock.clearTimeout(this.#timer);
    // apart: the socket must close even when releasing the writer throws
    try {
      this.#writer.releaseLock();
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

/** `host:port`, with brackets around IPv6 hosts. */
export function formatAddr(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export { errorText } from "./error_text.ts";
