import assert from "node:assert/strict";
import type {
  CheckFn,
  CheckOptions,
  CheckOutcome,
  CheckSpec,
  JsonObject,
} from "../shared/checks.ts";
import { FakeClock } from "../shared/clock.ts";
import { checkSpec } from "../shared/params/mod.ts";
import {
  phaseOf,
  Scheduler,
  START_BATCH,
  START_WINDOW_MS,
  type UnsequencedResult,
} from "./scheduler.ts";

const UP: CheckOutcome = { up: true, summary: "ok", latencyMs: 1, metrics: { probe_success: 1 } };

/** One call of the fake check: when it started, its options, and a way to end it. */
interface Run {
  target: string;
  at: number;
  options: CheckOptions;
  finish: (outcome?: CheckOutcome) => void;
}

type Behaviour = "instant" | "hold";

/**
 * A scheduler on a fake clock whose TCP "check" records every call. Targets
 * named in `hold` run until the test calls `finish` (they ignore their
 * signal); the others finish at once.
 */
function harness(opts: { maxInFlight?: number; hold?: string[] } = {}) {
  const clock = new FakeClock();
  const results: UnsequencedResult[] = [];
  const runs: Run[] = [];
  const behaviour = (target: string): Behaviour => opts.hold?.includes(target) ? "hold" : "instant";
  const check: CheckFn<JsonObject> = (_params, options) =>
    new Promise((resolve) => {
      const run: Run = {
        target: options.target,
        at: clock.now(),
        options,
        finish: (outcome = UP) => resolve(outcome),
      };
      runs.push(run);
      if (behaviour(options.target) === "instant") run.finish();
    });
  const scheduler = new Scheduler({
    monitorId: "m1",
    onResult: (r) => results.push(r),
    clock,
    checks: { TCP: check },
    ...(opts.maxInFlight ? { maxInFlight: opts.maxInFlight } : {}),
  });
  const startsOf = (target: string) => runs.filter((r) => r.target === target).map((r) => r.at);
  return { clock, scheduler, results, runs, startsOf };
}

function spec(target: string, intervalMs = 1000, timeoutMs = 500): CheckSpec {
  return checkSpec("TCP", { port: 1 }, { target, intervalMs, timeoutMs });
}

/** Asserts each actual time is within 1 ms of the expected one (the scheduler starts runs due within 1 ms together). */
function assertTimes(actual: number[], expected: number[], what: string) {
  assert.equal(actual.length, expected.length, `${what}: ${actual} vs ${expected}`);
  actual.forEach((t, i) => {
    assert.ok(
      Math.abs(t - expected[i]!) <= 1,
      `${what}: run ${i} at ${t}, expected ${expected[i]}`,
    );
  });
}

Deno.test("phaseOf is stable, inside the interval, proportional to it, and spreads many IDs evenly", () => {
  // the values the scheduler used before the hash moved to shared/hash.ts
  assert.equal(phaseOf("a/TCP", 10_000), 1440.176973119378);
  assert.equal(phaseOf("web/HTTP", 10_000), 3553.696614690125);
  assert.equal(phaseOf("x/TCP", 2_000), 2 * phaseOf("x/TCP", 1_000));
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < 1000; i++) {
    const p = phaseOf(`target-${i}.example/HTTP`, 10_000);
    assert.ok(p >= 0 && p < 10_000, `phase ${p} is inside the interval`);
    buckets[Math.floor(p / 1000)]!++;
  }
  // 100 expected per tenth of the interval; a burst at one instant would put all 1000 in one
  for (const n of buckets) assert.ok(n >= 75 && n <= 125, `tenths of the interval: ${buckets}`);
});

