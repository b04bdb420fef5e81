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

/**
 * One vantage point's verdict on one condition of one check. While it is one
 * of its check's vantage points it is also a node of the group's list, kept in
 * order of `last.startedAt`.
 */
interface Verdict {
  /** The vantage point: a monitor's name, or {@linkcode SPREAD_VANTAGE}. */
  readonly point: string;
  bad: boolean | null;
  badRun: number;
  goodRun: number;
  last: CheckResult;
  /** The monitor of `last` (for a spread check, the one that ran it last). */
  monitor: string;
  listed: boolean;
  /** Whether its monitor was offline when it was listed or last went on- or offline. */
  off: boolean;
  prev: Verdict | null;
  next: Verdict | null;
}

/** A verdict's index into {@linkcode Group.fresh}: bad, good, not judged yet. */
function kindOf(v: Verdict): 0 | 1 | 2 {
  return v.bad === true ? 0 : v.bad === false ? 1 : 2;
}

/**
 * The verdicts of one condition of one check, with what a quorum needs kept
 * up to date as results come: the listed verdicts in order of their newest
 * result, a boundary at the first one still fresh as of `cut`, and how many
 * of the fresh ones are bad, good and not judged yet. Moving the boundary
 * costs the verdicts that cross it, so a result is evaluated in the work of
 * the vantage points whose freshness changed since the last one (none while
 * every monitor reports on time), not in the work of all of them. The
 * verdicts of offline monitors stay listed but are counted apart
 * (`listedOff`): they are unknown however fresh.
 */
class Group {
  readonly condition: Condition;
  /** The key of the group's incident in {@linkcode AlertEngine}'s open incidents. */
  readonly key: string;
  /** Every verdict, by vantage point, whether or not the point is one of the check's now. */
  readonly verdicts = new Map<string, Verdict>();
  head: Verdict | null = null;
  tail: Verdict | null = null;
  /** The first listed verdict whose newest result started at or after `cut`. */
  boundary: Verdict | null = null;
  cut = -Infinity;
  /** Listed verdicts, and those of them whose monitor is offline. */
  listed = 0;
  listedOff = 0;
  /** Listed verdicts of online monitors at or after the boundary: bad, good, not judged yet. */
  readonly fresh = [0, 0, 0];

  constructor(checkId: string, condition: Condition) {
    this.condition = condition;
    this.key = openKey(checkId, condition);
  }

  /** Takes `v` out of the list (before its result or verdict changes). */
  unlist(v: Verdict): void {
    if (!v.listed) return;
    if (v.off) this.listedOff--;
    else if (v.last.startedAt >= this.cut) this.fresh[kindOf(v)]!--;
    if (this.boundary === v) this.boundary = v.next;
    if (v.prev) v.prev.next = v.next;
    else this.head = v.next;
    if (v.next) v.next.prev = v.prev;
    else this.tail = v.prev;
    v.prev = v.next = null;
    v.listed = false;
    this.listed--;
  }

  /**
   * Puts `v` in the list in order of its newest result: one monitor's
   * results come in order, so that is at or near the tail. Returns the
   * verdicts stepped over.
   */
  list(v: Verdict, off: boolean): number {
    const at = v.last.startedAt;
    let after = this.tail;
    let steps = 0;
    while (after !== null && after.last.startedAt > at) {
      after = after.prev;
      steps++;
    }
    v.prev = after;
    v.next = after ? after.next : this.head;
    if (v.next) v.next.prev = v;
    else this.tail = v;
    if (after) after.next = v;
    else this.head = v;
    v.listed = true;
    v.off = off;
    this.listed++;
    if (off) this.listedOff++;
    if (at >= this.cut) {
      if (!off) this.fresh[kindOf(v)]!++;
      // every verdict before v is older than the cut: v is the first fresh one
      if (this.boundary === null || v.next === this.boundary) this.boundary = v;
    }
    return steps;
  }

  /** Moves the boundary to the first verdict fresh as of `cut`; returns the verdicts it crossed. */
  moveCut(cut: number): number {
    let steps = 0;
    if (cut > this.cut) {
      while (this.boundary !== null && this.boundary.last.startedAt < cut) {
        if (!this.boundary.off) this.fresh[kindOf(this.boundary)]!--;
        this.boundary = this.boundary.next;
        steps++;
      }
    } else if (cut < this.cut) {
      let p = this.boundary ? this.boundary.prev : this.tail;
      while (p !== null && p.last.startedAt >= cut) {
        if (!p.off) this.fresh[kindOf(p)]!++;
        this.boundary = p;
        p = p.prev;
        steps++;
      }
    }
    this.cut = cut;
    return steps;
  }

