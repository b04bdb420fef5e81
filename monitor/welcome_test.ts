import assert from "node:assert/strict";
import { tempDir } from "../tests/helpers/proc.ts";
import { freeTcpPort } from "../tests/helpers/ports.ts";
import { Monitor } from "./monitor.ts";
import { parseConfig } from "../shared/config.ts";
import { FramedConn } from "../shared/connection.ts";
import { handshake, HandshakeError } from "../shared/handshake.ts";
import type { Message } from "../shared/protocol.ts";

/** A manager's side of one connection: every frame the monitor sends, in order. */
class BareManager {
  #fc: FramedConn;
  #messages: AsyncGenerator<Message>;
  constructor(conn: Deno.TcpConn) {
    this.#fc = new FramedConn(conn, "monitor");
    this.#messages = this.#fc.messages();
  }
  static async dial(port: number): Promise<BareManager> {
    return new BareManager(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  send(msg: Message): Promise<boolean> {
    return this.#fc.send(msg);
  }
  /** The next frame that is not a heartbeat. */
  async next(): Promise<Message> {
    const r = await this.#messages.next();
    if (r.done) throw new Error(`the monitor closed the connection: ${this.#fc.closed?.reason}`);
    return r.value;
  }
  /**
   * The handshake as a dialing manager taking over: "welcome" when the
   * monitor's first frame after the proofs was its welcome, else what it sent.
   */
  async handshake(): Promise<string> {
    try {
      await handshake(this.#fc, this.#messages, {
        side: "dialer",
        token: "",
        fields: { role: "manager", managerId: "bare", takeover: true },
      });
      return "welcome";
    } catch (e) {
      if (e instanceof HandshakeError) return e.message;
      throw e;
    }
  }
  close() {
    this.#fc.close("test done");
  }
}

Deno.test("no result goes out before welcome: 500 takeovers while results flow", async () => {
  await using tmp = await tempDir();
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    try {
      for await (const c of target) c.close();
    } catch { /* closed */ }
  })();
  const tport = (target.addr as Deno.NetAddr).port;
  const config = parseConfig(
    `monitors: [{ address: "127.0.0.1:1" }]\ntargets:\n` +
      Array.from(
        { length: 20 },
        (_, i) => `  t${i}: { TCP: { host: 127.0.0.1, port: ${tport}, frequency: 0.05 } }\n`,
      ).join(""),
    "tasks.yaml",
  );
  const port = freeTcpPort();
  const monitor = await Monitor.start({ port, dataDir: tmp.path });
  const open: BareManager[] = [];
  try {
    const first = await BareManager.dial(port);
    assert.equal(await first.handshake(), "welcome");
    await first.send({ t: "assign", rev: 1, checks: config.checks.map((c) => c.spec) });
    open.push(first);
    // results flow from now on: wait for some
    for (let i = 0; i < 100; i++) {
      if ((await first.next()).t === "results") break;
    }
    const seqBefore = monitor.spool.lastSeq;
    const early: string[] = [];
    for (let i = 0; i < 500; i++) {
      // a new manager takes over while the previous connection is still open (so the
      // monitor says goodbye to it, in the middle of the handshake)
      const m = await BareManager.dial(port);
      const reply = await m.handshake();
      if (reply !== "welcome") early.push(`takeover ${i}: ${reply} before welcome`);
      open.push(m);
      while (open.length > 2) open.shift()!.close();
    }
    assert.deepEqual(early, [], "the first frame after auth is always the welcome");
    // stopping spools what the last batch (up to 200 ms of results) still held
    await monitor.stop();
    assert.ok(monitor.spool.lastSeq > seqBefore, "results flowed during the takeovers");
  } finally {
    for (const m of open) m.close();
    await monitor.stop();
    target.close();
  }
});
