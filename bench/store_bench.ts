/**
 * How fast the manager's store ingests, how big it gets and how fast it
 * answers, on each engine.
 *
 *   ./netmon --deno run -A bench/store_bench.ts [--results 1000000] [--monitors 10] [--batch 200] [--engines sqlite,postgres] [--db PATH|URL] [--repeat-more]
 *
 * For each engine (SQLite in a temporary file; PostgreSQL on a private
 * server started like the tests' one, `tests/helpers/postgres.ts`, or the
 * store `--db` names): 10 monitors (`--monitors`) store results at once through the
 * store's `add` (batches of 200, `--batch`, as a busy link delivers them) from 50
 * checks each, spread over the last 7 days (the raw retention, so every
 * result is still kept raw: the largest the store gets for that many
 * results); then rolls them up and times the queries the dashboard and the
 * API make: 30-day chart (hour rollups), 24-hour chart (minute rollups),
 * 1-hour chart (raw), uptime of every series, series list, latest results,
 * a page of results of one check and of everything, a page of minute
 * rollups, open incidents, prune. Prints one line per measurement (the
 * median of its runs; `--repeat-more` runs each query 5 times as often, for
 * a busy machine). A script, not a test.
 */
import { parseArgs } from "node:util";
import type { CheckResult } from "../shared/checks.ts";
import { openStore, type Store } from "../manager/store.ts";
import { History } from "../manager/rollups.ts";
import { startPostgres } from "../tests/helpers/postgres.ts";
import { taskIdOf } from "../shared/task_id.ts";
import { DatabaseSync } from "node:sqlite";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    results: { type: "string" },
    engines: { type: "string" },
    db: { type: "string" },
    monitors: { type: "string" },
    batch: { type: "string" },
    "repeat-more": { type: "boolean" },
  },
});
const total = Number(values.results ?? 1_000_000);
const engines = (values.engines ?? "sqlite,postgres").split(",");

const CHECKS = 50;
const MONITORS = Number(values.monitors ?? 10);
const BATCH = Number(values.batch ?? 200);
const REPEAT = values["repeat-more"] ? 5 : 1;
const DAY = 86_400_000;
const monitors = Array.from({ length: MONITORS }, () => crypto.randomUUID());
/** Each monitor's spool epoch, which its task IDs are made of (as a real monitor's). */
const epochs = monitors.map(() => crypto.randomUUID());
const checks = Array.from({ length: CHECKS }, (_, i) => {
  const type = (["HTTP", "TCP", "DNS", "ICMP", "NTP"] as const)[i % 5]!;
  return { id: `target-${i}.example.net/${type}`, target: `target-${i}.example.net`, type };
});
const series = CHECKS * MONITORS;
const now = Date.now();
const start = now - 7 * DAY + 60_000;
const perSeries = Math.ceil(total / series);
const step = (7 * DAY - 120_000) / perSeries;

