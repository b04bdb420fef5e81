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
 * The query is the store's (`Store.selectIncidents`).
 *
 * @example
 * ```ts
 * import { openStore } from "../store.ts";
 * import { incidentsAnswer } from "./incidents.ts";
 * const store = await openStore(":memory:");
 * const page = await incidentsAnswer(store, new URLSearchParams("state=open"), []);
 * console.assert(page.incidents.length === 0 && page.next === null);
 * await store.close();
 * ```
 *
 * @module
 */
import type { IncidentFilter, IncidentRow, Store } from "../store.ts";
import type { MaintenanceWindow } from "../../shared/config_alerts.ts";
import { activeWindow } from "../alerts/maintenance.ts";

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

export type { IncidentFilter, IncidentRow };

const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 50;

/**
 * Answers `/api/v1/incidents` for the query `params`; `maintenance` marks
 * openings a window silenced even when no notifier was configured.
 * Throws {@linkcode IncidentQueryError} for a bad parameter.
 *
 * @example
 * ```ts
 * import { openStore } from "../store.ts";
 * import { incidentsAnswer } from "./incidents.ts";
 * const store = await openStore(":memory:");
 * console.assert((await incidentsAnswer(store, new URLSearchParams(), [])).next === null);
 * await store.close();
 * ```
 */
export async function incidentsAnswer(
  store: Store,
  params: URLSearchParams,
  maintenance: readonly MaintenanceWindow[],
): Promise<IncidentPage> {
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
  const rows = await store.selectIncidents({
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
