/**
 * Unit tests of the alert state machine: real configurations from
 * `parseConfig`, hand-made results fed in order, the clock passed in.
 */
import assert from "node:assert/strict";
import type { CheckResult } from "../../shared/checks.ts";
import { type Config, parseConfig } from "../../shared/config.ts";
import { AlertEngine, type AlertEvent } from "./engine.ts";

const T0 = Date.UTC(2025, 0, 10, 12, 0, 0);
const DAY_MS = 86_400_000;
const MONITORS = `monitors:
  - {address: "127.0.0.1:54001", name: a}
  - {address: "127.0.0.1:54002", name: b}
  - {address: "127.0.0.1:54003", name: c}
`;

/** A configuration with monitors a, b and c and the given alerting and targets text. */
function config(rest: string, monitors = MONITORS): Config {
  return parseConfig(monitors + rest, "tasks.yaml");
}

interface Outcome {
  up?: boolean;
  latencyMs?: number | null;
  metrics?: Record<string, number>;
  /** How long before the feed's clock the run started (default 0). */
  ageMs?: number;
}

/** Feeds results to one engine under one configuration, 10 s of clock per result. */
class Feed {
  readonly engine: AlertEngine;
  config: Config;
  now = T0;
  /** Monitors whose link is not Online. */
  offline = new Set<string>();
  #seq = 0;

  constructor(config: Config, engine = new AlertEngine()) {
    this.config = config;
    this.engine = engine;
  }

  /** One result of `checkId` from `monitor`; the events it caused. */
  run(monitor: string, checkId: string, o: Outcome = {}): AlertEvent[] {
    this.now += 10_000;
    const up = o.up ?? true;
    const [target, type] = checkId.split("/") as [string, CheckResult["type"]];
    const r: CheckResult = {
      seq: ++this.#seq,
      taskId: crypto.randomUUID(),
      monitorId: `id-${monitor}`,
      checkId,
      target,
      type,
      startedAt: this.now - (o.ageMs ?? 0),
      durationMs: 1,
      up,
      summary: up ? "Open" : "Closed",
      latencyMs: o.latencyMs === undefined ? (up ? 5 : null) : o.latencyMs,
      metrics: o.metrics ?? {},
      ...(up ? {} : { error: "connection refused" }),
    };
    // a snapshot: the engine compares the next one by identity
    return this.engine.observe(r, monitor, this.config, this.now, new Set(this.offline));
  }

  /** Runs `monitor` `times` times with the same outcome; all events, in order. */
  repeat(monitor: string, checkId: string, times: number, o: Outcome = {}): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (let i = 0; i < times; i++) events.push(...this.run(monitor, checkId, o));
    return events;
  }
}

/** `kind condition` of each event, for compact assertions. */
function kinds(events: AlertEvent[]): string[] {
  return events.map((e) => `${e.incident.condition} ${e.kind}`);
}

const DOWN = { up: false };
const ONLY_A = `monitors:\n  - {address: "127.0.0.1:54001", name: a}\n`;

Deno.test("AlertEngine opens after down_after failures in a row and a success resets the count", () => {
  const f = new Feed(config("alerts: {down_after: 3}\ntargets: {x: {TCP: {port: 80}}}\n", ONLY_A));
  assert.deepEqual(kinds(f.repeat("a", "x/TCP", 2, DOWN)), []);
  assert.deepEqual(kinds(f.run("a", "x/TCP")), [], "a success in between");
  assert.deepEqual(kinds(f.repeat("a", "x/TCP", 2, DOWN)), []);
  const events = f.run("a", "x/TCP", DOWN);
  assert.deepEqual(kinds(events), ["down opened"]);
  const i = events[0]!.incident;
  assert.deepEqual([i.checkId, i.target, i.type, i.quorum, i.running], ["x/TCP", "x", "TCP", 1, 1]);
  assert.equal(i.openedAt, f.now);
  assert.equal(i.resolvedAt, null);
  assert.deepEqual(i.vantage.map((v) => [v.monitor, v.state, v.error]), [
    ["a", "bad", "connection refused"],
  ]);
  assert.equal(i.detail, "1 of 1 monitors see it down (quorum 1)");
  assert.deepEqual(kinds(f.repeat("a", "x/TCP", 5, DOWN)), [], "one opening per incident");
  assert.equal(f.engine.open.length, 1);
});

