/**
 * `GET /api/v1/incidents`: open and past incidents, newest first, a page at
 * a time, with what each monitor saw when the incident last changed and
 * whether its opening was silenced (a maintenance window, or a notification
 * recorded as silenced).
 *
 * Query: `state=open|closed|all` (default all), `target=`, `check=` (a check
 * ID such as `web/HTTP`), `limit=` (1–1000, default 50), `before=` (the
 * `next` of the previous page).
 *
 * The SQL sits in the "incident queries" section below, apart from the
 * request handling, so it can move behind the store interface as it is.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { incidentsAnswer } from "./incidents.ts";
 * const page = incidentsAnswer(new DatabaseSync(":memory:"), new URLSearchParams("state=open"), []);
 * console.assert(page.incidents.length === 0 && page.next === null);
 * ```
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { MaintenanceWindow } from "../../shared/config_alerts.ts";
import { activeWindow } from "../alerts/maintenance.ts";
import { ensureAlertSchema } from "../alerts/store.ts";
import type { VantageView } from "../alerts/engine.ts";

/**
 * A wrong query parameter of `/api/v1/incidents`; the API answers it with 400.
 *
 * @example
 * ```ts
 * import { IncidentQueryError } from "./incidents.ts";
 * console.assert(new IncidentQueryError("limit must be …").name === "IncidentQueryError");
 * ```
 */
export class IncidentQueryError extends Error {
  /** @param message what to change in the query */
  constructor(message: string) {
    super(message);
    this.name = "IncidentQueryError";
  }
}

/**
 * What one monitor saw of the check when the incident last changed.
 *
 * @example
 * ```ts
 * import type { IncidentMonitor } from "./incidents.ts";
 * const m: IncidentMonitor = { name: "edge-a", up: false, error: "connection refused", lastAt: 0 };
 * ```
 */
export interface IncidentMonitor {
  name: string;
  /** True up, false down, null when the monitor's view was unknown (offline, stale, pending). */
  up: boolean | null;
  /** The failure in words, when there was one. */
  error?: string;
  /** Start of that monitor's last result (epoch ms), null when it had none. */
  lastAt: number | null;
}

/**
 * One incident as the API answers it.
 *
 * @example
 * ```ts
 * import type { IncidentView } from "./incidents.ts";
 * const show = (i: IncidentView) => `${i.checkId} ${i.closedAt === null ? "open" : "closed"}`;
 * ```
 */
export interface IncidentView {
  id: string;
  checkId: string;
  target: string;
  /** The check type, or `monitor` for a monitor offline. */
  type: string;
  /** `down`, `latency`, `cert` or `offline`. */
  condition: string;
  openedAt: number;
  closedAt: number | null;
  /** The opening was not announced: a maintenance window covered it. */
  silenced: boolean;
  /** One line on why it opened or resolved. */
  detail: string;
  monitors: IncidentMonitor[];
}

/**
 * A page of incidents and the `before` of the next page (null on the last).
 *
 * @example
 * ```ts
 * import type { IncidentPage } from "./incidents.ts";
 * const more = (p: IncidentPage) => p.next !== null;
 * ```
 */
export interface IncidentPage {
  incidents: IncidentView[];
  next: string | null;
}

/**
 * Filters of {@linkcode selectIncidents}.
 *
 * @example
 * ```ts
 * import type { IncidentFilter } from "./incidents.ts";
 * const f: IncidentFilter = { state: "open", limit: 20 };
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

const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 50;

/**
 * Answers `/api/v1/incidents` for the query `params`; `maintenance` marks
 * openings a window silenced even when no notifier was configured.
 * Throws {@linkcode IncidentQueryError} for a bad parameter.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { incidentsAnswer } from "./incidents.ts";
 * const db = new DatabaseSync(":memory:");
 * console.assert(incidentsAnswer(db, new URLSearchParams(), []).next === null);
 * ```
 */
export function incidentsAnswer(
  db: DatabaseSync,
  params: URLSearchParams,
  maintenance: readonly MaintenanceWindow[],
): IncidentPage {
  const state = params.get("state") ?? "all";
  if (state !== "open" && state !== "closed" && state !== "all") {
    throw new IncidentQueryError(`state must be open, closed or all, got "${state}"`);
  }
  const limitText = params.get("limit");
  const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new IncidentQueryError(
      `limit must be a whole number from 1 to ${MAX_LIMIT}, got "${limitText}"`,
    );
  }
  const beforeText = params.get("before");
  const rows = selectIncidents(db, {
    state,
    target: params.get("target") || undefined,
    checkId: params.get("check") || undefined,
    limit: limit + 1,
    before: beforeText ? decodeBefore(beforeText) : undefined,
  });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    incidents: page.map((r) => viewOf(r, maintenance)),
    next: rows.length > limit && last ? encodeBefore(last.openedAt, last.rowid) : null,
  };
}

