/**
 * The queries of {@linkcode Store}, written once for both engines: a small
 * {@linkcode Driver} (`sqlite.ts`, `postgres.ts`) runs them. The SQL is the
 * part of both dialects that agrees: `?` placeholders (PostgreSQL's driver
 * numbers them), `INSERT … ON CONFLICT`, `RETURNING`, row values; where the
 * engines differ the driver says how (`orderId`).
 *
 * Layout, for ingest speed and size: each (check, monitor) pair is a
 * "series", a small integer; a result row holds its series, not the check
 * and monitor names, and its "shape" (schema 3, `compact.ts`): what repeats
 * from one result of the series to the next (status, error, the fixed parts
 * of the summary, metric names, details) is stored once, the row keeping its
 * numbers, its task ID (none when the monitor made it of its spool's epoch
 * and the result's sequence number; else 16 bytes) and a small binary body
 * of what differs.
 * Shapes are read through a cache, not joined. Rows are appended in arrival order (`id`), so an insert
 * touches the end of the table and of two per-series indexes. Nothing runs
 * per row besides the insert: a rollup pass reads the rows appended since
 * the last one (their IDs only grow, so that is a range after a watermark),
 * recomputes their minutes from the raw results and those minutes' hours
 * from the minutes, and moves the watermark in the same transaction, so a
 * crash repeats a pass rather than losing one, and a result that arrives
 * late lands in the right bucket.
 *
 * @example
 * ```ts ignore
 * import { SqlStore } from "./sql.ts";
 * const store = new SqlStore(driver); // a Driver from sqlite.ts or postgres.ts
 * ```
 *
 * @module
 */
import type { CheckResult } from "../../shared/checks.ts";
import type { Incident } from "../alerts/engine.ts";
import {
  decodeBody,
  decodeTask,
  familyHash,
  familyKey,
  resultColumns,
  type Shape,
  ShapeBook,
  shapeColumns,
  shapeFamilyKey,
} from "./compact.ts";
import {
  type AlertQuery,
  type Beat,
  type Chart,
  type HistoryFilter,
  HistoryQueryError,
  type IncidentFilter,
  type IncidentRow,
  isDiskFull,
  type NewNotification,
  type NotificationStatus,
  type Page,
  type Resolution,
  type Rollup,
  type Series,
  splitCheckId,
  type Store,
  type StoredIncident,
  type StoredNotification,
  type StoredResult,
  StoreFullError,
  type Uptime,
} from "./store.ts";

/** A value a query takes. */
export type SqlValue = string | number | null | Uint8Array;
/** A row a query returns (PostgreSQL's 64-bit integers arrive as strings: read with `Number`). */
export type SqlRow = Record<string, unknown>;

/**
 * Runs SQL for {@linkcode SqlStore}.
 *
 * @example
 * ```ts ignore
 * const rows = await driver.all("SELECT id FROM series WHERE check_id = ?", ["web/HTTP"]);
 * ```
 */
export interface Queries {
  /** The rows of a query. */
  all(sql: string, args?: SqlValue[]): Promise<SqlRow[]>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(sql: string, args?: SqlValue[]): Promise<number>;
}

/**
 * One engine under {@linkcode SqlStore}.
 *
 * @example
 * ```ts ignore
 * await driver.tx(async (q) => { await q.run("DELETE FROM paused_checks"); });
 * ```
 */
export interface Driver extends Queries {
  readonly engine: "sqlite" | "postgres";
  /** The file path or the URL without its password. */
  readonly path: string;
  /** The column that orders rows of the alert tables by insertion. */
  readonly orderId: string;
  /** Most parameters one statement may take. */
  readonly maxParams: number;
  /** Schema version after the migrations that ran at open. */
  readonly schemaVersion: number;
  /**
   * Whether `result_rows` stores durations as whole microseconds
   * (`duration_us`, SQLite's schema 4) and latencies so too when they are
   * (`latency_us`, else `latency_raw`), its `duration_ms` and `latency_ms`
   * computed from them.
   */
  readonly micros: boolean;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back
   * when it throws. `serialize` names transactions that must not run
   * beside another of the same name, even from another manager on the same
   * PostgreSQL: `ingest` (so result IDs commit in the order they were
   * given, which the rollup watermark relies on) and `rollup` (SQLite runs
   * every transaction alone anyway).
   */
  tx<T>(fn: (q: Queries) => Promise<T>, serialize?: "ingest" | "rollup"): Promise<T>;
  /** Bytes the database takes. */
  bytes(): Promise<number>;
  close(): Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const MAX_LIMIT = 10_000;
const JOINED = "result_rows r JOIN series s ON s.id = r.series_id";

/**
 * The columns of a result with its series' names, for {@linkcode rowToResult}
 * (its shape comes from the store's cache of them, not a join):
 * `SELECT ${RESULT_COLUMNS} FROM result_rows r JOIN series s ON s.id = r.series_id`.
 */
export const RESULT_COLUMNS =
  `r.id, r.task, r.epoch, s.monitor_id, s.monitor_name, r.seq, s.check_id, r.started_at,
   r.duration_ms, r.up, r.latency_ms, r.shape_id, r.mid, r.body`;

/** Shapes kept by ID at most (a result's shape is read back when forgotten). */
const SHAPES_CACHED = 200_000;
/** Shape IDs looked up per statement, far under the engines' parameter limits. */
const SHAPE_IDS_PER_QUERY = 500;

/** Columns of one result row as inserted, in order. */
const INSERT_COLUMNS = 11;

/**
 * Results one shared transaction takes, about: SQLite writes without
 * yielding, and a replay of 5,000 monitors' backlogs grouped whole held the
 * event loop for seconds, long enough for live links to be dropped as silent.
 * A call is never split; one that is larger goes alone.
 */
const ADD_GROUP_RESULTS = 1_000;

/** A call of {@linkcode SqlStore.add} waiting for its transaction. */
interface PendingAdd {
  results: CheckResult[];
  monitorName: string;
  epoch: number;
  resolve: (fresh: CheckResult[]) => void;
  reject: (e: unknown) => void;
}

/**
 * {@linkcode Store} over a {@linkcode Driver}.
 *
 * @example
 * ```ts ignore
 * const store: Store = new SqlStore(driver);
 * ```
 */
export class SqlStore implements Store {
  readonly #d: Driver;
  #diskFull: string | null = null;
  #fullListeners = new Set<(diskFull: string | null) => void>();
  /** Series ID and monitor name by `checkId \n monitorId`, mirroring the `series` table. */
  #series = new Map<string, { id: number; name: string }>();
  #loaded: Promise<void> | undefined;
  #shapes = new ShapeBook();
  #shapeById = new Map<number, Shape>();
  /** Spool epochs by ID, mirroring the `epochs` table (rows name theirs by ID). */
  #epochs = new Map<number, string>();

