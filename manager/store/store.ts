/**
 * The store boundary: {@linkcode Store} lists every query the manager, its
 * rollups, alerts, HTTP API and dashboard make, so nothing outside
 * `manager/store/` holds a database handle. Two engines implement it, over
 * one set of queries (`sql.ts`): embedded SQLite (`sqlite.ts`, the default)
 * and PostgreSQL (`postgres.ts`); {@linkcode openStore} in `open.ts` picks
 * one from `--db`.
 *
 * Every method is asynchronous, because a PostgreSQL query is; on SQLite
 * they settle without waiting for I/O.
 *
 * @example
 * ```ts ignore
 * import { openStore } from "./open.ts";
 * const store = await openStore("netmon.db");
 * const fresh = await store.add(results, "monitor-1", await store.epochId(""));
 * await store.close();
 * ```
 *
 * @module
 */
import type { CheckResult } from "../../shared/checks.ts";
import type { Condition, Incident, VantageView } from "../alerts/engine.ts";

/**
 * The store's disk is full (SQLITE_FULL, or PostgreSQL's `disk_full`):
 * nothing of the failed write was stored, so nothing of it may be
 * acknowledged; retry once space returns.
 *
 * @example
 * ```ts
 * import { StoreFullError } from "./store.ts";
 * console.assert(new StoreFullError("netmon.db").message === "disk full at netmon.db");
 * ```
 */
export class StoreFullError extends Error {
  /** The database file (or server) whose disk is full. */
  readonly path: string;
  /** @param path the database file; @param cause the engine's error */
  constructor(path: string, cause?: unknown) {
    super(`disk full at ${path}`, { cause });
    this.name = "StoreFullError";
    this.path = path;
  }
}

/**
 * The store named by `--db` cannot be opened: an unknown scheme, a server
 * that cannot be reached, a schema newer than this netmon.
 *
 * @example
 * ```ts
 * import { StoreOpenError } from "./store.ts";
 * console.assert(new StoreOpenError("x").name === "StoreOpenError");
 * ```
 */
export class StoreOpenError extends Error {
  /** @param message what is wrong and what to do about it */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreOpenError";
  }
}

/**
 * Whether `e` is a write that found no room on the disk: SQLite's
 * SQLITE_FULL ("database or disk is full") or PostgreSQL's SQLSTATE 53100.
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
  const { errcode, code } = e as { errcode?: unknown; code?: unknown };
  // the primary result code is the low byte of an extended one
  if (typeof errcode === "number") return (errcode & 0xff) === SQLITE_FULL;
  if (code === "53100") return true;
  return /database or disk is full/.test(e.message);
}

const SQLITE_FULL = 13;

/**
 * A stored result as returned by queries.
 *
 * @example
 * ```ts
 * import type { StoredResult } from "./store.ts";
 * const who = (r: StoredResult) => `${r.checkId} from ${r.monitorName}`;
 * ```
 */
export interface StoredResult extends CheckResult {
  monitorName: string;
}

/**
 * How long raw results and rollups are kept.
 *
 * @example
 * ```ts
 * import type { Retention } from "./store.ts";
 * const r: Retention = { rawMs: 86_400_000, minuteMs: 86_400_000, hourMs: 86_400_000 };
 * ```
 */
export interface Retention {
  /** Raw results (default 7 days). */
  rawMs: number;
  /** Per-minute rollups (default 400 days). */
  minuteMs: number;
  /** Per-hour rollups (default 400 days). */
  hourMs: number;
}

/**
 * Which rollup table: one row per minute or per hour.
 *
 * @example
 * ```ts
 * import type { Resolution } from "./store.ts";
 * const r: Resolution = "hour";
 * ```
 */
export type Resolution = "minute" | "hour";

/**
 * One (check, monitor) pair that has results.
 *
 * @example
 * ```ts
 * import type { Series } from "./store.ts";
 * const label = (s: Series) => `${s.checkId}@${s.monitorName}`;
 * ```
 */
