/**
 * What the manager accepts from an authenticated monitor (issue 11): a
 * token holder can still send anything, so every result of a `results`
 * frame is judged before it is stored. A result is stored only when
 *
 * - its check is assigned to this monitor now, or was within the last
 *   {@linkcode RECENT_MS} (results measured just before a reassignment still
 *   arrive), with the assignment's target and type;
 * - it started inside [now − {@linkcode MAX_AGE_MS}, now + {@linkcode MAX_AHEAD_MS}]
 *   of the manager's wall clock (a monitor's spool holds a week at most; a
 *   few minutes of clock skew are allowed);
 * - it belongs to one of at most as many series (check × the monitor ID its
 *   result carries) as the monitor's assignable checks plus
 *   {@linkcode SERIES_MARGIN} (a monitor whose ID changed while it held
 *   results has a few series under its old ID).
 *
 * Everything else is rejected: acknowledged by the link like any result (so
 * the monitor forgets it instead of resending it forever) but not stored.
 * Rejections are counted per reason, for `/metrics`
 * (`netmon_results_rejected_total`), and logged at most once per reason per
 * {@linkcode LOG_EVERY_MS}, naming the monitor, so that a flood costs one
 * log line a minute.
 *
 * @example
 * ```ts
 * import { ResultGuard } from "./result_guard.ts";
 * import { FakeClock } from "../shared/clock.ts";
 * import { checkSpec } from "../shared/params/mod.ts";
 * const clock = new FakeClock({ wall: Date.UTC(2026, 0, 1) });
 * const guard = new ResultGuard({ name: "nyc-1", address: "10.0.0.1:54322", clock });
 * guard.assigned([checkSpec("TCP", { host: "::1", port: 80 }, {
 *   target: "web", intervalMs: 1000, timeoutMs: 500 })]);
 * const result = { seq: 1, taskId: "t", monitorId: "m", checkId: "web/TCP", target: "web",
 *   type: "TCP" as const, startedAt: clock.wallNow(), durationMs: 1, up: true, summary: "",
 *   latencyMs: 1, metrics: {}, details: {} };
 * console.assert(guard.admit([result, { ...result, checkId: "evil/TCP" }]).length === 1);
 * console.assert(guard.rejected.unknown_check === 1);
 * ```
 *
 * @module
 */
import type { CheckResult, CheckSpec, CheckType } from "../shared/checks.ts";
import { type Clock, realClock } from "../shared/clock.ts";
import { logger } from "../shared/log.ts";

const log = logger("link");

/** A check stays acceptable for this long after it left the monitor's assignment. */
export const RECENT_MS = 10 * 60_000;
/** Oldest acceptable start time, before the manager's wall clock. */
export const MAX_AGE_MS = 7 * 86_400_000;
/** Latest acceptable start time, after the manager's wall clock (clock skew). */
export const MAX_AHEAD_MS = 5 * 60_000;
/**
 * Monitor IDs one check's results may come under from one monitor: a monitor
 * whose `monitor-id` changed while it held results sends them under the old
 * ID and its new ones under the new, so one check is then two series.
 */
export const IDS_PER_CHECK = 4;
/** Series a monitor may have beyond {@linkcode IDS_PER_CHECK} per assignable check. */
export const SERIES_MARGIN = 16;
/** Each reason is logged at most once per monitor in this time. */
export const LOG_EVERY_MS = 60_000;

/** Why a result was not stored; the `reason` label of `netmon_results_rejected_total`. */
export const REJECT_REASONS = ["unknown_check", "implausible_time", "too_many_series"] as const;
/** One of {@linkcode REJECT_REASONS}. */
export type RejectReason = typeof REJECT_REASONS[number];

const EXPLAIN: Record<RejectReason, string> = {
  unknown_check: "its check is not assigned to this monitor",
  implausible_time: "it started more than 7 days ago or more than 5 minutes ahead of this clock",
  too_many_series: "the monitor has more series than its checks allow",
};

/** Options of {@linkcode ResultGuard}. */
export interface ResultGuardOptions {
  /** The monitor's name and address, for the log. */
  name: string;
  address: string;
  /** Wall time for start times, monotonic time for windows (default: the real clock). */
  clock?: Clock;
}

interface Assigned {
  target: string;
  type: CheckType;
  /** Monotonic time until which the check is acceptable; Infinity while assigned. */
  until: number;
}

