/**
 * The manager's embedded store (`node:sqlite`, WAL). Results are written in
 * one transaction per batch before they are acknowledged to the monitor, and
 * stored once: a monitor numbers its results, so a replayed result (same
 * monitor, same check, same sequence number) that was already stored is
 * ignored.
 *
 * A result is identified by its series, its monitor's spool epoch and its
 * sequence number (see `shared/protocol.ts`): a monitor whose spool was
 * replaced numbers from 1 again in a new epoch, and those are new results.
 * Epochs are kept as small integers in the `epochs` table (0 is the epoch ""
 * of spools made before epochs existed).
 *
 * Layout, for ingest speed and size: each (check, monitor) pair is a
 * "series", a small integer; a result row holds its series, not the check
 * and monitor names. Rows are appended in arrival order (`id`), so an insert
 * touches the end of the table and of two per-series indexes, not random
 * pages. Nothing runs per row besides the insert: rollups read the rows
 * appended since their last pass (`rollups.ts`). The `results` view joins
 * the names back in for readers of the raw database.
 *
 * Durability: WAL with `synchronous = NORMAL` keeps every committed
 * transaction through a crash of the process (SIGKILL); a power loss may lose
 * the last transactions, which the monitors then replay because their spool
 * only forgets what was acknowledged.
 *
 * @example
 * ```ts ignore
 * import { ResultStore } from "./store.ts";
 * const store = ResultStore.open("netmon.db");
 * const fresh = store.add(results, "monitor-1"); // only the ones not seen before
 * ```
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { CheckResult } from "../shared/checks.ts";

/**
 * The store's disk is full (SQLITE_FULL): nothing of the failed batch was
 * stored, so nothing of it may be acknowledged; retry once space returns.
 */
export class StoreFullError extends Error {
  /** The database file whose disk is full. */
  readonly path: string;
  /** @param path the database file; @param cause the SQLite error */
  constructor(path: string, cause?: unknown) {
    super(`disk full at ${path}`, { cause });
    this.name = "StoreFullError";
    this.path = path;
  }
}

/**
 * Whether `e` is SQLite's SQLITE_FULL ("database or disk is full"), the
 * error of a write that found no room on the disk.
 *
 * @example
 * ```ts
 * import { isDiskFull } from "./store.ts";
 * console.assert(!isDiskFull(new Error("no such table: x")));
 * ```
 */
export function isDiskFull(e: unknown): boolean {
  if (e instanceof StoreFullError) return true;
  if (!(e instanceof Error)) return false;
  const errcode = (e as { errcode?: unknown }).errcode;
  // the primary result code is the low byte of an extended one
  if (typeof errcode === "number") return (errcode & 0xff) === SQLITE_FULL;
  return /database or disk is full/.test(e.message);
}

const SQLITE_FULL = 13;

/** A stored result as returned by queries. */
export interface StoredResult extends CheckResult {
  monitorName: string;
}

/** Filters for {@linkcode ResultStore.results}. */
export interface ResultQuery {
  checkId?: string;
  monitorId?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  limit?: number;
}

/**
 * The columns of a result with its series' names, for {@linkcode rowToResult}:
 * `SELECT ${RESULT_COLUMNS} FROM result_rows r JOIN series s ON s.id = r.series_id`.
 */
export const RESULT_COLUMNS =
  `r.id, r.task_id, s.monitor_id, s.monitor_name, r.seq, s.check_id, r.started_at,
   r.duration_ms, r.up, r.latency_ms, r.summary, r.error, r.metrics, r.details`;

/** The manager's durable store of results. */
export class ResultStore {
  #db: DatabaseSync;
  #path: string;
  #diskFull: string | null = null;
  #fullListeners = new Set<(diskFull: string | null) => void>();
  #insert: StatementSync;
  #newSeries: StatementSync;
  #rename: StatementSync;
  /** Series ID and monitor name by `checkId \n monitorId`, mirroring the `series` table. */
  #series = new Map<string, { id: number; name: string }>();

