import assert from "node:assert/strict";
import { FramedConn } from "./connection.ts";
import { DEAD_AFTER_MS, encodeFrame } from "./protocol.ts";

Deno.test("a large frame arriving slowly counts as life: no dead-peer timeout while its bytes flow", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const results = Array.from({ length: 400 }, (_, i) => ({
    seq: i + 1,
    taskId: crypto.randomUUID(),
    monitorId: "m",
    checkId: "x/TCP",
    target: "x",
    type: "TCP" as const,
    startedAt: 1_700_000_000_000,
    durationMs: 1,
    up: true,
    summary: "s".repeat(200),
    latencyMs: 1,
    metrics: {},
    details: {},
  }));
  const frame = encodeFrame({ t: "results", results });
  // a peer on a slow link: the one frame takes longer than DEAD_AFTER_MS to arrive, no heartbeat
  const chunks = 20;
  const pauseMs = Math.ceil((DEAD_AFTER_MS * 1.6) / chunks);
  const sender = (async () => {
    const conn = await listener.accept();
    const step = Math.ceil(frame.length / chunks);
    for (let off = 0; off < frame.length; off += step) {
      await conn.write(frame.subarray(off, off + step));
      await new Promise((r) => setTimeout(r, pauseMs));
    }
    return conn;
  })();
  const fc = new FramedConn(await Deno.connect({ hostname: "127.0.0.1", port }), "slow peer");
  const t0 = performance.now();
  try {
    const first = await fc.messages().next();
    assert.ok(!first.done, `the frame arrived (closed: ${fc.closed?.reason})`);
    assert.equal(first.value.t, "results");
    assert.ok(performance.now() - t0 > DEAD_AFTER_MS, "it took longer than the dead-peer timeout");
    assert.equal(fc.closed, undefined);
  } finally {
    fc.close("done");
    (await sender).close();
    listener.close();
  }
});
