/**
 * The incremental alert engine against the engine it replaced, which
 * visited every vantage point for every result (kept here, verbatim, as the
 * reference): the same seeded streams of results, monitors going offline and
 * coming back, stale and replayed results and configuration reloads must
 * open and resolve the same incidents with the same details and views. And
 * the work per result, counted in vantage points visited, stays bounded at
 * 1,000 vantage points where the reference's is 1,000.
 */
import { mulberry32 as prng } from "../../tests/helpers/prng.ts";
import assert from "node:assert/strict";
import type { CheckResult } from "../../shared/checks.ts";
import { type AssignedCheck, checkById, type Config, parseConfig } from "../../shared/config.ts";
import {
  AlertEngine,
  type AlertEvent,
  type Condition,
  type Incident,
  type VantageView,
} from "./engine.ts";
import { type AlertRule, quorumSize, ruleFor, SPREAD_VANTAGE, vantagePoints } from "./rules.ts";
import { freshness, staleAfterMs } from "../freshness.ts";

interface Verdict {
  bad: boolean | null;
  badRun: number;
  goodRun: number;
  last: CheckResult | null;
  /** The monitor of `last` (for a spread check, the one that ran it last). */
  monitor: string;
}

/** Whether the monitor named so is online; every one is, unless told otherwise. */
type Online = (monitor: string) => boolean;
const ALL_ONLINE: Online = () => true;

const CONDITIONS: Condition[] = ["down", "latency", "cert"];
const DAY_MS = 86_400_000;

/** `true`/`false` for a bad/good run, `null` when the result says nothing about `c`. */
function judge(c: Condition, r: CheckResult, rule: AlertRule, now: number): boolean | null {
  if (c === "down") return !r.up;
  if (c === "latency") {
    if (rule.latencyMs === null || !r.up || r.latencyMs === null) return null;
    return r.latencyMs > rule.latencyMs;
  }
  const expiry = r.metrics.probe_ssl_earliest_cert_expiry;
  if (rule.certExpiryDays === null || expiry === undefined) return null;
  return expiry * 1000 - now < rule.certExpiryDays * DAY_MS;
}

/** Whether `rule` watches `c` at all (latency and certificate alerts may be off). */
function watches(rule: AlertRule, c: Condition): boolean {
  if (c === "latency") return rule.latencyMs !== null;
  if (c === "cert") return rule.certExpiryDays !== null;
  return true;
}

function thresholds(c: Condition, rule: AlertRule): { bad: number; good: number } {
  if (c === "down") return { bad: rule.downAfter, good: rule.upAfter };
  if (c === "latency") return { bad: rule.latencyRuns, good: rule.upAfter };
  return { bad: 1, good: 1 };
}

const WORDS: Record<Condition, string> = {
  down: "down",
  latency: "slow",
  cert: "with an expiring certificate",
  offline: "offline",
};
/** The condition as a noun phrase: "down from 2 of 2 monitors with fresh results". */
const FROM_WORDS: Record<Condition, string> = {
  down: "down",
  latency: "slow",
  cert: "expiring certificate",
  offline: "offline",
};

/** The engine as it was before it counted incrementally: it visits every vantage point for every result. */
class ReferenceEngine {
  /** `checkId\0condition\0vantage` → verdict. */
  #verdicts = new Map<string, Verdict>();
  /** `checkId\0condition` → open incident. */
  #open = new Map<string, Incident>();
  /** Vantage points visited. */
  visits = 0;

  /** Starts with incidents that were open when the manager last stopped. */
  constructor(open: Incident[] = []) {
    for (const i of open) this.#open.set(`${i.checkId}\0${i.condition}`, i);
  }

