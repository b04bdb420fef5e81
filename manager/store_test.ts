import assert from "node:assert/strict";
import type { CheckResult } from "../shared/checks.ts";
import { tempDir } from "../tests/helpers/proc.ts";
import { smallDisk } from "../tests/helpers/full_disk.ts";
import { type StoredResult, StoreFullError, StoreOpenError } from "./store.ts";
import { SQLITE_SCHEMA_VERSION, SqliteStore } from "./store/sqlite.ts";
import { openStore, storeKind } from "./store/open.ts";
import { DatabaseSync } from "node:sqlite";
import { taskIdOf } from "../shared/task_id.ts";

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

Deno.test("results stored before a SIGKILL survive it", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/netmon.db`;
  const store = new URL("./store.ts", import.meta.url).href;
  // a writer that stores in batches and says so, then is killed mid-stream
  const script = `
    import { openStore } from ${JSON.stringify(store)};
    const s = await openStore(${JSON.stringify(path)});
    for (let seq = 1; ; seq++) {
      await s.add([{ seq, taskId: crypto.randomUUID(), monitorId: ${JSON.stringify(MONITOR)},
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
  const again = await openStore(path);
  try {
    assert.ok(await again.maxSeq(MONITOR) >= acknowledged, "every result reported stored is there");
    assert.equal(await again.count(), await again.maxSeq(MONITOR));
  } finally {
    await again.close();
  }
});

Deno.test("a full disk: StoreFullError, nothing of the batch stored, new series usable once space returns", async () => {
  await using disk = await smallDisk(2048);
  const path = `${disk.path}/netmon.db`;
  const store = SqliteStore.open(path);
  const changes: (string | null)[] = [];
  store.onDiskFull((full) => changes.push(full));
  try {
    await store.add([result(1)], "m");
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
        await store.add(batch, i % 2 ? "m" : "renamed");
      } catch (e) {
        assert.ok(e instanceof StoreFullError, `not a StoreFullError: ${e}`);
        assert.equal(e.message, `disk full at ${path}`);
        assert.equal(e.path, path);
        held.push(batch);
      }
    }
    assert.equal(held.length, 3, "the disk never filled");
    assert.equal(store.diskFull, path);
    const before = await store.count();
    await disk.free();
    for (const batch of held) assert.equal((await store.add(batch, "m")).length, 100);
    assert.equal(store.diskFull, null);
    assert.deepEqual(changes, [path, null]);
    assert.equal(await store.count(), before + 300);
    assert.equal(await store.maxSeq(MONITOR), held.at(-1)!.at(-1)!.seq);
    // names as the last successful write left them
    assert.deepEqual([...new Set((await store.series()).map((s) => s.monitorName))], ["m"]);
  } finally {
    await store.close();
  }
});

Deno.test("a store file made before schema versions opens, migrates to the current version and keeps everything", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/netmon.db`;
  // made by the netmon of commit d873ccf (results, an epoch, rollups, a pause, an open incident)
  await Deno.copyFile(new URL("../tests/fixtures/store/v0.db", import.meta.url), path);
  const before = new DatabaseSync(path);
  const hadVersion = before.prepare(
    "SELECT count(*) AS n FROM sqlite_master WHERE name = 'schema_version'",
  ).get() as { n: number };
  before.close();
  assert.equal(hadVersion.n, 0, "the fixture predates schema versions");
  const store = await openStore(path);
  try {
    assert.equal(store.schemaVersion, SQLITE_SCHEMA_VERSION);
    assert.equal(await store.count(), 7);
    assert.deepEqual(await store.pausedChecks(), ["db/TCP"]);
    assert.deepEqual((await store.incidents({ open: true })).map((i) => i.id), ["inc-1"]);
    const page = await store.results({ checkId: "web/HTTP" });
    assert.equal(page.items.length, 6);
    assert.equal(page.items.find((r) => r.seq === 3)!.error, "connection refused");
    const [minute] = (await store.rollups("minute", { checkId: "web/HTTP" })).items;
    assert.ok(minute && minute.count > 0, "the old rollups are read");
    // a replay of an old result is still recognised: same series, epoch and number
    const epoch = await store.epochId("epoch-a");
    const replay = { ...page.items[0]! } as Partial<typeof page.items[0]>;
    delete replay.monitorName;
    assert.deepEqual(await store.add([replay as CheckResult], "alpha", epoch), []);
    assert.equal(
      (await store.add([{ ...result(99), monitorId: "m-1" }], "alpha", epoch)).length,
      1,
    );
  } finally {
    await store.close();
  }
  const again = await openStore(path);
  assert.equal(again.schemaVersion, SQLITE_SCHEMA_VERSION, "a second open has nothing to migrate");
  await again.close();
});

Deno.test("a schema 2 store migrates to the compact layout and answers every query as before", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/netmon.db`;
  // made by the netmon of commit 56dfdf2 (schema 2) from 40 results of two checks in two
  // epochs: task IDs that are and are not UUIDs, varying summaries, errors, details, a NaN,
  // a -0 and an unsafe integer among the metrics; v2.json is what that netmon answered
  await Deno.copyFile(new URL("../tests/fixtures/store/v2.db", import.meta.url), path);
  const want = JSON.parse(
    await Deno.readTextFile(new URL("../tests/fixtures/store/v2.json", import.meta.url)),
  );
  const before = new DatabaseSync(path);
  const version = before.prepare("SELECT version FROM schema_version").get() as { version: number };
  const ids = before.prepare("SELECT id FROM result_rows ORDER BY id").all().map((r) => r.id);
  before.close();
  assert.equal(version.version, 2);
  const store = await openStore(path);
  try {
    assert.equal(store.schemaVersion, SQLITE_SCHEMA_VERSION);
    assert.equal(await store.count(), 40);
    // JSON, as the API sends them: a NaN read as null before and after
    const json = <T>(x: T): T => JSON.parse(JSON.stringify(x));
    // schema 4 keeps durations in whole microseconds, and nothing else changes
    const asStored = (r: StoredResult): StoredResult => ({
      ...r,
      durationMs: Math.round(r.durationMs * 1000) / 1000,
    });
    assert.deepEqual(
      json((await store.results({ limit: 10000 })).items),
      want.results.map(asStored),
    );
    assert.deepEqual(json((await store.rollups("minute", { limit: 10000 })).items), want.minute);
    assert.deepEqual(json((await store.rollups("hour", { limit: 10000 })).items), want.hour);
    assert.deepEqual(json(await store.latest()), want.latest.map(asStored));
    assert.deepEqual(await store.pausedChecks(), ["db/TCP"]);
    const nan = (await store.results({ limit: 10000 })).items.find((r) => r.seq === 10)!;
    assert.equal(nan.metrics.weird, null, "a NaN stored as JSON null reads as null");
    // a replay of a migrated result is still recognised: same series, epoch and number
    const epoch = await store.epochId("epoch-a");
    const replay = { ...(await store.results({ limit: 1 })).items[0]! } as Partial<StoredResult>;
    delete replay.monitorName;
    assert.deepEqual(await store.add([replay as CheckResult], "alpha", epoch), []);
    // the results view of sqlite3 users still reads, task IDs as text
    const view = new DatabaseSync(path, { readOnly: true });
    const rows = view.prepare("SELECT id, task_id, summary, error FROM results ORDER BY id").all();
    view.close();
    assert.deepEqual(rows.map((r) => r.id), ids, "every row keeps its ID");
    const byTask = new Map(want.results.map((r: StoredResult) => [r.taskId, r]));
    for (const r of rows) {
      const w = byTask.get(String(r.task_id)) as StoredResult | undefined;
      assert.ok(w, `task ${r.task_id} reads back through the view`);
      assert.equal(r.summary, w.summary);
      assert.equal(r.error, w.error ?? null);
    }
  } finally {
    await store.close();
  }
});