Deno.test("AlertEngine counts down_after per monitor, not across monitors", () => {
  const f = new Feed(config("alerts: {down_after: 2}\ntargets: {x: {TCP: {port: 80}}}\n"));
  // four failures in a row overall, but never two in a row on one monitor
  for (const m of ["a", "b", "a", "b"]) {
    assert.deepEqual(kinds(f.run(m, "x/TCP", DOWN)), []);
    f.run(m, "x/TCP");
  }
  assert.deepEqual(kinds(f.repeat("a", "x/TCP", 2, DOWN)), [], "one monitor of three");
  assert.deepEqual(kinds(f.run("b", "x/TCP", DOWN)), []);
  assert.deepEqual(kinds(f.run("b", "x/TCP", DOWN)), ["down opened"]);
});

Deno.test("AlertEngine resolves after up_after successes in a row and a failure resets the count", () => {
  const f = new Feed(
    config(
      "alerts: {down_after: 1, up_after: 3}\ntargets: {x: {TCP: {port: 80}}}\n",
      ONLY_A,
    ),
  );
  assert.deepEqual(kinds(f.run("a", "x/TCP", DOWN)), ["down opened"]);
  const opened = f.engine.open[0]!;
  assert.deepEqual(kinds(f.repeat("a", "x/TCP", 2)), []);
  assert.deepEqual(kinds(f.run("a", "x/TCP", DOWN)), [], "still the same incident");
  assert.deepEqual(kinds(f.repeat("a", "x/TCP", 2)), []);
  const events = f.run("a", "x/TCP");
  assert.deepEqual(kinds(events), ["down resolved"]);
  const i = events[0]!.incident;
  assert.equal(i.id, opened.id);
  assert.equal(i.openedAt, opened.openedAt);
  assert.equal(i.resolvedAt, f.now);
  assert.equal(i.detail, "1 of 1 monitors see it fine again");
  assert.deepEqual(f.engine.open, []);
  assert.deepEqual(kinds(f.repeat("a", "x/TCP", 3)), [], "one resolution");
});

/** How many bad monitors out of `running` open an incident under `quorum`. */
function neededToOpen(quorum: string, running: number): number {
  const monitors = ["a", "b", "c"].slice(0, running);
  const text = `monitors:\n${
    monitors.map((m, i) => `  - {address: "127.0.0.1:${54001 + i}", name: ${m}}\n`).join("")
  }alerts: {down_after: 1, quorum: ${quorum}}\ntargets: {x: {TCP: {port: 80}}}\n`;
  const f = new Feed(parseConfig(text, "tasks.yaml"));
  // every monitor has a verdict: the healthy ones are good, not unknown
  for (const m of monitors) f.repeat(m, "x/TCP", 2);
  for (const [n, m] of monitors.entries()) {
    const events = f.run(m, "x/TCP", DOWN);
    if (events.length > 0) {
      assert.deepEqual(kinds(events), ["down opened"]);
      assert.equal(events[0]!.incident.running, running);
      assert.equal(events[0]!.incident.quorum, n + 1);
      return n + 1;
    }
  }
  return Infinity;
}

Deno.test("AlertEngine opens on a majority of 1, 2 and 3 monitors: 1, 2 and 2 bad", () => {
  assert.deepEqual([1, 2, 3].map((n) => neededToOpen("majority", n)), [1, 2, 2]);
});