Deno.test("each check first runs at its phase, then once per interval on the same grid", async () => {
  const { clock, scheduler, results, startsOf } = harness();
  const specs = ["a", "b", "c"].map((t) => spec(t));
  assert.deepEqual(scheduler.apply(specs), { added: 3, changed: 0, removed: 0, kept: 0 });
  await clock.advance(3999);
  for (const s of specs) {
    const p = phaseOf(s.id, s.intervalMs);
    assertTimes(startsOf(s.target), [p, p + 1000, p + 2000, p + 3000], s.id);
  }
  assert.equal(results.length, 12);
  const r = results.find((r) => r.checkId === "b/TCP")!;
  assert.equal(r.monitorId, "m1");
  assert.equal(r.type, "TCP");
  assert.equal(r.up, true);
  assert.equal(r.durationMs, 0);
  // the wall-clock start comes from the same clock
  assert.ok(Math.abs(r.startedAt - (clock.wallNow() - 3999 + phaseOf("b/TCP", 1000))) <= 1);
  assert.equal(scheduler.stats().runs, 12);
  assert.equal(scheduler.stats().overlapsSkipped, 0);
  scheduler.stop();
  assert.equal(clock.pending, 0, "stop leaves no timer behind");
});

Deno.test("a latency is reported to the microsecond, and a metric that was it in seconds with it", async () => {
  const { clock, scheduler, results, runs } = harness({ hold: ["a"] });
  scheduler.apply([spec("a")]);
  await clock.advance(1000);
  const l = 1.23456789;
  runs[0]!.finish({
    up: true,
    summary: "ok",
    latencyMs: l,
    metrics: {
      probe_success: 1,
      netmon_tcp_connect_seconds: l / 1000,
      other_seconds: 0.0001234567,
    },
  });
  await clock.advance(0);
  scheduler.stop();
  const r = results[0]!;
  assert.equal(r.latencyMs, 1.235);
  assert.deepEqual(r.metrics, {
    probe_success: 1,
    netmon_tcp_connect_seconds: 1.235 / 1000,
    other_seconds: 0.0001234567,
  });
  assert.equal(r.durationMs, Math.round(r.durationMs * 1000) / 1000);
});

Deno.test("checks due close together start in batches: never late, at most START_WINDOW_MS early, START_BATCH to a wake-up", async () => {
  const { clock, scheduler, runs, results } = harness();
  // 200 phases in 1 s: about one every 5 ms, so most wake-ups find company within the window
  const targets = Array.from({ length: 200 }, (_, i) => `t${i}`);
  scheduler.apply(targets.map((t) => spec(t)));
  const end = 2000 - START_WINDOW_MS - 2;
  await clock.advance(end);
  const seen = new Set<string>();
  const byTime = new Map<number, { n: number; due: number }>();
  for (const run of runs) {
    const p = phaseOf(`${run.target}/TCP`, 1000);
    // the grid point the run belongs to: the first or the second interval
    const k = Math.round((run.at - p) / 1000);
    const due = p + k * 1000;
    assert.ok(run.at <= due + 1, `${run.target} started at ${run.at}, due ${due}: not late`);
    assert.ok(run.at >= due - START_WINDOW_MS, `${run.target} started at ${run.at}, due ${due}`);
    assert.ok(!seen.has(`${run.target}@${k}`), `${run.target} ran once for its due time ${due}`);
    seen.add(`${run.target}@${k}`);
    const at = byTime.get(run.at) ?? { n: 0, due: 0 };
    at.n++;
    if (due <= run.at + 1) at.due++;
    byTime.set(run.at, at);
  }
  for (const t of targets) {
    const p = phaseOf(`${t}/TCP`, 1000);
    for (const k of [0, 1]) {
      if (p + k * 1000 <= end) assert.ok(seen.has(`${t}@${k}`), `${t} ran at ${p + k * 1000}`);
    }
  }
  for (const [at, { n, due }] of byTime) {
    assert.ok(n - due <= START_BATCH, `${n} started at ${at}, ${due} of them due then`);
  }
  assert.ok(byTime.size < runs.length / 2, `${byTime.size} wake-ups for ${runs.length} runs`);
  // each result is timed from its own start, and a run started early is not counted late
  for (const r of results) assert.equal(r.durationMs, 0);
  assert.ok(scheduler.stats().lagsMs.every((l) => l >= 0 && l <= 1));
  scheduler.stop();
});