function viewOf(r: IncidentRow, maintenance: readonly MaintenanceWindow[]): IncidentView {
  return {
    id: r.id,
    checkId: r.checkId,
    target: r.target,
    type: r.type,
    condition: r.condition,
    openedAt: r.openedAt,
    closedAt: r.resolvedAt,
    // a window defined now says nothing of an opening it did not cover; a recorded silence does
    silenced: r.silencedNotifications > 0 ||
      (!r.notified && activeWindow(maintenance, r.target, r.openedAt) !== undefined),
    detail: r.detail,
    monitors: r.vantage.map((v) => ({
      name: v.monitor,
      up: v.state === "good" ? true : v.state === "bad" ? false : null,
      ...(v.error ? { error: v.error } : {}),
      lastAt: v.at > 0 ? v.at : null,
    })),
  };
}

function encodeBefore(openedAt: number, rowid: number): string {
  return btoa(`${openedAt}:${rowid}`).replaceAll("=", "");
}

function decodeBefore(text: string): { openedAt: number; rowid: number } {
  let parts: string[] = [];
  try {
    parts = atob(text).split(":");
  } catch { /* answered below */ }
  const [openedAt, rowid] = parts.map(Number);
  if (parts.length !== 2 || !Number.isInteger(openedAt) || !Number.isInteger(rowid)) {
    throw new IncidentQueryError(
      "before is not a next value this server returned; start from the first page",
    );
  }
  return { openedAt: openedAt!, rowid: rowid! };
}

// ---------------------------------------------------------------------------
// Incident queries: the only SQL of this module, to move behind `Store` as
// `selectIncidents(filter)` and `incidentCounts()`.
// ---------------------------------------------------------------------------

/**
 * An incident row with the position used for paging and its silenced
 * notification count.
 *
 * @example
 * ```ts
 * import type { IncidentRow } from "./incidents.ts";
 * const open = (r: IncidentRow) => r.resolvedAt === null;
 * ```
 */
export interface IncidentRow {
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
  silencedNotifications: number;
}

/**
 * Incidents matching `f`, newest first (by opening, then insertion).
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { selectIncidents } from "./incidents.ts";
 * console.assert(selectIncidents(new DatabaseSync(":memory:"), { limit: 5 }).length === 0);
 * ```
 */
export function selectIncidents(db: DatabaseSync, f: IncidentFilter): IncidentRow[] {
  ensureAlertSchema(db);
  const where: string[] = [];
  const args: SQLInputValue[] = [];
  if (f.state === "open") where.push("i.resolved_at IS NULL");
  if (f.state === "closed") where.push("i.resolved_at IS NOT NULL");
  if (f.target) where.push("i.target = ?"), args.push(f.target);
  if (f.checkId) where.push("i.check_id = ?"), args.push(f.checkId);
  if (f.before) {
    where.push("(i.opened_at, i.rowid) < (?, ?)");
    args.push(f.before.openedAt, f.before.rowid);
  }
  const rows = db.prepare(
    `SELECT i.rowid AS row_id, i.*,
       (SELECT count(*) FROM alert_notifications n
        WHERE n.incident_id = i.id AND n.event = 'opened' AND n.status = 'silenced') AS silenced
     FROM alert_incidents i ${where.length ? "WHERE " + where.join(" AND ") : ""}
     ORDER BY i.opened_at DESC, i.rowid DESC LIMIT ?`,
  ).all(...args, f.limit) as Record<string, SQLInputValue>[];
  return rows.map((row) => ({
    rowid: Number(row.row_id),
    id: String(row.id),
    checkId: String(row.check_id),
    target: String(row.target),
    type: String(row.type),
    condition: String(row.condition),
    openedAt: Number(row.opened_at),
    resolvedAt: row.resolved_at === null ? null : Number(row.resolved_at),
    detail: String(row.detail),
    notified: Number(row.notified) === 1,
    vantage: JSON.parse(String(row.vantage)) as VantageView[],
    silencedNotifications: Number(row.silenced),
  }));
}
