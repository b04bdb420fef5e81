import assert from "node:assert/strict";
import { tempDir } from "../tests/helpers/proc.ts";
import { freeTcpPort } from "../tests/helpers/ports.ts";
import { Monitor } from "./monitor.ts";
import { parseConfig } from "../shared/config.ts";
import {
  encodeFrame,
  handshakeMac,
  type Message,
  parseMessage,
  PROTOCOL_VERSION,
  readFrames,
} from "../shared/protocol.ts";

/** A manager's side of one connection, on a bare socket: every frame the monitor sends, in order. */
class BareManager {
  #conn: Deno.TcpConn;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #frames: AsyncGenerator<string>;
  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#writer = conn.writable.getWriter();
    this.#frames = readFrames(conn.readable);
  }
  static async dial(port: number): Promise<BareManager> {
    return new BareManager(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  send(msg: Message): Promise<void> {
    return this.#writer.write(encodeFrame(msg));
  }
  /** The next frame that is not a heartbeat. */
  async next(): Promise<Message> {
    for (;;) {
      const r = await this.#frames.next();
      if (r.done) throw new Error("the monitor closed the connection");
      const msg = parseMessage(r.value);
      if (msg.t !== "hb") return msg;
    }
  }
  /** hello, auth: returns the monitor's next message, which must be its welcome. */
  async handshake(): Promise<Message> {
    const hello = await this.next();
    assert.equal(hello.t, "hello");
    if (hello.t !== "hello") throw new Error("no hello");
    const nonce = "11".repeat(16);
    await this.send({
      t: "auth",
      v: PROTOCOL_VERSION,
      managerId: "bare",
      nonce,
      mac: await handshakeMac("", "manager", hello.nonce, nonce),
      takeover: true,
    });
    return await this.next();
  }
  close() {
    try {
      this.#conn.close();
    } catch { /* closed */ }
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
    assert.equal((await first.handshake()).t, "welcome");
    await first.send({ t: "assign", rev: 1, checks: config.checks.map((c) => c.spec) });
    open.push(first);
    // results flow from now on: wait for some
    for (let i = 0; i < 100; i++) {
      if ((await first.next()).t === "results") break;
    }
    const early: string[] = [];
    for (let i = 0; i < 500; i++) {
      // a new manager takes over while the previous connection is still open (so the
      // monitor says goodbye to it, in the middle of the handshake)
      const m = await BareManager.dial(port);
      const reply = await m.handshake();
      if (reply.t !== "welcome") early.push(`takeover ${i}: ${reply.t} before welcome`);
      open.push(m);
      while (open.length > 2) open.shift()!.close();
    }
    assert.deepEqual(early, [], "the first frame after auth is always the welcome");
    // stopping spools what the last batch still held
    await monitor.stop();
    assert.ok(monitor.spool.lastSeq > 500, "results flowed throughout");
  } finally {
    for (const m of open) m.close();
    await monitor.stop();
    target.close();
  }
});