Deno.test("after a stalled event loop each check runs once, late, then back on its grid: no burst", async () => {
  const { clock, scheduler, startsOf } = harness();
  scheduler.apply([spec("a", 1000, 500)]);
  const p = phaseOf("a/TCP", 1000);
  await clock.advance(p + 1);
  clock.stall(5000);
  await clock.advance(0);
  assertTimes(startsOf("a"), [p, p + 5001], "one late run for the five missed slots");
  assert.ok(Math.abs(scheduler.stats().lagsMs.at(-1)! - 4001) <= 1, "its lag is recorded");
  await clock.advance(2000);
  assertTimes(startsOf("a"), [p, p + 5001, p + 6000, p + 7000], "then on the grid again");
  scheduler.stop();
});

Deno.test("a run still going when the next is due is not overlapped: the due run is skipped and counted", async () => {
  const { clock, scheduler, results, runs, startsOf } = harness({ hold: ["slow"] });
  scheduler.apply([spec("slow", 1000, 500)]);
  const p = phaseOf("slow/TCP", 1000);
  await clock.advance(p + 1200);
  assert.equal(runs.length, 1, "the second due time found the first run going");
  assert.equal(scheduler.stats().overlapsSkipped, 1);
  assert.equal(scheduler.runNow("slow/TCP"), true);
  assert.equal(runs.length, 1, "runNow does not start a second run beside the first");
  runs[0]!.finish();
  await clock.advance(0);
  assert.equal(results.length, 1);
  assert.equal(results[0]!.durationMs, 1200);
  await clock.advance(1000);
  assertTimes(startsOf("slow"), [p, p + 2000], "slow");
  scheduler.stop();
});

Deno.test("the run's signal aborts with a TimeoutError exactly at its timeout", async () => {
  const clock = new FakeClock();
  const results: UnsequencedResult[] = [];
  const aborted: { at: number; reason: string }[] = [];
  const check: CheckFn<JsonObject> = (_p, { signal }) =>
    new Promise((resolve) => {
      signal.addEventListener("abort", () => {
        const reason = signal.reason instanceof DOMException ? signal.reason.name : "?";
        aborted.push({ at: clock.now(), reason });
        resolve({
          up: false,
          summary: "timed out",
          latencyMs: null,
          metrics: {},
          error: "timeout",
        });
      });
    });
  const scheduler = new Scheduler({
    monitorId: "m1",
    onResult: (r) => results.push(r),
    clock,
    checks: { TCP: check },
  });
  scheduler.apply([spec("t", 1000, 300)]);
  const p = phaseOf("t/TCP", 1000);
  await clock.advance(p + 299);
  assert.equal(aborted.length, 0, "not aborted before the timeout");
  await clock.advance(1);
  assert.equal(aborted.length, 1);
  assert.ok(Math.abs(aborted[0]!.at - (p + 300)) <= 1, `aborted at ${aborted[0]!.at}`);
  assert.equal(aborted[0]!.reason, "TimeoutError");
  assert.equal(results.length, 1);
  assert.equal(results[0]!.error, "timeout");
  assert.equal(results[0]!.durationMs, 300);
  scheduler.stop();
});

Deno.test("a check that ignores its deadline is abandoned one second after it, and its late answer is dropped", async () => {
  const { clock, scheduler, results, runs } = harness({ hold: ["hung"] });
  scheduler.apply([spec("hung", 5000, 500)]);
  const p = phaseOf("hung/TCP", 5000);
  await clock.advance(p + 1499);
  assert.equal(results.length, 0, "still waiting within the grace");
  assert.equal(scheduler.stats().inFlight, 1);
  assert.equal(runs[0]!.options.signal.aborted, true, "the deadline fired");
  await clock.advance(1);
  assert.equal(results.length, 1);
  const r = results[0]!;
  assert.equal(r.up, false);
  assert.equal(r.error, "check did not finish within its 500 ms timeout");
  assert.equal(
    r.summary,
    "TCP check of hung failed, Error: check did not finish within its 500 ms timeout",
  );
  assert.equal(r.durationMs, 1500);
  assert.equal(scheduler.stats().inFlight, 0, "the abandoned run no longer holds a slot");
  runs[0]!.finish();
  await clock.advance(0);
  assert.equal(results.length, 1, "the hung run's late outcome is not reported");
  scheduler.stop();
});

