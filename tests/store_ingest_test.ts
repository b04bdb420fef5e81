/**
 * The one result path: `Manager.ingest` stores a batch once, then hands the
 * new results to every sink (latest-state index, batch and result
 * listeners, output), each isolated: a sink that throws is logged and the
 * others, and the link's acknowledgement, go on.
 */
import assert from "node:assert/strict";
import type { CheckResult } from "../shared/checks.ts";
import { startQuietManager } from "./helpers/manager.ts";
import { startMonitor } from "./helpers/netmon.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { tempDir } from "./helpers/proc.ts";

function result(seq: number, monitorId = "mon-1"): CheckResult {
  return {
    seq,
    taskId: crypto.randomUUID(),
    monitorId,
    checkId: "web/TCP",
    target: "web",
    type: "TCP",
    startedAt: Date.now() - 10_000 + seq,
    durationMs: 1,
    up: true,
    latencyMs: 1,
    summary: "ok",
    metrics: { probe_success: 1 },
  };
}

Deno.test("ingest stores once and every sink gets the new results, though others throw", async () => {
  await using q = await startQuietManager(
    `monitors:\n  - { address: 127.0.0.1:${freeTcpPort()}, name: far }\n` +
      `targets:\n  web:\n    TCP: { host: 127.0.0.1, port: 1 }\n`,
  );
  const m = q.manager;
  const got: number[] = [];
  const batches: number[][] = [];
  m.onResult(() => {
    throw new Error("a broken result sink");
  });
  m.onBatch(() => {
    throw new Error("a broken batch sink");
  });
  m.onResult((r) => got.push(r.seq));
  m.onBatch((rs) => batches.push(rs.map((r) => r.seq)));
  const epoch = await m.store.epochId("");
  assert.deepEqual((await m.ingest([result(1), result(2)], "far", epoch)).map((r) => r.seq), [
    1,
    2,
  ]);
  // a replay: only the new one is stored and handed on
  assert.deepEqual((await m.ingest([result(2), result(3)], "far", epoch)).map((r) => r.seq), [3]);
  assert.deepEqual(await m.ingest([result(1)], "far", epoch), []);
  assert.deepEqual(got, [1, 2, 3]);
  assert.deepEqual(batches, [[1, 2], [3]]);
  assert.equal(await m.store.count(), 3);
  assert.equal(m.latest.of("web/TCP", "mon-1")?.seq, 3, "the latest-state index follows");
  assert.equal(m.latest.of("web/TCP", "mon-1")?.monitorName, "far");
});

Deno.test("a real monitor's results are stored and acknowledged while a sink throws on each", async () => {
  await using tmp = await tempDir();
  await using mon = await startMonitor({ dataDir: `${tmp.path}/mon`, extra: ["--name", "m"] });
  await using q = await startQuietManager(
    `monitors:\n  - { address: "127.0.0.1:${mon.port}", name: m }\n` +
      `targets:\n  web:\n    TCP: { host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.2 }\n`,
  );
  let thrown = 0;
  q.manager.onResult(() => {
    thrown++;
    throw new Error("a broken sink");
  });
  const link = q.manager.links.get("m")!;
  const deadline = Date.now() + 30_000;
  // acknowledged: the monitor reports its spool holds little, however many it made
  while ((thrown < 15 || (link.state.spool?.pending ?? Infinity) > 5) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(thrown >= 15, `the sink saw ${thrown} results`);
  assert.ok(link.state.received >= 15);
  assert.ok((link.state.spool?.pending ?? Infinity) <= 5, JSON.stringify(link.state.spool));
  assert.equal(await q.manager.store.count(), link.state.received);
});
