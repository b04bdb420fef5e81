/**
 * A monitor played by the test: a listener the manager dials, that passes
 * the handshake with the real token (an authenticated peer) and then sends
 * whatever results the test makes up, frame by frame, each waiting for its
 * acknowledgement. Everything it says goes through `shared/` (FramedConn for
 * framing and heartbeats, protocol.ts for messages and MACs), so it follows
 * the protocol when the protocol changes: only {@linkcode monitorHandshake}
 * knows the handshake.
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
import { FramedConn } from "../../shared/connection.ts";
import {
  handshakeMac,
  macEqual,
  makeNonce,
  type Message,
  PROTOCOL_VERSION,
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
    await monitorHandshake({
      send: (msg) => fc.send(msg),
      next: async () => {
        const r = await session.inbox.next();
        return r.done ? undefined : r.value;
      },
    }, this.#options);
    await session.assigned();
    return session;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const s of this.#sessions) await s.close();
    this.#listener.close();
  }
}

/** Either end of a connection as {@linkcode monitorHandshake} speaks over it. */
export interface MessagePeer {
  send(msg: Message): Promise<unknown>;
  /** The next message, or undefined once the connection has closed. */
  next(): Promise<Message | undefined>;
}

/**
 * The monitor's side of the handshake: hello, the manager's auth checked
 * against the token, welcome. Throws if the manager cannot prove the token.
 * Over a `FramedConn` (as {@linkcode FakeMonitor}) or a bare socket (tests
 * that write bytes themselves).
 */
export async function monitorHandshake(
  peer: MessagePeer,
  options: Required<FakeMonitorOptions>,
): Promise<void> {
  const nonce = makeNonce();
  await peer.send({
    t: "hello",
    v: PROTOCOL_VERSION,
    monitorId: options.monitorId,
    name: options.name,
    version: "fake",
    nonce,
    epoch: options.epoch,
  });
  const auth = await peer.next();
  if (auth?.t !== "auth") throw new Error(`expected auth, got ${auth?.t ?? "a closed connection"}`);
  if (!macEqual(auth.mac, await handshakeMac(options.token, "manager", nonce, auth.nonce))) {
    throw new Error("the manager could not prove the token");
  }
  await peer.send({
    t: "welcome",
    mac: await handshakeMac(options.token, "monitor", nonce, auth.nonce),
    lastSeq: 0,
  });
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