Deno.test("AlertEngine opens on quorum all of 1, 2 and 3 monitors: 1, 2 and 3 bad", () => {
  assert.deepEqual([1, 2, 3].map((n) => neededToOpen("all", n)), [1, 2, 3]);
});

Deno.test("AlertEngine opens on quorum 2 of 1, 2 and 3 monitors: 1, 2 and 2 bad", () => {
  assert.deepEqual([1, 2, 3].map((n) => neededToOpen("2", n)), [1, 2, 2]);
  assert.deepEqual([1, 2, 3].map((n) => neededToOpen("5", n)), [1, 2, 3], "capped at running");
  assert.deepEqual([1, 2, 3].map((n) => neededToOpen("1", n)), [1, 1, 1]);
});

Deno.test("AlertEngine resolves once the bad monitors could no longer make a quorum", () => {
  const f = new Feed(
    config("alerts: {down_after: 1, up_after: 1}\ntargets: {x: {TCP: {port: 80}}}\n"),
  );
  f.run("c", "x/TCP");
  f.run("a", "x/TCP", DOWN);
  assert.deepEqual(kinds(f.run("b", "x/TCP", DOWN)), ["down opened"]);
  assert.deepEqual(kinds(f.run("c", "x/TCP")), [], "c was never part of it");
  const events = f.run("a", "x/TCP");
  assert.deepEqual(kinds(events), ["down resolved"]);
  assert.deepEqual(events[0]!.incident.vantage.map((v) => [v.monitor, v.state]), [
    ["a", "good"],
    ["b", "bad"],
    ["c", "good"],
  ]);
});

Deno.test("AlertEngine does not resolve when a bad monitor goes offline or one never reported", () => {
  const f = new Feed(
    config("alerts: {down_after: 1, up_after: 1}\ntargets: {x: {TCP: {port: 80}}}\n"),
  );
  f.run("a", "x/TCP", DOWN);
  assert.deepEqual(kinds(f.run("b", "x/TCP", DOWN)), ["down opened"]);
  f.engine.forgetMonitor("a");
  // a (offline) and c (silent) could still be the two bad ones
  assert.deepEqual(kinds(f.repeat("b", "x/TCP", 3)), [], "silence is no recovery");
  assert.equal(f.engine.open.length, 1);
  const events = f.run("c", "x/TCP");
  assert.deepEqual(kinds(events), ["down resolved"], "two good of three: no quorum can be bad");
  assert.deepEqual(events[0]!.incident.vantage.map((v) => [v.monitor, v.state]), [
    ["a", "unknown"],
    ["b", "good"],
    ["c", "good"],
  ]);
});

Deno.test("AlertEngine does not open on monitors with no verdict yet", () => {
  const f = new Feed(config("alerts: {down_after: 1}\ntargets: {x: {TCP: {port: 80}}}\n"));
  assert.deepEqual(kinds(f.run("a", "x/TCP", DOWN)), [], "one bad and two unknown");
  assert.deepEqual(kinds(f.run("b", "x/TCP", DOWN)), ["down opened"]);
});

Deno.test("AlertEngine counts a spread check's monitors as one vantage point", () => {
  const f = new Feed(
    config(
      "alerts: {down_after: 3, quorum: all}\ntargets: {x: {TCP: {port: 80, monitors: spread}}}\n",
    ),
  );
  assert.deepEqual(kinds(f.run("a", "x/TCP", DOWN)), []);
  assert.deepEqual(kinds(f.run("b", "x/TCP", DOWN)), []);
  const events = f.run("c", "x/TCP", DOWN);
  assert.deepEqual(kinds(events), ["down opened"], "three failures in a row wherever it ran");
  const i = events[0]!.incident;
  assert.deepEqual([i.running, i.quorum], [1, 1]);
  assert.deepEqual(i.vantage.map((v) => [v.monitor, v.state]), [["*", "bad"]]);
  f.engine.forgetMonitor("c");
  f.run("a", "x/TCP");
  assert.deepEqual(kinds(f.run("b", "x/TCP")), ["down resolved"], "up_after 2, on two monitors");
});

