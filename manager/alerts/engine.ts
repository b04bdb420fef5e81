/**
 * The alert state machine, free of I/O. Each result moves one vantage
 * point's verdict on each condition (`down`, `latency`, `cert`) after enough
 * consecutive runs. A vantage point whose monitor is offline or whose newest
 * result is stale (`../freshness.ts`) is unknown and left out: the quorum is
 * taken over the others, so a dead vantage point neither blocks an alert nor
 * counts as a recovery. An incident opens when a quorum of those are bad,
 * and resolves once the bad ones, even counting every online monitor not
 * judged yet as bad, could no longer make a quorum. So one vantage point's
 * bad link pages nobody, and silence is no recovery.
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
import { type AssignedCheck, checkById, type Config } from "../../shared/config.ts";
import { type AlertRule, quorumSize, ruleFor, SPREAD_VANTAGE, vantagePoints } from "./rules.ts";
import { freshness, staleAfterMs } from "../freshness.ts";

/**
 * What an incident is about: a check `down`, `latency` or `cert` (judged
 * here), or a monitor `offline` (see `monitor_offline.ts`).
 *
 * @example
 * ```ts
 * import type { Condition } from "./engine.ts";
 * const c: Condition = "down";
 * ```
 */
export type Condition = "down" | "latency" | "cert" | "offline";

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
  /**
   * Why an `unknown` one is: its monitor is `offline`, its newest result is
   * `stale`, or it has not seen enough runs yet (`pending`, counted in the quorum).
   */
  why?: "offline" | "stale" | "pending";
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
  /** The check's type, or `monitor` for a monitor's own incident. */
  type: CheckType | "monitor";
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
