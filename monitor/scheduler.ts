/**
 * The monitor's scheduler: runs each assigned check at its interval, on one
 * timer for all checks (a min-heap of due times), with starts spread across
 * the interval by a hash of the check's ID, no overlapping runs of one check,
 * a hard deadline per run, and a cap on runs in flight. Deadlines too share
 * one timer (a second min-heap, of runs in flight by their next deadline):
 * a run costs no timer of its own.
 *
 * Checks never see the connection to the manager: the scheduler hands each
 * finished result to `onResult`.
 *
 * @example
 * ```ts ignore
 * import { Scheduler } from "./scheduler.ts";
 * const s = new Scheduler({ monitorId: "m1", onResult: (r) => console.log(r.summary) });
 * s.apply([{ id: "x/TCP", target: "x", type: "TCP", intervalMs: 10_000, timeoutMs: 2_000, params: { host: "127.0.0.1", port: 22 } }]);
 * ```
 *
 * @module
 */
import type { CheckOutcome, CheckResult, CheckSpec } from "../shared/checks.ts";
import { type Clock, realClock, type TimerHandle } from "../shared/clock.ts";
import { errorText } from "../shared/error_text.ts";
import { fnv1a32 } from "../shared/hash.ts";
import { CHECKS, type PartialCheckRegistry, runCheck } from "./checks/mod.ts";
import { maskOutcome, type SecretRules, secretRulesOf } from "../shared/secrets.ts";

/** `ms` to the nearest whole microsecond. */
function micros(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * An outcome with its latency to the microsecond, and a metric that was the
 * latency in seconds (`netmon_tcp_connect_seconds` of a TCP check, say) with
 * it: a clock read to the nanosecond says nothing more, and a whole number
 * of microseconds is two or three bytes in the manager's store, not eight.
 */
function inMicros(o: CheckOutcome): CheckOutcome {
  const l = o.latencyMs;
  if (l === null) return o;
  const rounded = micros(l);
  if (rounded === l) return o;
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(o.metrics)) metrics[k] = v === l / 1000 ? rounded / 1000 : v;
  return { ...o, latencyMs: rounded, metrics };
}

/** A result before the spool gives it its sequence number and task ID (`shared/task_id.ts`). */
export type UnsequencedResult = Omit<CheckResult, "seq" | "taskId">;

/** Options for {@linkcode Scheduler}. */
export interface SchedulerOptions {
  monitorId: string;
  onResult: (result: UnsequencedResult) => void;
  /** Runs in flight at most; further due runs wait their turn (default 4096). */
  maxInFlight?: number;
  /** Check implementations by type (default: the real ones). */
  checks?: PartialCheckRegistry;
  /** Time and timers (default: the real ones; tests pass a `FakeClock`). */
  clock?: Clock;
}

/** Counters exposed for the status view and the benchmark. */
export interface SchedulerStats {
  checks: number;
  inFlight: number;
  runs: number;
  /**
   * Runs skipped because the previous run of the same check was still going,
   * or was still waiting for a slot under `maxInFlight`.
   */
  overlapsSkipped: number;
  /** Start lag (start − due) in ms of recent runs, newest last (at most 20,000 kept). */
  lagsMs: number[];
}

interface Entry {
  spec: CheckSpec;
  key: string;
  /** What its results are masked with: worked out once, not per run. */
  secrets: SecretRules;
  due: number;
  running: boolean;
  /** Due, and waiting in `#waiting` for a slot under `maxInFlight`. */
  queued: boolean;
  removed: boolean;
  abort?: AbortController;
}

/** One run in flight. */
interface Run {
  entry: Entry;
  /** Dropped once the run is done: the run waits in the deadline heap until its timeout. */
  abort: AbortController | undefined;
  /** Monotonic start, and wall-clock start for the result. */
  started: number;
  startedAt: number;
  /** When its next deadline event is due: the timeout, then (timed out) the abandon. */
  at: number;
  timedOut: boolean;
  /** Reported (or abandoned): a later outcome is dropped. */
  done: boolean;
}

