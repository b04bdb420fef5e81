import assert from "node:assert/strict";
import { tempDir } from "../tests/helpers/proc.ts";
import { Spool } from "./spool.ts";
import type { UnsequencedResult } from "./scheduler.ts";
import type { CheckResult } from "../shared/checks.ts";
import { parseMessage } from "../shared/protocol.ts";

/** What the spool would send after `seq`, read back through the protocol's own parser. */
function heldAfter(spool: Spool, seq: number, limit: number): CheckResult[] {
  const part = spool.readFrameAfter(seq, limit);
  if (!part) return [];
  const msg = parseMessage(part.frame);
  assert.equal(msg.t, "results");
  return msg.t === "results" ? msg.results : [];
}

function result(i: number): UnsequencedResult {
  return {
    taskId: crypto.randomUUID(),
    monitorId: "00000000-0000-4000-8000-000000000000",
    checkId: "example/TCP",
    target: "example",
    type: "TCP",
    startedAt: 1_700_000_000_000 + i * 1000,
    durationMs: 1.5,
    up: true,
    summary: `TCP Port: 127.0.0.1 - Port ${i} - Open`,
    latencyMs: 1.5,
    metrics: { probe_success: 1 },
    details: {},
  };
}

Deno.test("spool numbers results from 1 and keeps them, with their start times, across a reopen", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/spool.db`;
  const spool = Spool.open(path);
  const out = spool.append([result(1), result(2)]);
  assert.deepEqual(out.map((r) => r.seq), [1, 2]);
  assert.deepEqual(spool.append([result(3)]).map((r) => r.seq), [3]);
  spool.close();

  const again = Spool.open(path);
  try {
    assert.equal(again.lastSeq, 3);
    assert.equal(again.pending, 3);
    const held = heldAfter(again, 1, 10);
    assert.deepEqual(held.map((r) => r.seq), [2, 3]);
    assert.deepEqual(held.map((r) => r.startedAt), [result(2).startedAt, result(3).startedAt]);
    assert.deepEqual(again.append([result(4)]).map((r) => r.seq), [4], "numbering goes on");
  } finally {
    again.close();
  }
});

Deno.test("spool forgets acknowledged results, remembers the acknowledgement and never acks past its last number", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/spool.db`;
  const spool = Spool.open(path);
  spool.append([result(1), result(2), result(3)]);
  spool.ack(2);
  assert.equal(spool.pending, 1);
  spool.ack(1);
  assert.equal(spool.acked, 2, "an older acknowledgement changes nothing");
  spool.ack(99);
  assert.equal(spool.acked, 3);
  assert.equal(spool.pending, 0);
  spool.close();

  const again = Spool.open(path);
  try {
    assert.equal(again.acked, 3);
    assert.equal(again.lastSeq, 3);
    assert.deepEqual(heldAfter(again, 0, 10), []);
  } finally {
    again.close();
  }
});

Deno.test("a full spool drops the oldest results first and counts them", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/spool.db`;
  const size = JSON.stringify({ seq: 1, ...result(1) }).length;
  const drops: [number, number][] = [];
  const spool = Spool.open(path, {
    maxBytes: size * 10,
    onDrop: (n, total) => drops.push([n, total]),
  });
  for (let i = 1; i <= 30; i++) spool.append([result(i)]);
  assert.ok(drops.length > 0, "the owner is told about drops");
  const total = drops[drops.length - 1]![1];
  assert.equal(drops.reduce((sum, [n]) => sum + n, 0), total);
  assert.equal(spool.dropped, total);
  assert.ok(spool.bytes <= size * 10);
  const held = heldAfter(spool, 0, 100);
  assert.equal(held.length, 30 - total);
  assert.equal(held[0]!.seq, total + 1, "the oldest went first");
  assert.equal(held[held.length - 1]!.seq, 30, "the newest stayed");
  assert.equal(spool.lastSeq, 30);
  spool.close();

  const again = Spool.open(path);
  try {
    assert.equal(again.dropped, total, "the count survives a restart");
    assert.equal(again.pending, 30 - total);
  } finally {
    again.close();
  }
});