Deno.test("AlertEngine ignores a spread check's results older than the last one counted", () => {
  const f = new Feed(
    config(
      "alerts: {down_after: 2, up_after: 1}\ntargets: {x: {TCP: {port: 80, monitors: spread}}}\n",
    ),
  );
  f.run("b", "x/TCP");
  // a, partitioned earlier, replays two failures from before b's success
  assert.deepEqual(kinds(f.run("a", "x/TCP", { up: false, ageMs: 25_000 })), []);
  assert.deepEqual(kinds(f.run("a", "x/TCP", { up: false, ageMs: 25_000 })), []);
  assert.deepEqual(f.engine.open, []);
  assert.deepEqual(kinds(f.run("b", "x/TCP", DOWN)), [], "b's own count starts from zero");
  assert.deepEqual(kinds(f.run("b", "x/TCP", DOWN)), ["down opened"]);
});

Deno.test("AlertEngine ignores results older than two intervals plus the timeout (a spool replay)", () => {
  const f = new Feed(
    config(
      "alerts: {down_after: 1, up_after: 1}\n" +
        "targets: {x: {TCP: {port: 80, frequency: 60, timeout: 10}}, " +
        "y: {TCP: {port: 80, frequency: 2, timeout: 1}}}\n",
      ONLY_A,
    ),
  );
  // x: 2 × 60 s + 10 s
  assert.deepEqual(kinds(f.run("a", "x/TCP", { up: false, ageMs: 130_001 })), []);
  assert.deepEqual(f.engine.open, []);
  assert.deepEqual(kinds(f.run("a", "x/TCP", { up: false, ageMs: 130_000 })), ["down opened"]);
  assert.deepEqual(kinds(f.run("a", "x/TCP", { ageMs: 200_000 })), [], "an old success");
  assert.deepEqual(kinds(f.run("a", "x/TCP", { ageMs: 1_000 })), ["down resolved"]);
  // y: 2 × 2 s + 1 s
  assert.deepEqual(kinds(f.run("a", "y/TCP", { up: false, ageMs: 5_001 })), []);
  assert.deepEqual(kinds(f.run("a", "y/TCP", { up: false, ageMs: 5_000 })), ["down opened"]);
});

Deno.test("AlertEngine ignores results of checks not in the configuration", () => {
  const f = new Feed(config("alerts: {down_after: 1}\ntargets: {x: {TCP: {port: 80}}}\n"));
  assert.deepEqual(kinds(f.repeat("a", "gone/TCP", 3, DOWN)), []);
  assert.deepEqual(f.engine.open, []);
});

/** Metrics of a certificate expiring `days` from `now`, as the HTTPS and TCP checks set them. */
function certIn(now: number, days: number): Record<string, number> {
  const expiry = now + days * DAY_MS;
  return {
    probe_ssl_earliest_cert_expiry: Math.floor(expiry / 1000),
    netmon_ssl_cert_days_left: days,
  };
}

Deno.test("AlertEngine opens a cert incident from probe_ssl_earliest_cert_expiry (seconds)", () => {
  const f = new Feed(
    config(
      "alerts: {cert_expiry_days: 14, up_after: 1}\n" +
        "targets: {x: {HTTPS: {url: 'https://127.0.0.1/'}}}\n",
    ),
  );
  // the first result to see it is enough: a certificate does not flap
  assert.deepEqual(kinds(f.run("a", "x/HTTPS", { metrics: certIn(f.now + 10_000, 30) })), []);
  assert.deepEqual(kinds(f.run("a", "x/HTTPS", { metrics: certIn(f.now + 10_000, 13.5) })), []);
  const events = f.run("b", "x/HTTPS", { metrics: certIn(f.now + 10_000, 13.5) });
  assert.deepEqual(kinds(events), ["cert opened"]);
  assert.match(events[0]!.incident.detail, /2 of 3 monitors see it with an expiring certificate/);
  assert.deepEqual(f.engine.open.map((i) => i.condition), ["cert"], "the target is up");
  // a failed run without the metric says nothing about the certificate
  assert.deepEqual(kinds(f.repeat("a", "x/HTTPS", 2, { up: false })), []);
  assert.deepEqual(kinds(f.run("b", "x/HTTPS", { metrics: certIn(f.now + 10_000, 90) })), []);
  assert.deepEqual(kinds(f.run("a", "x/HTTPS", { metrics: certIn(f.now + 10_000, 90) })), [
    "cert resolved",
  ]);
});