/** Result number `n` (from 0) of monitor `m`: checks in turn, time advancing per round. */
function make(m: number, n: number): CheckResult {
  const c = checks[n % CHECKS]!;
  const round = Math.floor(n / CHECKS);
  const up = Math.random() > 0.01;
  // to the microsecond, as a monitor reports it
  const latency = up ? Math.round((5 + Math.random() * 40) * 1000) / 1000 : null;
  return {
    seq: n + 1,
    taskId: taskIdOf(epochs[m]!, n + 1)!,
    monitorId: monitors[m]!,
    checkId: c.id,
    target: c.target,
    type: c.type,
    startedAt: Math.round(start + round * step),
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

/** Runs `fn` `repeat` times (5 times that with `--repeat-more`) and prints the median time. */
async function time<T>(label: string, fn: () => Promise<T>, repeat = 1): Promise<T> {
  let out!: T;
  const times: number[] = [];
  for (let i = 0; i < repeat * REPEAT; i++) {
    const t0 = performance.now();
    out = await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(`  ${label}: ${times[Math.floor(times.length / 2)]!.toFixed(1)} ms`);
  return out;
}

/** Where the raw results' bytes go, per result, from SQLite's `dbstat` (pages, not payload). */
function breakdown(path: string, results: number) {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare(
      `SELECT name, sum(pgsize) AS bytes FROM dbstat
       WHERE name = 'result_rows' OR name LIKE 'result_rows_%' GROUP BY name ORDER BY bytes DESC`,
    ).all();
    console.log(
      `  per raw result, by b-tree: ${
        rows.map((r) => `${r.name} ${(Number(r.bytes) / results).toFixed(1)}`).join(", ")
      }`,
    );
  } finally {
    db.close();
  }
}

async function bench(engine: string, store: Store) {
  console.log(`${engine} (${store.path}, schema ${store.schemaVersion})`);
  const history = new History(store);
  const empty = await store.bytes();
  const each = Math.ceil(total / MONITORS);
  const t0 = performance.now();
  await Promise.all(monitors.map(async (_, m) => {
    const epoch = await store.epochId(epochs[m]!);
    for (let n = 0; n < each; n += BATCH) {
      const batch: CheckResult[] = [];
      for (let j = n; j < Math.min(each, n + BATCH); j++) batch.push(make(m, j));
      await store.add(batch, `monitor-${m}`, epoch);
    }
  }));
  const insertS = (performance.now() - t0) / 1000;
  const stored = await store.count();
  console.log(
    `  results: ${stored}, ${series} series over 7 days, from ${MONITORS} monitors at once`,
  );
  console.log(
    `  ingest: ${insertS.toFixed(1)} s (${
      Math.round(stored / insertS)
    } results/s, batches of ${BATCH})`,
  );
  const rawBytes = (await store.bytes()) - empty;
  if (engine === "sqlite") breakdown(store.path, stored);
  const rolled = await time("rollup of every minute", async () => {
    let n = 0;
    for (let k; (k = await history.rollup()) > 0;) n += k;
    return n;
  });
  console.log(`  results rolled up: ${rolled}`);
  const size = (await store.bytes()) - empty;
  console.log(
    `  store size: ${(size / 2 ** 20).toFixed(0)} MiB; ${(rawBytes / stored).toFixed(1)} bytes ` +
      `per stored raw result (indexes included), ${(size / stored).toFixed(1)} with rollups`,
  );
  const check = checks[7]!.id;
  const month = await time(
    `30-day chart (hour rollups, ${MONITORS} lines)`,
    () => history.chart(check, now - 30 * DAY, now),
    5,
  );
  console.log(`    points: ${month.series.map((s) => s.points.length).join(", ")}`);
  await time(
    `24-hour chart (minute rollups, ${MONITORS} lines)`,
    () => history.chart(check, now - DAY, now),
    5,
  );
  await time(
    `1-hour chart (raw results, ${MONITORS} lines)`,
    () => history.chart(check, now - DAY / 24, now),
    5,
  );
  await time(`uptime of all ${series} series (24 h, 7 d, 30 d)`, () => history.uptime(now), 3);
  await time("series list", () => history.series(), 5);
  await time(`latest result of all ${series} series (manager start)`, () => history.latest(), 1);
  await time(
    "newest 100 results of one check",
    () => history.results({ checkId: check, limit: 100 }),
    5,
  );
  await time("newest 100 results of everything", () => history.results({ limit: 100 }), 5);
  await time(
    "100 minute rollups of one check",
    () => history.rollups("minute", { checkId: check, limit: 100 }),
    5,
  );
  await time("open incidents", () => store.incidents({ open: true, limit: 1000 }), 5);
  await time("prune (nothing due)", () => history.prune(now));
}

for (const engine of engines) {
  if (values.db) {
    const store = await openStore(values.db);
    await bench(store.engine, store);
    await store.close();
    break;
  }
  if (engine === "sqlite") {
    const dir = await Deno.makeTempDir({ prefix: "netmon-bench-" });
    const store = await openStore(`${dir}/bench.db`);
    await bench("sqlite", store);
    await store.close();
    await Deno.remove(dir, { recursive: true });
  } else if (engine === "postgres") {
    await using pg = await startPostgres();
    const store = await openStore(pg.url);
    await bench("postgres", store);
    await store.close();
  } else throw new Error(`--engines takes sqlite and postgres, not ${engine}`);
}