/** Grace after the deadline before a check that ignores its signal is abandoned (and the most a stopping monitor waits for one). */
export const ABANDON_GRACE_MS = 1000;
const LAG_SAMPLES = 20_000;
/**
 * Checks due within {@linkcode START_WINDOW_MS} of a timer's firing start
 * with it, up to this many in all: each wake-up of the event loop (timer,
 * poll, microtasks) per check was a good part of the monitor's CPU.
 * At 2,000 TCP checks every 5 s (bench/system.ts) batches of 4, with the
 * read buffer made lazily, took the monitor from 0.310 to 0.213 CPU s per
 * 1,000 results; connect p50 stayed 0.18-0.19 ms. An earlier check of a
 * batch waits while the later ones start (tens of µs each): its connect is
 * timed from its own start, so that cost shows in its result, not hidden.
 */
export const START_BATCH = 4;
/** How far ahead of its due time a check may start with a batch; small beside any interval. */
export const START_WINDOW_MS = 20;

/** Runs checks on their schedules. */
export class Scheduler {
  #entries = new Map<string, Entry>();
  #heap: Entry[] = [];
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  /** Runs in flight by `at`; finished ones are dropped lazily, when they reach the top. */
  #runs: Run[] = [];
  #deadlineTimer: TimerHandle | undefined;
  #deadlineAt = Infinity;
  /** Start lags, a ring of {@linkcode LAG_SAMPLES}: no copy per run once full. */
  #lags = new Float64Array(LAG_SAMPLES);
  #lagCount = 0;
  #waiting: { entry: Entry; due: number }[] = [];
  #inFlight = 0;
  #settledWaiters: (() => void)[] = [];
  #opts: Required<SchedulerOptions>;
  #stats = { checks: 0, runs: 0, overlapsSkipped: 0 };
  #stopped = false;

  constructor(options: SchedulerOptions) {
    this.#opts = { maxInFlight: 4096, checks: CHECKS, clock: realClock, ...options };
  }

  /**
   * Makes `specs` the set of running checks: new ones start at their phase,
   * changed ones restart, removed ones are cancelled, unchanged ones keep
   * their rhythm. Returns how many of each.
   */
  apply(specs: CheckSpec[]): { added: number; changed: number; removed: number; kept: number } {
    const counts = { added: 0, changed: 0, removed: 0, kept: 0 };
    const next = new Map(specs.map((s) => [s.id, s]));
    for (const [id, entry] of this.#entries) {
      const spec = next.get(id);
      if (spec && JSON.stringify(spec) === entry.key) continue;
      this.#remove(entry);
      this.#entries.delete(id);
      if (spec) counts.changed++;
      else counts.removed++;
    }
    const now = this.#opts.clock.now();
    for (const spec of next.values()) {
      if (this.#entries.has(spec.id)) {
        counts.kept++;
        continue;
      }
      const entry: Entry = {
        spec,
        key: JSON.stringify(spec),
        secrets: secretRulesOf(spec.params),
        due: now + phaseOf(spec.id, spec.intervalMs),
        running: false,
        queued: false,
        removed: false,
      };
      this.#entries.set(spec.id, entry);
      this.#push(entry);
    }
    counts.added = next.size - counts.kept - counts.changed;
    this.#stats.checks = this.#entries.size;
    this.#arm();
    return counts;
  }

  /** Starts a run of `checkId` now, unless one is already running. Returns false if unknown. */
  runNow(checkId: string): boolean {
    const entry = this.#entries.get(checkId);
    if (!entry) return false;
    if (!entry.running) this.#start(entry, this.#opts.clock.now());
    return true;
  }