  /** The open incidents. */
  get open(): Incident[] {
    return [...this.#open.values()];
  }

  /**
   * Feeds one stored result from the monitor named `monitor`; returns what
   * changed. `online` tells which monitors are connected now.
   */
  observe(
    r: CheckResult,
    monitor: string,
    config: Config,
    now: number,
    online: Online = ALL_ONLINE,
  ): AlertEvent[] {
    const check = checkById(config, r.checkId);
    if (check === undefined) return [];
    // an old result (a spool replay) says nothing about now
    if (now - r.startedAt > staleAfterMs(check.spec.intervalMs, check.spec.timeoutMs)) return [];
    const rule = ruleFor(config, check.spec.target, check.alert);
    const vantage = check.placement.mode === "spread" ? SPREAD_VANTAGE : monitor;
    const events: AlertEvent[] = [];
    for (const c of CONDITIONS) {
      const bad = judge(c, r, rule, now);
      if (bad === null) continue;
      const key = `${r.checkId}\0${c}\0${vantage}`;
      const v = this.#verdicts.get(key) ??
        { bad: null, badRun: 0, goodRun: 0, last: null, monitor };
      // a spread check's previous monitor may replay its spool after the next one
      // reported: its older results would count as the newest (one monitor's own
      // results arrive in order, even across a clock step)
      if (vantage === SPREAD_VANTAGE && v.last !== null && r.startedAt < v.last.startedAt) {
        continue;
      }
      v.last = r;
      v.monitor = monitor;
      if (bad) [v.badRun, v.goodRun] = [v.badRun + 1, 0];
      else [v.badRun, v.goodRun] = [0, v.goodRun + 1];
      const t = thresholds(c, rule);
      if (v.badRun >= t.bad) v.bad = true;
      if (v.goodRun >= t.good) v.bad = false;
      this.#verdicts.set(key, v);
      // judged as of this result: a manager busy for a moment must not make the others look stale
      const e = this.#settle(check, c, rule, config, now, online, Math.min(now, r.startedAt));
      this.visits += vantagePoints(config, check).length;
      if (e) events.push(e);
    }
    return events;
  }

  /** Forgets what `monitor` saw (it went offline): its verdicts become unknown. */
  forgetMonitor(monitor: string): void {
    for (const key of this.#verdicts.keys()) {
      if (key.endsWith(`\0${monitor}`)) this.#verdicts.delete(key);
    }
  }

  /**
   * Drops the state of checks, and of latency or certificate conditions, no
   * longer in `config` and resolves their open incidents: no result would
   * ever resolve them.
   */
  prune(config: Config, now: number): AlertEvent[] {
    const checks = new Map(config.checks.map((c) => [c.spec.id, c]));
    const watched = (checkId: string, c: Condition): boolean => {
      const check = checks.get(checkId);
      return check !== undefined && watches(ruleFor(config, check.spec.target, check.alert), c);
    };
    for (const key of this.#verdicts.keys()) {
      const [checkId, c] = key.split("\0") as [string, Condition];
      if (!watched(checkId, c)) this.#verdicts.delete(key);
    }
    const events: AlertEvent[] = [];
    for (const [key, i] of this.#open) {
      if (watched(i.checkId, i.condition)) continue;
      this.#open.delete(key);
      const check = checks.get(i.checkId);
      const setting = i.condition === "latency" ? "latency_ms" : "cert_expiry_days";
      events.push({
        kind: "resolved",
        incident: {
          ...i,
          resolvedAt: now,
          detail: check === undefined
            ? "the check was removed from the configuration"
            : `${setting} was turned off in the configuration`,
        },
        rule: ruleFor(config, i.target, check?.alert),
      });
    }
    return events;
  }

  #settle(
    check: AssignedCheck,
    c: Condition,
    rule: AlertRule,
    config: Config,
    now: number,
    online: Online,
    asOf: number,
  ): AlertEvent | null {
    const points = vantagePoints(config, check);
    const views = points.map((m): VantageView => {
      const v = this.#verdicts.get(`${check.spec.id}\0${c}\0${m}`);
      const last = v?.last ?? null;
      const f = freshness({
        // a spread check's vantage point is wherever it ran last
        online: online(v?.monitor ?? m) || (m === SPREAD_VANTAGE && v === undefined),
        lastResultAt: last?.startedAt ?? null,
        intervalMs: check.spec.intervalMs,
        timeoutMs: check.spec.timeoutMs,
        now: asOf,
      });
      const judged = f === "fresh" && v?.bad != null;
      return {
        monitor: m,
        state: judged ? (v!.bad ? "bad" : "good") : "unknown",
        ...(judged ? {} : { why: f === "offline" || f === "stale" ? f : "pending" }),
        summary: last?.summary ?? "",
        ...(last?.error !== undefined ? { error: last.error } : {}),
        latencyMs: last?.latencyMs ?? null,
        at: last?.startedAt ?? 0,
      };
    });
    const count = (pred: (v: VantageView) => boolean) => views.filter(pred).length;
    const bad = count((v) => v.state === "bad");
    const good = count((v) => v.state === "good");
    const pending = count((v) => v.why === "pending");
    const unknown = count((v) => v.state === "unknown") - pending;
    // the quorum is taken over the vantage points that can say anything now
    const q = quorumSize(rule.quorum, points.length - unknown);
    const key = `${check.spec.id}\0${c}`;
    const open = this.#open.get(key);
    const word = WORDS[c];
    const caveat = () => {
      const others = [
        ...(unknown ? [`${unknown} unknown`] : []),
        ...(pending ? [`${pending} not judged yet`] : []),
      ];
      return `of ${bad + good} monitors with fresh results; ${others.join(", ")}`;
    };
    if (open === undefined && bad >= q) {
      const incident: Incident = {
        id: crypto.randomUUID(),
        checkId: check.spec.id,
        target: check.spec.target,
        type: check.spec.type,
        condition: c,
        openedAt: now,
        resolvedAt: null,
        quorum: q,
        running: points.length,
        vantage: views,
        detail: unknown === 0
          ? `${bad} of ${points.length} monitors see it ${word} (quorum ${q})`
          : `${FROM_WORDS[c]} from ${bad} ${caveat()} (quorum ${q})`,
      };
      this.#open.set(key, incident);
      return { kind: "opened", incident, rule };
    }
    // silence is no recovery: an online monitor not judged yet could still be bad
    if (open !== undefined && good > 0 && bad + pending < q) {
      this.#open.delete(key);
      const incident: Incident = {
        ...open,
        resolvedAt: now,
        vantage: views,
        detail: unknown === 0
          ? `${good} of ${points.length} monitors see it fine again`
          : `fine again from ${good} ${caveat()}`,
      };
      return { kind: "resolved", incident, rule };
    }
    return null;
  }
}

