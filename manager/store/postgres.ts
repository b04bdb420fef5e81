/**
 * The PostgreSQL engine (`npm:postgres`, a pool of up to 10 connections):
 * the same tables and queries as SQLite (`sql.ts`), with PostgreSQL's types.
 *
 * Result IDs come from a sequence, and the rollup watermark takes every ID
 * above the last one it saw as new, so IDs must commit in order: each
 * ingest transaction takes a transaction-scoped advisory lock first
 * (`pg_advisory_xact_lock`), which serialises ingest across every manager on
 * the database; a batch is one multi-row insert, so the lock is held for
 * one round trip per 500 results. Rollup passes take another such lock, so
 * two managers never roll up at once.
 *
 * Migrations run in one transaction under an advisory lock, so managers
 * starting together migrate once.
 *
 * @example
 * ```ts ignore
 * import { PostgresStore } from "./postgres.ts";
 * const store = await PostgresStore.open("postgres://netmon@127.0.0.1:5432/netmon");
 * console.log(await store.count());
 * await store.close();
 * ```
 *
 * @module
 */
import postgres from "postgres";
import { errorText } from "../../shared/connection.ts";
import { type Driver, type Queries, type SqlRow, SqlStore, type SqlValue } from "./sql.ts";
import { isDiskFull, StoreFullError, StoreOpenError } from "./store.ts";
import {
  familyHash,
  familyKey,
  resultColumns,
  resultOfV2Row,
  SCHEMA3_INDEXES,
  schema3Sql,
  ShapeBook,
  shapeColumns,
} from "./compact.ts";

/** Advisory lock keys (an arbitrary 64-bit space shared with other applications: "netmon" + n). */
const LOCK = { migrate: 0x6e65746d6f6e01n, ingest: 0x6e65746d6f6e02n, rollup: 0x6e65746d6f6e03n };

type Sql = postgres.Sql<Record<string, never>>;
type TxSql = postgres.TransactionSql<Record<string, never>>;

/**
 * The migrations, in order: migration `i` brings the schema to version
 * `i + 1` (exported for the test that builds a schema 2 database).
 *
 * @example
 * ```ts
 * import { POSTGRES_MIGRATIONS } from "./postgres.ts";
 * console.assert(typeof POSTGRES_MIGRATIONS[0] === "string");
 * ```
 */
