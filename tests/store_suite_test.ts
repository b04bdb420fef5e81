/**
 * The store's test suite, run on both engines: embedded SQLite and a real
 * PostgreSQL (`helpers/postgres.ts`, one server for the file, one database
 * per case). Every case reaches the store only through the `Store`
 * interface (and `History`, which schedules rollups over it).
 */
import assert from "node:assert/strict";
import type { CheckResult } from "../shared/checks.ts";
import { openStore, type Store } from "../manager/store.ts";
import { History, HistoryQueryError } from "../manager/rollups.ts";
import { tempDir } from "./helpers/proc.ts";
import { startPostgres } from "./helpers/postgres.ts";

const MIN = 60_000;
const HOUR = 3_600_000;
const MONITOR = "00000000-0000-4000-8000-000000000001";

/** Opens the store called `name` of the engine under test; the same name reopens the same store. */
type Open = (name: string) => Promise<Store>;

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
    durationMs: 1.5,
    up,
    latencyMs,
    summary: "x",
    metrics: { probe_success: up ? 1 : 0 },
  };
}

function numbered(n: number, monitorId = MONITOR): CheckResult {
  return {
    seq: n,
    taskId: crypto.randomUUID(),
    monitorId,
    checkId: "example/TCP",
    target: "example",
    type: "TCP",
    startedAt: 1_700_000_000_000 + n * 1000,
    durationMs: 2,
    up: n % 2 === 0,
    summary: `run ${n}`,
    latencyMs: n % 2 === 0 ? 2.25 : null,
    metrics: { probe_success: n % 2 === 0 ? 1 : 0 },
    details: { port: n },
    ...(n % 2 === 0 ? {} : { error: "connection refused" }),
  };
}

