import assert from "node:assert/strict";
import { FakeClock } from "./clock.ts";
import { FramedConn, type Transport } from "./connection.ts";
import {
  DEAD_AFTER_MS,
  encodeFrame,
  HEARTBEAT_MS,
  MAX_FRAME_BYTES,
  type Message,
} from "./protocol.ts";

/** The most a heartbeat or a dead-peer verdict may come late: one liveness tick. */
const TICK_MS = 200;
const encoder = new TextEncoder();

/**
 * An in-memory connection: what FramedConn writes is collected as text in
 * `sent`, and the test plays the peer with `push` (bytes, split however it
 * likes) and `end` (the peer closes).
 */
function memConn() {
  let peer!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const sent: string[] = [];
  const decoder = new TextDecoder();
  const transport: Transport = {
    readable: new ReadableStream({ start: (c) => void (peer = c) }),
    writable: new WritableStream({
      write: (chunk) => {
        if (!open) throw new Error("connection closed");
        sent.push(decoder.decode(chunk));
      },
    }),
    close: () => {
      if (open) peer.close();
      open = false;
    },
  };
  return {
    transport,
    /** The frames FramedConn wrote, parsed. */
    frames: () => sent.join("").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)),
    push: (bytes: Uint8Array | string) => {
      peer.enqueue(typeof bytes === "string" ? encoder.encode(bytes) : bytes);
    },
    end: () => {
      if (open) peer.close();
      open = false;
    },
  };
}

// read through functions: an assertion on fc.closed would narrow it for the rest of a test
const reasonOf = (fc: FramedConn) => fc.closed?.reason;
const localOf = (fc: FramedConn) => fc.closed?.local;

function setup() {
  const clock = new FakeClock();
  const mem = memConn();
  const fc = new FramedConn(mem.transport, "peer", { clock });
  return { clock, mem, fc };
}

Deno.test("FramedConn sends a heartbeat after HEARTBEAT_MS of silence, and not before", async () => {
  const { clock, mem, fc } = setup();
  try {
    await clock.advance(HEARTBEAT_MS - 1);
    assert.deepEqual(mem.frames(), []);
    await clock.advance(TICK_MS);
    assert.deepEqual(mem.frames(), [{ t: "hb" }]);
    // a frame sent is as good as a heartbeat: the next one waits HEARTBEAT_MS from it
    mem.push(encodeFrame({ t: "hb" })); // the peer too, so that it stays alive
    await fc.send({ t: "run", checkId: "a/TCP" });
    const sentAt = clock.now();
    await clock.advance(HEARTBEAT_MS - TICK_MS);
    assert.equal(mem.frames().length, 2);
    await clock.advance(2 * TICK_MS);
    assert.deepEqual(mem.frames().slice(2), [{ t: "hb" }]);
    assert.ok(clock.now() - sentAt >= HEARTBEAT_MS);
  } finally {
    fc.close("done");
  }
});

Deno.test("FramedConn declares the peer dead after DEAD_AFTER_MS without a byte", async () => {
  const { clock, fc } = setup();
  const reading = fc.messages().next();
  await clock.advance(DEAD_AFTER_MS - 1);
  assert.equal(reasonOf(fc), undefined);
  await clock.advance(TICK_MS);
  assert.match(reasonOf(fc) ?? "", /^no frame from peer for \d+ ms$/);
  assert.equal(localOf(fc), true);
  assert.equal((await reading).done, true);
  assert.equal(clock.pending, 0, "no timer is left behind");
});

Deno.test("FramedConn keeps a peer whose one large frame takes longer than DEAD_AFTER_MS to arrive", async () => {
  const { clock, mem, fc } = setup();
  try {
    const frame = encodeFrame({ t: "run", checkId: `${"x".repeat(900)}/TCP` });
    const messages = fc.messages();
    const first = messages.next();
    const chunks = 30;
    const step = Math.ceil(frame.length / chunks);
    // each chunk comes just under a tick apart: 30 chunks are well beyond DEAD_AFTER_MS
    for (let off = 0; off < frame.length; off += step) {
      mem.push(frame.subarray(off, off + step));
      await clock.advance(TICK_MS - 1);
    }
    assert.ok(clock.now() > DEAD_AFTER_MS * 2);
    const r = await first;
    assert.equal(reasonOf(fc), undefined);
    assert.ok(!r.done && r.value.t === "run" && r.value.checkId.length === 904);
    // …and with the bytes stopped, dead DEAD_AFTER_MS after reading on
    const second = messages.next();
    await clock.advance(DEAD_AFTER_MS + TICK_MS);
    assert.match(reasonOf(fc) ?? "", /no frame from peer/);
    assert.equal((await second).done, true);
  } finally {
    fc.close("done");
  }
});