export const POSTGRES_MIGRATIONS: (string | ((t: TxSql) => Promise<void>))[] = [
  // 1: the tables of SQLite's version 1
  `
  CREATE TABLE IF NOT EXISTS paused_checks (check_id TEXT PRIMARY KEY, since BIGINT NOT NULL);
  CREATE TABLE IF NOT EXISTS series (
    id BIGSERIAL PRIMARY KEY,
    check_id TEXT NOT NULL,
    monitor_id TEXT NOT NULL,
    monitor_name TEXT NOT NULL,
    UNIQUE (check_id, monitor_id)
  );
  CREATE TABLE IF NOT EXISTS result_rows (
    id BIGSERIAL PRIMARY KEY,
    series_id BIGINT NOT NULL REFERENCES series (id),
    epoch BIGINT NOT NULL DEFAULT 0,
    seq BIGINT NOT NULL,
    task_id TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    up SMALLINT NOT NULL,
    latency_ms DOUBLE PRECISION,
    summary TEXT NOT NULL,
    error TEXT,
    metrics TEXT NOT NULL,
    details TEXT NOT NULL
  );
  CREATE UNIQUE INDEX IF NOT EXISTS result_rows_series_epoch_seq
    ON result_rows (series_id, epoch, seq);
  CREATE INDEX IF NOT EXISTS result_rows_series_time ON result_rows (series_id, started_at);
  CREATE INDEX IF NOT EXISTS result_rows_time ON result_rows (started_at);
  CREATE TABLE IF NOT EXISTS epochs (id BIGSERIAL PRIMARY KEY, epoch TEXT NOT NULL UNIQUE);
  INSERT INTO epochs (id, epoch) VALUES (0, '') ON CONFLICT DO NOTHING;
  CREATE OR REPLACE VIEW results AS
    SELECT r.id, r.task_id, s.monitor_id, s.monitor_name, r.seq, s.check_id, r.started_at,
      r.duration_ms, r.up, r.latency_ms, r.summary, r.error, r.metrics, r.details
    FROM result_rows r JOIN series s ON s.id = r.series_id;
  CREATE TABLE IF NOT EXISTS rollup_state (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
  INSERT INTO rollup_state (key, value) VALUES ('rolled_up_to_id', 0) ON CONFLICT DO NOTHING;
  CREATE TABLE IF NOT EXISTS rollup_minute (
    series_id BIGINT NOT NULL, start BIGINT NOT NULL, count INTEGER NOT NULL,
    failures INTEGER NOT NULL, min_ms DOUBLE PRECISION, avg_ms DOUBLE PRECISION,
    max_ms DOUBLE PRECISION, p95_ms DOUBLE PRECISION, PRIMARY KEY (series_id, start)
  );
  CREATE TABLE IF NOT EXISTS rollup_hour (
    series_id BIGINT NOT NULL, start BIGINT NOT NULL, count INTEGER NOT NULL,
    failures INTEGER NOT NULL, min_ms DOUBLE PRECISION, avg_ms DOUBLE PRECISION,
    max_ms DOUBLE PRECISION, p95_ms DOUBLE PRECISION, PRIMARY KEY (series_id, start)
  );
  CREATE TABLE IF NOT EXISTS alert_incidents (
    seq BIGSERIAL,
    id TEXT PRIMARY KEY,
    check_id TEXT NOT NULL,
    target TEXT NOT NULL,
    type TEXT NOT NULL,
    condition TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT,
    quorum INTEGER NOT NULL,
    running INTEGER NOT NULL,
    vantage TEXT NOT NULL,
    detail TEXT NOT NULL,
    notified SMALLINT NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS alert_incidents_opened ON alert_incidents (opened_at);
  CREATE TABLE IF NOT EXISTS alert_notifications (
    seq BIGSERIAL,
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    event TEXT NOT NULL,
    notifier TEXT NOT NULL,
    notifier_type TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    error TEXT,
    title TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS alert_notifications_created ON alert_notifications (created_at);
  `,
  // 2: the row `/healthz` writes to prove the store takes writes
  "CREATE TABLE IF NOT EXISTS health_probe (id INTEGER PRIMARY KEY, at BIGINT NOT NULL)",
  // 3: the compact result layout (`compact.ts`)
  migrateToCompact,
  // 4: task IDs made of the epoch are stored empty; the view makes them again
  async (t) => {
    await t.unsafe("DROP VIEW IF EXISTS results");
    await t.unsafe(RESULTS_VIEW);
  },
];

/**
 * Schema 3's `results` view, as SQLite's: every column of schema 2's but the
 * binary `metrics` (schema 4: with task IDs made of their epoch).
 */
const RESULTS_VIEW = `
  CREATE VIEW results AS
    SELECT r.id,
      CASE WHEN length(r.task) = 0 THEN (
        SELECT substr(e.epoch, 1, 14) || '8' || substr(e.epoch, 16, 9) || lpad(to_hex(r.seq), 12, '0')
        FROM epochs e WHERE e.id = r.epoch)
      WHEN length(r.task) = 16 THEN
        regexp_replace(encode(r.task, 'hex'), '^(.{8})(.{4})(.{4})(.{4})(.{12})$', '\\1-\\2-\\3-\\4-\\5')
      ELSE convert_from(substr(r.task, get_byte(r.task, 0) + 2), 'UTF8') END AS task_id,
      s.monitor_id, s.monitor_name, r.seq, s.check_id, r.started_at, r.duration_ms, r.up,
      r.latency_ms, h.head || coalesce(r.mid, '') || h.tail AS summary, h.error, h.details
    FROM result_rows r JOIN series s ON s.id = r.series_id JOIN shapes h ON h.id = r.shape_id`;

/** Rows converted per statement by {@linkcode migrateToCompact}. */
const MIGRATE_BATCH = 2000;

/**
 * Schema 2 to 3: every result row rewritten in the compact layout under
 * its own ID (the rollup watermark counts on IDs), the ID sequence kept.
 */