export interface Series {
  id: number;
  checkId: string;
  target: string;
  type: string;
  monitorId: string;
  monitorName: string;
}

/**
 * One rollup bucket of one series.
 *
 * @example
 * ```ts
 * import type { Rollup } from "./store.ts";
 * const ratio = (r: Rollup) => r.failures / r.count;
 * ```
 */
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

/**
 * Filters shared by the result and rollup queries.
 *
 * @example
 * ```ts
 * import type { HistoryFilter } from "./store.ts";
 * const f: HistoryFilter = { checkId: "web/HTTP", limit: 50 };
 * ```
 */
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

/**
 * A page of items and the cursor of the next page (null on the last).
 *
 * @example
 * ```ts
 * import type { Page } from "./store.ts";
 * const p: Page<number> = { items: [1], next: null };
 * ```
 */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/**
 * Latency over time for one check, one line per monitor.
 *
 * @example
 * ```ts
 * import type { Chart } from "./store.ts";
 * const lines = (c: Chart) => c.series.length;
 * ```
 */
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

/**
 * Uptime of one series over the last 24 h, 7 d and 30 d.
 *
 * @example
 * ```ts
 * import type { Uptime } from "./store.ts";
 * const u: Uptime = { h24: 100, d7: 99.5, d30: null };
 * ```
 */
export interface Uptime {
  /** Percent of results that were up, or null without results in the window. */
  h24: number | null;
  d7: number | null;
  d30: number | null;
}

/**
 * A malformed cursor or filter; the API answers it with 400.
 *
 * @example
 * ```ts
 * import { HistoryQueryError } from "./store.ts";
 * console.assert(new HistoryQueryError("bad").name === "HistoryQueryError");
 * ```
 */
export class HistoryQueryError extends Error {
  /** @param message what is wrong, in words a user can act on */
  constructor(message: string) {
    super(message);
    this.name = "HistoryQueryError";
  }
}

/**
 * What happened to one notification.
 *
 * @example
 * ```ts
 * import type { NotificationStatus } from "./store.ts";
 * const s: NotificationStatus = "silenced";
 * ```
 */
export type NotificationStatus = "pending" | "sent" | "failed" | "silenced";

/**
 * One message to one notifier about one incident event.
 *
 * @example
 * ```ts
 * import type { StoredNotification } from "./store.ts";
 * const n: StoredNotification = {
 *   id: "n1", incidentId: "i1", event: "opened", notifier: "ops", notifierType: "webhook",
 *   status: "sent", attempts: 1, createdAt: 0, finishedAt: 1, error: null, title: "DOWN: x/TCP",
 * };
 * ```
 */
export interface StoredNotification {
  id: string;
  incidentId: string;
  event: "opened" | "resolved";
  notifier: string;
  notifierType: string;
  status: NotificationStatus;
  attempts: number;
  /** Wall-clock times. */
  createdAt: number;
  finishedAt: number | null;
  /** Why the last attempt failed, or why it was silenced (never a secret). */
  error: string | null;
  title: string;
}

/**
 * A notification to record: the store gives it its ID.
 *
 * @example
 * ```ts
 * import type { NewNotification } from "./store.ts";
 * const n: NewNotification = {
 *   incidentId: "i1", event: "opened", notifier: "ops", notifierType: "webhook",
 *   status: "pending", createdAt: 0, title: "DOWN: x/TCP",
 * };
 * ```
 */
export type NewNotification =
  & Omit<StoredNotification, "id" | "attempts" | "finishedAt" | "error">
  & {
    error?: string;
  };

/**
 * An incident as stored, with whether its opening was announced.
 *
 * @example
 * ```ts
 * import type { StoredIncident } from "./store.ts";
 * const show = (i: StoredIncident) => `${i.checkId} ${i.condition} ${i.notified}`;
 * ```
 */
export interface StoredIncident extends Incident {
  /** The opening was sent (not silenced by maintenance). */
  notified: boolean;
}

/**
 * Filters for {@linkcode Store.incidents} and {@linkcode Store.notifications}.
 *
 * @example
 * ```ts
 * import type { AlertQuery } from "./store.ts";
 * const q: AlertQuery = { limit: 20, open: true };
 * ```
 */
