import assert from "node:assert/strict";
import type { CheckResult } from "../shared/checks.ts";
import { tempDir } from "../tests/helpers/proc.ts";
import { smallDisk } from "../tests/helpers/full_disk.ts";
import { ResultStore, StoreFullError } from "./store.ts";

const MONITOR = "00000000-0000-4000-8000-000000000001";

function result(seq: number, monitorId = MONITOR): CheckResult {
  return {
    seq,
    taskId: crypto.randomUUID(),
    monitorId,
    checkId: "example/TCP",
    target: "example",
    type: "TCP",
    startedAt: 1_700_000_000_000 + seq * 1000,
    durationMs: 2,
    up: seq % 2 === 0,
    summary: `run ${seq}`,
    latencyMs: seq % 2 === 0 ? 2 : null,
    metrics: { probe_success: seq % 2 === 0 ? 1 : 0 },
    details: { port: seq },
  };
}

Deno.test("store keeps a result once when it arrives twice", () => {
  const store = ResultStore.open(":memory:");
  try {
    const [r1, r2, r3] = [result(1), result(2), result(3)];
    assert.deepEqual(store.add([r1!, r2!], "m"), [r1, r2]);
    assert.deepEqual(store.add([r2!, r3!], "m"), [r3], "only the new one is reported");
    assert.deepEqual(store.add([r1!], "m"), []);
    assert.equal(store.count(), 3);
  } finally {
    store.close();
  }
});

Deno.test("store reports the highest sequence number per monitor", () => {
  const store = ResultStore.open(":memory:");
  try {
    const other = "00000000-0000-4000-8000-000000000002";
    assert.equal(store.maxSeq(MONITOR), 0);
    store.add([result(1), result(2), result(7, other)], "m");
    assert.equal(store.maxSeq(MONITOR), 2);
    assert.equal(store.maxSeq(other), 7);
  } finally {
    store.close();
  }
});

Deno.test("stored results come back whole, with their original start times, after a reopen", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/netmon.db`;
  const written = [result(1), result(2)];
  const store = ResultStore.open(path);
  store.add(written, "m");
  store.close();
  const again = ResultStore.open(path);
  try {
    const back = again.results({ monitorId: MONITOR }).sort((a, b) => a.seq - b.seq);
    assert.deepEqual(back, written.map((r) => ({ ...r, monitorName: "m" })));
  } finally {
    again.close();
  }
});

Deno.test("results stored before a SIGKILL survive it", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/netmon.db`;
  const store = new URL("./store.ts", import.meta.url).href;
  // a writer that stores in batches and says so, then is killed mid-stream
  const script = `
    import { ResultStore } from ${JSON.stringify(store)};
    const s = ResultStore.open(${JSON.stringify(path)});
    for (let seq = 1; ; seq++) {
      s.add([{ seq, taskId: crypto.randomUUID(), monitorId: ${JSON.stringify(MONITOR)},
        checkId: "x/TCP", target: "x", type: "TCP", startedAt: Date.now(), durationMs: 1,
        up: true, summary: "ok", latencyMs: 1, metrics: {}, details: {} }], "m");
      console.log(seq);
      if (seq % 100 === 0) await new Promise((r) => setTimeout(r, 1));
    }
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let acknowledged = 0;
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (acknowledged < 500) {
    const { value, done } = await lines.read();
    if (done) break;
    buf += value;
    const complete = buf.split("\n");
    buf = complete.pop()!;
    if (complete.length > 0) acknowledged = Number(complete[complete.length - 1]);
  }
  child.kill("SIGKILL");
  await lines.cancel();
  await child.status;
  assert.ok(acknowledged >= 500, "the writer stored results before it was killed");
  const again = ResultStore.open(path);
  try {
    assert.ok(again.maxSeq(MONITOR) >= acknowledged, "every result reported stored is there");
    assert.equal(again.count(), again.maxSeq(MONITOR));
  } finally {
    again.close();
  }
});

Deno.test("paused checks survive a reopen of the store and resume removes them", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/netmon.db`;
  const first = ResultStore.open(path);
  first.setPaused(["web/HTTP", "web/TCP"], true);
  first.setPaused(["web/HTTP"], true);
  first.close();
  const again = ResultStore.open(path);
  assert.deepEqual(again.pausedChecks(), ["web/HTTP", "web/TCP"]);
  again.setPaused(["web/TCP"], false);
  assert.deepEqual(again.pausedChecks(), ["web/HTTP"]);
  again.close();
});

Deno.test("a full disk: StoreFullError, nothing of the batch stored, new series usable once space returns", async () => {
  await using disk = await smallDisk(2048);
  const path = `${disk.path}/netmon.db`;
  const store = ResultStore.open(path);
  const changes: (string | null)[] = [];
  store.onDiskFull((full) => changes.push(full));
  try {
    store.add([result(1)], "m");
    await disk.fill();
    // each batch brings a new series (check, monitor) besides the known one, and a rename
    const held: CheckResult[][] = [];
    let seq = 2;
    for (let i = 0; i < 40 && held.length < 3; i++) {
      const batch = Array.from({ length: 100 }, (_, j) => {
        const r = result(seq++);
        return j < 50 ? r : { ...r, checkId: `new${i}/TCP`, target: `new${i}` };
      });
      try {
        store.add(batch, i % 2 ? "m" : "renamed");
      } catch (e) {
        assert.ok(e instanceof StoreFullError, `not a StoreFullError: ${e}`);
        assert.equal(e.message, `disk full at ${path}`);
        assert.equal(e.path, path);
        held.push(batch);
      }
    }
    assert.equal(held.length, 3, "the disk never filled");
    assert.equal(store.diskFull, path);
    const before = store.count();
    await disk.free();
    for (const batch of held) assert.equal(store.add(batch, "m").length, 100);
    assert.equal(store.diskFull, null);
    assert.deepEqual(changes, [path, null]);
    assert.equal(store.count(), before + 300);
    assert.equal(store.maxSeq(MONITOR), held.at(-1)!.at(-1)!.seq);
    // names as the last successful write left them
    const names = store.db.prepare("SELECT DISTINCT monitor_name AS n FROM series").all()
      .map((r) => String(r.n));
    assert.deepEqual(names, ["m"]);
  } finally {
    store.close();
  }
});