/** Judges one monitor's results; see the module doc. */
export class ResultGuard {
  readonly #name: string;
  readonly #address: string;
  readonly #clock: Clock;
  #checks = new Map<string, Assigned>();
  /**
   * Series accepted: by check ID, then monitor ID, the monotonic time of the
   * last one (nested maps, so that a result allocates no key).
   */
  #series = new Map<string, Map<string, number>>();
  #seriesCount = 0;
  /** The earliest `until` of a check no longer assigned: nothing expires before it. */
  #nextExpiry = Infinity;
  #rejected: Record<RejectReason, number> = {
    unknown_check: 0,
    implausible_time: 0,
    too_many_series: 0,
  };
  /** Per reason: when it was last logged, and rejections since. */
  #logged = new Map<RejectReason, { at: number; since: number }>();

  /** A guard for the monitor `options.name`, with nothing assigned yet. */
  constructor(options: ResultGuardOptions) {
    this.#name = options.name;
    this.#address = options.address;
    this.#clock = options.clock ?? realClock;
  }

  /** Records the monitor's whole assignment as just sent; checks it no longer has stay acceptable for {@linkcode RECENT_MS}. */
  assigned(checks: readonly CheckSpec[]): void {
    const now = this.#clock.now();
    for (const a of this.#checks.values()) {
      if (a.until === Infinity) a.until = now + RECENT_MS;
    }
    this.#nextExpiry = Math.min(this.#nextExpiry, now + RECENT_MS);
    for (const c of checks) {
      this.#checks.set(c.id, { target: c.target, type: c.type, until: Infinity });
    }
    this.#prune(now);
  }

  /** Rejections so far by reason. */
  get rejected(): Readonly<Record<RejectReason, number>> {
    return { ...this.#rejected };
  }

  /** The results that may be stored, in order; the others are counted and logged. */
  admit(results: readonly CheckResult[]): CheckResult[] {
    const now = this.#clock.now();
    const wall = this.#clock.wallNow();
    this.#prune(now);
    const limit = this.#checks.size * IDS_PER_CHECK + SERIES_MARGIN;
    const accepted: CheckResult[] = [];
    for (const r of results) {
      const reason = this.#judge(r, now, wall, limit);
      if (reason === null) accepted.push(r);
      else this.#reject(reason, r, now);
    }
    return accepted;
  }

  #judge(r: CheckResult, now: number, wall: number, limit: number): RejectReason | null {
    const a = this.#checks.get(r.checkId);
    if (!a || a.target !== r.target || a.type !== r.type) return "unknown_check";
    if (!(r.startedAt >= wall - MAX_AGE_MS && r.startedAt <= wall + MAX_AHEAD_MS)) {
      return "implausible_time";
    }
    let ids = this.#series.get(r.checkId);
    if (ids?.has(r.monitorId)) {
      ids.set(r.monitorId, now);
      return null;
    }
    if (this.#seriesCount >= limit) {
      // series not heard of for a while make room before a new one is refused
      for (const [checkId, m] of this.#series) {
        for (const [id, at] of m) {
          if (at >= now - RECENT_MS) continue;
          m.delete(id);
          this.#seriesCount--;
        }
        if (m.size === 0) this.#series.delete(checkId);
      }
      if (this.#seriesCount >= limit) return "too_many_series";
      ids = this.#series.get(r.checkId);
    }
    if (!ids) this.#series.set(r.checkId, ids = new Map());
    ids.set(r.monitorId, now);
    this.#seriesCount++;
    return null;
  }

  #reject(reason: RejectReason, r: CheckResult, now: number) {
    this.#rejected[reason]++;
    const last = this.#logged.get(reason);
    if (last && now - last.at < LOG_EVERY_MS) {
      last.since++;
      return;
    }
    this.#logged.set(reason, { at: now, since: 0 });
    log.warn(
      "Monitor {name} at {address}: result of check {check} (monitor ID {monitorId}, started " +
        "{startedAt}) not stored: {why}; {more} more rejected for this reason since the last such line",
      {
        name: this.#name,
        address: this.#address,
        // a hostile ID may be long: enough of it to recognise
        check: JSON.stringify(r.checkId.length > 80 ? `${r.checkId.slice(0, 80)}…` : r.checkId),
        monitorId: r.monitorId.slice(0, 64),
        startedAt: Number.isFinite(new Date(r.startedAt).getTime())
          ? new Date(r.startedAt).toISOString()
          : String(r.startedAt),
        why: EXPLAIN[reason],
        more: last?.since ?? 0,
      },
    );
  }

  /** Forgets checks past their window and the series of checks no longer acceptable. */
  #prune(now: number) {
    // called for every frame: a walk over every check only once one can have expired
    if (now < this.#nextExpiry) return;
    let next = Infinity;
    for (const [id, a] of this.#checks) {
      if (a.until <= now) this.#checks.delete(id);
      else if (a.until < next) next = a.until;
    }
    this.#nextExpiry = next;
    for (const [checkId, m] of this.#series) {
      if (this.#checks.has(checkId)) continue;
      this.#series.delete(checkId);
      this.#seriesCount -= m.size;
    }
  }
}