Deno.test("a store of a newer schema is refused with both versions named", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/netmon.db`;
  await (await openStore(path)).close();
  const db = new DatabaseSync(path);
  db.exec("UPDATE schema_version SET version = 99");
  db.close();
  await assert.rejects(
    openStore(path),
    (e: Error) =>
      e instanceof StoreOpenError &&
      new RegExp(`schema version 99, newer than this netmon.s ${SQLITE_SCHEMA_VERSION}`).test(
        e.message,
      ),
  );
});

Deno.test("--db: a path is SQLite, postgres:// and postgresql:// are PostgreSQL, another scheme is refused by name", () => {
  assert.deepEqual(storeKind("data/netmon.db"), { engine: "sqlite", path: "data/netmon.db" });
  assert.deepEqual(storeKind("C:netmon.db"), { engine: "sqlite", path: "C:netmon.db" });
  assert.deepEqual(storeKind("postgres://u@h:1/d"), {
    engine: "postgres",
    url: "postgres://u@h:1/d",
  });
  assert.deepEqual(storeKind("postgresql://h/d").engine, "postgres");
  assert.deepEqual(storeKind("postgres:"), { engine: "postgres", url: null });
  assert.throws(
    () => storeKind("mysql://h/d"),
    (e: Error) => e instanceof StoreOpenError && e.message.includes("--db mysql:// is not a store"),
  );
});

Deno.test("a store reopened on more series than a statement takes parameters answers latest() for all of them", async () => {
  // the latest result of 33,000 series names 33,000 shapes, over SQLite's 32,766 parameters: a
  // manager restarting on a 5,000-monitor store read them in one statement and crashed
  await using dir = await tempDir();
  const path = `${dir.path}/many.db`;
  const series = 33_000;
  const store = SqliteStore.open(path);
  try {
    for (let i = 0; i < series; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, series - i) }, (_, k) => ({
        ...result(i + k + 1),
        checkId: `target-${i + k}/TCP`,
        target: `target-${i + k}`,
      }));
      await store.add(batch, "m");
    }
  } finally {
    await store.close();
  }
  const again = await openStore(path);
  try {
    const latest = await again.latest();
    assert.equal(latest.length, series);
    const bySeq = new Map(latest.map((r) => [r.seq, r]));
    for (const seq of [1, 2, 16_500, series]) {
      assert.equal(bySeq.get(seq)?.summary, `run ${seq}`);
      assert.equal(bySeq.get(seq)?.checkId, `target-${seq - 1}/TCP`);
    }
  } finally {
    await again.close();
  }
});

Deno.test("a task ID made of its spool epoch is stored in no bytes and comes back whole, in the API and the results view", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/netmon.db`;
  const spoolEpoch = crypto.randomUUID();
  const made = [1, 2].map((seq) => ({ ...result(seq), taskId: taskIdOf(spoolEpoch, seq)! }));
  const random = { ...result(3), taskId: crypto.randomUUID() };
  const store = await openStore(path);
  try {
    const epoch = await store.epochId(spoolEpoch);
    await store.add([...made, random], "m", epoch);
  } finally {
    await store.close();
  }
  // read by a store that has not seen the epoch yet
  const again = await openStore(path);
  try {
    const back = (await again.results()).items;
    assert.deepEqual(
      back.map((r) => r.taskId).sort(),
      [...made, random].map((r) => r.taskId).sort(),
    );
  } finally {
    await again.close();
  }
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const lengths = db.prepare("SELECT seq, length(task) AS n FROM result_rows ORDER BY seq").all()
      .map((r) => [Number(r.seq), Number(r.n)]);
    assert.deepEqual(lengths, [[1, 0], [2, 0], [3, 16]]);
    const view = db.prepare("SELECT task_id FROM results ORDER BY seq").all().map((r) => r.task_id);
    assert.deepEqual(view, [...made, random].map((r) => r.taskId));
  } finally {
    db.close();
  }
});

