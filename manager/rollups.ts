/**
 * Result history on top of the manager's store: it schedules the per-minute
 * and per-hour rollups (count, failures, min/avg/max/p95 latency) and the
 * retention of raw results and rollups, and answers the paged queries of
 * the HTTP API through the store (the SQL is in `store/sql.ts`).
 *
 * @example
 * ```ts ignore
 * import { openStore } from "./store.ts";
 * import { History } from "./rollups.ts";
 * const store = await openStore(":memory:");
 * const history = new History(store);
 * await history.rollup();
 * await history.prune();
 * ```
 *
 * @module
 */
import {
  type Chart,
  type HistoryFilter,
  type Page,
  type Resolution,
  type Retention,
  type Rollup,
  type Series,
  type Store,
  type StoredResult,
  StoreFullError,
  type Uptime,
} from "./store.ts";
import { logger } from "../shared/log.ts";

export {
  type Chart,
  type HistoryFilter,
  HistoryQueryError,
  type Page,
  type Resolution,
  type Retention,
  type Rollup,
  type Series,
  type Uptime,
} from "./store.ts";

const log = logger("history");

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The retention the issue asks for: raw 7 days, rollups 400 days. */
export const DEFAULT_RETENTION: Retention = {
  rawMs: 7 * DAY,
  minuteMs: 400 * DAY,
  hourMs: 400 * DAY,
};

/** Results one rollup pass reads at most. */
const ROLLUP_ROWS = 10_000;
/** What a timed rollup pass or prune batch may take before it lets the event loop (heartbeats) run. */
const SLICE_MS = 20;
/** Raw results one prune statement deletes at most. */
const PRUNE_BATCH = 2000;

/** Lets timers and I/O run between slices of a long pass. */
const yieldToLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Rollups, retention and paged queries over a {@linkcode Store}. */
export class History {
  readonly retention: Retention;
  #store: Store;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #lastPrune = 0;
  #pass: Promise<void> | undefined;

  /** @param store the manager's store @param retention what to keep (defaults: {@linkcode DEFAULT_RETENTION}) */
  constructor(store: Store, retention: Partial<Retention> = {}) {
    this.retention = { ...DEFAULT_RETENTION, ...retention };
    this.#store = store;
  }

  /**
   * Runs {@linkcode rollup} and {@linkcode prune} now (catching up after a
   * restart), then rolls up every `everyMs` and prunes hourly, until
   * {@linkcode stop}. A backlog is worked off in slices of about
   * {@linkcode SLICE_MS} with the event loop free in between, so heartbeats
   * and acknowledgements keep flowing.
   */
  start(everyMs = 15_000): void {
    const tick = () => {
      if (this.#pass || this.#stopped) return;
      this.#pass = this.#tick().finally(() => this.#pass = undefined);
    };
    tick();
    this.#timer = setInterval(tick, everyMs);
  }

  async #tick() {
    try {
      while (!this.#stopped && await this.rollup(ROLLUP_ROWS, SLICE_MS) > 0) await yieldToLoop();
      const now = Date.now();
      if (now - this.#lastPrune > HOUR) {
        this.#lastPrune = now;
        const cutoff = now - this.retention.rawMs;
        while (
          !this.#stopped && await this.#store.pruneRaw(cutoff, PRUNE_BATCH) === PRUNE_BATCH
        ) await yieldToLoop();
        if (!this.#stopped) await this.#pruneRollups(now);
      }
    } catch (e) {
      // on a full disk the watermark stays, so the pass repeats once there is room;
      // the manager already says the disk is full
      if (!(e instanceof StoreFullError)) log.error("Rollup failed: {e}", { e });
    }
  }

  /** Stops the timer of {@linkcode start} and waits for a pass under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#pass;
  }

  /**
   * Rolls up the results stored since the last pass, up to `maxResults` of
   * them, in one transaction: their minutes are recomputed from the raw
   * results and those minutes' hours from the minutes. With `budgetMs`, the
   * pass stops early once it has taken that long (after at least one
   * minute). Resolves with how many results it covered (0 when none were
   * new), so a backlog, such as a long replay, is worked off over several calls.
   */
  rollup(maxResults = ROLLUP_ROWS, budgetMs = Infinity): Promise<number> {
    return this.#store.rollup(maxResults, budgetMs, Date.now() - this.retention.rawMs);
  }

  /**
   * Deletes raw results older than the raw retention and rollups older than
   * theirs, in batches. Resolves with the number of raw results deleted.
   */
  async prune(now = Date.now()): Promise<number> {
    this.#lastPrune = now;
    let deleted = 0;
    for (let n = PRUNE_BATCH; n === PRUNE_BATCH;) {
      n = await this.#store.pruneRaw(now - this.retention.rawMs, PRUNE_BATCH);
      deleted += n;
    }
    await this.#pruneRollups(now);
    return deleted;
  }

  #pruneRollups(now: number): Promise<void> {
    return this.#store.pruneRollups(now - this.retention.minuteMs, now - this.retention.hourMs);
  }

  /** Every (check, monitor) pair that ever had a result. */
  series(): Promise<Series[]> {
    return this.#store.series();
  }

  /** The newest stored result of each series (for the current state after a restart). */
  latest(): Promise<StoredResult[]> {
    return this.#store.latest();
  }

  /** Raw results, newest first, a page at a time. */
  results(f: HistoryFilter = {}): Promise<Page<StoredResult>> {
    return this.#store.results(f);
  }

  /** Rollup buckets, by series then oldest first, a page at a time. */
  rollups(resolution: Resolution, f: HistoryFilter = {}): Promise<Page<Rollup>> {
    return this.#store.rollups(resolution, f);
  }

  /**
   * Latency of one check from `from` to `to`, one line per monitor: raw
   * results up to 2 hours, minute averages up to 2 days, hour averages beyond.
   */
  chart(checkId: string, from: number, to: number): Promise<Chart> {
    return this.#store.chart(checkId, from, to);
  }

  /**
   * Uptime percentages of every series over the last 24 hours, 7 days and
   * 30 days, from the hour rollups (so as fresh as the last rollup run), by series ID.
   */
  uptime(now = Date.now()): Promise<Map<number, Uptime>> {
    return this.#store.uptime(now);
  }
}
