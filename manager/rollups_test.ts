import assert from "node:assert/strict";
import type { CheckResult } from "../shared/checks.ts";
import { tempDir } from "../tests/helpers/proc.ts";
import { ResultStore } from "./store.ts";
import { History, HistoryQueryError } from "./rollups.ts";

const MIN = 60_000;
const HOUR = 3_600_000;

let seq = 0;

function result(
  checkId: string,
  monitorId: string,
  startedAt: number,
  latencyMs: number | null,
  up = true,
): CheckResult {
  const [target, type] = checkId.split("/") as [string, CheckResult["type"]];
  return {
    seq: ++seq,
    taskId: crypto.randomUUID(),
    monitorId,
    checkId,
    target,
    type,
    startedAt,
    durationMs: 1,
    up,
    latencyMs,
    summary: "x",
    metrics: { probe_success: up ? 1 : 0 },
  };
}

function open() {
  const store = ResultStore.open(":memory:");
  return { store, history: new History(store), [Symbol.dispose]: () => store.close() };
}

Deno.test("rollup computes count, failures and min/avg/max/p95 per minute and hour", () => {
  using s = open();
  const t0 = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  // 20 results in one minute: latencies 1..19 ms and one failure without latency
  const rs = Array.from({ length: 19 }, (_, i) => result("web/HTTP", "m1", t0 + i * 1000, i + 1));
  rs.push(result("web/HTTP", "m1", t0 + 30_000, null, false));
  rs.push(result("web/HTTP", "m1", t0 + 5 * MIN, 100));
  s.store.add(rs, "one");
  assert.equal(s.history.rollup(), 21, "every new result is covered");
  const minutes = s.history.rollups("minute").items;
  assert.equal(minutes.length, 2);
  assert.deepEqual(
    { ...minutes[0], avgMs: Math.round(minutes[0]!.avgMs!) },
    {
      checkId: "web/HTTP",
      target: "web",
      type: "HTTP",
      monitorId: "m1",
      monitorName: "one",
      start: t0,
      count: 20,
      failures: 1,
      minMs: 1,
      avgMs: 10,
      maxMs: 19,
      p95Ms: 19,
    },
  );
  const [hour] = s.history.rollups("hour").items;
  assert.equal(hour!.count, 21);
  assert.equal(hour!.failures, 1);
  assert.equal(hour!.maxMs, 100);
  assert.equal(s.history.rollup(), 0, "nothing is new after a rollup");
});

Deno.test("a late result is rolled into its own minute", () => {
  using s = open();
  const t0 = Math.floor(Date.now() / MIN) * MIN - 10 * MIN;
  s.store.add([result("a/TCP", "m1", t0, 5)], "one");
  s.history.rollup();
  s.store.add([result("a/TCP", "m1", t0 + 1000, 7, false)], "one");
  s.history.rollup();
  const [m] = s.history.rollups("minute").items;
  assert.equal(m!.count, 2);
  assert.equal(m!.failures, 1);
  assert.equal(m!.maxMs, 7);
});

Deno.test("prune drops raw results and rollups past their retention", () => {
  const store = ResultStore.open(":memory:");
  const history = new History(store, { rawMs: 2 * HOUR, minuteMs: 3 * HOUR, hourMs: 10 * HOUR });
  try {
    const now = Date.now();
    store.add([
      result("a/TCP", "m1", now - 5 * HOUR, 1),
      result("a/TCP", "m1", now - HOUR, 1),
    ], "one");
    // roll up while the old result is still within the raw retention
    const early = new History(store, { rawMs: 100 * HOUR });
    early.rollup();
    assert.equal(history.prune(now), 1);
    assert.equal(store.count(), 1);
    assert.equal(history.rollups("minute").items.length, 1, "the 5 h old minute is gone");
    assert.equal(history.rollups("hour").items.length, 2, "hours are kept for 10 h");
  } finally {
    store.close();
  }
});

Deno.test("results page by cursor without repeats and filter by target, type and monitor", () => {
  using s = open();
  const t0 = Date.now() - HOUR;
  const rs = Array.from({ length: 25 }, (_, i) => result("web/HTTP", "m1", t0 + i * 1000, i));
  rs.push(result("dns/DNS", "m2", t0, 3));
  s.store.add(rs.slice(0, 25), "one");
  s.store.add(rs.slice(25), "two");
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 10; i++) {
    const page = s.history.results({ target: "web", limit: 10, cursor });
    seen.push(...page.items.map((r) => r.taskId));
    if (!page.next) break;
    cursor = page.next;
  }
  assert.equal(seen.length, 25);
  assert.equal(new Set(seen).size, 25);
  assert.deepEqual(s.history.results({ monitor: "two" }).items.map((r) => r.checkId), ["dns/DNS"]);
  assert.deepEqual(s.history.results({ type: "DNS" }).items.map((r) => r.monitorName), ["two"]);
  assert.equal(s.history.results({ target: "nothing" }).items.length, 0);
  assert.throws(() => s.history.results({ cursor: "bogus" }), HistoryQueryError);
  assert.throws(() => s.history.results({ limit: 0 }), HistoryQueryError);
});