Deno.test("a check that throws, or has no implementation, gives a down result", async () => {
  const clock = new FakeClock();
  const results: UnsequencedResult[] = [];
  const scheduler = new Scheduler({
    monitorId: "m1",
    onResult: (r) => results.push(r),
    clock,
    checks: { TCP: () => Promise.reject(new Error("Bad parameter")) },
  });
  scheduler.apply([
    spec("t"),
    checkSpec("UDP", { port: 1 }, { target: "u", intervalMs: 1000, timeoutMs: 500 }),
  ]);
  await clock.advance(999);
  const byId = new Map(results.map((r) => [r.checkId, r]));
  assert.equal(byId.get("t/TCP")!.error, "bad parameter");
  assert.equal(byId.get("t/TCP")!.up, false);
  assert.equal(byId.get("u/UDP")!.error, "no check of type UDP");
  scheduler.stop();
});

Deno.test("apply adds, restarts changed, cancels removed and keeps the rhythm of unchanged checks", async () => {
  const { clock, scheduler, results, runs, startsOf } = harness({ hold: ["gone"] });
  scheduler.apply([spec("keep"), spec("change"), spec("gone", 1000, 900)]);
  const pGone = phaseOf("gone/TCP", 1000);
  const t = Math.max(pGone, phaseOf("keep/TCP", 1000), phaseOf("change/TCP", 1000)) + 1;
  await clock.advance(t);
  const gone = runs.find((r) => r.target === "gone")!;
  assert.equal(gone.options.signal.aborted, false, "the gone check is mid-run");

  const counts = scheduler.apply([spec("keep"), spec("change", 2000, 500), spec("new")]);
  assert.deepEqual(counts, { added: 1, changed: 1, removed: 1, kept: 1 });
  assert.deepEqual(scheduler.specs().map((s) => s.id).sort(), [
    "change/TCP",
    "keep/TCP",
    "new/TCP",
  ]);
  assert.equal(gone.options.signal.aborted, true, "the removed check's run is cancelled");
  assert.equal((gone.options.signal.reason as Error).message, "check removed");
  gone.finish();
  await clock.advance(4000 - 1);
  assert.equal(results.filter((r) => r.checkId === "gone/TCP").length, 0, "nothing reported");
  assert.deepEqual(startsOf("gone"), [gone.at], "no more runs of the removed check");

  const pKeep = phaseOf("keep/TCP", 1000);
  assertTimes(startsOf("keep"), [0, 1, 2, 3, 4].map((k) => pKeep + k * 1000), "keep");
  const pChange = phaseOf("change/TCP", 2000);
  assertTimes(
    startsOf("change").slice(1),
    [t + pChange, t + pChange + 2000].filter((x) => x < t + 3999),
    "change",
  );
  assert.ok(startsOf("new").length >= 3, "the new check runs");
  scheduler.stop();
});

Deno.test("runNow starts a check at once, out of its schedule; unknown checks are refused", async () => {
  const { clock, scheduler, startsOf } = harness();
  scheduler.apply([spec("a", 10_000, 500)]);
  const p = phaseOf("a/TCP", 10_000);
  await clock.advance(p / 2);
  assert.equal(scheduler.runNow("nope/TCP"), false);
  assert.equal(scheduler.runNow("a/TCP"), true);
  await clock.advance(0);
  assertTimes(startsOf("a"), [p / 2], "run now");
  await clock.advance(p / 2 + 10_000);
  assertTimes(startsOf("a"), [p / 2, p, p + 10_000], "the schedule goes on");
  scheduler.stop();
});