  /** @param driver the engine, opened and migrated */
  constructor(driver: Driver) {
    this.#d = driver;
  }

  get engine(): "sqlite" | "postgres" {
    return this.#d.engine;
  }

  get path(): string {
    return this.#d.path;
  }

  get schemaVersion(): number {
    return this.#d.schemaVersion;
  }

  get diskFull(): string | null {
    return this.#diskFull;
  }

  onDiskFull(cb: (diskFull: string | null) => void): () => void {
    this.#fullListeners.add(cb);
    return () => this.#fullListeners.delete(cb);
  }

  #setFull(diskFull: string | null) {
    if (this.#diskFull === diskFull) return;
    this.#diskFull = diskFull;
    for (const cb of this.#fullListeners) cb(diskFull);
  }

  /** Runs a write: a full disk becomes {@linkcode StoreFullError} and sets {@linkcode diskFull}. */
  async #write<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      this.#setFull(this.path);
      throw e instanceof StoreFullError ? e : new StoreFullError(this.path, e);
    }
  }

  #loadSeries(): Promise<void> {
    return this.#loaded ??= (async () => {
      for (
        const s of await this.#d.all("SELECT id, check_id, monitor_id, monitor_name FROM series")
      ) {
        this.#series.set(`${s.check_id}\n${s.monitor_id}`, {
          id: Number(s.id),
          name: String(s.monitor_name),
        });
      }
    })().catch((e) => {
      // the store being down once must not fail every later write
      this.#loaded = undefined;
      throw e;
    });
  }

  async epochId(epoch: string): Promise<number> {
    const [row] = await this.#write(() =>
      this.#d.all(
        `INSERT INTO epochs (epoch) VALUES (?) ON CONFLICT (epoch) DO UPDATE SET epoch = excluded.epoch
         RETURNING id`,
        [epoch],
      )
    );
    this.#epochs.set(Number(row!.id), epoch);
    return Number(row!.id);
  }

  /**
   * Stores `results` once each. Calls that arrive while a write runs, or in
   * the same turn of the event loop (frames of many monitors read together),
   * share one transaction: at 5,000 monitors sending a result a second each,
   * a transaction per frame cost 159 µs per result and ten frames to one
   * 47 µs. A group that fails for any cause but a full disk is retried call
   * by call, so that one call's fault is not every call's.
   */
  add(results: CheckResult[], monitorName: string, epoch = 0): Promise<CheckResult[]> {
    if (results.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#adds.push({ results, monitorName, epoch, resolve, reject });
      // a timer, not a microtask: sockets that were readable together are all read first
      this.#addTimer ??= setTimeout(() => this.#drainAdds(), 0);
    });
  }

  #adds: PendingAdd[] = [];
  #addTimer: ReturnType<typeof setTimeout> | undefined;
  #adding = false;

  async #drainAdds() {
    this.#addTimer = undefined;
    if (this.#adding) return;
    this.#adding = true;
    try {
      while (this.#adds.length > 0) {
        let n = 0;
        let take = 0;
        while (take < this.#adds.length && (take === 0 || n < ADD_GROUP_RESULTS)) {
          n += this.#adds[take++]!.results.length;
        }
        const group = this.#adds.splice(0, take);
        try {
          const fresh = await this.#addGroup(group);
          group.forEach((a, i) => a.resolve(fresh[i]!));
        } catch (e) {
          if (group.length === 1 || e instanceof StoreFullError) {
            for (const a of group) a.reject(e);
            continue;
          }
          for (const a of group) {
            await this.#addGroup([a]).then(([fresh]) => a.resolve(fresh!), a.reject);
          }
        }
      }
    } finally {
      this.#adding = false;
    }
  }

  /** One transaction for every call of `group`; resolves with each call's new results. */
  async #addGroup(group: PendingAdd[]): Promise<CheckResult[][]> {
    await this.#loadSeries();
    const created: string[] = [];
    const renamed: { key: string; name: string }[] = [];
    const madeShapes: { key: string; shape: Shape }[] = [];
    let fresh: CheckResult[][];
    try {
      fresh = await this.#write(() =>
        this.#d.tx(async (q) => {
          // by series, epoch and seq: the call that stores it (a result in two frames is stored once)
          const keyed = new Map<string, { call: number; r: CheckResult }>();
          const rows: SqlValue[][] = [];
          const micros = this.#d.micros;
          for (const [call, { results, monitorName, epoch }] of group.entries()) {
            const epochText = await this.#epochText(q, epoch);
            for (const r of results) {
              const series = await this.#seriesId(q, r, monitorName, created, renamed);
              const key = `${series}:${epoch}:${r.seq}`;
              if (keyed.has(key)) continue;
              keyed.set(key, { call, r });
              const shape = await this.#shapeOf(q, series, r, madeShapes);
              rows.push([series, epoch, ...resultColumns(r, shape, epochText, micros)]);
            }
          }
          const inserted = new Set<string>();
          const width = micros ? INSERT_COLUMNS + 1 : INSERT_COLUMNS;
          const per = Math.max(1, Math.min(500, Math.floor(this.#d.maxParams / width)));
          const placeholders = `(${Array(width).fill("?").join(", ")})`;
          for (let i = 0; i < rows.length; i += per) {
            const chunk = rows.slice(i, i + per);
            const back = await q.all(
              `INSERT INTO result_rows (series_id, epoch, seq, task, started_at, ${
                micros ? "duration_us, up, latency_raw" : "duration_ms, up, latency_ms"
              }, shape_id, mid, body${micros ? ", latency_us" : ""})
               VALUES ${chunk.map(() => placeholders).join(", ")}
               ON CONFLICT (series_id, epoch, seq) DO NOTHING RETURNING series_id, epoch, seq`,
              chunk.flat(),
            );
            for (const b of back) {
              inserted.add(`${Number(b.series_id)}:${Number(b.epoch)}:${Number(b.seq)}`);
            }
          }
          const out: CheckResult[][] = group.map(() => []);
          for (const [key, { call, r }] of keyed) if (inserted.has(key)) out[call]!.push(r);
          return out;
        }, "ingest")
      );
    } catch (e) {
      // the rolled back series rows and names are gone: so must be what the cache says of them
      for (const key of created) this.#series.delete(key);
      for (const { key, name } of renamed) this.#series.get(key)!.name = name;
      for (const { key, shape } of madeShapes) {
        this.#shapes.forget(key, shape);
        this.#shapeById.delete(shape.id);
      }
      throw e;
    }
    this.#setFull(null);
    return fresh;
  }

  /** The shape `r` takes, read from the store or made (noted in `made`) as needed. */
  async #shapeOf(
    q: Queries,
    seriesId: number,
    r: CheckResult,
    made: { key: string; shape: Shape }[],
  ): Promise<Shape> {
    const key = familyKey(seriesId, r);
    const hash = familyHash(key);
    if (!this.#shapes.has(key)) {
      const rows = await q.all("SELECT * FROM shapes WHERE fhash = ? ORDER BY id", [hash]);
      const family = rows.map(rowToShape).filter((s) => shapeFamilyKey(s) === key);
      this.#shapes.load(key, family);
      for (const s of family) this.#cacheShape(s);
    }
    const { shape, fresh } = this.#shapes.pick(key, seriesId, r);
    if (!fresh) return shape;
    const [row] = await q.all(
      `INSERT INTO shapes (series_id, fhash, up, error, head, tail, names, vals, details)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [
        seriesId,
        hash,
        ...shapeColumns(shape),
      ],
    );
    shape.id = Number(row!.id);
    made.push({ key, shape });
    this.#cacheShape(shape);
    return shape;
  }

  #cacheShape(shape: Shape) {
    if (this.#shapeById.size >= SHAPES_CACHED) this.#shapeById.clear();
    this.#shapeById.set(shape.id, shape);
  }

  /** Rows selected with {@linkcode RESULT_COLUMNS} as results, their shapes read as needed. */
  async #resultsOf(rows: SqlRow[]): Promise<StoredResult[]> {
    const missing = [...new Set(rows.map((r) => Number(r.shape_id)))]
      .filter((id) => !this.#shapeById.has(id));
    const read = new Map<number, Shape>();
    // in chunks: the latest result of every series of a large fleet names more shapes than a
    // statement may have parameters (SQLite's limit), and a manager restarting on it would crash
    for (let i = 0; i < missing.length; i += SHAPE_IDS_PER_QUERY) {
      const chunk = missing.slice(i, i + SHAPE_IDS_PER_QUERY);
      for (
        const row of await this.#d.all(
          `SELECT * FROM shapes WHERE id IN (${chunk.map(() => "?").join(", ")})`,
          chunk,
        )
      ) {
        const shape = rowToShape(row);
        this.#cacheShape(shape);
        read.set(shape.id, shape);
      }
    }
    // an empty task ID is made of its epoch: one the cache has not seen is read once
    if (rows.some((r) => !this.#epochs.has(Number(r.epoch)))) await this.#loadEpochs();
    return rows.map((r) => {
      const id = Number(r.shape_id);
      // what was read here, even if the cache was cleared in between
      return rowToResult(
        r,
        this.#shapeById.get(id) ?? read.get(id)!,
        this.#epochs.get(Number(r.epoch)) ?? "",
      );
    });
  }

  async #loadEpochs(q: Queries = this.#d) {
    for (const e of await q.all("SELECT id, epoch FROM epochs")) {
      this.#epochs.set(Number(e.id), String(e.epoch));
    }
  }

  /** The epoch `id` names, from the cache or `q`; "" for none. */
  async #epochText(q: Queries, id: number): Promise<string> {
    if (!this.#epochs.has(id)) await this.#loadEpochs(q);
    return this.#epochs.get(id) ?? "";
  }

  /** The series of `r`, created (noted in `created`) or renamed (old name noted in `renamed`) as needed. */
  async #seriesId(
    q: Queries,
    r: CheckResult,
    monitorName: string,
    created: string[],
    renamed: { key: string; name: string }[],
  ): Promise<number> {
    const key = `${r.checkId}\n${r.monitorId}`;
    const known = this.#series.get(key);
    if (known) {
      if (known.name !== monitorName) {
        await q.run("UPDATE series SET monitor_name = ? WHERE id = ?", [monitorName, known.id]);
        renamed.push({ key, name: known.name });
        known.name = monitorName;
      }
      return known.id;
    }
    // another manager on the same PostgreSQL may have made it: take its ID
    const [row] = await q.all(
      `INSERT INTO series (check_id, monitor_id, monitor_name) VALUES (?, ?, ?)
       ON CONFLICT (check_id, monitor_id) DO UPDATE SET monitor_name = excluded.monitor_name
       RETURNING id`,
      [r.checkId, r.monitorId, monitorName],
    );
    const id = Number(row!.id);
    this.#series.set(key, { id, name: monitorName });
    created.push(key);
    return id;
  }

  async maxSeq(monitorId: string): Promise<number> {
    const [row] = await this.#d.all(
      // per series, so each max reads that series's range of the (series_id, epoch, seq) index
      `SELECT max((SELECT max(seq) FROM result_rows WHERE series_id = s.id)) AS m
       FROM series s WHERE monitor_id = ?`,
      [monitorId],
    );
    return Number(row?.m ?? 0);
  }

  async count(): Promise<number> {
    const [row] = await this.#d.all("SELECT count(*) AS n FROM result_rows");
    return Number(row!.n);
  }

  bytes(): Promise<number> {
    return this.#d.bytes();
  }

  async series(): Promise<Series[]> {
    return (await this.#d.all(
      "SELECT id, check_id, monitor_id, monitor_name FROM series ORDER BY id",
    ))
      .map((r) => ({
        id: Number(r.id),
        checkId: String(r.check_id),
        ...splitCheckId(String(r.check_id)),
        monitorId: String(r.monitor_id),
        monitorName: String(r.monitor_name),
      }));
  }

  async #matching(f: HistoryFilter): Promise<Series[]> {
    return (await this.series()).filter((s) =>
      (!f.checkId || s.checkId === f.checkId) &&
      (!f.target || s.target === f.target) &&
      (!f.type || s.type === f.type) &&
      (!f.monitor || s.monitorName === f.monitor || s.monitorId === f.monitor)
    );
  }

  async latest(): Promise<StoredResult[]> {
    if (this.#d.engine === "postgres") {
      // one round trip; each series' newest row still comes from its (series_id, started_at) index
      return await this.#resultsOf(
        await this.#d.all(
          `SELECT ${RESULT_COLUMNS} FROM series s CROSS JOIN LATERAL
             (SELECT * FROM result_rows WHERE series_id = s.id ORDER BY started_at DESC LIMIT 1) r
           ORDER BY s.id`,
        ),
      );
    }
    const out: SqlRow[] = [];
    for (const s of await this.series()) {
      const [row] = await this.#d.all(
        `SELECT ${RESULT_COLUMNS} FROM ${JOINED} WHERE r.series_id = ?
         ORDER BY r.started_at DESC LIMIT 1`,
        [s.id],
      );
      if (row) out.push(row);
    }
    return await this.#resultsOf(out);
  }

  async results(f: HistoryFilter = {}): Promise<Page<StoredResult>> {
    const limit = pageLimit(f.limit);
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (f.checkId || f.target || f.type || f.monitor) {
      const series = await this.#matching(f);
      if (series.length === 0) return { items: [], next: null };
      where.push(`r.series_id IN (${series.map(() => "?").join(", ")})`);
      args.push(...series.map((s) => s.id));
    }
    if (f.from !== undefined) where.push("r.started_at >= ?"), args.push(f.from);
    if (f.to !== undefined) where.push("r.started_at < ?"), args.push(f.to);
    if (f.cursor) {
      const [t, id] = decodeCursor(f.cursor, 2).map(Number);
      if (!Number.isSafeInteger(t) || !Number.isSafeInteger(id)) {
        throw new HistoryQueryError(
          "cursor is not one this server returned; start from the first page",
        );
      }
      where.push("(r.started_at, r.id) < (?, ?)");
      args.push(t!, id!);
    }
    const rows = await this.#d.all(
      `SELECT ${RESULT_COLUMNS} FROM ${JOINED} ${where.length ? "WHERE " + where.join(" AND ") : ""}
       ORDER BY r.started_at DESC, r.id DESC LIMIT ?`,
      [...args, limit + 1],
    );
    const items = await this.#resultsOf(rows.slice(0, limit));
    const last = rows[limit - 1];
    return {
      items,
      next: rows.length > limit && last
        ? encodeCursor([Number(last.started_at), Number(last.id)])
        : null,
    };
  }

  async rollups(resolution: Resolution, f: HistoryFilter = {}): Promise<Page<Rollup>> {
    const limit = pageLimit(f.limit);
    const table = resolution === "hour" ? "rollup_hour" : "rollup_minute";
    const series = await this.#matching(f);
    if (series.length === 0) return { items: [], next: null };
    const byId = new Map(series.map((s) => [s.id, s]));
    let [afterSeries, afterStart] = [-1, Number.MIN_SAFE_INTEGER];
    if (f.cursor) {
      const [s, t] = decodeCursor(f.cursor, 2).map(Number);
      if (!Number.isSafeInteger(s) || !Number.isSafeInteger(t)) {
        throw new HistoryQueryError(
          "cursor is not one this server returned; start from the first page",
        );
      }
      [afterSeries, afterStart] = [s!, t!];
    }
    const rows = await this.#d.all(
      `SELECT * FROM ${table}
       WHERE series_id IN (${series.map(() => "?").join(",")}) AND start >= ? AND start < ?
         AND (series_id > ? OR (series_id = ? AND start > ?))
       ORDER BY series_id, start LIMIT ?`,
      [
        ...series.map((s) => s.id),
        f.from ?? 0,
        f.to ?? Number.MAX_SAFE_INTEGER,
        afterSeries,
        afterSeries,
        afterStart,
        limit + 1,
      ],
    );
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
        minMs: numOrNull(r.min_ms),
        avgMs: numOrNull(r.avg_ms),
        maxMs: numOrNull(r.max_ms),
        p95Ms: numOrNull(r.p95_ms),
      };
    });
    const last = rows[limit - 1];
    return {
      items,
      next: rows.length > limit && last
        ? encodeCursor([Number(last.series_id), Number(last.start)])
        : null,
    };
  }

  async chart(checkId: string, from: number, to: number): Promise<Chart> {
    const span = to - from;
    const resolution = span <= 2 * HOUR ? "raw" : span <= 2 * DAY ? "minute" : "hour";
    const series = await this.#matching({ checkId });
    return {
      checkId,
      resolution,
      from,
      to,
      series: await Promise.all(series.map(async (s) => {
        const rows = resolution === "raw"
          ? await this.#d.all(
            `SELECT started_at AS t, latency_ms AS l, 1 - up AS f FROM result_rows
             WHERE series_id = ? AND started_at >= ? AND started_at < ? ORDER BY started_at`,
            [s.id, from, to],
          )
          : await this.#d.all(
            `SELECT start AS t, avg_ms AS l, CAST(failures AS DOUBLE PRECISION) / count AS f
             FROM ${resolution === "hour" ? "rollup_hour" : "rollup_minute"}
             WHERE series_id = ? AND start >= ? AND start < ? ORDER BY start`,
            [s.id, from, to],
          );
        return {
          monitorName: s.monitorName,
          monitorId: s.monitorId,
          points: rows.map((r): [number, number | null, number] => [
            Number(r.t),
            numOrNull(r.l),
            Number(r.f),
          ]),
        };
      })),
    };
  }

  async uptime(now = Date.now()): Promise<Map<number, Uptime>> {
    const out = new Map<number, Uptime>();
    const windows = [["h24", DAY], ["d7", 7 * DAY], ["d30", 30 * DAY]] as const;
    const since = (span: number) => Math.floor((now - span) / HOUR) * HOUR;
    // one pass over the 30 days of hour rollups, however many series
    const rows = await this.#d.all(
      `SELECT series_id,
         sum(CASE WHEN start >= ? THEN count ELSE 0 END) AS n1,
         sum(CASE WHEN start >= ? THEN failures ELSE 0 END) AS f1,
         sum(CASE WHEN start >= ? THEN count ELSE 0 END) AS n7,
         sum(CASE WHEN start >= ? THEN failures ELSE 0 END) AS f7,
         sum(count) AS n30, sum(failures) AS f30
       FROM rollup_hour WHERE start >= ? GROUP BY series_id`,
      [since(DAY), since(DAY), since(7 * DAY), since(7 * DAY), since(30 * DAY)],
    );
    const byId = new Map(rows.map((r) => [Number(r.series_id), r]));
    for (const s of await this.series()) {
      const r = byId.get(s.id);
      const u: Uptime = { h24: null, d7: null, d30: null };
      for (const [key] of windows) {
        const [n, f] = key === "h24" ? ["n1", "f1"] : key === "d7" ? ["n7", "f7"] : ["n30", "f30"];
        const count = Number(r?.[n] ?? 0);
        if (count) u[key] = 100 * (1 - Number(r![f]) / count);
      }
      out.set(s.id, u);
    }
    return out;
  }

  async heartbeats(checkIds: readonly string[], limit: number): Promise<Record<string, Beat[]>> {
    const out: Record<string, Beat[]> = {};
    const series = await this.series();
    for (const checkId of checkIds) {
      const beats: Beat[] = [];
      // one indexed read per series, so the cost does not grow with history
      for (const s of series.filter((x) => x.checkId === checkId)) {
        for (
          const r of await this.#d.all(
            `SELECT started_at, up, latency_ms FROM result_rows WHERE series_id = ?
             ORDER BY started_at DESC LIMIT ?`,
            [s.id, limit],
          )
        ) {
          beats.push([
            Number(r.started_at),
            Number(r.up) === 1 ? 1 : 0,
            numOrNull(r.latency_ms),
            s.monitorName,
          ]);
        }
      }
      out[checkId] = beats.sort((a, b) => a[0] - b[0]).slice(-limit);
    }
    return out;
  }

  async checkUptime(checkId: string, since: number): Promise<number | null> {
    const [row] = await this.#d.all(
      `SELECT sum(h.count) AS n, sum(h.failures) AS f FROM rollup_hour h
       JOIN series s ON s.id = h.series_id WHERE s.check_id = ? AND h.start >= ?`,
      [checkId, Math.floor(since / HOUR) * HOUR],
    );
    const n = Number(row?.n ?? 0);
    return n > 0 ? 100 * (1 - Number(row?.f ?? 0) / n) : null;
  }

  async dailyUptime(
    checkIds: readonly string[],
    since: number,
  ): Promise<Map<string, Map<number, { count: number; failures: number }>>> {
    const out = new Map<string, Map<number, { count: number; failures: number }>>();
    for (const id of checkIds) out.set(id, new Map());
    if (checkIds.length === 0) return out;
    const rows = await this.#d.all(
      `SELECT s.check_id AS c, h.start / ${DAY} AS day, sum(h.count) AS n, sum(h.failures) AS f
       FROM rollup_hour h JOIN series s ON s.id = h.series_id
       WHERE s.check_id IN (${checkIds.map(() => "?").join(", ")}) AND h.start >= ?
       GROUP BY s.check_id, h.start / ${DAY}`,
      [...checkIds, since],
    );
    for (const r of rows) {
      out.get(String(r.c))?.set(Number(r.day), { count: Number(r.n), failures: Number(r.f) });
    }
    return out;
  }

  async selectIncidents(f: IncidentFilter): Promise<IncidentRow[]> {
    const order = `i.${this.#d.orderId}`;
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (f.state === "open") where.push("i.resolved_at IS NULL");
    if (f.state === "closed") where.push("i.resolved_at IS NOT NULL");
    if (f.target) where.push("i.target = ?"), args.push(f.target);
    if (f.checkId) where.push("i.check_id = ?"), args.push(f.checkId);
    if (f.before) {
      where.push(`(i.opened_at, ${order}) < (?, ?)`);
      args.push(f.before.openedAt, f.before.rowid);
    }
    const rows = await this.#d.all(
      `SELECT ${order} AS row_id, i.*,
         (SELECT count(*) FROM alert_notifications n
          WHERE n.incident_id = i.id AND n.event = 'opened' AND n.status = 'silenced') AS silenced
       FROM alert_incidents i ${where.length ? "WHERE " + where.join(" AND ") : ""}
       ORDER BY i.opened_at DESC, ${order} DESC LIMIT ?`,
      [...args, f.limit],
    );
    return rows.map((row) => ({
      rowid: Number(row.row_id),
      id: String(row.id),
      checkId: String(row.check_id),
      target: String(row.target),
      type: String(row.type),
      condition: String(row.condition),
      openedAt: Number(row.opened_at),
      resolvedAt: numOrNull(row.resolved_at),
      detail: String(row.detail),
      notified: Number(row.notified) === 1,
      vantage: JSON.parse(String(row.vantage)),
      silencedNotifications: Number(row.silenced),
    }));
  }

  async healthProbe(now: number): Promise<void> {
    await this.#d.run(
      `INSERT INTO health_probe (id, at) VALUES (1, ?)
       ON CONFLICT (id) DO UPDATE SET at = excluded.at`,
      [now],
    );
  }

  async rollup(maxResults: number, budgetMs: number, rawCutoff: number): Promise<number> {
    const deadline = performance.now() + budgetMs;
    return await this.#write(() =>
      this.#d.tx(async (q) => {
        const [state] = await q.all(
          "SELECT value FROM rollup_state WHERE key = 'rolled_up_to_id'",
        );
        const after = Number(state!.value);
        const rows = await q.all(
          "SELECT id, series_id AS s, started_at AS t FROM result_rows WHERE id > ? ORDER BY id LIMIT ?",
          [after, maxResults],
        );
        if (rows.length === 0) return 0;
        const minutes = new Map<string, [number, number]>();
        const hours = new Map<string, [number, number]>();
        // on PostgreSQL a statement is a round trip: the pass's minutes and hours go in one each
        const batched = this.#d.engine === "postgres";
        let upTo = after;
        let covered = 0;
        for (const row of rows) {
          const [s, t] = [Number(row.s), Number(row.t)];
          const start = Math.floor(t / MINUTE) * MINUTE;
          const key = `${s}:${start}`;
          if (!minutes.has(key)) {
            if (!batched && minutes.size > 0 && performance.now() > deadline) break;
            minutes.set(key, [s, start]);
            // a straggler older than the raw retention is pruned anyway; its
            // partial raw data must not overwrite a complete rollup
            if (start >= rawCutoff) {
              if (!batched) await writeMinute(q, s, start);
              const h = Math.floor(start / HOUR) * HOUR;
              hours.set(`${s}:${h}`, [s, h]);
            }
          }
          upTo = Number(row.id);
          covered++;
        }
        if (batched) {
          const kept = [...minutes.values()].filter(([, start]) => start >= rawCutoff);
          await writeMinutesPg(q, kept);
          await writeHoursPg(q, [...hours.values()]);
        } else for (const [s, h] of hours.values()) await writeHour(q, s, h);
        await q.run("UPDATE rollup_state SET value = ? WHERE key = 'rolled_up_to_id'", [upTo]);
        return covered;
      }, "rollup")
    );
  }

  pruneRaw(cutoff: number, limit: number): Promise<number> {
    return this.#write(() =>
      this.#d.run(
        `DELETE FROM result_rows WHERE id IN
         (SELECT id FROM result_rows WHERE started_at < ? ORDER BY started_at LIMIT ?)`,
        [cutoff, limit],
      )
    );
  }

  async pruneRollups(minuteCutoff: number, hourCutoff: number): Promise<void> {
    const series = await this.series();
    await this.#write(async () => {
      if (this.#d.engine === "postgres") {
        // one round trip per table; = ANY walks the primary key per series as the loop below does
        const ids = pgArray(series.map((s) => s.id));
        await this.#d.run(
          "DELETE FROM rollup_minute WHERE series_id = ANY(?::bigint[]) AND start < ?",
          [ids, minuteCutoff],
        );
        await this.#d.run(
          "DELETE FROM rollup_hour WHERE series_id = ANY(?::bigint[]) AND start < ?",
          [ids, hourCutoff],
        );
        return;
      }
      // per series, so each delete walks its primary key range
      for (const s of series) {
        await this.#d.run("DELETE FROM rollup_minute WHERE series_id = ? AND start < ?", [
          s.id,
          minuteCutoff,
        ]);
        await this.#d.run("DELETE FROM rollup_hour WHERE series_id = ? AND start < ?", [
          s.id,
          hourCutoff,
        ]);
      }
    });
  }

  async pausedChecks(): Promise<string[]> {
    return (await this.#d.all("SELECT check_id FROM paused_checks ORDER BY check_id"))
      .map((r) => String(r.check_id));
  }

  async setPaused(checkIds: string[], paused: boolean): Promise<void> {
    await this.#write(() =>
      this.#d.tx(async (q) => {
        for (const id of checkIds) {
          if (paused) {
            await q.run(
              "INSERT INTO paused_checks (check_id, since) VALUES (?, ?) ON CONFLICT DO NOTHING",
              [id, Date.now()],
            );
          } else await q.run("DELETE FROM paused_checks WHERE check_id = ?", [id]);
        }
      })
    );
  }

  async savePaused(checkIds: string[]): Promise<void> {
    await this.#write(() =>
      this.#d.tx(async (q) => {
        const keep = new Set(checkIds);
        for (const r of await q.all("SELECT check_id FROM paused_checks")) {
          if (!keep.has(String(r.check_id))) {
            await q.run("DELETE FROM paused_checks WHERE check_id = ?", [String(r.check_id)]);
          }
        }
        for (const id of checkIds) {
          await q.run(
            "INSERT INTO paused_checks (check_id, since) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [id, Date.now()],
          );
        }
      })
    );
  }

  async incidents(q: AlertQuery = {}): Promise<StoredIncident[]> {
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (q.open) where.push("resolved_at IS NULL");
    if (q.target) where.push("target = ?"), args.push(q.target);
    const rows = await this.#d.all(
      `SELECT * FROM alert_incidents ${where.length ? "WHERE " + where.join(" AND ") : ""}
       ORDER BY opened_at DESC, ${this.#d.orderId} DESC LIMIT ?`,
      [...args, alertLimit(q)],
    );
    return rows.map(rowToIncident);
  }

  async notifications(q: AlertQuery = {}): Promise<StoredNotification[]> {
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (q.incidentId) where.push("n.incident_id = ?"), args.push(q.incidentId);
    if (q.target) where.push("i.target = ?"), args.push(q.target);
    const rows = await this.#d.all(
      `SELECT n.* FROM alert_notifications n LEFT JOIN alert_incidents i ON i.id = n.incident_id
       ${where.length ? "WHERE " + where.join(" AND ") : ""}
       ORDER BY n.created_at DESC, n.${this.#d.orderId} DESC LIMIT ?`,
      [...args, alertLimit(q)],
    );
    return rows.map((row) => ({
      id: String(row.id),
      incidentId: String(row.incident_id),
      event: String(row.event) as StoredNotification["event"],
      notifier: String(row.notifier),
      notifierType: String(row.notifier_type),
      status: String(row.status) as NotificationStatus,
      attempts: Number(row.attempts),
      createdAt: Number(row.created_at),
      finishedAt: numOrNull(row.finished_at),
      error: row.error === null ? null : String(row.error),
      title: String(row.title),
    }));
  }

  async incidentOpened(i: Incident): Promise<void> {
    await this.#write(() =>
      this.#d.run(
        `INSERT INTO alert_incidents (id, check_id, target, type, condition, opened_at, resolved_at,
          quorum, running, vantage, detail) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)`,
        [
          i.id,
          i.checkId,
          i.target,
          i.type,
          i.condition,
          i.openedAt,
          i.quorum,
          i.running,
          JSON.stringify(i.vantage),
          i.detail,
        ],
      )
    );
  }

  async incidentResolved(i: Incident): Promise<void> {
    await this.#write(() =>
      this.#d.run(
        "UPDATE alert_incidents SET resolved_at = ?, vantage = ?, detail = ? WHERE id = ?",
        [i.resolvedAt, JSON.stringify(i.vantage), i.detail, i.id],
      )
    );
  }

  async markNotified(id: string): Promise<void> {
    await this.#write(() =>
      this.#d.run("UPDATE alert_incidents SET notified = 1 WHERE id = ?", [id])
    );
  }

  async addNotification(id: string, n: NewNotification): Promise<void> {
    const done = n.status === "silenced" ? n.createdAt : null;
    await this.#write(() =>
      this.#d.run(
        `INSERT INTO alert_notifications (id, incident_id, event, notifier, notifier_type, status,
          attempts, created_at, finished_at, error, title) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`,
        [
          id,
          n.incidentId,
          n.event,
          n.notifier,
          n.notifierType,
          n.status,
          n.createdAt,
          done,
          n.error ?? null,
          n.title,
        ],
      )
    );
  }

  async updateNotification(
    id: string,
    u: { status: NotificationStatus; attempts: number; error: string | null; finishedAt?: number },
  ): Promise<void> {
    await this.#write(() =>
      this.#d.run(
        "UPDATE alert_notifications SET status = ?, attempts = ?, error = ?, finished_at = ? WHERE id = ?",
        [u.status, u.attempts, u.error, u.finishedAt ?? null, id],
      )
    );
  }

  close(): Promise<void> {
    return this.#d.close();
  }
}