Deno.test("a latency of whole microseconds is stored as an integer, any other as measured; both read back exactly", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/netmon.db`;
  const whole = {
    ...result(2),
    latencyMs: 1.235,
    durationMs: 3.5,
    metrics: { a_seconds: 0.001235 },
  };
  const raw = {
    ...result(4),
    latencyMs: 1.23456789,
    durationMs: 3.25,
    metrics: { a_seconds: 1.23456789 / 1000 },
  };
  const store = await openStore(path);
  try {
    await store.add([whole, raw], "m");
    const back = new Map((await store.results()).items.map((r) => [r.seq, r]));
    for (const want of [whole, raw]) {
      const got = back.get(want.seq)!;
      assert.equal(got.latencyMs, want.latencyMs);
      assert.equal(got.durationMs, want.durationMs);
      assert.deepEqual(got.metrics, want.metrics);
    }
  } finally {
    await store.close();
  }
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare(
      "SELECT seq, typeof(latency_us) AS us, typeof(latency_raw) AS raw, latency_ms FROM result_rows ORDER BY seq",
    ).all().map((r) => [Number(r.seq), r.us, r.raw, r.latency_ms]);
    assert.deepEqual(rows, [[2, "integer", "null", 1.235], [4, "null", "real", 1.23456789]]);
  } finally {
    db.close();
  }
});