Deno.test("AlertEngine raises no cert incident unless cert_expiry_days is set", () => {
  const f = new Feed(config("alerts: {}\ntargets: {x: {HTTPS: {url: 'https://127.0.0.1/'}}}\n"));
  for (const m of ["a", "b", "c"]) {
    assert.deepEqual(kinds(f.run(m, "x/HTTPS", { metrics: certIn(f.now + 10_000, 1) })), []);
  }
});

Deno.test("AlertEngine opens a latency incident after latency_runs slow runs and resolves it", () => {
  const f = new Feed(
    config(
      "alerts: {latency_ms: 100, latency_runs: 3, up_after: 2}\n" +
        "targets: {x: {TCP: {port: 80}}}\n",
      ONLY_A,
    ),
  );
  const slow = { latencyMs: 150 };
  assert.deepEqual(kinds(f.repeat("a", "x/TCP", 2, slow)), []);
  assert.deepEqual(kinds(f.run("a", "x/TCP", { latencyMs: 100 })), [], "at the threshold is fine");
  assert.deepEqual(kinds(f.repeat("a", "x/TCP", 2, slow)), []);
  // a failed run has no latency to judge: it neither counts nor resets
  assert.deepEqual(kinds(f.run("a", "x/TCP", { up: false, latencyMs: 900 })), []);
  const events = f.run("a", "x/TCP", slow);
  assert.deepEqual(kinds(events), ["latency opened"]);
  assert.match(events[0]!.incident.detail, /see it slow/);
  assert.equal(events[0]!.incident.vantage.find((v) => v.monitor === "a")?.latencyMs, 150);
  assert.deepEqual(kinds(f.run("a", "x/TCP", { latencyMs: 20 })), []);
  assert.deepEqual(kinds(f.run("a", "x/TCP", { latencyMs: 20 })), ["latency resolved"]);
});

Deno.test("AlertEngine uses check-level rules over target-level over global ones", () => {
  const f = new Feed(
    config(
      "alerts: {down_after: 5, quorum: 1}\n" +
        "targets:\n  x: {alert: {down_after: 2}, TCP: {port: 80, alert: {down_after: 1}}, " +
        "HTTP: {url: 'http://127.0.0.1/'}}\n  y: {TCP: {port: 80}}\n",
    ),
  );
  assert.deepEqual(kinds(f.run("a", "x/TCP", DOWN)), ["down opened"], "the check's own");
  assert.deepEqual(kinds(f.run("a", "x/HTTP", DOWN)), []);
  assert.deepEqual(kinds(f.run("a", "x/HTTP", DOWN)), ["down opened"], "the target's");
  assert.deepEqual(kinds(f.repeat("a", "y/TCP", 4, DOWN)), []);
  assert.deepEqual(kinds(f.run("a", "y/TCP", DOWN)), ["down opened"], "the global one");
});