const CASES: [string, (open: Open) => Promise<void>][] = [
  ["keeps a result once when it arrives twice, also within one batch", async (open) => {
    const store = await open("a");
    try {
      const [r1, r2, r3] = [numbered(1), numbered(2), numbered(3)];
      assert.deepEqual(await store.add([r1!, r2!], "m"), [r1, r2]);
      assert.deepEqual(await store.add([r2!, r3!, r3!], "m"), [r3], "only the new one is reported");
      assert.deepEqual(await store.add([r1!], "m"), []);
      assert.equal(await store.count(), 3);
      // a new spool epoch numbers from 1 again: new results
      const e = await store.epochId("fresh-spool");
      assert.equal(await store.epochId("fresh-spool"), e);
      assert.notEqual(e, 0);
      assert.equal((await store.add([r1!], "m", e)).length, 1);
    } finally {
      await store.close();
    }
  }],
  ["reports the highest sequence number per monitor", async (open) => {
    const store = await open("a");
    try {
      const other = "00000000-0000-4000-8000-000000000002";
      assert.equal(await store.maxSeq(MONITOR), 0);
      await store.add([numbered(1), numbered(2), numbered(7, other)], "m");
      assert.equal(await store.maxSeq(MONITOR), 2);
      assert.equal(await store.maxSeq(other), 7);
    } finally {
      await store.close();
    }
  }],
  ["results come back whole after a reopen; a batch of 1,200 is stored in one go", async (open) => {
    const written = Array.from({ length: 1200 }, (_, i) => numbered(i + 1));
    const first = await open("a");
    assert.equal((await first.add(written, "m")).length, 1200);
    assert.equal(first.schemaVersion >= 1, true);
    await first.close();
    const again = await open("a");
    try {
      const back = (await again.results({ monitor: MONITOR, limit: 10_000 })).items
        .sort((a, b) => a.seq - b.seq);
      assert.deepEqual(back, written.map((r) => ({ ...r, monitorName: "m" })));
      assert.ok((await again.bytes()) > 0);
    } finally {
      await again.close();
    }
  }],
  ["a monitor shown under a new name renames its series", async (open) => {
    const store = await open("a");
    try {
      await store.add([numbered(1)], "old");
      await store.add([numbered(2)], "new");
      assert.deepEqual((await store.series()).map((s) => s.monitorName), ["new"]);
      assert.deepEqual((await store.latest()).map((r) => [r.seq, r.monitorName]), [[2, "new"]]);
    } finally {
      await store.close();
    }
  }],
  ["paused checks survive a reopen; resume and save replace them", async (open) => {
    const first = await open("a");
    await first.setPaused(["web/HTTP", "web/TCP"], true);
    await first.setPaused(["web/HTTP"], true);
    await first.close();
    const again = await open("a");
    try {
      assert.deepEqual(await again.pausedChecks(), ["web/HTTP", "web/TCP"]);
      await again.setPaused(["web/TCP"], false);
      assert.deepEqual(await again.pausedChecks(), ["web/HTTP"]);
      await again.savePaused(["a/DNS", "web/HTTP"]);
      assert.deepEqual(await again.pausedChecks(), ["a/DNS", "web/HTTP"]);
      await again.savePaused([]);
      assert.deepEqual(await again.pausedChecks(), []);
    } finally {
      await again.close();
    }
  }],
  ["rollup computes count, failures and min/avg/max/p95 per minute and hour", async (open) => {
    const store = await open("a");
    const history = new History(store);
    try {
      const t0 = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
      // 20 results in one minute: latencies 1..19 ms and one failure without latency
      const rs = Array.from(
        { length: 19 },
        (_, i) => result("web/HTTP", "m1", t0 + i * 1000, i + 1),
      );
      rs.push(result("web/HTTP", "m1", t0 + 30_000, null, false));
      rs.push(result("web/HTTP", "m1", t0 + 5 * MIN, 100));
      await store.add(rs, "one");
      assert.equal(await history.rollup(), 21, "every new result is covered");
      const minutes = (await history.rollups("minute")).items;
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
      const [hour] = (await history.rollups("hour")).items;
      assert.equal(hour!.count, 21);
      assert.equal(hour!.failures, 1);
      assert.equal(hour!.maxMs, 100);
      assert.equal(await history.rollup(), 0, "nothing is new after a rollup");
    } finally {
      await store.close();
    }
  }],
  ["a late result is rolled into its own minute", async (open) => {
    const store = await open("a");
    const history = new History(store);
    try {
      const t0 = Math.floor(Date.now() / MIN) * MIN - 10 * MIN;
      await store.add([result("a/TCP", "m1", t0, 5)], "one");
      await history.rollup();
      await store.add([result("a/TCP", "m1", t0 + 1000, 7, false)], "one");
      await history.rollup();
      const [m] = (await history.rollups("minute")).items;
      assert.equal(m!.count, 2);
      assert.equal(m!.failures, 1);
      assert.equal(m!.maxMs, 7);
    } finally {
      await store.close();
    }
  }],
  ["a minute of failures alone has no latency, and its hour neither", async (open) => {
    const store = await open("a");
    const history = new History(store);
    try {
      const t0 = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
      await store.add([result("a/TCP", "m1", t0, null, false)], "one");
      await history.rollup();
      const [m] = (await history.rollups("minute")).items;
      const [h] = (await history.rollups("hour")).items;
      assert.deepEqual([m!.count, m!.failures, m!.avgMs, m!.p95Ms], [1, 1, null, null]);
      assert.deepEqual([h!.count, h!.failures, h!.avgMs], [1, 1, null]);
    } finally {
      await store.close();
    }
  }],
  ["prune drops raw results and rollups past their retention", async (open) => {
    const store = await open("a");
    const history = new History(store, { rawMs: 2 * HOUR, minuteMs: 3 * HOUR, hourMs: 10 * HOUR });
    try {
      const now = Date.now();
      await store.add([
        result("a/TCP", "m1", now - 5 * HOUR, 1),
        result("a/TCP", "m1", now - HOUR, 1),
      ], "one");
      // roll up while the old result is still within the raw retention
      await new History(store, { rawMs: 100 * HOUR }).rollup();
      assert.equal(await history.prune(now), 1);
      assert.equal(await store.count(), 1);
      assert.equal((await history.rollups("minute")).items.length, 1, "the 5 h old minute is gone");
      assert.equal((await history.rollups("hour")).items.length, 2, "hours are kept for 10 h");
    } finally {
      await store.close();
    }
  }],
  [
    "results page by cursor without repeats and filter by target, type and monitor",
    async (open) => {
      const store = await open("a");
      const history = new History(store);
      try {
        const t0 = Date.now() - HOUR;
        const rs = Array.from({ length: 25 }, (_, i) => result("web/HTTP", "m1", t0 + i * 1000, i));
        rs.push(result("dns/DNS", "m2", t0, 3));
        await store.add(rs.slice(0, 25), "one");
        await store.add(rs.slice(25), "two");
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let i = 0; i < 10; i++) {
          const page = await history.results({ target: "web", limit: 10, cursor });
          seen.push(...page.items.map((r) => r.taskId));
          if (!page.next) break;
          cursor = page.next;
        }
        assert.equal(seen.length, 25);
        assert.equal(new Set(seen).size, 25);
        assert.deepEqual(
          (await history.results({ monitor: "two" })).items.map((r) => r.checkId),
          ["dns/DNS"],
        );
        assert.deepEqual(
          (await history.results({ type: "DNS" })).items.map((r) => r.monitorName),
          ["two"],
        );
        assert.equal((await history.results({ target: "nothing" })).items.length, 0);
        assert.equal((await history.results({ from: t0 + 20_000 })).items.length, 5);
        await assert.rejects(history.results({ cursor: "bogus" }), HistoryQueryError);
        await assert.rejects(history.results({ limit: 0 }), HistoryQueryError);
        // rollup pages: one minute bucket per series here, paged one at a time
        await history.rollup();
        const first = await history.rollups("minute", { limit: 1 });
        assert.equal(first.items.length, 1);
        const second = await history.rollups("minute", { limit: 1, cursor: first.next! });
        assert.notDeepEqual(second.items, first.items);
      } finally {
        await store.close();
      }
    },
  ],
  ["chart picks raw, minute or hour points by range, one line per monitor", async (open) => {
    const store = await open("a");
    const history = new History(store);
    try {
      const now = Date.now();
      await store.add([result("web/HTTP", "m1", now - 10 * MIN, 4)], "one");
      await store.add([result("web/HTTP", "m2", now - 10 * MIN, 6, false)], "two");
      await history.rollup();
      const raw = await history.chart("web/HTTP", now - HOUR, now);
      assert.equal(raw.resolution, "raw");
      assert.deepEqual(raw.series.map((x) => [x.monitorName, x.points.length]), [
        ["one", 1],
        ["two", 1],
      ]);
      assert.deepEqual(raw.series[1]!.points[0]!.slice(1), [6, 1]);
      const day = await history.chart("web/HTTP", now - 24 * HOUR, now);
      assert.equal(day.resolution, "minute");
      assert.deepEqual(day.series[1]!.points[0]!.slice(1), [6, 1]);
      const month = await history.chart("web/HTTP", now - 30 * 24 * HOUR, now);
      assert.equal(month.resolution, "hour");
      assert.equal(month.series[0]!.points.length, 1);
    } finally {
      await store.close();
    }
  }],
  ["uptime is the share of up results over 24 h, 7 d and 30 d", async (open) => {
    const store = await open("a");
    const history = new History(store);
    try {
      const now = Date.now();
      await store.add([
        result("a/TCP", "m1", now - 2 * MIN, 1),
        result("a/TCP", "m1", now - 3 * MIN, 1),
        result("a/TCP", "m1", now - 4 * MIN, 1),
        result("a/TCP", "m1", now - 3 * 24 * HOUR, null, false),
      ], "one");
      await store.add([result("b/TCP", "m1", now - 40 * 24 * HOUR, 1)], "one");
      await new History(store, { rawMs: 100 * 24 * HOUR }).rollup();
      const u = [...(await history.uptime(now)).values()];
      assert.deepEqual(u, [{ h24: 100, d7: 75, d30: 75 }, { h24: null, d7: null, d30: null }]);
    } finally {
      await store.close();
    }
  }],
  ["a backlog of new results is rolled up a batch at a time", async (open) => {
    const store = await open("a");
    const history = new History(store);
    try {
      const t0 = Math.floor(Date.now() / MIN) * MIN - 10 * MIN;
      await store.add([0, 1, 2].map((i) => result("a/TCP", "m1", t0 + i * MIN, 1)), "one");
      assert.equal(await history.rollup(2), 2);
      assert.equal((await history.rollups("minute")).items.length, 2);
      assert.equal(await history.rollup(2), 1);
      assert.equal(await history.rollup(2), 0);
      assert.equal((await history.rollups("minute")).items.length, 3);
    } finally {
      await store.close();
    }
  }],
  ["rollup resumes after a reopen where the last pass stopped", async (open) => {
    const t0 = Math.floor(Date.now() / MIN) * MIN - 10 * MIN;
    const first = await open("a");
    await first.add([0, 1].map((i) => result("a/TCP", "m1", t0 + i * MIN, 1)), "one");
    assert.equal(await new History(first).rollup(), 2);
    await first.add([result("a/TCP", "m1", t0 + 2 * MIN, 1)], "one");
    await first.close();
    const again = await open("a");
    try {
      const history = new History(again);
      assert.equal(await history.rollup(), 1, "only the result stored after the last pass is new");
      assert.equal((await history.rollups("minute")).items.length, 3);
    } finally {
      await again.close();
    }
  }],
  ["results stored after pruning emptied the store are still rolled up", async (open) => {
    const store = await open("a");
    const history = new History(store, { rawMs: HOUR });
    try {
      const now = Date.now();
      await store.add([result("a/TCP", "m1", now - 10 * MIN, 1)], "one");
      assert.equal(await history.rollup(), 1);
      assert.equal(await history.prune(now + 2 * HOUR), 1);
      assert.equal(await store.count(), 0);
      await store.add([result("a/TCP", "m1", now - 5 * MIN, 1)], "one");
      assert.equal(await history.rollup(), 1);
    } finally {
      await store.close();
    }
  }],
  ["an hour's rollup combines its minutes", async (open) => {
    const store = await open("a");
    const history = new History(store);
    try {
      const h = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
      await store.add([
        result("a/TCP", "m1", h + MIN, 10),
        result("a/TCP", "m1", h + MIN + 1000, 20, false),
        result("a/TCP", "m1", h + 30 * MIN, 60),
      ], "one");
      await history.rollup();
      const [hour] = (await history.rollups("hour")).items;
      assert.deepEqual(
        [hour!.count, hour!.failures, hour!.minMs, hour!.avgMs, hour!.maxMs, hour!.p95Ms],
        [3, 1, 10, 30, 60, 60],
      );
    } finally {
      await store.close();
    }
  }],
  ["incidents and notifications: stored, resolved, filtered, newest first", async (open) => {
    const first = await open("a");
    const incident = (id: string, target: string, openedAt: number) => ({
      id,
      checkId: `${target}/TCP`,
      target,
      type: "TCP" as const,
      condition: "down" as const,
      openedAt,
      resolvedAt: null,
      quorum: 1,
      running: 1,
      vantage: [{
        monitor: "one",
        state: "bad" as const,
        summary: "refused",
        error: "refused",
        latencyMs: null,
        at: openedAt,
      }],
      detail: "1 of 1 monitors see it down (quorum 1)",
    });
    await first.incidentOpened(incident("i1", "web", 1000));
    await first.incidentOpened(incident("i2", "db", 2000));
    await first.markNotified("i1");
    await first.incidentResolved({ ...incident("i1", "web", 1000), resolvedAt: 3000 });
    await first.addNotification("n1", {
      incidentId: "i1",
      event: "opened",
      notifier: "ops",
      notifierType: "webhook",
      status: "pending",
      createdAt: 1000,
      title: "DOWN: web/TCP",
    });
    await first.addNotification("n2", {
      incidentId: "i2",
      event: "opened",
      notifier: "ops",
      notifierType: "webhook",
      status: "silenced",
      createdAt: 2000,
      title: "DOWN: db/TCP",
      error: "silenced by maintenance window w",
    });
    await first.updateNotification("n1", {
      status: "sent",
      attempts: 2,
      error: null,
      finishedAt: 1500,
    });
    await first.close();
    const store = await open("a");
    try {
      const all = await store.incidents();
      assert.deepEqual(all.map((i) => [i.id, i.resolvedAt, i.notified]), [
        ["i2", null, false],
        ["i1", 3000, true],
      ]);
      assert.deepEqual(all[1]!.vantage, incident("i1", "web", 1000).vantage);
      assert.deepEqual((await store.incidents({ open: true })).map((i) => i.id), ["i2"]);
      assert.deepEqual((await store.incidents({ target: "web" })).map((i) => i.id), ["i1"]);
      assert.deepEqual((await store.incidents({ limit: 1 })).map((i) => i.id), ["i2"]);
      const notes = await store.notifications();
      assert.deepEqual(notes.map((n) => [n.id, n.status, n.attempts, n.finishedAt]), [
        ["n2", "silenced", 0, 2000],
        ["n1", "sent", 2, 1500],
      ]);
      assert.deepEqual((await store.notifications({ target: "web" })).map((n) => n.id), ["n1"]);
      assert.deepEqual((await store.notifications({ incidentId: "i2" })).map((n) => n.id), ["n2"]);
    } finally {
      await store.close();
    }
  }],
  ["writes from many callers at once all land, each batch once", async (open) => {
    const store = await open("a");
    try {
      const monitors = Array.from({ length: 10 }, (_, i) => `mon-${i}`);
      await Promise.all(monitors.map(async (m) => {
        for (let b = 0; b < 5; b++) {
          const batch = Array.from({ length: 20 }, (_, i) => ({
            ...numbered(b * 20 + i + 1, m),
            checkId: `t${i % 3}/TCP`,
            target: `t${i % 3}`,
          }));
          assert.equal((await store.add(batch, m)).length, 20);
        }
      }));
      assert.equal(await store.count(), 1000);
      assert.equal((await store.series()).length, 30);
      const history = new History(store);
      let covered = 0;
      for (let n; (n = await history.rollup()) > 0;) covered += n;
      assert.equal(covered, 1000, "every stored result is rolled up once");
    } finally {
      await store.close();
    }
  }],
  [
    "calls that arrive together share a write: a result in two of them is stored once, a bad one fails alone",
    async (open) => {
      const store = await open("a");
      try {
        const a = [1, 2, 3].map((n) => numbered(n, "mon-a"));
        const b = [1, 2].map((n) => numbered(n, "mon-b"));
        // a start time the NOT NULL column cannot take fails its call, and only its call
        const bad = [{ ...numbered(1, "mon-c"), startedAt: null as unknown as number }];
        const [fa, fb, fbad, again] = await Promise.allSettled([
          store.add(a, "mon-a"),
          store.add(b, "mon-b"),
          store.add(bad, "mon-c"),
          store.add([a[1]!, numbered(4, "mon-a")], "mon-a"),
        ]);
        assert.deepEqual(fa.status === "fulfilled" && fa.value.map((r) => r.seq), [1, 2, 3]);
        assert.deepEqual(fb.status === "fulfilled" && fb.value.map((r) => r.seq), [1, 2]);
        assert.equal(fbad.status, "rejected");
        // seq 2 came first in the first call: the fourth call stores only its new one
        assert.deepEqual(again.status === "fulfilled" && again.value.map((r) => r.seq), [4]);
        assert.equal(await store.count(), 6);
      } finally {
        await store.close();
      }
    },
  ],
];

Deno.test("store suite on SQLite", async (t) => {
  for (const [name, run] of CASES) {
    await t.step(name, async () => {
      await using tmp = await tempDir();
      await run((key) => openStore(`${tmp.path}/${key}/netmon.db`));
    });
  }
});

Deno.test("store suite on PostgreSQL", async (t) => {
  await using pg = await startPostgres();
  let n = 0;
  for (const [name, run] of CASES) {
    await t.step(name, async () => {
      const urls = new Map<string, string>();
      const base = `suite_${++n}`;
      await run(async (key) => {
        let url = urls.get(key);
        if (!url) urls.set(key, url = await pg.createDatabase(`${base}_${key}`));
        return await openStore(url);
      });
    });
  }
});