async function migrateToCompact(t: TxSql): Promise<void> {
  await t.unsafe(`
    DROP VIEW IF EXISTS results;
    DROP INDEX IF EXISTS result_rows_series_epoch_seq;
    DROP INDEX IF EXISTS result_rows_series_time;
    DROP INDEX IF EXISTS result_rows_time;
    ALTER TABLE result_rows RENAME TO result_rows_v2;
    ALTER TABLE result_rows_v2 RENAME CONSTRAINT result_rows_pkey TO result_rows_v2_pkey;
    ${
    schema3Sql(
      "BIGINT PRIMARY KEY DEFAULT nextval('result_rows_id_seq')",
      "BYTEA",
      "BIGSERIAL PRIMARY KEY",
      "DOUBLE PRECISION",
    )
  };
    ALTER SEQUENCE result_rows_id_seq OWNED BY result_rows.id;
  `);
  const book = new ShapeBook(Number.MAX_SAFE_INTEGER);
  for (let after = -1;;) {
    const rows = await t.unsafe(
      `SELECT r.*, s.check_id, s.monitor_id FROM result_rows_v2 r
       JOIN series s ON s.id = r.series_id WHERE r.id > $1 ORDER BY r.id LIMIT ${MIGRATE_BATCH}`,
      [after],
    );
    if (rows.length === 0) break;
    const values: postgres.ParameterOrJSON<never>[] = [];
    for (const row of rows) {
      const r = resultOfV2Row(row);
      const seriesId = Number(row.series_id);
      const key = familyKey(seriesId, r);
      const { shape, fresh } = book.pick(key, seriesId, r);
      if (fresh) {
        const [made] = await t.unsafe(
          `INSERT INTO shapes (series_id, fhash, up, error, head, tail, names, vals, details)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
          [
            seriesId,
            familyHash(key),
            ...shapeColumns(shape),
          ],
        );
        shape.id = Number(made!.id);
      }
      values.push(
        String(row.id),
        seriesId,
        String(row.epoch),
        ...resultColumns(r, shape),
      );
      after = Number(row.id);
    }
    const n = 12;
    await t.unsafe(
      `INSERT INTO result_rows (id, series_id, epoch, seq, task, started_at, duration_ms, up,
        latency_ms, shape_id, mid, body) VALUES ${
        rows.map((_, i) =>
          `(${Array.from({ length: n }, (_, j) => `$${i * n + j + 1}`).join(", ")})`
        ).join(", ")
      }`,
      values,
    );
  }
  await t.unsafe(`DROP TABLE result_rows_v2; ${SCHEMA3_INDEXES}; ${RESULTS_VIEW}`);
}

/**
 * The schema version this netmon writes on PostgreSQL.
 *
 * @example
 * ```ts
 * import { POSTGRES_SCHEMA_VERSION } from "./postgres.ts";
 * console.assert(POSTGRES_SCHEMA_VERSION >= 1);
 * ```
 */
export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS.length;

/** `?` placeholders numbered as `$1, $2, …` (the queries of `sql.ts` hold no `?` in literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function queriesOf(sql: Sql | TxSql): Queries {
  return {
    all: async (text, args = []) =>
      [...await sql.unsafe(numbered(text), args as postgres.ParameterOrJSON<never>[])] as SqlRow[],
    run: async (text, args = []) =>
      (await sql.unsafe(numbered(text), args as postgres.ParameterOrJSON<never>[])).count,
  };
}

class PostgresDriver implements Driver {
  readonly micros = false;
  readonly engine = "postgres";
  readonly orderId = "seq";
  // the protocol's limit is 65 535 parameters per statement
  readonly maxParams = 65_000;
  readonly path: string;
  schemaVersion = 0;
  #sql: Sql;
  #q: Queries;

  constructor(sql: Sql, path: string) {
    this.#sql = sql;
    this.path = path;
    this.#q = queriesOf(sql);
  }

  async migrate(): Promise<void> {
    this.schemaVersion = await this.#sql.begin(async (t) => {
      await t.unsafe(`SELECT pg_advisory_xact_lock(${LOCK.migrate})`);
      await t.unsafe("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
      const [row] = await t.unsafe("SELECT max(version) AS v FROM schema_version");
      const at = Number(row?.v ?? 0);
      if (at > POSTGRES_MIGRATIONS.length) {
        throw new StoreOpenError(
          `${this.path} has schema version ${at}, newer than this netmon's ${POSTGRES_MIGRATIONS.length}: ` +
            `run the netmon that wrote it, or a newer one`,
        );
      }
      for (let v = at; v < POSTGRES_MIGRATIONS.length; v++) {
        const step = POSTGRES_MIGRATIONS[v]!;
        if (typeof step === "string") await t.unsafe(step);
        else await step(t);
        await t.unsafe("DELETE FROM schema_version");
        await t.unsafe("INSERT INTO schema_version (version) VALUES ($1)", [v + 1]);
      }
      return POSTGRES_MIGRATIONS.length;
    });
  }

  all(sql: string, args?: SqlValue[]): Promise<SqlRow[]> {
    return this.#q.all(sql, args);
  }

  run(sql: string, args?: SqlValue[]): Promise<number> {
    return this.#q.run(sql, args);
  }

  async tx<T>(fn: (q: Queries) => Promise<T>, serialize?: "ingest" | "rollup"): Promise<T> {
    const out = await this.#sql.begin(async (t) => {
      if (serialize) await t.unsafe(`SELECT pg_advisory_xact_lock(${LOCK[serialize]})`);
      // wrapped: a transaction's result that is an array would be taken for a list of queries
      return { value: await fn(queriesOf(t)) };
    });
    return out.value;
  }

  async bytes(): Promise<number> {
    const [row] = await this.#sql`SELECT pg_database_size(current_database()) AS n`;
    return Number(row!.n);
  }

  async close(): Promise<void> {
    // a second for queries in flight: after the server restarted under it, postgres.js was seen
    // holding end() for the whole timeout (5 s then, the grace a supervisor or test gives before
    // SIGKILL); what a cut query leaves unacknowledged, the monitors send again
    await this.#sql.end({ timeout: 1 });
  }
}