Deno.test("at most maxInFlight runs go at once; the rest start as slots free, with their lag recorded", async () => {
  const targets = ["a", "b", "c", "d", "e"];
  const { clock, scheduler, runs, results } = harness({ maxInFlight: 2, hold: targets });
  scheduler.apply(targets.map((t) => spec(t, 10_000, 9_000)));
  const phases = targets.map((t) => phaseOf(`${t}/TCP`, 10_000)).sort((x, y) => x - y);
  await clock.advance(phases[4]! + 1);
  assert.equal(runs.length, 2, "two slots");
  assert.equal(scheduler.stats().inFlight, 2);
  assertTimes(runs.map((r) => r.at), phases.slice(0, 2), "the first two due");

  await clock.advance(100);
  runs[0]!.finish();
  await clock.advance(0);
  assert.equal(runs.length, 3, "a freed slot goes to the next waiting run at once");
  assert.equal(runs[2]!.at, clock.now());
  const lags = scheduler.stats().lagsMs;
  assert.ok(Math.abs(lags[2]! - (clock.now() - phases[2]!)) <= 1, `lag ${lags[2]}`);

  for (let i = 1; i < 5; i++) {
    runs[i]!.finish();
    await clock.advance(0);
  }
  assert.equal(runs.length, 5);
  assert.equal(results.length, 5);
  assert.equal(scheduler.stats().inFlight, 0);
  assert.equal(scheduler.stats().overlapsSkipped, 0);
  scheduler.stop();
});

Deno.test("a check waiting for a slot waits once: its due times meanwhile are skipped and counted", async () => {
  const { clock, scheduler, runs, startsOf } = harness({ maxInFlight: 1, hold: ["hog"] });
  scheduler.apply([spec("hog", 10_000, 9_000), spec("quick", 100, 50)]);
  const pHog = phaseOf("hog/TCP", 10_000);
  const pQuick = phaseOf("quick/TCP", 100);
  await clock.advance(pHog + 1);
  const quickBefore = startsOf("quick").length;
  assert.equal(runs.at(-1)!.target, "hog");
  // the hog holds the only slot until it is abandoned 10 s after it started
  await clock.advance(10_000 - 2);
  assert.equal(startsOf("quick").length, quickBefore, "quick waits while the hog holds the slot");
  await clock.advance(2);
  assert.equal(startsOf("quick").length, quickBefore + 1, "quick runs once when the slot frees");
  // quick was due every 100 ms while it waited; all but the one it waits for are skips
  const dues = Math.floor((pHog + 10_000 - pQuick) / 100) - Math.floor((pHog - pQuick) / 100);
  const skipped = scheduler.stats().overlapsSkipped;
  assert.ok(Math.abs(skipped - (dues - 1)) <= 1, `skipped ${skipped} of ${dues} due times`);
  scheduler.stop();
});

Deno.test("stop cancels running checks and leaves no timers", async () => {
  const clock = new FakeClock();
  let signal: AbortSignal | undefined;
  const scheduler = new Scheduler({
    monitorId: "m1",
    onResult: () => assert.fail("no result after stop"),
    clock,
    checks: {
      TCP: (_p, o) =>
        new Promise((_resolve, reject) => {
          signal = o.signal;
          o.signal.addEventListener("abort", () => reject(o.signal.reason));
        }),
    },
  });
  scheduler.apply([spec("a", 1000, 900)]);
  await clock.advance(phaseOf("a/TCP", 1000) + 1);
  assert.ok(signal && !signal.aborted);
  scheduler.stop();
  await clock.advance(0);
  assert.equal(signal.aborted, true);
  assert.equal(clock.pending, 0);
  await clock.advance(10_000);
  assert.equal(scheduler.stats().runs, 1);
});

Deno.test("runs in flight share one deadline timer: 200 held runs keep two timers, and all time out", async () => {
  const holds = Array.from({ length: 200 }, (_, i) => `h${i}`);
  const { clock, scheduler, results, runs } = harness({ hold: holds });
  scheduler.apply(holds.map((t) => spec(t, 10_000, 2_000)));
  await clock.advance(9_999);
  assert.equal(runs.length, 200, "every check started within its first interval");
  assert.ok(
    clock.pending <= 2,
    `${clock.pending} timers pending: one for due runs, one for deadlines`,
  );
  assert.ok(runs.every((r) => r.options.signal.aborted || clock.now() - r.at < 2_000));
  await clock.advance(3_001);
  assert.equal(results.length, 200, "every held run was abandoned a grace after its deadline");
  assert.ok(results.every((r) => r.error === "check did not finish within its 2000 ms timeout"));
  scheduler.stop();
});
