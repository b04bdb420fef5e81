/**
 * How big the manager's store gets and how fast it answers with many results.
 *
 *   ./netmon --deno run -A bench/store_bench.ts [--results 10000000] [--db PATH]
 *
 * Fills a fresh store with results from 50 checks on 4 monitors spread over
 * the last 7 days (the raw retention, so every result is still kept raw: the
 * largest the store gets for that many results), rolls them up, then times
 * the queries the dashboard makes: a 30-day chart (hour rollups), a 24-hour
 * chart (minute rollups), a 1-hour chart (raw), uptime of every series, and a
 * page of results. Prints one line per measurement. A script, not a test.
 */
import { parseArgs } from "node:util";
import type { CheckResult } from "../shared/checks.ts";
import { ResultStore } from "../manager/store.ts";
import { History } from "../manager/rollups.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { results: { type: "string" }, db: { type: "string" } },
});
const total = Number(values.results ?? 10_000_000);
const dir = values.db ? undefined : await Deno.makeTempDir({ prefix: "netmon-bench-" });
const path = values.db ?? `${dir}/bench.db`;

const CHECKS = 50;
const MONITORS = 4;
const DAY = 86_400_000;
const monitors = Array.from({ length: MONITORS }, () => crypto.randomUUID());
const checks = Array.from({ length: CHECKS }, (_, i) => {
  const type = (["HTTP", "TCP", "DNS", "ICMP", "NTP"] as const)[i % 5]!;
  return { id: `target-${i}.example.net/${type}`, target: `target-${i}.example.net`, type };
});
const series = CHECKS * MONITORS;
const now = Date.now();
const start = now - 7 * DAY + 60_000;
const step = (7 * DAY - 120_000) / Math.ceil(total / series);

function make(i: number): CheckResult {
  const s = i % series;
  const c = checks[s % CHECKS]!;
  const up = Math.random() > 0.01;
  const latency = up ? 5 + Math.random() * 40 : null;
  return {
    seq: Math.floor(i / series),
    taskId: crypto.randomUUID(),
    monitorId: monitors[Math.floor(s / CHECKS)]!,
    checkId: c.id,
    target: c.target,
    type: c.type,
    startedAt: Math.round(start + Math.floor(i / series) * step),
    durationMs: latency ?? 5000,
    up,
    latencyMs: latency,
    summary: up
      ? `HTTP URL: https://${c.target}/, HTTP server status: True, Status Code: 200`
      : `HTTP URL: https://${c.target}/, HTTP server status: False, Error: timed out`,
    metrics: {
      probe_success: up ? 1 : 0,
      probe_duration_seconds: (latency ?? 5000) / 1000,
      probe_http_status_code: up ? 200 : 0,
      'probe_http_duration_seconds{phase="connect"}': 0.002,
      'probe_http_duration_seconds{phase="processing"}': 0.01,
    },
    ...(up ? {} : { error: "timed out" }),
  };
}

function time<T>(label: string, fn: () => T, repeat = 1): T {
  let out!: T;
  const t0 = performance.now();
  for (let i = 0; i < repeat; i++) out = fn();
  console.log(`${label}: ${((performance.now() - t0) / repeat).toFixed(1)} ms`);
  return out;
}

const store = ResultStore.open(path);
const history = new History(store);
const t0 = performance.now();
const BATCH = 2000;
for (let i = 0; i < total; i += BATCH) {
  const batch: CheckResult[] = [];
  for (let j = i; j < Math.min(total, i + BATCH); j++) batch.push(make(j));
  store.add(batch, `monitor-${Math.floor((i % series) / CHECKS)}`);
  if (i % 1_000_000 === 0 && i > 0) {
    const s = (performance.now() - t0) / 1000;
    console.error(`  ${i} results in ${s.toFixed(0)} s`);
  }
}
const insertS = (performance.now() - t0) / 1000;
console.log(`results: ${total}, ${series} series over 7 days`);
console.log(
  `insert: ${insertS.toFixed(0)} s (${Math.round(total / insertS)} results/s, batches of ${BATCH})`,
);
const rolled = time("rollup of every minute", () => {
  let n = 0;
  for (let k; (k = history.rollup()) > 0;) n += k;
  return n;
});
console.log(`results rolled up: ${rolled}`);
store.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
const size = (await Deno.stat(path)).size;
console.log(
  `store size: ${(size / 2 ** 20).toFixed(0)} MiB (${
    (size / total).toFixed(0)
  } bytes per result, rollups included)`,
);

const check = checks[7]!.id;
const month = time(
  "30-day chart (hour rollups, 4 lines)",
  () => history.chart(check, now - 30 * DAY, now),
  5,
);
console.log(`  points: ${month.series.map((s) => s.points.length).join(", ")}`);
time("24-hour chart (minute rollups, 4 lines)", () => history.chart(check, now - DAY, now), 5);
time("1-hour chart (raw results, 4 lines)", () => history.chart(check, now - DAY / 24, now), 5);
time(`uptime of all ${series} series (24 h, 7 d, 30 d)`, () => history.uptime(now), 3);
time("newest 100 results of one check", () => history.results({ checkId: check, limit: 100 }), 5);
time("newest 100 results of everything", () => history.results({ limit: 100 }), 5);
time("prune (nothing due)", () => history.prune(now));
store.close();
if (dir) await Deno.remove(dir, { recursive: true });