Deno.test("AlertEngine.prune() resolves the incidents of checks removed by a reload", () => {
  const before = config(
    "alerts: {down_after: 1, quorum: 1}\ntargets: {x: {TCP: {port: 80}}, y: {TCP: {port: 81}}}\n",
  );
  const f = new Feed(before);
  assert.deepEqual(kinds([...f.run("a", "x/TCP", DOWN), ...f.run("a", "y/TCP", DOWN)]), [
    "down opened",
    "down opened",
  ]);
  const after = config("alerts: {down_after: 2, quorum: 1}\ntargets: {y: {TCP: {port: 81}}}\n");
  const events = f.engine.prune(after, f.now);
  assert.deepEqual(kinds(events), ["down resolved"]);
  assert.equal(events[0]!.incident.checkId, "x/TCP");
  assert.equal(events[0]!.incident.resolvedAt, f.now);
  assert.equal(events[0]!.incident.detail, "the check was removed from the configuration");
  assert.deepEqual(f.engine.open.map((i) => i.checkId), ["y/TCP"]);
  assert.deepEqual(f.engine.prune(after, f.now), [], "once");
  // the check comes back: its old verdicts are gone, down_after 2 counts afresh
  f.config = config("alerts: {down_after: 2, quorum: 1}\ntargets: {x: {TCP: {port: 80}}}\n");
  assert.deepEqual(kinds(f.run("a", "x/TCP", DOWN)), []);
  assert.deepEqual(kinds(f.run("a", "x/TCP", DOWN)), ["down opened"]);
});

Deno.test("AlertEngine.prune() resolves latency and cert incidents whose alerts a reload turned off", () => {
  const f = new Feed(
    config(
      "alerts: {latency_ms: 100, latency_runs: 1, cert_expiry_days: 14, quorum: 1}\n" +
        "targets: {x: {HTTPS: {url: 'https://127.0.0.1/'}}}\n",
    ),
  );
  assert.deepEqual(
    kinds(f.run("a", "x/HTTPS", { latencyMs: 500, metrics: certIn(f.now + 10_000, 3) })),
    ["latency opened", "cert opened"],
  );
  const after = config(
    "alerts: {latency_ms: off, cert_expiry_days: 14, quorum: 1}\n" +
      "targets: {x: {HTTPS: {url: 'https://127.0.0.1/'}}}\n",
  );
  const events = f.engine.prune(after, f.now);
  assert.deepEqual(kinds(events), ["latency resolved"]);
  assert.equal(events[0]!.incident.detail, "latency_ms was turned off in the configuration");
  assert.deepEqual(f.engine.open.map((i) => i.condition), ["cert"]);
});

Deno.test("AlertEngine keeps incidents open across a restart until a quorum is good again", () => {
  const cfg = config("alerts: {down_after: 1, up_after: 1}\ntargets: {x: {TCP: {port: 80}}}\n");
  const first = new Feed(cfg);
  first.run("a", "x/TCP", DOWN);
  first.run("b", "x/TCP", DOWN);
  const [incident] = first.engine.open;
  assert.ok(incident);
  const f = new Feed(cfg, new AlertEngine([incident]));
  f.now = first.now;
  assert.deepEqual(kinds(f.run("a", "x/TCP")), [], "b and c are unknown after the restart");
  const events = f.run("b", "x/TCP");
  assert.deepEqual(kinds(events), ["down resolved"]);
  assert.equal(events[0]!.incident.id, incident.id);
});

Deno.test("AlertEngine takes the quorum over the monitors with fresh results when one is offline", () => {
  const f = new Feed(
    config("alerts: {down_after: 1, up_after: 1, quorum: all}\ntargets: {x: {TCP: {port: 80}}}\n"),
  );
  for (const m of ["a", "b", "c"]) f.run(m, "x/TCP");
  f.offline.add("c");
  f.engine.forgetMonitor("c");
  assert.deepEqual(kinds(f.run("a", "x/TCP", DOWN)), [], "one of the two left");
  const opened = f.run("b", "x/TCP", DOWN);
  assert.deepEqual(kinds(opened), ["down opened"], "quorum all of the two that can see");
  const i = opened[0]!.incident;
  assert.equal(i.detail, "down from 2 of 2 monitors with fresh results; 1 unknown (quorum 2)");
  assert.deepEqual([i.quorum, i.running], [2, 3]);
  assert.deepEqual(i.vantage.map((v) => [v.monitor, v.state, v.why]), [
    ["a", "bad", undefined],
    ["b", "bad", undefined],
    ["c", "unknown", "offline"],
  ]);
  const resolved = f.run("a", "x/TCP");
  assert.deepEqual(kinds(resolved), ["down resolved"]);
  assert.equal(
    resolved[0]!.incident.detail,
    "fine again from 1 of 2 monitors with fresh results; 1 unknown",
  );
});

