/**
 * The embedded engine: one SQLite file (`node:sqlite`, WAL), the default
 * store. Durability: WAL with `synchronous = NORMAL` keeps every committed
 * transaction through a crash of the process (SIGKILL); a power loss may
 * lose the last transactions, which the monitors then replay because their
 * spool only forgets what was acknowledged.
 *
 * `node:sqlite` is synchronous, so every statement here runs to completion
 * at once; the driver still queues them, because a transaction of
 * {@linkcode SqlStore} spans several awaited steps and a statement of
 * another caller must not land inside it.
 *
 * Schema versions (`schema_version`): 1 is the schema of netmon before
 * versions existed, so a file made then opens, is found at version 0 and
 * migrates (its statements are all "if not exists").
 *
 * @example
 * ```ts
 * import { SqliteStore } from "./sqlite.ts";
 * const store = SqliteStore.open(":memory:");
 * console.assert(store.schemaVersion >= 1);
 * await store.close();
 * ```
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import {
  type Driver,
  type Queries,
  rowToShape,
  type SqlRow,
  SqlStore,
  type SqlValue,
} from "./sql.ts";
import {
  decodeBody,
  encodeBody,
  familyHash,
  familyKey,
  resultColumns,
  resultOfV2Row,
  SCHEMA3_INDEXES,
  schema3Sql,
  type Shape,
  ShapeBook,
  shapeColumns,
} from "./compact.ts";
import { isDiskFull, StoreFullError, StoreOpenError } from "./store.ts";

/** The migrations, in order: migration `i` brings the schema to version `i + 1`. */
const MIGRATIONS: ((db: DatabaseSync) => void)[] = [
  // 1: the schema of the first netmon releases
  (db) => {
    db.exec(`
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
        SELECT r.id, r.task_id, s.monitor_id, s.monitor_name, r.seq, s.check_id, r.started_at,
          r.duration_ms, r.up, r.latency_ms, r.summary, r.error, r.metrics, r.details
        FROM result_rows r JOIN series s ON s.id = r.series_id;
      CREATE TABLE IF NOT EXISTS rollup_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)
        WITHOUT ROWID;
      INSERT OR IGNORE INTO rollup_state (key, value) VALUES ('rolled_up_to_id', 0);
    `);
    for (const table of ["rollup_minute", "rollup_hour"]) {
      db.exec(`
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
    const columns = db.prepare("PRAGMA table_info(result_rows)").all() as { name: string }[];
    if (!columns.some((c) => c.name === "epoch")) {
      db.exec("ALTER TABLE result_rows ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0");
    }
    // a result's series, epoch and sequence number identify it: this is what keeps a replay out
    db.exec(`
      CREATE UNIQUE INDEX IF NOT EXISTS result_rows_series_epoch_seq
        ON result_rows (series_id, epoch, seq);
      CREATE TABLE IF NOT EXISTS alert_incidents (
        id TEXT PRIMARY KEY,
        check_id TEXT NOT NULL,
        target TEXT NOT NULL,
        type TEXT NOT NULL,
        condition TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        resolved_at INTEGER,
        quorum INTEGER NOT NULL,
        running INTEGER NOT NULL,
        vantage TEXT NOT NULL,
        detail TEXT NOT NULL,
        notified INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS alert_incidents_opened ON alert_incidents (opened_at);
      CREATE TABLE IF NOT EXISTS alert_notifications (
        id TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL,
        event TEXT NOT NULL,
        notifier TEXT NOT NULL,
        notifier_type TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        finished_at INTEGER,
        error TEXT,
        title TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS alert_notifications_created ON alert_notifications (created_at);
    `);
  },
  // 2: the row `/healthz` writes to prove the store takes writes
  (db) => {
    db.exec(
      "CREATE TABLE IF NOT EXISTS health_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)",
    );
  },
  // 3: the compact result layout (`compact.ts`)
  migrateToCompact,
  // 4: task IDs made of the epoch are stored empty, the view makes them again; durations in
  // whole microseconds
  migrateToMicros,
];

/**
 * Schema 3's `results` view: the columns of schema 2's but `metrics`, which
 * is binary now (read it through the API), with the task ID as text again
 * (schema 4: also one made of its epoch, `shared/task_id.ts`).
 */
const RESULTS_VIEW = `
  CREATE VIEW results AS
    SELECT r.id,
      CASE WHEN length(r.task) = 0 THEN (
        SELECT substr(e.epoch, 1, 14) || '8' || substr(e.epoch, 16, 9) || printf('%012x', r.seq)
        FROM epochs e WHERE e.id = r.epoch)
      WHEN length(r.task) = 16 THEN lower(
        substr(hex(r.task), 1, 8) || '-' || substr(hex(r.task), 9, 4) || '-' ||
        substr(hex(r.task), 13, 4) || '-' || substr(hex(r.task), 17, 4) || '-' ||
        substr(hex(r.task), 21))
      ELSE CAST(substr(r.task, CASE WHEN substr(r.task, 1, 1) = x'01' THEN 3 ELSE 2 END) AS TEXT)
      END AS task_id,
      s.monitor_id, s.monitor_name, r.seq, s.check_id, r.started_at, r.duration_ms, r.up,
      r.latency_ms, h.head || coalesce(r.mid, '') || h.tail AS summary, h.error, h.details
    FROM result_rows r JOIN series s ON s.id = r.series_id JOIN shapes h ON h.id = r.shape_id`;

/**
 * Schema 2 to 3: every result row rewritten in the compact layout under
 * its own ID (the rollup watermark counts on IDs), the ID counter kept.
 */
function migrateToCompact(db: DatabaseSync): void {
  const seqRow = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'result_rows'")
    .get() as { seq: number } | undefined;
  db.exec(`
    DROP VIEW IF EXISTS results;
    DROP INDEX IF EXISTS result_rows_series_epoch_seq;
    DROP INDEX IF EXISTS result_rows_series_time;
    DROP INDEX IF EXISTS result_rows_time;
    ALTER TABLE result_rows RENAME TO result_rows_v2;
    ${schema3Sql("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB", "INTEGER PRIMARY KEY", "REAL")}
  `);
  const book = new ShapeBook(Number.MAX_SAFE_INTEGER);
  const addShape = db.prepare(
    `INSERT INTO shapes (series_id, fhash, up, error, head, tail, names, vals, details)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  );
  const addRow = db.prepare(
    `INSERT INTO result_rows (id, series_id, epoch, seq, task, started_at, duration_ms, up,
      latency_ms, shape_id, mid, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const old = db.prepare(
    `SELECT r.*, s.check_id, s.monitor_id FROM result_rows_v2 r JOIN series s ON s.id = r.series_id
     ORDER BY r.id`,
  );
  let maxId = 0;
  for (const row of old.iterate() as Iterable<Record<string, SQLInputValue>>) {
    const r = resultOfV2Row(row);
    const seriesId = Number(row.series_id);
    const key = familyKey(seriesId, r);
    const { shape, fresh } = book.pick(key, seriesId, r);
    if (fresh) {
      shape.id = Number(
        (addShape.get(
          seriesId,
          familyHash(key),
          ...shapeColumns(shape),
        ) as { id: number }).id,
      );
    }
    const id = Number(row.id);
    maxId = Math.max(maxId, id);
    addRow.run(
      id,
      seriesId,
      Number(row.epoch),
      ...resultColumns(r, shape),
    );
  }
  db.exec("DROP TABLE result_rows_v2");
  db.exec("DELETE FROM sqlite_sequence WHERE name IN ('result_rows', 'result_rows_v2')");
  db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('result_rows', ?)")
    .run(Math.max(maxId, Number(seqRow?.seq ?? 0)));
  db.exec(SCHEMA3_INDEXES);
  db.exec(RESULTS_VIEW);
}

/**
 * Schema 3 to 4: `duration_ms` becomes whole microseconds (`duration_us`:
 * two or three bytes a row instead of eight), and a latency that is a whole
 * number of microseconds (a monitor rounds to them) is stored as one
 * (`latency_us`), any other as it was (`latency_raw`: what rows stored until
 * now); `duration_ms` and `latency_ms` are computed from them (`VIRTUAL`:
 * not stored), so that every query reads them as before. A latency is not
 * rounded here: check metrics are often the latency in seconds, stored as a
 * reference to it, which a rounded latency would no longer match.
 */
function migrateToMicros(db: DatabaseSync): void {
  db.exec(`
    DROP VIEW IF EXISTS results;
    ALTER TABLE result_rows ADD COLUMN duration_us INTEGER NOT NULL DEFAULT 0;
    UPDATE result_rows SET duration_us = round(duration_ms * 1000);
  `);
  // a metric stored as "the duration in seconds" would read the rounded duration: such a body
  // is written again against it, the metric as a number of its own
  const shapes = new Map<number, Shape>();
  const shapeOf = db.prepare("SELECT * FROM shapes WHERE id = ?");
  const setBody = db.prepare("UPDATE result_rows SET body = ? WHERE id = ?");
  const rows = db.prepare(
    `SELECT id, shape_id, mid, body, duration_ms, duration_us, latency_ms FROM result_rows
     WHERE body IS NOT NULL`,
  );
  for (const row of rows.iterate() as Iterable<Record<string, SQLInputValue>>) {
    const id = Number(row.shape_id);
    let shape = shapes.get(id);
    if (!shape) shapes.set(id, shape = rowToShape(shapeOf.get(id) as SqlRow));
    const latencyMs = row.latency_ms === null ? null : Number(row.latency_ms);
    const mid = row.mid === null ? null : String(row.mid);
    const body = row.body as Uint8Array;
    const durationMs = Number(row.duration_ms);
    const { summary, metrics } = decodeBody(mid, body, shape, latencyMs, durationMs);
    const again = encodeBody(
      { summary, metrics, latencyMs, durationMs },
      shape,
      Number(row.duration_us) / 1000,
    ).body;
    if (again === null || again.length !== body.length || again.some((b, i) => b !== body[i])) {
      setBody.run(again, Number(row.id));
    }
  }
  db.exec(`
    ALTER TABLE result_rows DROP COLUMN duration_ms;
    ALTER TABLE result_rows ADD COLUMN duration_ms REAL GENERATED ALWAYS AS (duration_us / 1000.0) VIRTUAL;
    ALTER TABLE result_rows RENAME COLUMN latency_ms TO latency_raw;
    ALTER TABLE result_rows ADD COLUMN latency_us INTEGER;
    ALTER TABLE result_rows ADD COLUMN latency_ms REAL
      GENERATED ALWAYS AS (coalesce(latency_us / 1000.0, latency_raw)) VIRTUAL;
    ${RESULTS_VIEW};
  `);
}

/**
 * The schema version this netmon writes on SQLite.
 *
 * @example
 * ```ts
 * import { SQLITE_SCHEMA_VERSION } from "./sqlite.ts";
 * console.assert(SQLITE_SCHEMA_VERSION >= 1);
 * ```
 */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** Brings `db` to {@linkcode SQLITE_SCHEMA_VERSION}, one transaction per step; returns the version. */
function migrate(db: DatabaseSync, path: string): number {
  db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  const row = db.prepare("SELECT max(version) AS v FROM schema_version").get() as {
    v: number | null;
  };
  const at = Number(row.v ?? 0);
  if (at > MIGRATIONS.length) {
    throw new StoreOpenError(
      `${path} has schema version ${at}, newer than this netmon's ${MIGRATIONS.length}: ` +
        `run the netmon that wrote it, or a newer one`,
    );
  }
  for (let v = at; v < MIGRATIONS.length; v++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      MIGRATIONS[v]!(db);
      db.exec("DELETE FROM schema_version");
      db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(v + 1);
      db.exec("COMMIT");
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw e;
    }
  }
  return MIGRATIONS.length;
}

/** Most statements kept prepared (the multi-row inserts come in many sizes). */
const STATEMENTS_MAX = 256;

class SqliteDriver implements Driver {
  readonly engine = "sqlite";
  readonly orderId = "rowid";
  readonly micros = true;
  // SQLITE_MAX_VARIABLE_NUMBER of the SQLite in Deno's node:sqlite
  readonly maxParams = 32766;
  readonly path: string;
  readonly schemaVersion: number;
  #db: DatabaseSync;
  #stmts = new Map<string, StatementSync>();
  /** Settles when the statement or transaction before the next one is done. */
  #tail: Promise<unknown> = Promise.resolve();
  #direct: Queries;

  constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.path = path;
    db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      PRAGMA cache_size = -32768;
      PRAGMA temp_store = MEMORY;
      -- the WAL is part of the store's size on disk: checkpoint every 512 KiB (not 4 MiB),
      -- and give back what a long transaction (a migration, a big rollup) grew it by
      PRAGMA wal_autocheckpoint = 128;
      PRAGMA journal_size_limit = 524288;
    `);
    this.schemaVersion = migrate(db, path);
    this.#direct = {
      all: (sql, args = []) => Promise.resolve(this.#all(sql, args)),
      run: (sql, args = []) => Promise.resolve(this.#run(sql, args)),
    };
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      if (this.#stmts.size >= STATEMENTS_MAX) this.#stmts.clear();
      this.#stmts.set(sql, s = this.#db.prepare(sql));
    }
    return s;
  }

  #all(sql: string, args: SqlValue[]): SqlRow[] {
    return this.#stmt(sql).all(...(args as SQLInputValue[])) as SqlRow[];
  }

  #run(sql: string, args: SqlValue[]): number {
    return Number(this.#stmt(sql).run(...(args as SQLInputValue[])).changes);
  }

  /** Runs `fn` after everything queued before it. */
  #queue<T>(fn: () => T | Promise<T>): Promise<T> {
    const next = this.#tail.then(fn);
    this.#tail = next.then(() => {}, () => {});
    return next;
  }

  all(sql: string, args: SqlValue[] = []): Promise<SqlRow[]> {
    return this.#queue(() => this.#all(sql, args));
  }

  run(sql: string, args: SqlValue[] = []): Promise<number> {
    return this.#queue(() => this.#run(sql, args));
  }

  tx<T>(fn: (q: Queries) => Promise<T>): Promise<T> {
    return this.#queue(async () => {
      this.#db.exec("BEGIN");
      try {
        const out = await fn(this.#direct);
        this.#db.exec("COMMIT");
        return out;
      } catch (e) {
        // on SQLITE_FULL, SQLite may have rolled back already: a failed ROLLBACK would hide the cause
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        throw e;
      }
    });
  }

  bytes(): Promise<number> {
    return this.#queue(() =>
      Number(
        this.#all(
          "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
          [],
        )[0]!.n,
      )
    );
  }

  close(): Promise<void> {
    return this.#queue(() => {
      this.#stmts.clear();
      this.#db.close();
    });
  }
}

/**
 * {@linkcode SqlStore} on an SQLite file.
 *
 * @example
 * ```ts
 * import { SqliteStore } from "./sqlite.ts";
 * const store = SqliteStore.open(":memory:");
 * console.assert(store.engine === "sqlite" && (await store.count()) === 0);
 * await store.close();
 * ```
 */
export class SqliteStore extends SqlStore {
  /**
   * Opens (or creates) the store at `path` (`:memory:` for a throwaway one)
   * and migrates it. Throws {@linkcode StoreFullError} when that finds the
   * disk full, {@linkcode StoreOpenError} for a schema newer than this netmon.
   */
  static open(path: string): SqliteStore {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      return new SqliteStore(new SqliteDriver(db, path));
    } catch (e) {
      if (db?.isOpen) db.close();
      if (isDiskFull(e)) throw new StoreFullError(path, e);
      throw e;
    }
  }
}
