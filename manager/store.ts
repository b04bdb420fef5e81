/**
 * The manager's embedded store (`node:sqlite`, WAL). Results are written in
 * one transaction per batch before they are acknowledged to the monitor, and
 * stored once: the task ID is the key, so a replayed result that was already
 * stored is ignored.
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
 * const fresh = store.add(results); // only the ones not seen before
 * ```
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { CheckResult } from "../shared/checks.ts";

/** A stored result as returned by queries. */
export interface StoredResult extends CheckResult {
  monitorName: string;
}

/** Filters for {@linkcode ResultStore.results}. */
export interface ResultQuery {
  checkId?: string;
  target?: string;
  type?: string;
  monitorId?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  limit?: number;
}

/** The manager's durable store of results. */
export class ResultStore {
  #db: DatabaseSync;
  #insert: StatementSync;
  #maxSeq: StatementSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS results (
        task_id TEXT PRIMARY KEY,
        monitor_id TEXT NOT NULL,
        monitor_name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        check_id TEXT NOT NULL,
        target TEXT NOT NULL,
        type TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        up INTEGER NOT NULL,
        latency_ms REAL,
        summary TEXT NOT NULL,
        error TEXT,
        metrics TEXT NOT NULL,
        details TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS results_check_time ON results (check_id, started_at);
      CREATE INDEX IF NOT EXISTS results_monitor_seq ON results (monitor_id, seq);
      CREATE INDEX IF NOT EXISTS results_time ON results (started_at);
    `);
    this.#insert = db.prepare(`
      INSERT OR IGNORE INTO results (task_id, monitor_id, monitor_name, seq, check_id, target, type,
        started_at, duration_ms, up, latency_ms, summary, error, metrics, details)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#maxSeq = db.prepare("SELECT max(seq) AS m FROM results WHERE monitor_id = ?");
  }

  /** The database itself, for the rollups and history queries of `rollups.ts`. */
  get db(): DatabaseSync {
    return this.#db;
  }

  /** Opens (or creates) the store at `path` (`:memory:` for a throwaway one). */
  static open(path: string): ResultStore {
    return new ResultStore(new DatabaseSync(path));
  }

  /**
   * Stores `results` from the monitor shown as `monitorName` in one
   * transaction. Returns the ones that were new; duplicates are skipped.
   */
  add(results: CheckResult[], monitorName: string): CheckResult[] {
    const fresh: CheckResult[] = [];
    this.#db.exec("BEGIN");
    try {
      for (const r of results) {
        const { changes } = this.#insert.run(
          r.taskId,
          r.monitorId,
          monitorName,
          r.seq,
          r.checkId,
          r.target,
          r.type,
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
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
    return fresh;
  }

  /** Highest sequence number stored for a monitor (0 for none). */
  maxSeq(monitorId: string): number {
    const row = this.#maxSeq.get(monitorId) as { m: number | null } | undefined;
    return Number(row?.m ?? 0);
  }

  /** Stored results, newest first. */
  results(q: ResultQuery = {}): StoredResult[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.checkId) where.push("check_id = ?"), args.push(q.checkId);
    if (q.target) where.push("target = ?"), args.push(q.target);
    if (q.type) where.push("type = ?"), args.push(q.type);
    if (q.monitorId) where.push("monitor_id = ?"), args.push(q.monitorId);
    if (q.from !== undefined) where.push("started_at >= ?"), args.push(q.from);
    if (q.to !== undefined) where.push("started_at < ?"), args.push(q.to);
    const sql = `SELECT * FROM results ${where.length ? "WHERE " + where.join(" AND ") : ""}
      ORDER BY started_at DESC LIMIT ?`;
    args.push(Math.min(q.limit ?? 100, 10_000));
    return (this.#db.prepare(sql).all(...args) as Record<string, unknown>[]).map(rowToResult);
  }

  /** Number of stored results. */
  count(): number {
    return Number((this.#db.prepare("SELECT count(*) AS n FROM results").get() as { n: number }).n);
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}

/** Turns a row of the `results` table into a {@linkcode StoredResult}. */
export function rowToResult(row: Record<string, unknown>): StoredResult {
  const r: StoredResult = {
    taskId: String(row.task_id),
    monitorId: String(row.monitor_id),
    monitorName: String(row.monitor_name),
    seq: Number(row.seq),
    checkId: String(row.check_id),
    target: String(row.target),
    type: String(row.type) as CheckResult["type"],
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
