import { checkSpec } from "../shared/params/mod.ts";
import assert from "node:assert/strict";
import type { CheckResult, CheckSpec } from "../shared/checks.ts";
import { FakeClock } from "../shared/clock.ts";
import {
  LOG_EVERY_MS,
  MAX_AGE_MS,
  MAX_AHEAD_MS,
  RECENT_MS,
  ResultGuard,
  SERIES_MARGIN,
} from "./result_guard.ts";
import { setupLogging } from "../shared/log.ts";

const WALL = Date.UTC(2026, 11, 2, 12);

function spec(target: string): CheckSpec {
  return checkSpec("TCP", { host: "127.0.0.1", port: 9 }, {
    target,
    intervalMs: 1000,
    timeoutMs: 500,
  });
}

function result(target: string, extra: Partial<CheckResult> = {}): CheckResult {
  return {
    seq: 1,
    taskId: crypto.randomUUID(),
    monitorId: "m1",
    checkId: `${target}/TCP`,
    target,
    type: "TCP",
    startedAt: WALL,
    durationMs: 1,
    up: true,
    summary: "ok",
    latencyMs: 1,
    metrics: {},
    details: {},
    ...extra,
  };
}

function guard() {
  const clock = new FakeClock({ wall: WALL });
  return { clock, guard: new ResultGuard({ name: "nyc-1", address: "127.0.0.1:1", clock }) };
}

/** The guard's log lines, captured through the real logging setup. */
async function withLog(fn: (lines: string[]) => Promise<void> | void) {
  const lines: string[] = [];
  const write = Deno.stderr.writeSync;
  Deno.stderr.writeSync = (p: Uint8Array) => {
    lines.push(new TextDecoder().decode(p));
    return p.length;
  };
  try {
    setupLogging({ level: "warning" });
    await fn(lines);
  } finally {
    Deno.stderr.writeSync = write;
  }
}

Deno.test("ResultGuard accepts results of assigned checks and rejects checks never assigned", () => {
  const { guard: g } = guard();
  assert.deepEqual(g.admit([result("web")]), [], "nothing is assigned yet");
  g.assigned([spec("web")]);
  const ok = result("web");
  assert.deepEqual(g.admit([ok, result("evil"), result("web", { type: "HTTP" })]), [ok]);
  assert.deepEqual(g.admit([result("web", { target: "other" })]), [], "target must match too");
  assert.deepEqual(g.rejected, { unknown_check: 4, implausible_time: 0, too_many_series: 0 });
});

Deno.test("ResultGuard keeps a check acceptable for RECENT_MS after it left the assignment", async () => {
  const { clock, guard: g } = guard();
  g.assigned([spec("old")]);
  await clock.advance(60_000);
  g.assigned([spec("new")]);
  await clock.advance(RECENT_MS - 1);
  assert.equal(g.admit([result("old", { startedAt: clock.wallNow() })]).length, 1);
  await clock.advance(1);
  assert.equal(g.admit([result("old", { startedAt: clock.wallNow() })]).length, 0);
  assert.equal(g.admit([result("new", { startedAt: clock.wallNow() })]).length, 1);
  // back in the assignment: acceptable again, and for good
  g.assigned([spec("old"), spec("new")]);
  await clock.advance(RECENT_MS * 3);
  assert.equal(g.admit([result("old", { startedAt: clock.wallNow() })]).length, 1);
});

Deno.test("ResultGuard rejects start times outside [now - 7 d, now + 5 min] of the wall clock", () => {
  const { guard: g } = guard();
  g.assigned([spec("web")]);
  const at = (startedAt: number) => g.admit([result("web", { startedAt })]).length;
  assert.equal(at(WALL - MAX_AGE_MS), 1);
  assert.equal(at(WALL - MAX_AGE_MS - 1), 0);
  assert.equal(at(WALL + MAX_AHEAD_MS), 1);
  assert.equal(at(WALL + MAX_AHEAD_MS + 1), 0);
  assert.equal(at(Date.UTC(2100, 0, 1)), 0);
  assert.equal(at(1e300), 0);
  assert.equal(g.rejected.implausible_time, 4);
});

Deno.test("ResultGuard bounds series per monitor to its checks plus SERIES_MARGIN", async () => {
  const { clock, guard: g } = guard();
  g.assigned([spec("a"), spec("b")]);
  const limit = 2 + SERIES_MARGIN;
  // one assigned check under ever new monitor IDs: each is a new series in the store
  const bomb = Array.from({ length: 60 }, (_, i) => result("a", { monitorId: `fake-${i}` }));
  assert.equal(g.admit(bomb).length, limit);
  assert.equal(g.rejected.too_many_series, 60 - limit);
  // the series already known are still accepted; a new one is not
  assert.equal(g.admit([result("a", { monitorId: "fake-0" })]).length, 1);
  assert.equal(g.admit([result("b")]).length, 0);
  // series silent for RECENT_MS make room
  await clock.advance(RECENT_MS + 1);
  assert.equal(g.admit([result("b", { startedAt: clock.wallNow() })]).length, 1);
});

Deno.test("ResultGuard logs each reason once per minute per monitor, naming it and counting the rest", async () => {
  await withLog(async (lines) => {
    const { clock, guard: g } = guard();
    g.assigned([spec("web")]);
    const bomb = Array.from({ length: 50 }, (_, i) => result(`x${i}`.repeat(100)));
    g.admit(bomb);
    g.admit([result("web", { startedAt: Date.UTC(2100, 0, 1) })]);
    assert.equal(lines.length, 2, lines.join(""));
    assert.match(
      lines[0]!,
      /Monitor "?nyc-1"? at "?127\.0\.0\.1:1"?: .*not assigned to this monitor/,
    );
    assert.ok(lines[0]!.length < 600, "a 900-character ID is shortened in the log");
    assert.match(lines[1]!, /2100-01-01T00:00:00\.000Z.*7 days/);
    await clock.advance(LOG_EVERY_MS - 1);
    g.admit(bomb);
    assert.equal(lines.length, 2);
    await clock.advance(1);
    g.admit([result("evil")]);
    assert.equal(lines.length, 3);
    assert.match(lines[2]!, / 99 more rejected/);
    assert.equal(g.rejected.unknown_check, 101);
  });
});