export interface AlertQuery {
  /** At most this many rows (default 100, at most 10 000). */
  limit?: number;
  /** Only incidents still open (incidents only). */
  open?: boolean;
  /** Only notifications about this incident (notifications only). */
  incidentId?: string;
  target?: string;
}

/**
 * One result in a heartbeat strip: `[startedAt ms, up 1|0, latency ms or null, monitor name]`.
 *
 * @example
 * ```ts
 * import type { Beat } from "./store.ts";
 * const b: Beat = [Date.now(), 1, 12.5, "edge-a"];
 * ```
 */
export type Beat = [number, 0 | 1, number | null, string];

/**
 * Which incidents {@linkcode Store.selectIncidents} returns.
 *
 * @example
 * ```ts
 * import type { IncidentFilter } from "./store.ts";
 * const f: IncidentFilter = { state: "open", limit: 50 };
 * ```
 */
export interface IncidentFilter {
  state?: "open" | "closed" | "all";
  target?: string;
  checkId?: string;
  limit: number;
  /** Only incidents before this position: (openedAt, rowid) of the last one seen. */
  before?: { openedAt: number; rowid: number };
}

/**
 * An incident row for the incidents API and the status page.
 *
 * @example
 * ```ts
 * import type { IncidentRow } from "./store.ts";
 * const open = (r: IncidentRow) => r.resolvedAt === null;
 * ```
 */
export interface IncidentRow {
  /** Insertion order, for paging. */
  rowid: number;
  id: string;
  checkId: string;
  target: string;
  type: string;
  condition: string;
  openedAt: number;
  resolvedAt: number | null;
  detail: string;
  notified: boolean;
  vantage: VantageView[];
  /** Notifications of its opening silenced by maintenance. */
  silencedNotifications: number;
}

/** Re-exported for the alert code's types. */
export type { Condition, VantageView };

/**
 * Every query the manager makes of its store. Implemented by `SqliteStore`
 * and `PostgresStore`; made by {@linkcode openStore}.
 *
 * Writes throw {@linkcode StoreFullError} when the disk is full and then
 * nothing of them was stored.
 *
 * @example
 * ```ts ignore
 * import type { Store } from "./store.ts";
 * async function stored(store: Store): Promise<number> {
 *   return await store.count();
 * }
 * ```
 */
export interface Store {
  /** `sqlite` or `postgres`. */
  readonly engine: "sqlite" | "postgres";
  /** Where the store is, for people: the file path, or the URL without its password. */
  readonly path: string;
  /** The schema version the store is at after its migrations. */
  readonly schemaVersion: number;

  /**
   * The database file when a write found its disk full ("disk full at" it),
   * or null once results could be stored again. Only storing results clears
   * it: a small write can fit in space the engine already holds while
   * results still find none.
   */
  readonly diskFull: string | null;
  /** Calls `cb` when {@linkcode diskFull} changes. Returns a function that unsubscribes. */
  onDiskFull(cb: (diskFull: string | null) => void): () => void;

  // results

  /** The small integer for a monitor's spool epoch, made on first sight (0 is the epoch ""). */
  epochId(epoch: string): Promise<number>;
  /**
   * Stores `results` from the monitor shown as `monitorName`, numbered in
   * the epoch `epoch` (from {@linkcode epochId}), in one transaction.
   * Resolves with the ones that were new; a replayed result already stored
   * (same check, monitor, epoch and sequence number) is skipped.
   */
  add(results: CheckResult[], monitorName: string, epoch?: number): Promise<CheckResult[]>;
  /** Highest sequence number stored for a monitor (0 for none). */
  maxSeq(monitorId: string): Promise<number>;
  /** Number of stored raw results. */
  count(): Promise<number>;
  /** Bytes the store takes (the SQLite file, or the PostgreSQL database). */
  bytes(): Promise<number>;

  // history