async function writeMinute(q: Queries, seriesId: number, start: number) {
  const rows = await q.all(
    `SELECT up, latency_ms AS l FROM result_rows
     WHERE series_id = ? AND started_at >= ? AND started_at < ?`,
    [seriesId, start, start + MINUTE],
  );
  if (rows.length === 0) return;
  const lat = rows.flatMap((r) => r.l === null ? [] : [Number(r.l)]).sort((a, b) => a - b);
  const failures = rows.reduce((n, r) => n + (Number(r.up) === 1 ? 0 : 1), 0);
  const avg = lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null;
  await q.run(
    `INSERT INTO rollup_minute (series_id, start, count, failures, min_ms, avg_ms, max_ms, p95_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (series_id, start) DO UPDATE SET count = excluded.count,
       failures = excluded.failures, min_ms = excluded.min_ms, avg_ms = excluded.avg_ms,
       max_ms = excluded.max_ms, p95_ms = excluded.p95_ms`,
    [
      seriesId,
      start,
      rows.length,
      failures,
      lat[0] ?? null,
      avg,
      lat.at(-1) ?? null,
      lat.length ? lat[Math.ceil(0.95 * lat.length) - 1]! : null,
    ],
  );
}

/**
 * An hour from its minutes: at most 60 rows, however many results the hour
 * had, so a pass stays short. Count, failures, min, avg and max are exact;
 * p95 is the highest minute p95, an upper bound.
 */