  /** The specs currently scheduled. */
  specs(): CheckSpec[] {
    return [...this.#entries.values()].map((e) => e.spec);
  }

  /** Counters for status displays and benchmarks. */
  stats(): SchedulerStats {
    const n = Math.min(this.#lagCount, LAG_SAMPLES);
    const lagsMs = new Array<number>(n);
    for (let i = 0; i < n; i++) lagsMs[i] = this.#lags[(this.#lagCount - n + i) % LAG_SAMPLES]!;
    return { ...this.#stats, inFlight: this.#inFlight, lagsMs };
  }

  /** Cancels every check and stops the timer. */
  stop(): void {
    this.#stopped = true;
    this.#opts.clock.clearTimeout(this.#timer);
    this.#opts.clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    for (const entry of this.#entries.values()) this.#remove(entry);
    this.#entries.clear();
    this.#heap = [];
    this.#runs = [];
    this.#waiting = [];
  }

  /**
   * Resolves when no run is in flight: after {@linkcode stop} every run is
   * aborted, and a check's sockets are closed once its function returns.
   */
  async settled(): Promise<void> {
    while (this.#inFlight > 0) {
      await new Promise<void>((r) => this.#settledWaiters.push(r));
    }
  }

  #remove(entry: Entry) {
    entry.removed = true;
    entry.abort?.abort(new Error("check removed"));
  }

  #arm() {
    if (this.#stopped) return;
    const top = this.#heap[0];
    if (!top) return;
    if (top.due >= this.#timerAt && this.#timer !== undefined) return;
    const clock = this.#opts.clock;
    clock.clearTimeout(this.#timer);
    this.#timerAt = top.due;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#fire();
    }, Math.max(0, top.due - clock.now()));
  }

  #fire() {
    const now = this.#opts.clock.now();
    let started = 0;
    for (;;) {
      const top = this.#heap[0];
      if (!top) break;
      // a check due within START_WINDOW_MS goes with the ones due now, START_BATCH at most
      // to a wake-up: a timer and a poll per check cost more than its connect (see START_BATCH)
      const early = top.due > now + 1;
      if (
        early &&
        (started >= START_BATCH || top.due > now + START_WINDOW_MS || top.running ||
          top.queued || this.#inFlight >= this.#opts.maxInFlight)
      ) break;
      const entry = this.#pop()!;
      if (entry.removed) continue;
      const due = entry.due;
      // next slot on the grid; if far behind, skip missed slots rather than bursting
      entry.due += entry.spec.intervalMs;
      if (entry.due < now) {
        entry.due += Math.ceil((now - entry.due) / entry.spec.intervalMs) * entry.spec.intervalMs;
      }
      this.#push(entry);
      // one run per check at a time, and one waiting: a backlog of stale runs would
      // burst out the moment a slot frees
      if (entry.running || entry.queued) {
        this.#stats.overlapsSkipped++;
      } else if (this.#inFlight >= this.#opts.maxInFlight) {
        entry.queued = true;
        this.#waiting.push({ entry, due });
      } else {
        this.#start(entry, due);
        started++;
      }
    }
    this.#arm();
  }

  #start(entry: Entry, due: number) {
    const spec = entry.spec;
    const { checks, clock } = this.#opts;
    const abort = new AbortController();
    entry.abort = abort;
    entry.running = true;
    entry.queued = false;
    this.#inFlight++;
    const started = clock.now();
    // a run started early, with a batch, is not late
    this.#lags[this.#lagCount++ % LAG_SAMPLES] = Math.max(0, started - due);
    const run: Run = {
      entry,
      abort,
      started,
      startedAt: clock.wallNow(),
      at: started + spec.timeoutMs,
      timedOut: false,
      done: false,
    };
    heapPush(this.#runs, run, byAt);
    this.#armDeadlines();
    let outcome: Promise<CheckOutcome>;
    try {
      outcome = runCheck(checks, spec, {
        signal: abort.signal,
        timeoutMs: spec.timeoutMs,
        target: spec.target,
      });
    } catch (e) {
      outcome = Promise.reject(e);
    }
    outcome.then(
      (o) => this.#finish(run, o),
      (e) => this.#finish(run, failed(spec, errorText(e))),
    );
  }

  /** Reports a run's outcome, once: a run abandoned at its deadline drops its late answer. */
  #finish(run: Run, outcome: CheckOutcome) {
    if (run.done) return;
    run.done = true;
    // the run stays in the deadline heap until its timeout; its controller need not
    run.abort = undefined;
    const { entry } = run;
    const spec = entry.spec;
    entry.running = false;
    entry.abort = undefined;
    this.#inFlight--;
    if (this.#inFlight === 0) { for (const wake of this.#settledWaiters.splice(0)) wake(); }
    this.#stats.runs++;
    if (!entry.removed) {
      this.#opts.onResult({
        // what is spooled and sent never carries the check's credentials
        ...inMicros(maskOutcome(outcome, entry.secrets)),
        monitorId: this.#opts.monitorId,
        checkId: spec.id,
        target: spec.target,
        type: spec.type,
        startedAt: run.startedAt,
        durationMs: micros(this.#opts.clock.now() - run.started),
      });
    }
    this.#drainWaiting();
  }

  /** Arms the one deadline timer for the earliest run still going, if it is not armed earlier. */
  #armDeadlines() {
    if (this.#stopped) return;
    const h = this.#runs;
    while (h.length > 0 && h[0]!.done) heapPop(h, byAt);
    const top = h[0];
    if (!top || (top.at >= this.#deadlineAt && this.#deadlineTimer !== undefined)) return;
    const clock = this.#opts.clock;
    clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineAt = top.at;
    this.#deadlineTimer = clock.setTimeout(() => {
      this.#deadlineTimer = undefined;
      this.#deadlineAt = Infinity;
      this.#fireDeadlines();
    }, Math.max(0, top.at - clock.now()));
  }

  /** Aborts runs past their timeout; abandons those still going a grace later. */
  #fireDeadlines() {
    const now = this.#opts.clock.now();
    const h = this.#runs;
    while (h.length > 0 && (h[0]!.done || h[0]!.at <= now)) {
      const run = heapPop(h, byAt)!;
      if (run.done) continue;
      const spec = run.entry.spec;
      if (!run.timedOut) {
        run.timedOut = true;
        run.at += ABANDON_GRACE_MS;
        heapPush(h, run, byAt);
        run.abort?.abort(new DOMException("timeout", "TimeoutError"));
      } else {
        this.#finish(
          run,
          failed(spec, `check did not finish within its ${spec.timeoutMs} ms timeout`),
        );
      }
    }
    this.#armDeadlines();
  }