Deno.test("chart picks raw, minute or hour points by range, one line per monitor", () => {
  using s = open();
  const now = Date.now();
  s.store.add([result("web/HTTP", "m1", now - 10 * MIN, 4)], "one");
  s.store.add([result("web/HTTP", "m2", now - 10 * MIN, 6, false)], "two");
  s.history.rollup();
  const raw = s.history.chart("web/HTTP", now - HOUR, now);
  assert.equal(raw.resolution, "raw");
  assert.deepEqual(raw.series.map((x) => [x.monitorName, x.points.length]), [["one", 1], [
    "two",
    1,
  ]]);
  assert.deepEqual(raw.series[1]!.points[0]!.slice(1), [6, 1]);
  assert.equal(s.history.chart("web/HTTP", now - 24 * HOUR, now).resolution, "minute");
  const month = s.history.chart("web/HTTP", now - 30 * 24 * HOUR, now);
  assert.equal(month.resolution, "hour");
  assert.equal(month.series[0]!.points.length, 1);
});

Deno.test("uptime is the share of up results over 24 h, 7 d and 30 d", () => {
  using s = open();
  const now = Date.now();
  s.store.add([
    result("a/TCP", "m1", now - 2 * MIN, 1),
    result("a/TCP", "m1", now - 3 * MIN, 1),
    result("a/TCP", "m1", now - 4 * MIN, 1),
    result("a/TCP", "m1", now - 3 * 24 * HOUR, null, false),
  ], "one");
  s.history.rollup();
  const [u] = [...s.history.uptime(now).values()];
  assert.equal(u!.h24, 100);
  assert.equal(u!.d7, 75);
  assert.equal(u!.d30, 75);
});

Deno.test("a backlog of new results is rolled up a batch at a time", () => {
  using s = open();
  const t0 = Math.floor(Date.now() / MIN) * MIN - 10 * MIN;
  s.store.add([0, 1, 2].map((i) => result("a/TCP", "m1", t0 + i * MIN, 1)), "one");
  assert.equal(s.history.rollup(2), 2);
  assert.equal(s.history.rollups("minute").items.length, 2);
  assert.equal(s.history.rollup(2), 1);
  assert.equal(s.history.rollup(2), 0);
  assert.equal(s.history.rollups("minute").items.length, 3);
});

Deno.test("rollup resumes after a reopen where the last pass stopped", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/netmon.db`;
  const t0 = Math.floor(Date.now() / MIN) * MIN - 10 * MIN;
  const first = ResultStore.open(path);
  first.add([0, 1].map((i) => result("a/TCP", "m1", t0 + i * MIN, 1)), "one");
  assert.equal(new History(first).rollup(), 2);
  first.add([result("a/TCP", "m1", t0 + 2 * MIN, 1)], "one");
  first.close();
  const again = ResultStore.open(path);
  try {
    const history = new History(again);
    assert.equal(history.rollup(), 1, "only the result stored after the last pass is new");
    assert.equal(history.rollups("minute").items.length, 3);
  } finally {
    again.close();
  }
});

Deno.test("results stored after pruning emptied the store are still rolled up", () => {
  const store = ResultStore.open(":memory:");
  const history = new History(store, { rawMs: HOUR });
  try {
    const now = Date.now();
    store.add([result("a/TCP", "m1", now - 10 * MIN, 1)], "one");
    assert.equal(history.rollup(), 1);
    assert.equal(history.prune(now + 2 * HOUR), 1);
    assert.equal(store.count(), 0);
    store.add([result("a/TCP", "m1", now - 5 * MIN, 1)], "one");
    assert.equal(history.rollup(), 1);
  } finally {
    store.close();
  }
});

Deno.test("an hour's rollup combines its minutes", () => {
  using s = open();
  const h = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  s.store.add([
    result("a/TCP", "m1", h + MIN, 10),
    result("a/TCP", "m1", h + MIN + 1000, 20, false),
    result("a/TCP", "m1", h + 30 * MIN, 60),
  ], "one");
  s.history.rollup();
  const [hour] = s.history.rollups("hour").items;
  assert.deepEqual(
    [hour!.count, hour!.failures, hour!.minMs, hour!.avgMs, hour!.maxMs, hour!.p95Ms],
    [3, 1, 10, 30, 60, 60],
  );
});