const T0 = Date.UTC(2025, 0, 10, 12, 0, 0);
const MONITORS = ["a", "b", "c", "d", "e"];

/** Two configurations to reload between: monitor `e` leaves, rules and timing change. */
function configs(): Config[] {
  const monitors = (names: string[]) =>
    `monitors:\n${
      names.map((m, i) => `  - {address: "127.0.0.1:${54001 + i}", name: ${m}}\n`).join("")
    }`;
  return [
    parseConfig(
      monitors(MONITORS) +
        "alerts: {down_after: 2, up_after: 2, latency_ms: 50, latency_runs: 2}\n" +
        "targets:\n" +
        "  x: {TCP: {port: 80, frequency: 5, timeout: 1}}\n" +
        "  y: {alert: {quorum: all, down_after: 1}, TCP: {port: 81, frequency: 5, timeout: 1, " +
        "monitors: [a, b, c]}}\n" +
        "  z: {TCP: {port: 82, frequency: 5, timeout: 1, monitors: spread}}\n" +
        "  w: {alert: {quorum: 2, up_after: 1}, TCP: {port: 83, frequency: 10, timeout: 2}}\n",
      "tasks.yaml",
    ),
    parseConfig(
      monitors(MONITORS.slice(0, 4)) +
        "alerts: {down_after: 1, up_after: 3}\n" +
        "targets:\n" +
        "  x: {TCP: {port: 80, frequency: 10, timeout: 2}}\n" +
        "  y: {alert: {quorum: majority}, TCP: {port: 81, frequency: 5, timeout: 1, " +
        "monitors: [b, c, d]}}\n" +
        "  z: {TCP: {port: 82, frequency: 5, timeout: 1, monitors: spread}}\n",
      "tasks.yaml",
    ),
  ];
}