  /** Counts the listed `v` as offline (`off`) or online from now on. */
  setOff(v: Verdict, off: boolean): void {
    if (!v.listed || v.off === off) return;
    v.off = off;
    this.listedOff += off ? 1 : -1;
    if (v.last.startedAt >= this.cut) this.fresh[kindOf(v)]! += off ? -1 : 1;
  }

  /** Lists, from scratch, the verdicts of the vantage points in `points`. */
  relist(points: ReadonlySet<string>, offline: ReadonlySet<string>): void {
    this.head = this.tail = this.boundary = null;
    this.cut = -Infinity;
    this.listed = this.listedOff = 0;
    this.fresh.fill(0);
    const listed = [...this.verdicts.values()].filter((v) => {
      v.listed = false;
      v.prev = v.next = null;
      return points.has(v.point);
    });
    listed.sort((a, b) => a.last.startedAt - b.last.startedAt);
    for (const v of listed) this.list(v, offline.has(v.point));
  }
}

/** A check as the engine knows it under one configuration, with its groups. */
class CheckState {
  readonly checkId: string;
  config: Config | null = null;
  check!: AssignedCheck;
  rule!: AlertRule;
  staleMs = 0;
  spread = false;
  /** The vantage points, in their order, and as a set. */
  points: string[] = [];
  pointSet: ReadonlySet<string> = new Set();
  /** Vantage points whose monitor is offline. */
  offPoints = 0;
  readonly groups = new Map<Condition, Group>();

  constructor(checkId: string) {
    this.checkId = checkId;
  }

  /** Takes the check, its rule and its vantage points from `config` (when it is a new one). */
  follow(config: Config, check: AssignedCheck, offline: ReadonlySet<string>): void {
    if (this.config === config) return;
    this.config = config;
    this.check = check;
    this.rule = ruleFor(config, check.spec.target, check.alert);
    this.staleMs = staleAfterMs(check.spec.intervalMs, check.spec.timeoutMs);
    this.spread = check.placement.mode === "spread";
    this.points = vantagePoints(config, check);
    this.pointSet = new Set(this.points);
    this.offPoints = 0;
    for (const m of offline) if (this.pointSet.has(m)) this.offPoints++;
    for (const g of this.groups.values()) g.relist(this.pointSet, offline);
  }

  group(c: Condition): Group {
    let g = this.groups.get(c);
    if (!g) this.groups.set(c, g = new Group(this.checkId, c));
    return g;
  }
}

/** How many vantage points are bad, good, not judged yet (`pending`) and unknown. */
interface Tally {
  bad: number;
  good: number;
  pending: number;
  unknown: number;
}

const NONE_OFFLINE: ReadonlySet<string> = new Set();

const CONDITIONS: Condition[] = ["down", "latency", "cert"];
const DAY_MS = 86_400_000;

function openKey(checkId: string, c: Condition): string {
  return `${checkId}\0${c}`;
}

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

/** Consecutive bad runs that make a verdict bad. */
function badAfter(c: Condition, rule: AlertRule): number {
  return c === "down" ? rule.downAfter : c === "latency" ? rule.latencyRuns : 1;
}