Deno.test("FramedConn does not blame the peer while its reader works on a message, only once it reads on", async () => {
  const { clock, mem, fc } = setup();
  try {
    const messages = fc.messages();
    const first = messages.next();
    mem.push(encodeFrame({ t: "run", checkId: "a/TCP" }));
    assert.equal((await first).done, false);
    // the reader is busy elsewhere (a slow store) for far longer than DEAD_AFTER_MS
    await clock.advance(DEAD_AFTER_MS * 4);
    assert.equal(reasonOf(fc), undefined, "its own silence is not the peer's");
    const second = messages.next();
    await clock.advance(DEAD_AFTER_MS - TICK_MS);
    assert.equal(reasonOf(fc), undefined, "the peer gets a full DEAD_AFTER_MS from then");
    await clock.advance(2 * TICK_MS);
    assert.match(reasonOf(fc) ?? "", /^no frame from peer/);
    assert.equal((await second).done, true);
  } finally {
    fc.close("done");
  }
});

Deno.test("FramedConn on a loaded event loop counts against the peer only the time its ticks were due", async () => {
  const { clock, fc } = setup();
  try {
    const reading = fc.messages().next();
    // ten ticks each 400 ms late (less than a stall): 6 s, of which 2 s were due ticks
    for (let i = 0; i < 10; i++) {
      clock.stall(600);
      await clock.advance(1);
    }
    assert.ok(clock.now() > DEAD_AFTER_MS * 2);
    assert.equal(reasonOf(fc), undefined, "the lateness is this process's silence");
    // ticks on time again: the peer's own silence adds up to DEAD_AFTER_MS
    await clock.advance(DEAD_AFTER_MS);
    assert.match(reasonOf(fc) ?? "", /^no frame from peer/);
    assert.equal((await reading).done, true);
  } finally {
    fc.close("done");
  }
});

Deno.test("FramedConn does not blame the peer for a silence of its own (a stalled process)", async () => {
  const { clock, mem, fc } = setup();
  try {
    const reading = fc.messages().next();
    mem.push(encodeFrame({ t: "hb" }));
    clock.stall(DEAD_AFTER_MS * 4);
    await clock.advance(TICK_MS);
    assert.equal(reasonOf(fc), undefined);
    fc.close("done");
    await reading;
  } finally {
    fc.close("done");
  }
});

Deno.test("FramedConn reassembles frames split anywhere, even inside a UTF-8 character", async () => {
  const { mem, fc } = setup();
  const bytes = encoder.encode(
    '{"t":"hb"}\n{"t":"run","checkId":"caf\u00e9/TCP"}\n\n{"t":"run","checkId":"b/TCP"}\n',
  );
  const messages = fc.messages();
  // one byte at a time splits every frame and the two bytes of "é"
  for (let i = 0; i < bytes.length; i++) mem.push(bytes.subarray(i, i + 1));
  const a = await messages.next();
  const b = await messages.next();
  assert.deepEqual([a.value, b.value], [{ t: "run", checkId: "café/TCP" }, {
    t: "run",
    checkId: "b/TCP",
  }]);
  // and several frames in one chunk
  mem.push('{"t":"run","checkId":"c/TCP"}\n{"t":"run","checkId":"d/TCP"}\n');
  assert.deepEqual((await messages.next()).value, { t: "run", checkId: "c/TCP" });
  assert.deepEqual((await messages.next()).value, { t: "run", checkId: "d/TCP" });
  fc.close("done");
  assert.equal((await messages.next()).done, true);
});