/** An event without its random incident ID, to compare the two engines' events. */
function comparable(e: AlertEvent): unknown {
  const { id: _id, ...incident } = e.incident;
  return { kind: e.kind, incident, rule: e.rule };
}

/** Feeds one seeded stream to both engines; returns the events compared and the results fed. */
function replay(seed: number, steps: number): { events: number; results: number } {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const [first, second] = configs() as [Config, Config];
  let config = first;
  const engine = new AlertEngine();
  const reference = new ReferenceEngine();
  // replaced, never changed, when a monitor drops or comes back: the engine keeps snapshots
  let offline: ReadonlySet<string> = new Set<string>();
  // per target, how likely a run fails now: flips now and then so that incidents open and resolve
  const failing = new Map<string, number>();
  let now = T0;
  let seq = 0;
  let events = 0;
  let results = 0;
  for (let step = 0; step < steps; step++) {
    now += Math.floor(rand() * 1500);
    const roll = rand();
    if (roll < 0.03) {
      // a monitor drops or comes back; the alerts forget what one that dropped saw
      const m = pick(MONITORS);
      const next = new Set(offline);
      offline = next;
      if (next.delete(m)) continue;
      next.add(m);
      if (rand() < 0.8) {
        engine.forgetMonitor(m);
        reference.forgetMonitor(m);
      }
      continue;
    }
    if (roll < 0.035) {
      config = config === first ? second : first;
      const a = engine.prune(config, now).map(comparable);
      assert.deepEqual(
        a,
        reference.prune(config, now).map(comparable),
        `seed ${seed} step ${step}`,
      );
      events += a.length;
      continue;
    }
    if (roll < 0.06) {
      const target = pick(["x", "y", "z", "w"]);
      failing.set(target, pick([0, 0.1, 0.5, 0.9, 1]));
    }
    const check = pick(config.checks);
    const monitor = pick(MONITORS);
    const down = rand() < (failing.get(check.spec.target) ?? 0);
    // mostly on time; some late (a busy link), some from a spool replay, some from the future
    const age = rand() < 0.85
      ? Math.floor(rand() * 3000)
      : pick([8_000, 12_000, 30_000, -2_000, Math.floor(rand() * 40_000)]);
    const r: CheckResult = {
      seq: ++seq,
      taskId: `task-${seq}`,
      monitorId: `id-${monitor}`,
      checkId: check.spec.id,
      target: check.spec.target,
      type: check.spec.type,
      startedAt: now - age,
      durationMs: 1,
      up: !down,
      summary: down ? "Closed" : "Open",
      latencyMs: down ? null : pick([5, 20, 80, 200]),
      metrics: {},
      ...(down ? { error: "connection refused" } : {}),
    };
    const a = engine.observe(r, monitor, config, now, offline).map(comparable);
    const b = reference.observe(r, monitor, config, now, (m) => !offline.has(m)).map(comparable);
    assert.deepEqual(a, b, `seed ${seed} step ${step}`);
    events += a.length;
    results++;
  }
  assert.deepEqual(
    engine.open.map((i) => [i.checkId, i.condition]).sort(),
    reference.open.map((i) => [i.checkId, i.condition]).sort(),
  );
  return { events, results };
}

Deno.test("AlertEngine opens and resolves exactly what the engine that visited every vantage point did", () => {
  let events = 0;
  for (let seed = 1; seed <= 40; seed++) events += replay(seed, 2_000).events;
  // the streams must exercise the engine: many openings and resolutions, not none
  assert.ok(events > 200, `only ${events} events in 40 streams`);
});

/** A configuration with `n` monitors all running one check. */
function fleet(n: number, rules: string): Config {
  const lines = ["monitors:"];
  for (let i = 0; i < n; i++) {
    lines.push(`  - {address: "10.0.${i >> 8}.${i & 255}:54322", name: m${i}}`);
  }
  lines.push(`alerts: {${rules}}`, "targets: {x: {TCP: {port: 80, frequency: 10, timeout: 5}}}");
  return parseConfig(lines.join("\n") + "\n", "tasks.yaml");
}