async function writeHour(q: Queries, seriesId: number, h: number) {
  await q.run(
    `INSERT INTO rollup_hour (series_id, start, count, failures, min_ms, avg_ms, max_ms, p95_ms)
     SELECT series_id, ?, sum(count), sum(failures), min(min_ms),
       sum(avg_ms * count) / NULLIF(sum(CASE WHEN avg_ms IS NULL THEN 0 ELSE count END), 0),
       max(max_ms), max(p95_ms)
     FROM rollup_minute WHERE series_id = ? AND start >= ? AND start < ? GROUP BY series_id
     ON CONFLICT (series_id, start) DO UPDATE SET count = excluded.count,
       failures = excluded.failures, min_ms = excluded.min_ms, avg_ms = excluded.avg_ms,
       max_ms = excluded.max_ms, p95_ms = excluded.p95_ms`,
    [h, seriesId, h, h + HOUR],
  );
}

const UPSERT_ROLLUP = `ON CONFLICT (series_id, start) DO UPDATE SET count = excluded.count,
  failures = excluded.failures, min_ms = excluded.min_ms, avg_ms = excluded.avg_ms,
  max_ms = excluded.max_ms, p95_ms = excluded.p95_ms`;

/** A PostgreSQL array literal of integers, passed as one text parameter. */
const pgArray = (xs: number[]) => `{${xs.join(",")}}`;