/** Where a PostgreSQL URL (or, without one, the `PG*` variables) points. */
function target(url: string | null): { host: string; port: number; shown: string } {
  const env = (name: string) => Deno.env.get(name) || undefined;
  let u: URL | null = null;
  if (url) {
    try {
      u = new URL(url);
    } catch (e) {
      throw new StoreOpenError(`--db ${url} is not a valid URL: ${errorText(e)}`);
    }
  }
  const host = decodeURIComponent(u?.hostname || "") || env("PGHOST") || "localhost";
  const port = Number(u?.port || env("PGPORT") || 5432);
  const user = decodeURIComponent(u?.username || "") || env("PGUSER") || "";
  const db = decodeURIComponent(u?.pathname.slice(1) || "") || env("PGDATABASE") || user;
  return {
    host,
    port,
    shown: `postgres://${user ? `${user}@` : ""}${
      host.includes(":") ? `[${host}]` : host
    }:${port}/${db}`,
  };
}

/**
 * {@linkcode SqlStore} on a PostgreSQL database.
 *
 * @example
 * ```ts ignore
 * const store = await PostgresStore.open(null); // from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE
 * ```
 */
export class PostgresStore extends SqlStore {
  /**
   * Connects to `url` (`postgres://user:password@host:port/db`, or null for
   * the `PG*` environment variables alone; a URL's missing parts come from
   * them too), checks the server answers and migrates. Throws
   * {@linkcode StoreOpenError} naming host:port when it cannot be reached.
   */
  static async open(url: string | null): Promise<PostgresStore> {
    const where = target(url);
    const options = {
      max: 10,
      connect_timeout: 10,
      // "already exists, skipping" on every start is not news
      onnotice: () => {},
      // 64-bit integers as strings is the default; every reader converts with Number
    };
    const sql: Sql = url ? postgres(url, options) : postgres(options);
    const driver = new PostgresDriver(sql, where.shown);
    try {
      await driver.migrate();
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      if (e instanceof StoreOpenError) throw e;
      if (isDiskFull(e)) throw new StoreFullError(where.shown, e);
      throw new StoreOpenError(
        `cannot use PostgreSQL at ${where.host}:${where.port} (--db ${where.shown}): ${
          errorText(e)
        }`,
        { cause: e },
      );
    }
    return new PostgresStore(driver);
  }
}