Deno.test("AlertEngine evaluates a result of a check on 1,000 monitors in bounded work", () => {
  const n = 1000;
  const config = fleet(n, "down_after: 1, up_after: 1");
  const engine = new AlertEngine();
  const reference = new ReferenceEngine();
  let offline: ReadonlySet<string> = new Set(["m7", "m500", "m999"]);
  let now = T0;
  let seq = 0;
  const all: AlertEvent[] = [];
  /** One round: every monitor runs the check once, 5 ms apart, each result 1 ms after it started. */
  const round = (up: (i: number) => boolean, runs = (_i: number) => true, compare = false) => {
    for (let i = 0; i < n; i++) {
      now += 5;
      if (!runs(i)) continue;
      const ok = up(i);
      const r: CheckResult = {
        seq: ++seq,
        taskId: `task-${seq}`,
        monitorId: `id-m${i}`,
        checkId: "x/TCP",
        target: "x",
        type: "TCP",
        startedAt: now - 1,
        durationMs: 1,
        up: ok,
        summary: ok ? "Open" : "Closed",
        latencyMs: ok ? 1 : null,
        metrics: {},
      };
      const events = engine.observe(r, `m${i}`, config, now, offline);
      if (compare) {
        const expected = reference.observe(r, `m${i}`, config, now, (m) => !offline.has(m));
        assert.deepEqual(events.map(comparable), expected.map(comparable));
      }
      all.push(...events);
    }
  };
  round(() => true, undefined, true);
  // the engine it replaced visited every vantage point for every result
  assert.equal(reference.visits, n * n);
  const healthy = engine.work;
  round(() => true);
  round(() => true);
  const steady = engine.work;
  // all healthy, three monitors offline: a result costs nothing that grows with n
  assert.equal(steady.results - healthy.results, 2 * n);
  assert.ok(
    steady.visits - healthy.visits <= 2 * n,
    `${steady.visits - healthy.visits} visits for ${2 * n} results`,
  );
  // the target goes down everywhere: one incident, its views built once; then back up
  round(() => false);
  round(() => true);
  const end = engine.work;
  assert.deepEqual(all.map((e) => e.kind), ["opened", "resolved"]);
  assert.ok(
    end.visits - steady.visits <= 2 * n + 2 * n,
    `${end.visits - steady.visits} visits for ${2 * n} results and 2 events`,
  );
  // half the monitors fall silent: each of them turns stale once, not at every result
  const before = engine.work;
  for (let k = 0; k < 4; k++) round(() => true, (i) => i % 2 === 0);
  const silent = engine.work;
  assert.equal(silent.results - before.results, 4 * (n / 2));
  assert.ok(
    silent.visits - before.visits <= 4 * (n / 2) + n / 2,
    `${silent.visits - before.visits} visits for ${4 * (n / 2)} results`,
  );
  // 300 monitors drop, one at a time, between results: each drop costs the check once,
  // not every result after it
  const storm = engine.work;
  for (let k = 0; k < 300; k++) {
    offline = new Set([...offline, `m${k}`]);
    round(() => true, (i) => i === 999 - (k % 100));
  }
  const after = engine.work;
  assert.equal(after.results - storm.results, 300);
  // a visit per drop, one per result, and each verdict turning stale once as the clock runs on
  assert.ok(
    after.visits - storm.visits <= 300 + 300 + n,
    `${after.visits - storm.visits} visits`,
  );
  // and the counts stay right: the online ones go down and the incident opens as its views say
  round(() => false, (i) => i >= 300);
  assert.deepEqual(all.slice(2).map((e) => e.kind), ["opened"]);
  const i = all[2]!.incident;
  const count = (state: string, why?: string) =>
    i.vantage.filter((v) => v.state === state && v.why === why).length;
  assert.equal(count("unknown", "offline"), 300 + 2, "m0..m299, m500 and m999");
  assert.equal(
    i.quorum,
    quorumSize("majority", n - count("unknown", "offline") - count("unknown", "stale")),
  );
  assert.equal(count("bad"), i.quorum);
});