/**
 * {@linkcode writeMinute} for many (series, minute) pairs in one statement,
 * on PostgreSQL: `percentile_disc(0.95)` is the same p95 (the smallest
 * latency with at least 95 % at or below it; results without one ignored).
 */
async function writeMinutesPg(q: Queries, keys: [number, number][]) {
  if (keys.length === 0) return;
  await q.run(
    `INSERT INTO rollup_minute (series_id, start, count, failures, min_ms, avg_ms, max_ms, p95_ms)
     SELECT k.s, k.start, count(*), sum(1 - r.up), min(r.latency_ms), avg(r.latency_ms),
       max(r.latency_ms), percentile_disc(0.95) WITHIN GROUP (ORDER BY r.latency_ms)
     FROM unnest(?::bigint[], ?::bigint[]) AS k(s, start)
     JOIN result_rows r ON r.series_id = k.s AND r.started_at >= k.start
       AND r.started_at < k.start + ${MINUTE}
     GROUP BY k.s, k.start
     ${UPSERT_ROLLUP}`,
    [pgArray(keys.map(([s]) => s)), pgArray(keys.map(([, t]) => t))],
  );
}

/** {@linkcode writeHour} for many (series, hour) pairs in one statement, on PostgreSQL. */
async function writeHoursPg(q: Queries, keys: [number, number][]) {
  if (keys.length === 0) return;
  await q.run(
    `INSERT INTO rollup_hour (series_id, start, count, failures, min_ms, avg_ms, max_ms, p95_ms)
     SELECT k.s, k.h, sum(m.count), sum(m.failures), min(m.min_ms),
       sum(m.avg_ms * m.count) / NULLIF(sum(CASE WHEN m.avg_ms IS NULL THEN 0 ELSE m.count END), 0),
       max(m.max_ms), max(m.p95_ms)
     FROM unnest(?::bigint[], ?::bigint[]) AS k(s, h)
     JOIN rollup_minute m ON m.series_id = k.s AND m.start >= k.h AND m.start < k.h + ${HOUR}
     GROUP BY k.s, k.h
     ${UPSERT_ROLLUP}`,
    [pgArray(keys.map(([s]) => s)), pgArray(keys.map(([, h]) => h))],
  );
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function alertLimit(q: AlertQuery): number {
  return Math.max(1, Math.min(q.limit ?? 100, 10_000));
}

function rowToIncident(row: SqlRow): StoredIncident {
  return {
    id: String(row.id),
    checkId: String(row.check_id),
    target: String(row.target),
    type: String(row.type) as Incident["type"],
    condition: String(row.condition) as Incident["condition"],
    openedAt: Number(row.opened_at),
    resolvedAt: numOrNull(row.resolved_at),
    quorum: Number(row.quorum),
    running: Number(row.running),
    vantage: JSON.parse(String(row.vantage)),
    detail: String(row.detail),
    notified: Number(row.notified) === 1,
  };
}

/**
 * Turns a row selected with {@linkcode RESULT_COLUMNS}, and its shape, into a {@linkcode StoredResult}.
 *
 * @example
 * ```ts ignore
 * const rows = await driver.all(`SELECT ${RESULT_COLUMNS} FROM result_rows r JOIN series s ON s.id = r.series_id`);
 * const results = rows.map((row) => rowToResult(row, shapes.get(Number(row.shape_id))!));
 * ```
 */
export function rowToResult(row: SqlRow, shape: Shape, epoch = ""): StoredResult {
  const checkId = String(row.check_id);
  const { target, type } = splitCheckId(checkId);
  const latencyMs = numOrNull(row.latency_ms);
  const durationMs = Number(row.duration_ms);
  const { summary, metrics } = decodeBody(
    row.mid === null || row.mid === undefined ? null : String(row.mid),
    (row.body ?? null) as Uint8Array | null,
    shape,
    latencyMs,
    durationMs,
  );
  const r: StoredResult = {
    taskId: decodeTask(row.task as Uint8Array, epoch, Number(row.seq)),
    monitorId: String(row.monitor_id),
    monitorName: String(row.monitor_name),
    seq: Number(row.seq),
    checkId,
    target,
    type: type as CheckResult["type"],
    startedAt: Number(row.started_at),
    durationMs,
    up: Number(row.up) === 1,
    latencyMs,
    summary,
    metrics,
    details: JSON.parse(shape.details),
  };
  if (shape.error !== null) r.error = shape.error;
  return r;
}

/** A row of `shapes` as a {@linkcode Shape}. */
export function rowToShape(row: SqlRow): Shape {
  return {
    id: Number(row.id),
    seriesId: Number(row.series_id),
    up: Number(row.up) === 1,
    error: row.error === null ? null : String(row.error),
    head: String(row.head),
    tail: String(row.tail),
    names: JSON.parse(String(row.names)),
    vals: JSON.parse(String(row.vals)),
    details: String(row.details),
  };
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
