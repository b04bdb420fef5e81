/**
 * Result history on top of the manager's store: per-minute and per-hour
 * rollups (count, failures, min/avg/max/p95 latency), retention of raw
 * results and rollups, and the paged queries the HTTP API answers.
 *
 * Storing a result does no rollup work: {@linkcode History.rollup} reads the
 * results stored since its last pass (their IDs only grow, so that is a range
 * of the table after a watermark), recomputes their minutes from the raw
 * results and those minutes' hours from the minutes, and moves the watermark
 * in the same transaction, so a crash repeats a pass rather than losing one.
 * A result that arrives late (a monitor replaying its spool after a
 * partition) therefore lands in the right bucket. Rollups are keyed by the
 * store's series (a small integer per check and monitor), which keeps a
 * rollup row near 40 bytes.
 *
 * @example
 * ```ts ignore
 * import { ResultStore } from "./store.ts";
 * import { History } from "./rollups.ts";
 * const store = ResultStore.open(":memory:");
 * const history = new History(store);
 * history.rollup();
 * history.prune();
 * ```
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import {
  RESULT_COLUMNS,
  type ResultStore,
  rowToResult,
  splitCheckId,
  type StoredResult,
  StoreFullError,
} from "./store.ts";
import { logger } from "../shared/log.ts";

const log = logger("history");

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** How long raw results and rollups are kept. */
export interface Retention {
  /** Raw results (default 7 days). */
  rawMs: number;
  /** Per-minute rollups (default 400 days). */
  minuteMs: number;
  /** Per-hour rollups (default 400 days). */
  hourMs: number;
}

/** The retention the issue asks for: raw 7 days, rollups 400 days. */
export const DEFAULT_RETENTION: Retention = {
  rawMs: 7 * DAY,
  minuteMs: 400 * DAY,
  hourMs: 400 * DAY,
};

/** Which rollup table: one row per minute or per hour. */
export type Resolution = "minute" | "hour";

/** One (check, monitor) pair that has results. */
export interface Series {
  id: number;
  checkId: string;
  target: string;
  type: string;
  monitorId: string;
  monitorName: string;
}

/** One rollup bucket of one series. */
export interface Rollup {
  checkId: string;
  target: string;
  type: string;
  monitorId: string;
  monitorName: string;
  /** Start of the bucket, epoch ms. */
  start: number;
  count: number;
  failures: number;
  /** Latency statistics over the results that had one (null when none had). */
  minMs: number | null;
  avgMs: number | null;
  maxMs: number | null;
  p95Ms: number | null;
}

/** Filters shared by the result and rollup queries. */
export interface HistoryFilter {
  checkId?: string;
  target?: string;
  type?: string;
  /** Monitor name or ID. */
  monitor?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  /** Page size (default 100, at most 10 000). */
  limit?: number;
  /** The `next` of the previous page. */
  cursor?: string;
}

/** A page of items and the cursor of the next page (null on the last). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Latency over time for one check, one line per monitor. */
export interface Chart {
  checkId: string;
  /** `raw` for ranges up to 2 hours, `minute` up to 2 days, `hour` beyond. */
  resolution: "raw" | Resolution;
  from: number;
  to: number;
  series: {
    monitorName: string;
    monitorId: string;
    /** `[time ms, latency ms or null, failed 0|1 or failure ratio]` per point, oldest first. */
    points: [number, number | null, number][];
  }[];
}

/** Count and failures of one series over the last 24 h, 7 d and 30 d. */
export interface Uptime {
  /** Percent of results that were up, or null without results in the window. */
  h24: number | null;
  d7: number | null;
  d30: number | null;
}

/** A malformed cursor or filter; the API answers it with 400. */
export class HistoryQueryError extends Error {
  /** @param message what is wrong, in words a user can act on */
  constructor(message: string) {
    super(message);
    this.name = "HistoryQueryError";
  }
}