Deno.test("AlertEngine counts a monitor whose newest result is stale as unknown, not as good", () => {
  // 2 × 5 s + 1 s: a result counts for 11 s; the feed's clock moves 10 s per result
  const f = new Feed(
    config(
      "alerts: {down_after: 1, quorum: all}\ntargets: {x: {TCP: {port: 80, frequency: 5, timeout: 1}}}\n",
    ),
  );
  f.run("c", "x/TCP");
  assert.deepEqual(kinds(f.run("a", "x/TCP", DOWN)), [], "c's success is 10 s old: it counts");
  const events = f.run("b", "x/TCP", DOWN);
  assert.deepEqual(kinds(events), ["down opened"], "c's success is 20 s old now");
  assert.deepEqual(events[0]!.incident.vantage.map((v) => [v.monitor, v.state, v.why]), [
    ["a", "bad", undefined],
    ["b", "bad", undefined],
    ["c", "unknown", "stale"],
  ]);
});

Deno.test("AlertEngine opens on the one monitor left of two (a dead vantage point blocks nothing)", () => {
  const two =
    `monitors:\n  - {address: "127.0.0.1:54001", name: a}\n  - {address: "127.0.0.1:54002", name: b}\n`;
  const f = new Feed(config("alerts: {down_after: 2}\ntargets: {x: {TCP: {port: 80}}}\n", two));
  f.run("a", "x/TCP");
  f.run("b", "x/TCP");
  f.offline.add("b");
  f.engine.forgetMonitor("b");
  f.run("a", "x/TCP", DOWN);
  const events = f.run("a", "x/TCP", DOWN);
  assert.deepEqual(kinds(events), ["down opened"]);
  assert.equal(
    events[0]!.incident.detail,
    "down from 1 of 1 monitors with fresh results; 1 unknown (quorum 1)",
  );
});

Deno.test("AlertEngine keeps an incident open while every monitor is unknown", () => {
  const f = new Feed(
    config(
      "alerts: {down_after: 1, up_after: 1}\ntargets: {x: {TCP: {port: 80, frequency: 5, timeout: 1}}}\n",
    ),
  );
  f.run("a", "x/TCP", DOWN);
  assert.deepEqual(kinds(f.run("b", "x/TCP", DOWN)), ["down opened"]);
  for (const m of ["a", "b", "c"]) f.offline.add(m);
  // a result that arrives just as its monitor drops (a late frame) resolves nothing
  assert.deepEqual(kinds(f.run("c", "x/TCP")), []);
  assert.equal(f.engine.open.length, 1);
});

Deno.test("AlertEngine judges freshness as of the result it is given, not after the manager's delay", () => {
  // 2 × 5 s + 1 s: a result counts for 11 s
  const f = new Feed(
    config(
      "alerts: {down_after: 1}\ntargets: {x: {TCP: {port: 80, frequency: 5, timeout: 1}}}\n",
    ),
  );
  f.run("c", "x/TCP");
  f.run("b", "x/TCP", { ageMs: 4_000 });
  // a's failure started 5 s after b's success, but reaches the manager 9 s late: by the wall
  // clock b and c look stale (14 s, 20 s), as of a's result they are not (5 s, 11 s)
  assert.deepEqual(kinds(f.run("a", "x/TCP", { up: false, ageMs: 9_000 })), [], "one of three");
});