Deno.test("FramedConn closes on a frame over MAX_FRAME_BYTES before it ends", async () => {
  const { mem, fc } = setup();
  const messages = fc.messages();
  mem.push('{"t":"run","checkId":"');
  // no newline ever comes: the limit must stop the buffering, not the frame's end
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  for (let n = 0; n <= MAX_FRAME_BYTES; n += chunk.length) mem.push(chunk);
  assert.equal((await messages.next()).done, true);
  assert.equal(reasonOf(fc), `frame exceeds ${MAX_FRAME_BYTES} bytes`);
  assert.equal(localOf(fc), true);
});

Deno.test("FramedConn drops a partial frame when the peer closes and reports a clean close", async () => {
  const { clock, mem, fc } = setup();
  const messages = fc.messages();
  mem.push('{"t":"run","checkId":"x/TCP"}\n{"t":"run","chec');
  mem.end();
  assert.deepEqual((await messages.next()).value, { t: "run", checkId: "x/TCP" });
  assert.equal((await messages.next()).done, true);
  assert.deepEqual(fc.closed, { reason: "peer closed the connection", local: false });
  assert.equal(clock.pending, 0, "the liveness timer stops with the connection");
});

Deno.test("FramedConn.goodbye sends bye, closes and leaves no timer", async () => {
  const { clock, mem, fc } = setup();
  await fc.goodbye("shutting down", "shutdown");
  assert.deepEqual(mem.frames(), [{ t: "bye", reason: "shutting down", code: "shutdown" }]);
  assert.equal(reasonOf(fc), "shutting down");
  assert.equal(clock.pending, 0);
});

Deno.test("FramedConn looks at the liveness of all its connections on one clock with one timer", async () => {
  const clock = new FakeClock();
  const mems = [memConn(), memConn(), memConn()];
  const fcs = mems.map((m) => new FramedConn(m.transport, "peer", { clock }));
  try {
    assert.equal(clock.pending, 1, "one timer, not one per connection");
    await clock.advance(HEARTBEAT_MS + TICK_MS);
    for (const m of mems) assert.deepEqual(m.frames(), [{ t: "hb" }], "each still heartbeats");
    fcs[0]!.close("done");
    fcs[1]!.close("done");
    assert.equal(clock.pending, 1, "the last connection keeps it");
    await clock.advance(DEAD_AFTER_MS);
    assert.match(reasonOf(fcs[2]!) ?? "", /^no frame from peer/);
    assert.equal(clock.pending, 0, "the timer stops with the last connection");
  } finally {
    for (const fc of fcs) fc.close("done");
  }
});

Deno.test("FramedConn over a socket reads and writes it directly, a large frame among small ones intact", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const dialed = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await accepted;
  listener.close();
  // a transport whose streams throw: the connection must use the socket's read and write
  const direct = (c: Deno.TcpConn): Transport => ({
    get readable(): ReadableStream<Uint8Array> {
      throw new Error("the readable stream was used");
    },
    get writable(): WritableStream<Uint8Array> {
      throw new Error("the writable stream was used");
    },
    read: (p) => c.read(p),
    write: (p) => c.write(p),
    close: () => c.close(),
  });
  const a = new FramedConn(direct(dialed), "b");
  const b = new FramedConn(direct(server), "a");
  try {
    // larger than the read buffer ever grows, with multi-byte characters across its boundaries
    const checks = Array.from({ length: 3000 }, (_, i) => ({
      id: `é${i}/TCP`,
      target: `é${i}`,
      type: "TCP" as const,
      intervalMs: 1000,
      timeoutMs: 500,
      params: { port: 80 },
    }));
    const writes = Promise.all([
      a.send({ t: "run", checkId: "small" }),
      a.send({ t: "assign", rev: 1, checks }),
      a.send({ t: "run", checkId: "after" }),
    ]);
    const got: Message[] = [];
    for await (const msg of b.messages()) {
      got.push(msg);
      if (got.length === 3) break;
    }
    assert.deepEqual(await writes, [true, true, true]);
    assert.deepEqual(got, [
      { t: "run", checkId: "small" },
      { t: "assign", rev: 1, checks },
      { t: "run", checkId: "after" },
    ]);
  } finally {
    a.close("done");
    b.close("done");
  }
});