const MAX_LIMIT = 10_000;
/** Results one rollup pass reads at most. */
const ROLLUP_ROWS = 10_000;
/** What a timed rollup pass or prune batch may take before it lets the event loop (heartbeats) run. */
const SLICE_MS = 20;
/** Raw results one prune statement deletes at most. */
const PRUNE_BATCH = 2000;
const JOINED = "result_rows r JOIN series s ON s.id = r.series_id";

/** Lets timers and I/O run between slices of a long pass. */
const yieldToLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Rollups, retention and paged queries over a {@linkcode ResultStore}. */
export class History {
  readonly retention: Retention;
  #store: ResultStore;
  #db: DatabaseSync;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #lastPrune = 0;
  #stmts: Record<string, StatementSync> = {};

  /** Creates the rollup tables. */
  constructor(store: ResultStore, retention: Partial<Retention> = {}) {
    this.retention = { ...DEFAULT_RETENTION, ...retention };
    this.#store = store;
    this.#db = store.db;
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS rollup_state (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO rollup_state (key, value) VALUES ('rolled_up_to_id', 0);
    `);
    for (const table of ["rollup_minute", "rollup_hour"]) {
      this.#db.exec(`
        CREATE TABLE IF NOT EXISTS ${table} (
          series_id INTEGER NOT NULL,
          start INTEGER NOT NULL,
          count INTEGER NOT NULL,
          failures INTEGER NOT NULL,
          min_ms REAL,
          avg_ms REAL,
          max_ms REAL,
          p95_ms REAL,
          PRIMARY KEY (series_id, start)
        ) WITHOUT ROWID;`);
    }
  }

  #stmt(sql: string): StatementSync {
    return this.#stmts[sql] ??= this.#db.prepare(sql);
  }

  /**
   * Runs {@linkcode rollup} and {@linkcode prune} now (catching up after a
   * restart), then rolls up every `everyMs` and prunes hourly, until
   * {@linkcode stop}. A backlog is worked off in slices of about
   * {@linkcode SLICE_MS} with the event loop free in between, so heartbeats
   * and acknowledgements keep flowing.
   */
  start(everyMs = 15_000): void {
    let running = false;
    const tick = async () => {
      if (running || this.#stopped) return;
      running = true;
      try {
        while (!this.#stopped && this.rollup(ROLLUP_ROWS, SLICE_MS) > 0) await yieldToLoop();
        const now = Date.now();
        if (now - this.#lastPrune > HOUR) {
          this.#lastPrune = now;
          const cutoff = now - this.retention.rawMs;
          while (!this.#stopped && this.#pruneBatch(cutoff) === PRUNE_BATCH) await yieldToLoop();
          if (!this.#stopped) this.#pruneRollups(now);
        }
      } catch (e) {
        // on a full disk the watermark stays, so the pass repeats once there is room;
        // the manager already says the disk is full
        if (!(e instanceof StoreFullError)) log.error("Rollup failed: {e}", { e });
      } finally {
        running = false;
      }
    };
    tick();
    this.#timer = setInterval(tick, everyMs);
  }

  /** Stops the timer of {@linkcode start}. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  /**
   * Rolls up the results stored since the last pass, up to `maxResults` of
   * them, in one transaction: their minutes are recomputed from the raw
   * results and those minutes' hours from the minutes. With `budgetMs`, the
   * pass stops early once it has taken that long (after at least one
   * minute). Returns how many results it covered (0 when none were new), so
   * a backlog, such as a long replay, is worked off over several calls.
   */
  rollup(maxResults = ROLLUP_ROWS, budgetMs = Infinity): number {
    const deadline = performance.now() + budgetMs;
    const state = this.#stmt("SELECT value FROM rollup_state WHERE key = 'rolled_up_to_id'");
    const after = Number((state.get() as { value: number }).value);
    const rows = this.#stmt(
      "SELECT id, series_id AS s, started_at AS t FROM result_rows WHERE id > ? ORDER BY id LIMIT ?",
    ).all(after, maxResults) as { id: number; s: number; t: number }[];
    if (rows.length === 0) return 0;
    const rawCutoff = Date.now() - this.retention.rawMs;
    const minutes = new Set<string>();
    const hours = new Map<string, [number, number]>();
    let upTo = after;
    let covered = 0;
    this.#store.write(() => {
      this.#db.exec("BEGIN");
      for (const { id, s, t } of rows) {
        const start = Math.floor(t / MINUTE) * MINUTE;
        const key = `${s}:${start}`;
        if (!minutes.has(key)) {
          if (minutes.size > 0 && performance.now() > deadline) break;
          minutes.add(key);
          // a straggler older than the raw retention is pruned anyway; its
          // partial raw data must not overwrite a complete rollup
          if (start >= rawCutoff) {
            this.#writeMinute(s, start);
            const h = Math.floor(start / HOUR) * HOUR;
            hours.set(`${s}:${h}`, [s, h]);
          }
        }
        upTo = Number(id);
        covered++;
      }
      for (const [s, h] of hours.values()) this.#writeHour(s, h);
      this.#stmt("UPDATE rollup_state SET value = ? WHERE key = 'rolled_up_to_id'").run(upTo);
      this.#db.exec("COMMIT");
    });
    return covered;
  }

  #writeMinute(seriesId: number, start: number) {
    const rows = this.#stmt(
      `SELECT up, latency_ms AS l FROM result_rows
       WHERE series_id = ? AND started_at >= ? AND started_at < ?`,
    ).all(seriesId, start, start + MINUTE) as { up: number; l: number | null }[];
    if (rows.length === 0) return;
    const lat = rows.flatMap((r) => r.l === null ? [] : [Number(r.l)]).sort((a, b) => a - b);
    const failures = rows.reduce((n, r) => n + (Number(r.up) === 1 ? 0 : 1), 0);
    const avg = lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null;
    this.#stmt(
      `INSERT OR REPLACE INTO rollup_minute (series_id, start, count, failures, min_ms, avg_ms, max_ms, p95_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      seriesId,
      start,
      rows.length,
      failures,
      lat[0] ?? null,
      avg,
      lat.at(-1) ?? null,
      lat.length ? lat[Math.ceil(0.95 * lat.length) - 1]! : null,
    );
  }

  /**
   * An hour from its minutes: at most 60 rows, however many results the hour
   * had, so a pass stays short. Count, failures, min, avg and max are exact;
   * p95 is the highest minute p95, an upper bound.
   */
  #writeHour(seriesId: number, h: number) {
    this.#stmt(
      `INSERT OR REPLACE INTO rollup_hour (series_id, start, count, failures, min_ms, avg_ms, max_ms, p95_ms)
       SELECT series_id, ?, sum(count), sum(failures), min(min_ms),
         sum(avg_ms * count) / sum(CASE WHEN avg_ms IS NULL THEN 0 ELSE count END),
         max(max_ms), max(p95_ms)
       FROM rollup_minute WHERE series_id = ? AND start >= ? AND start < ? GROUP BY series_id`,
    ).run(h, seriesId, h, h + HOUR);
  }

  /**
   * Deletes raw results older than the raw retention and rollups older than
   * theirs, in batches. Returns the number of raw results deleted.
   */
  prune(now = Date.now()): number {
    this.#lastPrune = now;
    let deleted = 0;
    for (let n = PRUNE_BATCH; n === PRUNE_BATCH;) {
      n = this.#pruneBatch(now - this.retention.rawMs);
      deleted += n;
    }
    this.#pruneRollups(now);
    return deleted;
  }

  /** Deletes up to {@linkcode PRUNE_BATCH} raw results that started before `cutoff`; returns how many. */
  #pruneBatch(cutoff: number): number {
    return this.#store.write(() =>
      Number(
        this.#stmt(
          `DELETE FROM result_rows WHERE id IN
           (SELECT id FROM result_rows WHERE started_at < ? ORDER BY started_at LIMIT ?)`,
        ).run(cutoff, PRUNE_BATCH).changes,
      )
    );
  }

  #pruneRollups(now: number) {
    this.#store.write(() => {
      for (const s of this.series()) {
        this.#stmt("DELETE FROM rollup_minute WHERE series_id = ? AND start < ?")
          .run(s.id, now - this.retention.minuteMs);
        this.#stmt("DELETE FROM rollup_hour WHERE series_id = ? AND start < ?")
          .run(s.id, now - this.retention.hourMs);
      }
    });
  }

  /** Every (check, monitor) pair that ever had a result. */
  series(): Series[] {
    return (this.#stmt("SELECT id, check_id, monitor_id, monitor_name FROM series ORDER BY id")
      .all() as { id: number; check_id: string; monitor_id: string; monitor_name: string }[])
      .map((r) => ({
        id: Number(r.id),
        checkId: r.check_id,
        ...splitCheckId(r.check_id),
        monitorId: r.monitor_id,
        monitorName: r.monitor_name,
      }));
  }

  #matching(f: HistoryFilter): Series[] {
    return this.series().filter((s) =>
      (!f.checkId || s.checkId === f.checkId) &&
      (!f.target || s.target === f.target) &&
      (!f.type || s.type === f.type) &&
      (!f.monitor || s.monitorName === f.monitor || s.monitorId === f.monitor)
    );
  }

  /** The newest stored result of each series (for the current state after a restart). */
  latest(): StoredResult[] {
    const out: StoredResult[] = [];
    for (const s of this.series()) {
      const row = this.#stmt(
        `SELECT ${RESULT_COLUMNS} FROM ${JOINED} WHERE r.series_id = ?
         ORDER BY r.started_at DESC LIMIT 1`,
      ).get(s.id) as Record<string, SQLInputValue> | undefined;
      if (row) out.push(rowToResult(row));
    }
    return out;
  }

  /** Raw results, newest first, a page at a time. */
  results(f: HistoryFilter = {}): Page<StoredResult> {
    const limit = pageLimit(f.limit);
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (f.checkId || f.target || f.type || f.monitor) {
      const series = this.#matching(f);
      if (series.length === 0) return { items: [], next: null };
      // one parameter however many series match
      where.push("r.series_id IN (SELECT value FROM json_each(?))");
      args.push(JSON.stringify(series.map((s) => s.id)));
    }
    if (f.from !== undefined) where.push("r.started_at >= ?"), args.push(f.from);
    if (f.to !== undefined) where.push("r.started_at < ?"), args.push(f.to);
    if (f.cursor) {
      const [t, id] = decodeCursor(f.cursor, 2).map(Number);
      if (!Number.isFinite(t) || !Number.isInteger(id)) {
        throw new HistoryQueryError(
          "cursor is not one this server returned; start from the first page",
        );
      }
      where.push("(r.started_at, r.id) < (?, ?)");
      args.push(t!, id!);
    }
    const rows = this.#db.prepare(
      `SELECT ${RESULT_COLUMNS} FROM ${JOINED} ${where.length ? "WHERE " + where.join(" AND ") : ""}
       ORDER BY r.started_at DESC, r.id DESC LIMIT ?`,
    ).all(...args, limit + 1) as Record<string, SQLInputValue>[];
    const items = rows.slice(0, limit).map(rowToResult);
    const last = rows[limit - 1];
    return {
      items,
      next: rows.length > limit && last
        ? encodeCursor([Number(last.started_at), Number(last.id)])
        : null,
    };
  }

  /** Rollup buckets, by series then oldest first, a page at a time. */
  rollups(resolution: Resolution, f: HistoryFilter = {}): Page<Rollup> {
    const limit = pageLimit(f.limit);
    const table = resolution === "hour" ? "rollup_hour" : "rollup_minute";
    const series = this.#matching(f);
    if (series.length === 0) return { items: [], next: null };
    const byId = new Map(series.map((s) => [s.id, s]));
    let [afterSeries, afterStart] = [-1, -Infinity];
    if (f.cursor) {
      const [s, t] = decodeCursor(f.cursor, 2);
      [afterSeries, afterStart] = [Number(s), Number(t)];
    }
    const rows = this.#db.prepare(
      `SELECT * FROM ${table}
       WHERE series_id IN (${series.map(() => "?").join(",")}) AND start >= ? AND start < ?
         AND (series_id > ? OR (series_id = ? AND start > ?))
       ORDER BY series_id, start LIMIT ?`,
    ).all(
      ...series.map((s) => s.id),
      f.from ?? 0,
      f.to ?? Number.MAX_SAFE_INTEGER,
      afterSeries,
      afterSeries,
      afterStart,
      limit + 1,
    ) as Record<string, number | null>[];
    const items = rows.slice(0, limit).map((r) => {
      const s = byId.get(Number(r.series_id))!;
      return {
        checkId: s.checkId,
        target: s.target,
        type: s.type,
        monitorId: s.monitorId,
        monitorName: s.monitorName,
        start: Number(r.start),
        count: Number(r.count),
        failures: Number(r.failures),
        minMs: r.min_ms ?? null,
        avgMs: r.avg_ms ?? null,
        maxMs: r.max_ms ?? null,
        p95Ms: r.p95_ms ?? null,
      };
    });
    const last = rows[limit - 1];
    return {
      items,
      next: rows.length > limit && last ? encodeCursor([last.series_id!, last.start!]) : null,
    };
  }

  /**
   * Latency of one check from `from` to `to`, one line per monitor: raw
   * results up to 2 hours, minute averages up to 2 days, hour averages beyond.
   */
  chart(checkId: string, from: number, to: number): Chart {
    const span = to - from;
    const resolution = span <= 2 * HOUR ? "raw" : span <= 2 * DAY ? "minute" : "hour";
    const series = this.#matching({ checkId });
    return {
      checkId,
      resolution,
      from,
      to,
      series: series.map((s) => {
        const rows = resolution === "raw"
          ? this.#stmt(
            `SELECT started_at AS t, latency_ms AS l, 1 - up AS f FROM result_rows
             WHERE series_id = ? AND started_at >= ? AND started_at < ? ORDER BY started_at`,
          ).all(s.id, from, to)
          : this.#stmt(
            `SELECT start AS t, avg_ms AS l, CAST(failures AS REAL) / count AS f
             FROM ${resolution === "hour" ? "rollup_hour" : "rollup_minute"}
             WHERE series_id = ? AND start >= ? AND start < ? ORDER BY start`,
          ).all(s.id, from, to);
        return {
          monitorName: s.monitorName,
          monitorId: s.monitorId,
          points: (rows as { t: number; l: number | null; f: number }[]).map((
            r,
          ) => [Number(r.t), r.l === null ? null : Number(r.l), Number(r.f)]),
        };
      }),
    };
  }

  /**
   * Uptime percentages of every series over the last 24 hours, 7 days and
   * 30 days, from the hour rollups (so as fresh as the last rollup run), by series ID.
   */
  uptime(now = Date.now()): Map<number, Uptime> {
    const out = new Map<number, Uptime>();
    const windows = [["h24", DAY], ["d7", 7 * DAY], ["d30", 30 * DAY]] as const;
    for (const s of this.series()) {
      const u: Uptime = { h24: null, d7: null, d30: null };
      for (const [key, span] of windows) {
        const row = this.#stmt(
          `SELECT sum(count) AS n, sum(failures) AS f FROM rollup_hour
           WHERE series_id = ? AND start >= ?`,
        ).get(s.id, Math.floor((now - span) / HOUR) * HOUR) as { n: number | null; f: number };
        if (row.n) u[key] = 100 * (1 - Number(row.f) / Number(row.n));
      }
      out.set(s.id, u);
    }
    return out;
  }
}

function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new HistoryQueryError(`limit must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  return limit;
}

function encodeCursor(parts: (string | number)[]): string {
  return btoa(parts.join("\n")).replaceAll("=", "");
}

function decodeCursor(cursor: string, n: number): string[] {
  let parts: string[];
  try {
    parts = atob(cursor).split("\n");
  } catch {
    parts = [];
  }
  if (parts.length !== n) {
    throw new HistoryQueryError(
      "cursor is not one this server returned; start from the first page",
    );
  }
  return parts;
}
