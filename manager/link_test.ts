/**
 * The link's state machine on a fake clock: heartbeats, dead-peer detection
 * and reconnect backoff, against a real loopback socket whose far end the
 * test plays byte by byte (the handshake through the fake monitor helper,
 * so that these tests follow the protocol).
 */
import assert from "node:assert/strict";
import type { CheckResult, CheckSpec } from "../shared/checks.ts";
import { FakeClock } from "../shared/clock.ts";
import { DEAD_AFTER_MS, HEARTBEAT_MS, type Message } from "../shared/protocol.ts";
import { monitorHandshake, RawPeer } from "../tests/helpers/fake_monitor.ts";
import { freeTcpPort } from "../tests/helpers/ports.ts";
import { checkSpec } from "../shared/params/mod.ts";
import { backoff, BACKOFF_BASE_MS, BACKOFF_CAP_MS, MonitorLink } from "./link.ts";
import { SqliteStore } from "./store/sqlite.ts";

/** FramedConn looks at liveness this often: a verdict comes at most this late. */
const TICK_MS = 200;

const SPEC: CheckSpec = checkSpec("TCP", { host: "127.0.0.1", port: 9 }, {
  id: "web/TCP",
  target: "web",
  intervalMs: 60_000,
  timeoutMs: 10_000,
});

/**
 * Waits (in real time, for sockets) until `cond` holds. The bound only ends
 * a hung test; nothing is asserted about how long it took.
 */
async function until(cond: () => boolean, what: string) {
  const give = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > give) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A link on a fake clock, dialling `port`. */
function makeLink(port: number, clock: FakeClock, stored: CheckResult[] = []) {
  const store = SqliteStore.open(":memory:");
  const link = new MonitorLink(
    { name: "m", host: "127.0.0.1", port, address: `127.0.0.1:${port}`, labels: [] },
    {
      managerId: "manager",
      token: "",
      store,
      clock,
      assignment: () => [SPEC],
      ingest: async (_, results, epoch) => {
        const fresh = await store.add(results, "m", epoch);
        stored.push(...fresh);
        return fresh;
      },
      onStatus: () => {},
    },
  );
  return {
    link,
    async [Symbol.asyncDispose]() {
      await link.stop();
      await store.close();
    },
  };
}

/** The far end: a listener the link dials, spoken to with raw frames. */
async function bareMonitor(clock: FakeClock) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const stored: CheckResult[] = [];
  const linkHandle = makeLink(port, clock, stored);
  linkHandle.link.start();
  const conn = await listener.accept();
  const raw = new RawPeer(conn, "link");
  await monitorHandshake(raw, raw.messages, {
    token: "",
    name: "bare",
    monitorId: "bare-monitor",
    epoch: "e1",
  });
  const received: Message[] = [];
  let closed = false;
  (async () => {
    for await (const m of raw.messages) received.push(m);
    closed = true;
  })();
  await until(() => received.some((m) => m.t === "assign"), "the assignment");
  return {
    link: linkHandle.link,
    stored,
    received,
    isClosed: () => closed,
    /** The bytes of the next frame, sealed, for a test that writes them in pieces. */
    frame: (msg: Message) => raw.frame(msg),
    write: (bytes: Uint8Array) => raw.write(bytes),
    /** Sends a frame and waits until the link has read it (a stats report it shows). */
    async alive() {
      const pending = (linkHandle.link.state.spool?.pending ?? 0) + 1;
      await raw.send({ t: "stats", pending, dropped: 0, diskFull: null });
      await until(() => linkHandle.link.state.spool?.pending === pending, "the stats read");
    },
    async [Symbol.asyncDispose]() {
      await linkHandle[Symbol.asyncDispose]();
      try {
        conn.close();
      } catch { /* closed by the link */ }
      listener.close();
    },
  };
}

Deno.test("MonitorLink sends a heartbeat after HEARTBEAT_MS without sending, and not before", async () => {
  const clock = new FakeClock();
  await using peer = await bareMonitor(clock);
  assert.ok(peer.link.online);
  // the assignment was the last frame sent, at the fake clock's 0
  await clock.advance(HEARTBEAT_MS - 1);
  const mark = peer.received.length;
  // a frame the link sends now follows any heartbeat already sent: none must be before it
  assert.ok(await peer.link.runNow(SPEC.id));
  await until(() => peer.received.length > mark, "the run frame");
  assert.deepEqual(peer.received.slice(mark), [{ t: "run", checkId: SPEC.id }]);
  await peer.alive(); // the monitor speaks too, so that it is not dead
  await clock.advance(HEARTBEAT_MS - 1);
  assert.ok(await peer.link.runNow(SPEC.id));
  await until(() => peer.received.length > mark + 1, "the second run frame");
  assert.deepEqual(peer.received.slice(mark + 1), [{ t: "run", checkId: SPEC.id }]);
  // now silence: the heartbeat comes within a tick of HEARTBEAT_MS
  await peer.alive();
  await clock.advance(HEARTBEAT_MS + TICK_MS);
  await until(() => peer.received.length > mark + 2, "a heartbeat");
  assert.deepEqual(peer.received.slice(mark + 2), [{ t: "hb" }]);
  assert.ok(peer.link.online);
});