/** Consecutive good runs that make a verdict good. */
function goodAfter(c: Condition, rule: AlertRule): number {
  return c === "cert" ? 1 : rule.upAfter;
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

/**
 * The work the engine has done, in vantage points looked at: verdicts its
 * lists stepped over, offline monitors it checked, views it built for an
 * event. Tests bound it; a profile reads it.
 *
 * @example
 * ```ts
 * import type { EngineWork } from "./engine.ts";
 * const w: EngineWork = { results: 0, visits: 0 };
 * ```
 */
export interface EngineWork {
  /** Results evaluated (one per condition the result says something about). */
  results: number;
  /** Vantage points looked at for them. */
  visits: number;
}

/** Tracks verdicts and incidents; the caller persists and notifies. */
export class AlertEngine {
  /** Check ID → what is known of it. */
  #checks = new Map<string, CheckState>();
  /** `checkId\0condition` → open incident. */
  #open = new Map<string, Incident>();
  #work: EngineWork = { results: 0, visits: 0 };
  /** The offline monitors as last given to {@linkcode observe}. */
  #offline: ReadonlySet<string> = NONE_OFFLINE;

  /** Starts with incidents that were open when the manager last stopped. */
  constructor(open: Incident[] = []) {
    for (const i of open) this.#open.set(openKey(i.checkId, i.condition), i);
  }

  /** The open incidents. */
  get open(): Incident[] {
    return [...this.#open.values()];
  }

  /** The open incidents of the check `checkId` (at most one per condition). */
  openOf(checkId: string): Incident[] {
    const found: Incident[] = [];
    if (this.#open.size === 0) return found;
    for (const c of CONDITIONS) {
      const i = this.#open.get(openKey(checkId, c));
      if (i) found.push(i);
    }
    return found;
  }

  /** What evaluating has cost so far (see {@linkcode EngineWork}). */
  get work(): Readonly<EngineWork> {
    return { ...this.#work };
  }

  /**
   * Feeds one stored result from the monitor named `monitor`; returns what
   * changed. `offline` names the monitors that are not connected now (every
   * other one is): a snapshot, kept and compared with the next by identity,
   * so pass a new set when it changes and never change one given.
   */
  observe(
    r: CheckResult,
    monitor: string,
    config: Config,
    now: number,
    offline: ReadonlySet<string> = NONE_OFFLINE,
  ): AlertEvent[] {
    const check = checkById(config, r.checkId);
    if (check === undefined) return [];
    // an old result (a spool replay) says nothing about now
    if (now - r.startedAt > staleAfterMs(check.spec.intervalMs, check.spec.timeoutMs)) return [];
    if (offline !== this.#offline) this.#takeOffline(offline);
    let state = this.#checks.get(r.checkId);
    if (!state) this.#checks.set(r.checkId, state = new CheckState(r.checkId));
    state.follow(config, check, offline);
    const rule = state.rule;
    const vantage = state.spread ? SPREAD_VANTAGE : monitor;
    const events: AlertEvent[] = [];
    for (const c of CONDITIONS) {
      const bad = judge(c, r, rule, now);
      if (bad === null) continue;
      const g = state.group(c);
      let v = g.verdicts.get(vantage);
      // a spread check's previous monitor may replay its spool after the next one
      // reported: its older results would count as the newest (one monitor's own
      // results arrive in order, even across a clock step)
      if (state.spread && v !== undefined && r.startedAt < v.last.startedAt) continue;
      if (v === undefined) {
        v = {
          point: vantage,
          bad: null,
          badRun: 0,
          goodRun: 0,
          last: r,
          monitor,
          listed: false,
          off: false,
          prev: null,
          next: null,
        };
        g.verdicts.set(vantage, v);
      } else g.unlist(v);
      v.last = r;
      v.monitor = monitor;
      if (bad) {
        v.badRun++;
        v.goodRun = 0;
      } else {
        v.badRun = 0;
        v.goodRun++;
      }
      if (v.badRun >= badAfter(c, rule)) v.bad = true;
      if (v.goodRun >= goodAfter(c, rule)) v.bad = false;
      this.#work.results++;
      if (state.pointSet.has(vantage)) this.#work.visits += g.list(v, offline.has(vantage));
      // judged as of this result: a manager busy for a moment must not make the others look stale
      const e = this.#settle(state, g, now, offline, Math.min(now, r.startedAt));
      if (e) events.push(e);
    }
    return events;
  }

  /**
   * Follows the monitors that went offline or came back since the last
   * snapshot: each one's verdicts move between the counts, once per change,
   * not once per result.
   */
  #takeOffline(next: ReadonlySet<string>): void {
    const before = this.#offline;
    this.#offline = next;
    for (const m of before) if (!next.has(m)) this.#moved(m, false);
    for (const m of next) if (!before.has(m)) this.#moved(m, true);
  }

  #moved(monitor: string, off: boolean): void {
    for (const state of this.#checks.values()) {
      this.#work.visits++;
      if (state.config === null || !state.pointSet.has(monitor)) continue;
      state.offPoints += off ? 1 : -1;
      for (const g of state.groups.values()) {
        const v = g.verdicts.get(monitor);
        if (v !== undefined) g.setOff(v, off);
      }
    }
  }

  /** Forgets what `monitor` saw (it went offline): its verdicts become unknown. */
  forgetMonitor(monitor: string): void {
    for (const state of this.#checks.values()) {
      for (const g of state.groups.values()) {
        const v = g.verdicts.get(monitor);
        if (v === undefined) continue;
        g.unlist(v);
        g.verdicts.delete(monitor);
      }
    }
  }

  /**
   * Drops the state of checks, and of latency or certificate conditions, no
   * longer in `config` and resolves their open incidents: no result would
   * ever resolve them.
   */
  prune(config: Config, now: number): AlertEvent[] {
    const watched = (checkId: string, c: Condition): boolean => {
      const check = checkById(config, checkId);
      return check !== undefined && watches(ruleFor(config, check.spec.target, check.alert), c);
    };
    for (const [checkId, state] of this.#checks) {
      for (const c of state.groups.keys()) if (!watched(checkId, c)) state.groups.delete(c);
      if (state.groups.size === 0) this.#checks.delete(checkId);
    }
    const events: AlertEvent[] = [];
    for (const [key, i] of this.#open) {
      if (watched(i.checkId, i.condition)) continue;
      this.#open.delete(key);
      const check = checkById(config, i.checkId);
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

  /**
   * The tally as of `asOf` from the group's counts: the fresh verdicts of
   * online monitors, and the online vantage points with no verdict yet.
   */
  #tally(state: CheckState, g: Group, asOf: number): Tally {
    this.#work.visits += g.moveCut(asOf - state.staleMs);
    const [bad, good, judging] = g.fresh as [number, number, number];
    const silentOffline = state.offPoints - g.listedOff;
    // an online vantage point with no result yet is not judged yet
    const pending = judging + state.points.length - g.listed - silentOffline;
    return { bad, good, pending, unknown: state.points.length - bad - good - pending };
  }

  /** Each vantage point's view as of `asOf`, in the order of the configuration. */
  #views(state: CheckState, g: Group, offline: ReadonlySet<string>, asOf: number): VantageView[] {
    this.#work.visits += state.points.length;
    return state.points.map((m): VantageView => {
      const v = g.verdicts.get(m);
      const last = v?.last ?? null;
      const f = freshness({
        // a spread check's vantage point is wherever it ran last
        online: !offline.has(v?.monitor ?? m) || (m === SPREAD_VANTAGE && v === undefined),
        lastResultAt: last?.startedAt ?? null,
        intervalMs: state.check.spec.intervalMs,
        timeoutMs: state.check.spec.timeoutMs,
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
  }

  #settle(
    state: CheckState,
    g: Group,
    now: number,
    offline: ReadonlySet<string>,
    asOf: number,
  ): AlertEvent | null {
    const open = this.#open.get(g.key);
    // a spread check has one vantage point, whose monitor changes: its one view is the tally
    let views = state.spread ? this.#views(state, g, offline, asOf) : null;
    let t = views ? tallyOf(views) : this.#tally(state, g, asOf);
    const running = state.points.length;
    const rule = state.rule;
    // the quorum is taken over the vantage points that can say anything now
    let q = quorumSize(rule.quorum, running - t.unknown);
    const opens = open === undefined && t.bad >= q;
    // silence is no recovery: an online monitor not judged yet could still be bad
    const resolves = open !== undefined && t.good > 0 && t.bad + t.pending < q;
    if (!opens && !resolves) return null;
    if (views === null) {
      // the views say the same as the counts; the event carries them, and they decide
      views = this.#views(state, g, offline, asOf);
      t = tallyOf(views);
      q = quorumSize(rule.quorum, running - t.unknown);
      if (opens ? t.bad < q : !(t.good > 0 && t.bad + t.pending < q)) return null;
    }
    const { bad, good, pending, unknown } = t;
    const c = g.condition;
    const caveat = () => {
      const others = [
        ...(unknown ? [`${unknown} unknown`] : []),
        ...(pending ? [`${pending} not judged yet`] : []),
      ];
      return `of ${bad + good} monitors with fresh results; ${others.join(", ")}`;
    };
    const check = state.check;
    if (opens) {
      const incident: Incident = {
        id: crypto.randomUUID(),
        checkId: check.spec.id,
        target: check.spec.target,
        type: check.spec.type,
        condition: c,
        openedAt: now,
        resolvedAt: null,
        quorum: q,
        running,
        vantage: views,
        detail: unknown === 0
          ? `${bad} of ${running} monitors see it ${WORDS[c]} (quorum ${q})`
          : `${FROM_WORDS[c]} from ${bad} ${caveat()} (quorum ${q})`,
      };
      this.#open.set(g.key, incident);
      return { kind: "opened", incident, rule };
    }
    this.#open.delete(g.key);
    const incident: Incident = {
      ...open!,
      resolvedAt: now,
      vantage: views,
      detail: unknown === 0
        ? `${good} of ${running} monitors see it fine again`
        : `fine again from ${good} ${caveat()}`,
    };
    return { kind: "resolved", incident, rule };
  }
}

/** The tally of built views. */
function tallyOf(views: readonly VantageView[]): Tally {
  const t: Tally = { bad: 0, good: 0, pending: 0, unknown: 0 };
  for (const v of views) {
    if (v.state === "bad") t.bad++;
    else if (v.state === "good") t.good++;
    else if (v.why === "pending") t.pending++;
    else t.unknown++;
  }
  return t;
}