  /** Every (check, monitor) pair that ever had a result, by ID. */
  series(): Promise<Series[]>;
  /** The newest stored result of each series (for the current state after a restart). */
  latest(): Promise<StoredResult[]>;
  /** Raw results, newest first, a page at a time. Throws {@linkcode HistoryQueryError}. */
  results(f?: HistoryFilter): Promise<Page<StoredResult>>;
  /** Rollup buckets, by series then oldest first, a page at a time. */
  rollups(resolution: Resolution, f?: HistoryFilter): Promise<Page<Rollup>>;
  /** Latency of one check from `from` to `to`, one line per monitor. */
  chart(checkId: string, from: number, to: number): Promise<Chart>;
  /** Uptime of every series over 24 h, 7 d and 30 d from the hour rollups, by series ID. */
  uptime(now?: number): Promise<Map<number, Uptime>>;

  /** The newest `limit` results of each check in `checkIds` (every monitor), oldest first. */
  heartbeats(checkIds: readonly string[], limit: number): Promise<Record<string, Beat[]>>;
  /** Percent of a check's results (every monitor) up since `since`, from the hour rollups; null without any. */
  checkUptime(checkId: string, since: number): Promise<number | null>;
  /**
   * Result and failure counts per UTC day (days since the epoch) of each of
   * `checkIds` (every monitor together), from the hour rollups, since `since`.
   */
  dailyUptime(
    checkIds: readonly string[],
    since: number,
  ): Promise<Map<string, Map<number, { count: number; failures: number }>>>;

  // rollups and retention (scheduled by `rollups.ts`)

  /**
   * Rolls up, in one transaction, up to `maxResults` results stored since
   * the last pass; stops early after `budgetMs` (after at least one
   * minute). Minutes starting before `rawCutoff` are left alone. Resolves
   * with how many results it covered (0 when none were new).
   */
  rollup(maxResults: number, budgetMs: number, rawCutoff: number): Promise<number>;
  /** Deletes up to `limit` raw results started before `cutoff`; resolves with how many. */
  pruneRaw(cutoff: number, limit: number): Promise<number>;
  /** Deletes minute rollups older than `minuteCutoff` and hour rollups older than `hourCutoff`. */
  pruneRollups(minuteCutoff: number, hourCutoff: number): Promise<void>;

  // pauses

  /** IDs of the checks paused through the API or `ctl pause`, kept across restarts. */
  pausedChecks(): Promise<string[]>;
  /** Records checks as paused (`paused` true) or resumed, in one transaction. */
  setPaused(checkIds: string[], paused: boolean): Promise<void>;
  /** Makes the stored pauses exactly `checkIds` (those already paused keep their time). */
  savePaused(checkIds: string[]): Promise<void>;

  // alerts

  /** Incidents, newest first. */
  incidents(q?: AlertQuery): Promise<StoredIncident[]>;
  /** Notifications, newest first. */
  notifications(q?: AlertQuery): Promise<StoredNotification[]>;
  /** Incidents matching `f`, newest first (by opening, then insertion), with their silenced openings. */
  selectIncidents(f: IncidentFilter): Promise<IncidentRow[]>;
  /** Records a newly opened incident. */
  incidentOpened(i: Incident): Promise<void>;
  /** Records that an incident resolved. */
  incidentResolved(i: Incident): Promise<void>;
  /** Marks the opening of incident `id` as announced. */
  markNotified(id: string): Promise<void>;
  /** Records a notification under the ID `id`. */
  addNotification(id: string, n: NewNotification): Promise<void>;
  /** Updates a notification after an attempt. */
  updateNotification(
    id: string,
    u: { status: NotificationStatus; attempts: number; error: string | null; finishedAt?: number },
  ): Promise<void>;

  /**
   * Writes a one-row probe, outside {@linkcode diskFull}'s bookkeeping (a
   * failed probe must not mark results as unstorable), for `/healthz`.
   * Throws what the engine threw.
   */
  healthProbe(now: number): Promise<void>;

  /** Closes the store (waits for writes under way). */
  close(): Promise<void>;
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