  private constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
    db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      PRAGMA cache_size = -32768;
      PRAGMA temp_store = MEMORY;
      CREATE TABLE IF NOT EXISTS paused_checks (check_id TEXT PRIMARY KEY, since INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS series (
        id INTEGER PRIMARY KEY,
        check_id TEXT NOT NULL,
        monitor_id TEXT NOT NULL,
        monitor_name TEXT NOT NULL,
        UNIQUE (check_id, monitor_id)
      );
      CREATE TABLE IF NOT EXISTS result_rows (
        -- AUTOINCREMENT: IDs only grow, even once pruning emptied the table,
        -- because rollups take every row above the last ID they saw as new
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        series_id INTEGER NOT NULL REFERENCES series (id),
        seq INTEGER NOT NULL,
        task_id TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        up INTEGER NOT NULL,
        latency_ms REAL,
        summary TEXT NOT NULL,
        error TEXT,
        metrics TEXT NOT NULL,
        details TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS epochs (id INTEGER PRIMARY KEY, epoch TEXT NOT NULL UNIQUE);
      INSERT OR IGNORE INTO epochs (id, epoch) VALUES (0, '');
      -- charts, rollups and filtered pages of one series
      CREATE INDEX IF NOT EXISTS result_rows_series_time ON result_rows (series_id, started_at);
      -- unfiltered pages, newest first, and pruning by age
      CREATE INDEX IF NOT EXISTS result_rows_time ON result_rows (started_at);
      DROP INDEX IF EXISTS result_rows_series_seq;
      CREATE VIEW IF NOT EXISTS results AS
        SELECT ${RESULT_COLUMNS} FROM result_rows r JOIN series s ON s.id = r.series_id;
    `);
    const columns = db.prepare("PRAGMA table_info(result_rows)").all() as { name: string }[];
    if (!columns.some((c) => c.name === "epoch")) {
      db.exec("ALTER TABLE result_rows ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0");
    }
    // a result's series, epoch and sequence number identify it: this is what keeps a replay out
    db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS result_rows_series_epoch_seq
      ON result_rows (series_id, epoch, seq)`);
    this.#insert = db.prepare(`
      INSERT OR IGNORE INTO result_rows (series_id, epoch, seq, task_id, started_at, duration_ms, up,
        latency_ms, summary, error, metrics, details)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#newSeries = db.prepare(
      "INSERT INTO series (check_id, monitor_id, monitor_name) VALUES (?, ?, ?) RETURNING id",
    );
    this.#rename = db.prepare("UPDATE series SET monitor_name = ? WHERE id = ?");
    const all = db.prepare("SELECT id, check_id, monitor_id, monitor_name FROM series").all() as {
      id: number;
      check_id: string;
      monitor_id: string;
      monitor_name: string;
    }[];
    for (const s of all) {
      this.#series.set(`${s.check_id}\n${s.monitor_id}`, {
        id: Number(s.id),
        name: s.monitor_name,
      });
    }
  }

  /** IDs of the checks paused through the API or `ctl pause`, kept across restarts. */
  pausedChecks(): string[] {
    return (this.#db.prepare("SELECT check_id FROM paused_checks ORDER BY check_id").all() as {
      check_id: string;
    }[]).map((r) => r.check_id);
  }

  /**
   * Records checks as paused (`paused` true) or resumed, in one transaction.
   * Throws {@linkcode StoreFullError} when the disk is full.
   */
  setPaused(checkIds: string[], paused: boolean): void {
    const stmt = paused
      ? this.#db.prepare("INSERT OR IGNORE INTO paused_checks (check_id, since) VALUES (?, ?)")
      : this.#db.prepare("DELETE FROM paused_checks WHERE check_id = ?");
    this.write(() => {
      this.#db.exec("BEGIN");
      for (const id of checkIds) paused ? stmt.run(id, Date.now()) : stmt.run(id);
      this.#db.exec("COMMIT");
    });
  }

  /**
   * Makes the stored pauses exactly `checkIds` (those already paused keep
   * their time), for pauses made while the disk was full.
   */
  savePaused(checkIds: string[]): void {
    this.write(() => {
      this.#db.exec("BEGIN");
      this.#db.prepare(
        "DELETE FROM paused_checks WHERE check_id NOT IN (SELECT value FROM json_each(?))",
      )
        .run(JSON.stringify(checkIds));
      const insert = this.#db.prepare(
        "INSERT OR IGNORE INTO paused_checks (check_id, since) VALUES (?, ?)",
      );
      for (const id of checkIds) insert.run(id, Date.now());
      this.#db.exec("COMMIT");
    });
  }

  /** The database itself, for the rollups and history queries of `rollups.ts`. */
  get db(): DatabaseSync {
    return this.#db;
  }

  /**
   * Opens (or creates) the store at `path` (`:memory:` for a throwaway one).
   * Throws {@linkcode StoreFullError} when creating it finds the disk full.
   */
  static open(path: string): ResultStore {
    try {
      return new ResultStore(new DatabaseSync(path), path);
    } catch (e) {
      if (isDiskFull(e)) throw new StoreFullError(path, e);
      throw e;
    }
  }

  /** The database file's path as opened. */
  get path(): string {
    return this.#path;
  }

  /**
   * The database file when a write found its disk full ("disk full at" it),
   * or null once results could be stored again. Only storing results clears
   * it: a small write can fit in space SQLite already holds while results
   * still find none.
   */
  get diskFull(): string | null {
    return this.#diskFull;
  }

  /** Calls `cb` when {@linkcode diskFull} changes. Returns a function that unsubscribes. */
  onDiskFull(cb: (diskFull: string | null) => void): () => void {
    this.#fullListeners.add(cb);
    return () => this.#fullListeners.delete(cb);
  }

  /**
   * Runs `write` (statements on {@linkcode db}, such as a rollup pass): a
   * write that finds the disk full throws {@linkcode StoreFullError} and
   * sets {@linkcode diskFull}. A transaction `write` left open is rolled
   * back (on SQLITE_FULL, SQLite may have rolled it back already, which is
   * why this asks before it does: a failed ROLLBACK would hide the cause).
   */
  write<T>(write: () => T): T {
    try {
      return write();
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      if (!isDiskFull(e)) throw e;
      this.#setFull(this.#path);
      throw e instanceof StoreFullError ? e : new StoreFullError(this.#path, e);
    }
  }

  #setFull(diskFull: string | null) {
    if (this.#diskFull === diskFull) return;
    this.#diskFull = diskFull;
    for (const cb of this.#fullListeners) cb(diskFull);
  }

  /**
   * The small integer for a monitor's spool epoch (see the module doc),
   * made on first sight.
   */
  epochId(epoch: string): number {
    const row = this.#db.prepare(
      `INSERT INTO epochs (epoch) VALUES (?) ON CONFLICT (epoch) DO UPDATE SET epoch = epoch
       RETURNING id`,
    ).get(epoch) as { id: number };
    return Number(row.id);
  }

  /**
   * Stores `results` from the monitor shown as `monitorName`, numbered in
   * the epoch `epoch` (from {@linkcode epochId}), in one transaction.
   * Returns the ones that were new; duplicates are skipped. Throws
   * {@linkcode StoreFullError} when the disk is full: then nothing of the
   * batch was stored, so none of it may be acknowledged.
   */
  add(results: CheckResult[], monitorName: string, epoch = 0): CheckResult[] {
    const fresh: CheckResult[] = [];
    const created: string[] = [];
    const renamed: { key: string; name: string }[] = [];
    try {
      this.write(() => {
        this.#db.exec("BEGIN");
        for (const r of results) {
          const { changes } = this.#insert.run(
            this.#seriesId(r, monitorName, created, renamed),
            epoch,
            r.seq,
            r.taskId,
            r.startedAt,
            r.durationMs,
            r.up ? 1 : 0,
            r.latencyMs,
            r.summary,
            r.error ?? null,
            JSON.stringify(r.metrics),
            JSON.stringify(r.details ?? {}),
          );
          if (Number(changes) > 0) fresh.push(r);
        }
        this.#db.exec("COMMIT");
      });
    } catch (e) {
      // the rolled back series rows and names are gone: so must be what the cache says of them
      for (const key of created) this.#series.delete(key);
      for (const { key, name } of renamed) this.#series.get(key)!.name = name;
      throw e;
    }
    this.#setFull(null);
    return fresh;
  }

  /** The series of `r`, created (noted in `created`) or renamed (old name noted in `renamed`) as needed. */
  #seriesId(
    r: CheckResult,
    monitorName: string,
    created: string[],
    renamed: { key: string; name: string }[],
  ): number {
    const key = `${r.checkId}\n${r.monitorId}`;
    const known = this.#series.get(key);
    if (known) {
      if (known.name !== monitorName) {
        this.#rename.run(monitorName, known.id);
        renamed.push({ key, name: known.name });
        known.name = monitorName;
      }
      return known.id;
    }
    const { id } = this.#newSeries.get(r.checkId, r.monitorId, monitorName) as { id: number };
    this.#series.set(key, { id: Number(id), name: monitorName });
    created.push(key);
    return Number(id);
  }

  /** Highest sequence number stored for a monitor (0 for none). */
  maxSeq(monitorId: string): number {
    const row = this.#db.prepare(
      `SELECT max((SELECT max(seq) FROM result_rows WHERE series_id = s.id)) AS m
       FROM series s WHERE monitor_id = ?`,
    ).get(monitorId) as { m: number | null } | undefined;
    return Number(row?.m ?? 0);
  }

  /** Stored results, newest first. */
  results(q: ResultQuery = {}): StoredResult[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.checkId) where.push("s.check_id = ?"), args.push(q.checkId);
    if (q.monitorId) where.push("s.monitor_id = ?"), args.push(q.monitorId);
    if (q.from !== undefined) where.push("r.started_at >= ?"), args.push(q.from);
    if (q.to !== undefined) where.push("r.started_at < ?"), args.push(q.to);
    const sql = `SELECT ${RESULT_COLUMNS} FROM result_rows r JOIN series s ON s.id = r.series_id
      ${where.length ? "WHERE " + where.join(" AND ") : ""}
      ORDER BY r.started_at DESC, r.id DESC LIMIT ?`;
    args.push(Math.min(q.limit ?? 100, 10_000));
    return (this.#db.prepare(sql).all(...args) as Record<string, unknown>[]).map(rowToResult);
  }

  /** Number of stored results. */
  count(): number {
    return Number(
      (this.#db.prepare("SELECT count(*) AS n FROM result_rows").get() as { n: number }).n,
    );
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}

/**
 * Splits a check ID `target/TYPE` at its last slash.
 *
 * @example
 * ```ts
 * import { splitCheckId } from "./store.ts";
 * console.assert(splitCheckId("example.com/HTTP").type === "HTTP");
 * ```
 */
export function splitCheckId(checkId: string): { target: string; type: string } {
  const i = checkId.lastIndexOf("/");
  return { target: checkId.slice(0, i), type: checkId.slice(i + 1) };
}

/**
 * Turns a row selected with {@linkcode RESULT_COLUMNS} into a {@linkcode StoredResult}.
 *
 * @example
 * ```ts ignore
 * const rows = db.prepare(`SELECT ${RESULT_COLUMNS} FROM result_rows r JOIN series s ON s.id = r.series_id`).all();
 * const results = rows.map(rowToResult);
 * ```
 */
export function rowToResult(row: Record<string, unknown>): StoredResult {
  const checkId = String(row.check_id);
  const { target, type } = splitCheckId(checkId);
  const r: StoredResult = {
    taskId: String(row.task_id),
    monitorId: String(row.monitor_id),
    monitorName: String(row.monitor_name),
    seq: Number(row.seq),
    checkId,
    target,
    type: type as CheckResult["type"],
    startedAt: Number(row.started_at),
    durationMs: Number(row.duration_ms),
    up: Number(row.up) === 1,
    latencyMs: row.latency_ms === null ? null : Number(row.latency_ms),
    summary: String(row.summary),
    metrics: JSON.parse(String(row.metrics)),
    details: JSON.parse(String(row.details)),
  };
  if (row.error !== null) r.error = String(row.error);
  return r;
}
