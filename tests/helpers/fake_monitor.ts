/**
 * A monitor played by the test: a listener the manager dials, that passes
 * the handshake with the real token (an authenticated peer) and then sends
 * whatever results the test makes up, frame by frame, each waiting for its
 * acknowledgement. Everything it says goes through `shared/` (FramedConn for
 * framing and heartbeats, handshake.ts and frame_auth.ts for the handshake
 * and the frame MACs), so it follows the protocol when the protocol changes;
 * {@linkcode RawPeer} is the same for tests that write bytes themselves.
 *
 * @example
 * ```ts ignore
 * import { FakeMonitor } from "./fake_monitor.ts";
 * await using fake = FakeMonitor.listen({ token: "t" });
 * // … start a manager whose tasks.yaml lists fake.address …
 * const session = await fake.accept();
 * await session.send([session.result(session.assignment[0]!)]);
 * ```
 *
 * @module
 */
import type { CheckResult, UncheckedSpec } from "../../shared/checks.ts";
import { type CloseInfo, FramedConn } from "../../shared/connection.ts";
import { FrameOpener, FrameSealer } from "../../shared/frame_auth.ts";
import { handshake, type HandshakeConn } from "../../shared/handshake.ts";
import {
  type ByeCode,
  encodeFrame,
  type Message,
  parseMessage,
  readFrames,
} from "../../shared/protocol.ts";

/** Who the fake monitor says it is. */
export interface FakeMonitorOptions {
  /** The shared token ("" for none). */
  token?: string;
  name?: string;
  monitorId?: string;
  epoch?: string;
}