  #drainWaiting() {
    while (this.#waiting.length > 0 && this.#inFlight < this.#opts.maxInFlight) {
      const { entry, due } = this.#waiting.shift()!;
      // not queued any more: started by runNow meanwhile
      if (!entry.removed && entry.queued) this.#start(entry, due);
    }
  }

  #push(entry: Entry) {
    heapPush(this.#heap, entry, byDue);
  }

  #pop(): Entry | undefined {
    return heapPop(this.#heap, byDue);
  }
}

const byDue = (a: Entry, b: Entry) => a.due < b.due;
const byAt = (a: Run, b: Run) => a.at < b.at;

/** Adds `x` to the binary min-heap `h` ordered by `less`. */
function heapPush<T>(h: T[], x: T, less: (a: T, b: T) => boolean) {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(h[i]!, h[p]!)) break;
    [h[p], h[i]] = [h[i]!, h[p]!];
    i = p;
  }
}

/** Removes and returns the least element of the min-heap `h`. */
function heapPop<T>(h: T[], less: (a: T, b: T) => boolean): T | undefined {
  const top = h[0];
  const last = h.pop();
  if (h.length > 0 && last !== undefined) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && less(h[l]!, h[m]!)) m = l;
      if (r < h.length && less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
  return top;
}

/** A down outcome for a check that threw or hung; the summary names the check. */
function failed(spec: CheckSpec, reason: string): CheckOutcome {
  return {
    up: false,
    summary: `${spec.type} check of ${spec.target} failed, Error: ${reason}`,
    latencyMs: null,
    metrics: { probe_success: 0 },
    error: reason,
  };
}

/**
 * Where in its interval a check first runs: a stable hash of its ID, so a
 * thousand checks with one interval start evenly spread rather than at once.
 */
export function phaseOf(id: string, intervalMs: number): number {
  return (fnv1a32(id) / 2 ** 32) * intervalMs;
}
