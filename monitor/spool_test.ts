import assert from "node:assert/strict";
import { tempDir } from "../tests/helpers/proc.ts";
import { taskIdOf } from "../shared/task_id.ts";
import { Spool } from "./spool.ts";
import type { UnsequencedResult } from "./scheduler.ts";
import type { CheckResult } from "../shared/checks.ts";
import { parseMessage } from "../shared/protocol.ts";

/** What the spool would send after `seq`, read back through the protocol's own parser. */
function heldAfter(spool: Spool, seq: number, limit: number): CheckResult[] {
  const part = spool.readFrame(seq, spool.lastSeq, limit, 1 << 20);
  if (!part) return [];
  const msg = parseMessage(part.frame);
  assert.equal(msg.t, "results");
  return msg.t === "results" ? msg.results : [];
}

function result(i: number): UnsequencedResult {
  return {
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

Deno.test("spool forgets the acknowledged ranges, and only them, across a reopen", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/spool.db`;
  const spool = Spool.open(path);
  spool.append([result(1), result(2), result(3), result(4)]);
  spool.ack(2, 3);
  assert.equal(spool.pending, 2);
  assert.deepEqual(heldAfter(spool, 0, 10).map((r) => r.seq), [1, 4], "acks need not be in order");
  spool.ack(2, 3);
  assert.equal(spool.pending, 2, "a repeated acknowledgement changes nothing");
  spool.ack(99, 120);
  assert.equal(spool.pending, 2, "a range never given out deletes nothing");
  spool.ack(1, 1);
  spool.close();

  const again = Spool.open(path);
  try {
    assert.equal(again.lastSeq, 4);
    assert.equal(again.pending, 1);
    assert.deepEqual(heldAfter(again, 0, 10).map((r) => r.seq), [4]);
  } finally {
    again.close();
  }
});

Deno.test("a frame holds every held result of its range, within its count and byte limits", async () => {
  await using tmp = await tempDir();
  const spool = Spool.open(`${tmp.path}/spool.db`);
  try {
    spool.append(Array.from({ length: 20 }, (_, i) => result(i)));
    spool.ack(5, 8);
    const size = JSON.stringify({ seq: 1, taskId: taskIdOf(spool.epoch, 1), ...result(1) }).length;
    const a = spool.readFrame(0, 20, 100, size * 6 + 20)!;
    assert.deepEqual([a.from, a.to, a.count], [1, 10, 6], "acked rows skipped, bytes bounded");
    const b = spool.readFrame(a.to, 15, 3, 1 << 20)!;
    assert.deepEqual([b.from, b.to, b.count], [11, 13, 3], "count bounded");
    assert.equal(spool.readFrame(15, 15, 10, 1 << 20), null, "nothing above the bound");
    assert.equal(spool.readFrame(0, 20, 1, 1)!.count, 1, "at least one result per frame");
  } finally {
    spool.close();
  }
});

Deno.test("a new spool gets a random epoch that it keeps; a deleted one gets a new one", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/spool.db`;
  const first = Spool.open(path);
  const epoch = first.epoch;
  assert.match(epoch, /^[0-9a-f-]{36}$/);
  first.append([result(1)]);
  first.close();
  const again = Spool.open(path);
  assert.equal(again.epoch, epoch, "the epoch survives a restart");
  again.close();
  for (const f of ["", "-wal", "-shm"]) await Deno.remove(path + f).catch(() => {});
  const fresh = Spool.open(path);
  try {
    assert.notEqual(fresh.epoch, epoch);
    assert.deepEqual(fresh.append([result(2)]).map((r) => r.seq), [1], "numbering starts again");
  } finally {
    fresh.close();
  }
});

Deno.test("task IDs are made of the epoch and the sequence number: distinct within an epoch and from a new one's", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/spool.db`;
  const first = Spool.open(path);
  const ids = first.append([result(1), result(2)]).map((r) => r.taskId);
  const epoch = first.epoch;
  first.close();
  assert.deepEqual(ids, [taskIdOf(epoch, 1), taskIdOf(epoch, 2)]);
  assert.match(ids[0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-0{11}1$/);
  for (const f of ["", "-wal", "-shm"]) await Deno.remove(path + f).catch(() => {});
  const fresh = Spool.open(path);
  try {
    const [again] = fresh.append([result(3)]);
    assert.equal(again!.seq, 1);
    assert.notEqual(again!.taskId, ids[0], "seq 1 of a new epoch is another task");
  } finally {
    fresh.close();
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

/** A tmpfs of `size` mounted on a fresh directory; unmounted on dispose. */
async function smallDisk(size: string): Promise<{ path: string } & AsyncDisposable> {
  const tmp = await tempDir();
  const run = async (cmd: string, ...args: string[]) => {
    const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
    if (!out.success) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
  };
  await run("mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", tmp.path);
  return {
    path: tmp.path,
    async [Symbol.asyncDispose]() {
      await run("umount", tmp.path).catch(() => {});
      await tmp[Symbol.asyncDispose]();
    },
  };
}

Deno.test({
  name:
    "on a full disk the spool keeps numbering, holds results in memory, forgets acked ones and writes the rest once space returns",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await using disk = await smallDisk("1m");
    const path = `${disk.path}/spool.db`;
    const events: (string | null)[] = [];
    const spool = Spool.open(path, { onDiskFull: (full) => events.push(full) });
    // leave the spool little room
    const filler = `${disk.path}/filler`;
    await Deno.writeFile(filler, new Uint8Array(700 * 1024)).catch(() => {});
    let seq = 0;
    for (let i = 0; i < 4000 && spool.diskFull === null; i++) {
      const out = spool.append([result(i), result(i)]);
      assert.deepEqual(out.map((r) => r.seq), [seq + 1, seq + 2]);
      seq += 2;
    }
    assert.equal(spool.diskFull, `disk full at ${path}`, "the disk filled up");
    assert.deepEqual(events, [`disk full at ${path}`]);
    // numbering stays true while full
    for (let i = 0; i < 50; i++) {
      assert.deepEqual(spool.append([result(i)]).map((r) => r.seq), [++seq]);
    }
    assert.equal(spool.lastSeq, seq);
    assert.equal(spool.pending, seq, "nothing lost, nothing dropped");
    assert.equal(spool.report().dropped, 0);
    // the newest are served from memory and can be acknowledged from there
    const tail = spool.readFrame(seq - 10, seq, 100, 1 << 20)!;
    assert.deepEqual([tail.from, tail.to, tail.count], [seq - 9, seq, 10]);
    spool.ack(tail.from, tail.to);
    // and so can the oldest, whose rows cannot be deleted while the disk is full
    const head = spool.readFrame(0, seq, 20, 1 << 20)!;
    spool.ack(head.from, head.to);
    assert.equal(spool.pending, seq - 30);
    assert.equal(spool.readFrame(0, seq, 20, 1 << 20)!.from, 21, "acked rows are not sent again");

    await Deno.remove(filler);
    await new Promise((r) => setTimeout(r, 1100)); // the retry waits a second
    spool.append([result(0)]);
    seq++;
    assert.equal(spool.diskFull, null, "writing resumes once space returns");
    assert.deepEqual(events, [`disk full at ${path}`, null]);
    assert.equal(spool.pending, seq - 30);
    spool.close();

    const again = Spool.open(path);
    try {
      assert.equal(again.lastSeq, seq, "the sequence counter is true on disk");
      assert.equal(again.pending, seq - 30, "every unacknowledged result is on disk");
      const held = heldAfter(again, 0, 500);
      assert.equal(held[0]!.seq, 21);
      assert.equal(again.readFrame(seq - 11, seq, 100, 1 << 20)!.to, seq, "the newest is there");
      assert.equal(again.readFrame(seq - 11, seq - 1, 100, 1 << 20), null, "acked from memory");
    } finally {
      again.close();
    }
  },
});

Deno.test({
  name:
    "on a full disk the spool's memory is bounded: the oldest held there are dropped and counted",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await using disk = await smallDisk("512k");
    const path = `${disk.path}/spool.db`;
    const size = JSON.stringify({ seq: 1, ...result(1) }).length;
    const spool = Spool.open(path, { memoryMaxBytes: size * 100 });
    try {
      let n = 0;
      while (spool.diskFull === null && n < 20_000) spool.append([result(n++)]);
      assert.ok(spool.diskFull, "the disk filled up");
      const onDisk = spool.pending;
      for (let i = 0; i < 500; i++) spool.append([result(i)]);
      assert.equal(spool.lastSeq, n + 500);
      assert.ok(spool.dropped > 0, "memory overflowed");
      assert.equal(spool.pending + spool.dropped, spool.lastSeq, "every result held or counted");
      assert.ok(spool.pending - onDisk <= 100);
    } finally {
      spool.close();
    }
  },
});

Deno.test("results sent and not yet acknowledged are never dropped for space", async () => {
  await using tmp = await tempDir();
  const size = JSON.stringify({ seq: 1, ...result(1) }).length;
  const spool = Spool.open(`${tmp.path}/spool.db`, { maxBytes: size * 10 });
  try {
    spool.append(Array.from({ length: 5 }, (_, i) => result(i)));
    spool.markSent(1, 3); // the manager may have stored these
    for (let i = 0; i < 20; i++) spool.append([result(i)]);
    const held = heldAfter(spool, 0, 100).map((r) => r.seq);
    assert.deepEqual(held.slice(0, 3), [1, 2, 3], "the sent ones stay");
    assert.ok(spool.dropped > 0 && !held.includes(4), "older unsent ones went");
    spool.ack(1, 2);
    spool.ack(3, 3);
    for (let i = 0; i < 20; i++) spool.append([result(i)]);
    assert.ok(!heldAfter(spool, 0, 100).some((r) => r.seq <= 3), "acked, nothing left to keep");
    assert.equal(
      spool.pending + spool.dropped + 3,
      spool.lastSeq,
      "every result held, acked or dropped",
    );
  } finally {
    spool.close();
  }
});