/** A listener on a free loopback port that plays a monitor for each connection it accepts. */
export class FakeMonitor implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #options: Required<FakeMonitorOptions>;
  readonly #sessions: FakeSession[] = [];

  private constructor(listener: Deno.TcpListener, options: FakeMonitorOptions) {
    this.#listener = listener;
    this.#options = {
      token: options.token ?? "",
      name: options.name ?? "fake",
      monitorId: options.monitorId ?? crypto.randomUUID(),
      epoch: options.epoch ?? crypto.randomUUID(),
    };
  }

  /** Listens on 127.0.0.1 at a port the system picks (no race with other tests). */
  static listen(options: FakeMonitorOptions = {}): FakeMonitor {
    return new FakeMonitor(Deno.listen({ hostname: "127.0.0.1", port: 0 }), options);
  }

  /** `127.0.0.1:PORT`, for tasks.yaml. */
  get address(): string {
    return `127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  /** The monitor ID it says hello with. */
  get monitorId(): string {
    return this.#options.monitorId;
  }

  /**
   * Accepts the next connection, passes the handshake and waits for the
   * manager's first complete assignment.
   */
  async accept(): Promise<FakeSession> {
    const conn = await this.#listener.accept();
    conn.setNoDelay(true);
    const fc = new FramedConn(conn, "manager");
    const session = new FakeSession(fc, this.#options.monitorId);
    this.#sessions.push(session);
    await monitorHandshake(fc, session.inbox, this.#options);
    await session.assigned();
    return session;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const s of this.#sessions) await s.close();
    this.#listener.close();
  }
}

/**
 * The monitor's side of the handshake (as the listener the manager dials),
 * over a `FramedConn` (as {@linkcode FakeMonitor}) or a {@linkcode RawPeer}
 * (tests that write bytes themselves). Throws if the manager cannot prove
 * the token.
 */
export async function monitorHandshake(
  conn: HandshakeConn,
  messages: AsyncGenerator<Message>,
  options: Required<FakeMonitorOptions>,
): Promise<void> {
  await handshake(conn, messages, {
    side: "listener",
    token: options.token,
    fields: {
      role: "monitor",
      monitorId: options.monitorId,
      name: options.name,
      epoch: options.epoch,
      lastSeq: 0,
    },
  });
}

/**
 * A connection spoken frame by frame, with no heartbeats of its own (so a
 * test decides when it is silent): {@linkcode messages} yields every frame
 * the other side sends, heartbeats included, verified once keyed; frames go
 * out sealed once keyed, and {@linkcode frame} gives one's bytes for a test
 * that writes them in pieces.
 */
export class RawPeer implements HandshakeConn {
  readonly peer: string;
  readonly messages: AsyncGenerator<Message>;
  closed: CloseInfo | undefined;
  peerByeCode: string | undefined;
  #conn: Deno.Conn;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #sealer: FrameSealer | undefined;
  #opener: FrameOpener | undefined;

  /** @param conn the socket; @param peer its name in errors */
  constructor(conn: Deno.Conn, peer: string) {
    this.#conn = conn;
    this.peer = peer;
    this.#writer = conn.writable.getWriter();
    this.messages = this.#read();
  }

  async *#read(): AsyncGenerator<Message> {
    try {
      for await (const f of readFrames(this.#conn.readable)) {
        const opener = this.#opener;
        const msg = parseMessage(
          opener && !(opener.count === 0n && f.startsWith("{")) ? opener.open(f) : f,
        );
        if (msg.t === "bye") {
          this.peerByeCode = msg.code;
          this.closed ??= { reason: `peer said goodbye: ${msg.reason}`, local: false };
          return;
        }
        yield msg;
      }
    } catch { /* reset */ }
    this.closed ??= { reason: "peer closed the connection", local: false };
  }

  /** The bytes of `msg` as the next frame (sealed once keyed); write them all, in order. */
  frame(msg: Message): Uint8Array {
    if (!this.#sealer) return encodeFrame(msg);
    return new TextEncoder().encode(this.#sealer.seal(JSON.stringify(msg)) + "\n");
  }

  /** Writes bytes (a frame, or a piece of one from {@linkcode frame}). */
  async write(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes);
  }

  async send(msg: Message): Promise<boolean> {
    try {
      await this.write(this.frame(msg));
      return true;
    } catch {
      return false;
    }
  }

  authenticate(sendKey: Uint8Array, receiveKey: Uint8Array): void {
    this.#sealer = new FrameSealer(sendKey);
    this.#opener = new FrameOpener(receiveKey);
  }

  async goodbye(reason: string, code: ByeCode): Promise<void> {
    await this.send({ t: "bye", reason, code });
    this.close(reason);
  }

  close(reason: string): void {
    this.closed ??= { reason, local: true };
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

/** One authenticated connection from the manager. */
export class FakeSession {
  readonly fc: FramedConn;
  /** The connection's messages, read by one consumer ({@linkcode FakeSession.assigned} / acks). */
  readonly inbox: AsyncGenerator<Message>;
  /** The latest complete assignment. */
  assignment: UncheckedSpec[] = [];
  #monitorId: string;
  #seq = 0;
  #parts: UncheckedSpec[] = [];
  #acks = new Map<number, () => void>();
  #reading: Promise<void> | undefined;

  constructor(fc: FramedConn, monitorId: string) {
    this.fc = fc;
    this.#monitorId = monitorId;
    this.inbox = fc.messages();
  }

  /** Reads until a complete assignment arrives, then reads acks in the background. */
  async assigned(): Promise<void> {
    for (;;) {
      const r = await this.inbox.next();
      if (r.done) throw new Error(`no assignment: ${this.fc.closed?.reason}`);
      if (this.#take(r.value)) break;
    }
    this.#reading = (async () => {
      for await (const msg of this.inbox) this.#take(msg);
      for (const wake of this.#acks.values()) wake();
    })();
  }

  #take(msg: Message): boolean {
    if (msg.t === "assign") {
      this.#parts.push(...msg.checks);
      if (msg.more) return false;
      this.assignment = this.#parts;
      this.#parts = [];
      return true;
    }
    if (msg.t === "ack") this.#acks.get(msg.to)?.();
    return false;
  }

  /** A plausible result of `spec`, numbered next; `extra` overrides any field. */
  result(spec: UncheckedSpec, extra: Partial<CheckResult> = {}): CheckResult {
    return {
      seq: ++this.#seq,
      taskId: crypto.randomUUID(),
      monitorId: this.#monitorId,
      checkId: spec.id,
      target: spec.target,
      type: spec.type,
      startedAt: Date.now(),
      durationMs: 1,
      up: true,
      summary: `${spec.type} ${spec.target}: open`,
      latencyMs: 1,
      metrics: { probe_success: 1 },
      details: {},
      ...extra,
    };
  }

  /**
   * Sends one results frame and waits for its acknowledgement (as a monitor's
   * flow control does). Returns false if the connection closed first.
   */
  async send(results: CheckResult[]): Promise<boolean> {
    const to = results[results.length - 1]!.seq;
    const acked = new Promise<void>((resolve) => this.#acks.set(to, resolve));
    if (!await this.fc.send({ t: "results", results })) return false;
    await acked;
    this.#acks.delete(to);
    return !this.fc.closed;
  }

  /** Ends the connection and its reader. */
  async close(): Promise<void> {
    this.fc.close("test done");
    await this.#reading;
  }
}
