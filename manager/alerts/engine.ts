/**
 * The alert state machine, free of I/O. Each result moves one vantage
 * point's verdict on each condition (`down`, `latency`, `cert`) after enough
 * consecutive runs; an incident opens when a quorum of the vantage points
 * running the check are bad, and resolves once the bad ones, even counting
 * every monitor whose verdict is unknown as bad, could no longer make a
 * quorum. So one vantage point's bad link pages nobody, and a monitor that
 * drops off never fakes a recovery.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../../shared/config.ts";
 * import { AlertEngine } from "./engine.ts";
 * const config = parseConfig(
 *   "monitors: [{address: 'h:1', name: a}]\nalerts: {down_after: 1}\n" +
 *     "targets: {x: {TCP: {port: 80}}}\n",
 *   "tasks.yaml",
 * );
 * const engine = new AlertEngine();
 * const r = {
 *   seq: 1, taskId: "t", monitorId: "m", checkId: "x/TCP", target: "x", type: "TCP" as const,
 *   startedAt: Date.now(), durationMs: 1, up: false, summary: "Closed", latencyMs: null,
 *   metrics: {}, error: "connection refused",
 * };
 * const events = engine.observe(r, "a", config, Date.now());
 * console.assert(events[0]?.kind === "opened");
 * ```
 *
 * @module
 */
import type { CheckResult, CheckType } from "../../shared/checks.ts";
import type { AssignedCheck, Config } from "../../shared/config.ts";
import { type AlertRule, quorumSize, ruleFor, SPREAD_VANTAGE, vantagePoints } from "./rules.ts";

/**
 * What an incident is about.
 *
 * @example
 * ```ts
 * import type { Condition } from "./engine.ts";
 * const c: Condition = "down";
 * ```
 */
export type Condition = "down" | "latency" | "cert";

/**
 * One vantage point's view of the check when the incident changed.
 *
 * @example
 * ```ts
 * import type { VantageView } from "./engine.ts";
 * const v: VantageView = { monitor: "a", state: "bad", summary: "Closed", at: 0, latencyMs: null };
 * ```
 */
export interface VantageView {
  monitor: string;
  state: "bad" | "good" | "unknown";
  /** The last result's seed-format summary ("" when none was seen). */
  summary: string;
  error?: string;
  latencyMs: number | null;
  /** Wall-clock start of that result (0 when none). */
  at: number;
}

/**
 * An incident as the engine tracks it.
 *
 * @example
 * ```ts
 * import type { Incident } from "./engine.ts";
 * const i: Incident = {
 *   id: "1", checkId: "x/TCP", target: "x", type: "TCP", condition: "down", openedAt: 0,
 *   resolvedAt: null, quorum: 2, running: 3, vantage: [], detail: "2 of 3 monitors see it down",
 * };
 * ```
 */
export interface Incident {
  id: string;
  checkId: string;
  target: string;
  type: CheckType;
  condition: Condition;
  /** Wall-clock times. */
  openedAt: number;
  resolvedAt: number | null;
  quorum: number;
  running: number;
  /** Each vantage point's view at the last change. */
  vantage: VantageView[];
  /** One line on why it opened or resolved. */
  detail: string;
}

/**
 * An incident opening or resolving.
 *
 * @example
 * ```ts
 * import type { AlertEvent } from "./engine.ts";
 * const handle = (e: AlertEvent) => console.log(e.kind, e.incident.checkId);
 * ```
 */
export interface AlertEvent {
  kind: "opened" | "resolved";
  incident: Incident;
  rule: AlertRule;
}

interface Verdict {
  bad: boolean | null;
  badRun: number;
  goodRun: number;
  last: CheckResult | null;
}

const CONDITIONS: Condition[] = ["down", "latency", "cert"];
const DAY_MS = 86_400_000;
/** Results older than this many intervals say nothing about now (a spool replay). */
const STALE_INTERVALS = 3;
const MIN_STALE_MS = 30_000;

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
};

/** Tracks verdicts and incidents; the caller persists and notifies. */
export class AlertEngine {
  /** `checkId\0condition\0vantage` → verdict. */
  #verdicts = new Map<string, Verdict>();
  /** `checkId\0condition` → open incident. */
  #open = new Map<string, Incident>();

  /** Starts with incidents that were open when the manager last stopped. */
  constructor(open: Incident[] = []) {
    for (const i of open) this.#open.set(`${i.checkId}\0${i.condition}`, i);
  }

  /** The open incidents. */
  get open(): Incident[] {
    return [...this.#open.values()];
  }

  /** Feeds one stored result from the monitor named `monitor`; returns what changed. */
  observe(r: CheckResult, monitor: string, config: Config, now: number): AlertEvent[] {
    const check = config.checks.find((c) => c.spec.id === r.checkId);
    if (check === undefined) return [];
    const staleMs = Math.max(STALE_INTERVALS * check.spec.intervalMs, MIN_STALE_MS);
    if (now - r.startedAt > staleMs) return [];
    const rule = ruleFor(config, check.spec.target, check.alert);
    const vantage = check.placement.mode === "spread" ? SPREAD_VANTAGE : monitor;
    const events: AlertEvent[] = [];
    for (const c of CONDITIONS) {
      const bad = judge(c, r, rule, now);
      if (bad === null) continue;
      const key = `${r.checkId}\0${c}\0${vantage}`;
      const v = this.#verdicts.get(key) ?? { bad: null, badRun: 0, goodRun: 0, last: null };
      // a spread check's previous monitor may replay its spool after the next one
      // reported: its older results would count as the newest (one monitor's own
      // results arrive in order, even across a clock step)
      if (vantage === SPREAD_VANTAGE && v.last !== null && r.startedAt < v.last.startedAt) {
        continue;
      }
      v.last = r;
      if (bad) [v.badRun, v.goodRun] = [v.badRun + 1, 0];
      else [v.badRun, v.goodRun] = [0, v.goodRun + 1];
      const t = thresholds(c, rule);
      if (v.badRun >= t.bad) v.bad = true;
      if (v.goodRun >= t.good) v.bad = false;
      this.#verdicts.set(key, v);
      const e = this.#settle(check, c, rule, config, now);
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
  ): AlertEvent | null {
    const points = vantagePoints(config, check);
    const q = quorumSize(rule.quorum, points.length);
    const views = points.map((m): VantageView => {
      const v = this.#verdicts.get(`${check.spec.id}\0${c}\0${m}`);
      const last = v?.last ?? null;
      return {
        monitor: m,
        state: v?.bad === true ? "bad" : v?.bad === false ? "good" : "unknown",
        summary: last?.summary ?? "",
        ...(last?.error !== undefined ? { error: last.error } : {}),
        latencyMs: last?.latencyMs ?? null,
        at: last?.startedAt ?? 0,
      };
    });
    const bad = views.filter((v) => v.state === "bad").length;
    const unknown = views.filter((v) => v.state === "unknown").length;
    const key = `${check.spec.id}\0${c}`;
    const open = this.#open.get(key);
    const word = WORDS[c];
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
        detail: `${bad} of ${points.length} monitors see it ${word} (quorum ${q})`,
      };
      this.#open.set(key, incident);
      return { kind: "opened", incident, rule };
    }
    if (open !== undefined && bad + unknown < q) {
      this.#open.delete(key);
      const good = views.filter((v) => v.state === "good").length;
      const incident: Incident = {
        ...open,
        resolvedAt: now,
        vantage: views,
        detail: `${good} of ${points.length} monitors see it fine again`,
      };
      return { kind: "resolved", incident, rule };
    }
    return null;
  }
}