Deno.test("MonitorLink declares a silent monitor dead after DEAD_AFTER_MS and reconnects", async () => {
  const clock = new FakeClock();
  await using peer = await bareMonitor(clock);
  await clock.advance(DEAD_AFTER_MS - 1);
  assert.ok(peer.link.online, "not dead before DEAD_AFTER_MS");
  await clock.advance(TICK_MS);
  await until(() => !peer.link.online, "the link going down");
  assert.equal(peer.link.state.status, "Reconnecting");
  assert.match(peer.link.state.lastError ?? "", /^no frame from 127\.0\.0\.1:\d+ for \d+ ms$/);
  await until(peer.isClosed, "the socket closed by the link");
});

Deno.test("MonitorLink keeps a monitor whose large frame arrives slower than DEAD_AFTER_MS", async () => {
  const clock = new FakeClock();
  await using peer = await bareMonitor(clock);
  const results: CheckResult[] = Array.from({ length: 200 }, (_, i) => ({
    seq: i + 1,
    taskId: crypto.randomUUID(),
    monitorId: "bare-monitor",
    checkId: SPEC.id,
    target: SPEC.target,
    type: SPEC.type,
    startedAt: clock.wallNow(),
    durationMs: 1,
    up: true,
    summary: "s".repeat(200),
    latencyMs: 1,
    metrics: {},
    details: {},
  }));
  const frame = peer.frame({ t: "results", results });
  const chunks = 40;
  const step = Math.ceil(frame.length / chunks);
  for (let off = 0; off < frame.length; off += step) {
    await peer.write(frame.subarray(off, off + step));
    // the link reads the chunk (real time) before its clock moves on
    await new Promise((r) => setTimeout(r, 5));
    await clock.advance(TICK_MS);
  }
  assert.ok(clock.now() > DEAD_AFTER_MS * 2, "the frame took more than twice DEAD_AFTER_MS");
  await until(() => peer.stored.length === results.length, "the frame stored");
  assert.ok(peer.link.online);
  await until(() => peer.received.some((m) => m.t === "ack"), "the ack");
  assert.deepEqual(peer.received.find((m) => m.t === "ack"), { t: "ack", from: 1, to: 200 });
});

Deno.test("MonitorLink retries a refused connection with a growing, jittered, capped backoff", async () => {
  class RecordingClock extends FakeClock {
    delays: number[] = [];
    override setTimeout(fn: () => void, ms: number) {
      this.delays.push(ms);
      return super.setTimeout(fn, ms);
    }
  }
  const clock = new RecordingClock();
  // nothing listens there: each dial is refused at once
  await using handle = makeLink(freeTcpPort(), clock);
  handle.link.start();
  const retries = () => clock.delays.filter((ms) => ms < 1000);
  const waits: number[] = [];
  for (let k = 1; k <= 12; k++) {
    await until(() => retries().length === k && clock.pending === 1, `retry ${k} scheduled`);
    waits.push(clock.nextAt! - clock.now());
    await clock.advance(waits[k - 1]!);
  }
  assert.equal(handle.link.state.status, "Reconnecting");
  waits.forEach((ms, i) => {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (i + 1));
    assert.ok(
      ms >= ceiling / 2 && ms <= ceiling,
      `wait ${i + 1} (${ms} ms) in [${ceiling / 2}, ${ceiling}]`,
    );
  });
  assert.ok(waits.slice(4).every((ms) => ms <= BACKOFF_CAP_MS), "capped");
  assert.ok(new Set(waits.slice(4)).size > 1, `jittered: ${waits}`);
});

Deno.test("backoff() doubles from BACKOFF_BASE_MS to BACKOFF_CAP_MS, each randomised to 50–100 %", () => {
  assert.deepEqual([1, 2, 3, 4, 20].map((n) => backoff(n, () => 1)), [200, 400, 600, 600, 600]);
  assert.deepEqual([1, 2, 3, 4, 20].map((n) => backoff(n, () => 0)), [100, 200, 300, 300, 300]);
  assert.equal(backoff(1, () => 0.5), 150);
});
