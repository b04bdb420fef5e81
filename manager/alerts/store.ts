/**
 * Incidents and notifications in the manager's SQLite database, beside the
 * results: every notification attempt's outcome is recorded, so the API and
 * the dashboard can show what was sent, when, and what failed.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { listIncidents, listNotifications } from "./store.ts";
 * const db = new DatabaseSync(":memory:");
 * console.assert(listIncidents(db).length === 0 && listNotifications(db).length === 0);
 * db.close();
 * ```
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Condition, Incident, VantageView } from "./engine.ts";

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
 * Filters for {@linkcode listIncidents} and {@linkcode listNotifications}.
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
 * Creates the alert tables if they are missing. Safe to call on every open.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { ensureAlertSchema } from "./store.ts";
 * ensureAlertSchema(new DatabaseSync(":memory:"));
 * ```
 */
export function ensureAlertSchema(db: DatabaseSync): void {
  db.exec(`
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
}

function limitOf(q: AlertQuery): number {
  return Math.max(1, Math.min(q.limit ?? 100, 10_000));
}

function rowToIncident(row: Record<string, unknown>): StoredIncident {
  return {
    id: String(row.id),
    checkId: String(row.check_id),
    target: String(row.target),
    type: String(row.type) as Incident["type"],
    condition: String(row.condition) as Condition,
    openedAt: Number(row.opened_at),
    resolvedAt: row.resolved_at === null ? null : Number(row.resolved_at),
    quorum: Number(row.quorum),
    running: Number(row.running),
    vantage: JSON.parse(String(row.vantage)) as VantageView[],
    detail: String(row.detail),
    notified: Number(row.notified) === 1,
  };
}

/**
 * Incidents, newest first.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { listIncidents } from "./store.ts";
 * const open = listIncidents(new DatabaseSync(":memory:"), { open: true, limit: 10 });
 * console.assert(open.length === 0);
 * ```
 */
export function listIncidents(db: DatabaseSync, q: AlertQuery = {}): StoredIncident[] {
  ensureAlertSchema(db);
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.open) where.push("resolved_at IS NULL");
  if (q.target) where.push("target = ?"), args.push(q.target);
  const rows = db.prepare(
    `SELECT * FROM alert_incidents ${where.length ? "WHERE " + where.join(" AND ") : ""}
     ORDER BY opened_at DESC, rowid DESC LIMIT ?`,
  ).all(...args, limitOf(q)) as Record<string, unknown>[];
  return rows.map(rowToIncident);
}

/**
 * Notifications, newest first.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { listNotifications } from "./store.ts";
 * console.assert(listNotifications(new DatabaseSync(":memory:"), { limit: 5 }).length === 0);
 * ```
 */
export function listNotifications(db: DatabaseSync, q: AlertQuery = {}): StoredNotification[] {
  ensureAlertSchema(db);
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.incidentId) where.push("n.incident_id = ?"), args.push(q.incidentId);
  if (q.target) where.push("i.target = ?"), args.push(q.target);
  const rows = db.prepare(
    `SELECT n.* FROM alert_notifications n LEFT JOIN alert_incidents i ON i.id = n.incident_id
     ${where.length ? "WHERE " + where.join(" AND ") : ""}
     ORDER BY n.created_at DESC, n.rowid DESC LIMIT ?`,
  ).all(...args, limitOf(q)) as Record<string, unknown>[];
  return rows.map((row) => ({
    id: String(row.id),
    incidentId: String(row.incident_id),
    event: String(row.event) as StoredNotification["event"],
    notifier: String(row.notifier),
    notifierType: String(row.notifier_type),
    status: String(row.status) as NotificationStatus,
    attempts: Number(row.attempts),
    createdAt: Number(row.created_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    error: row.error === null ? null : String(row.error),
    title: String(row.title),
  }));
}

/**
 * Writes incidents and notifications as the alert engine moves.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { AlertStore } from "./store.ts";
 * const store = new AlertStore(new DatabaseSync(":memory:"));
 * console.assert(store.openIncidents().length === 0);
 * ```
 */
export class AlertStore {
  readonly db: DatabaseSync;

  /** Uses `db` (typically the result store's), creating the tables if needed. */
  constructor(db: DatabaseSync) {
    this.db = db;
    ensureAlertSchema(db);
  }

  /** Incidents still open, for the engine to pick up after a restart. */
  openIncidents(): StoredIncident[] {
    return listIncidents(this.db, { open: true, limit: 10_000 });
  }

  /** Records a newly opened incident. */
  opened(i: Incident): void {
    this.db.prepare(
      `INSERT INTO alert_incidents (id, check_id, target, type, condition, opened_at, resolved_at,
        quorum, running, vantage, detail) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)`,
    ).run(
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
    );
  }

  /** Records that an incident resolved. */
  resolved(i: Incident): void {
    this.db.prepare(
      "UPDATE alert_incidents SET resolved_at = ?, vantage = ?, detail = ? WHERE id = ?",
    ).run(i.resolvedAt, JSON.stringify(i.vantage), i.detail, i.id);
  }

  /** Marks the opening of incident `id` as announced. */
  markNotified(id: string): void {
    this.db.prepare("UPDATE alert_incidents SET notified = 1 WHERE id = ?").run(id);
  }

  /** Whether the opening of incident `id` was announced. */
  wasNotified(id: string): boolean {
    const row = this.db.prepare("SELECT notified FROM alert_incidents WHERE id = ?").get(id) as
      | { notified: number }
      | undefined;
    return Number(row?.notified ?? 0) === 1;
  }

  /** Records a notification; returns its ID. */
  addNotification(
    n: Omit<StoredNotification, "id" | "attempts" | "finishedAt" | "error"> & {
      error?: string;
    },
  ): string {
    const id = crypto.randomUUID();
    const done = n.status === "silenced" ? n.createdAt : null;
    this.db.prepare(
      `INSERT INTO alert_notifications (id, incident_id, event, notifier, notifier_type, status,
        attempts, created_at, finished_at, error, title) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`,
    ).run(
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
    );
    return id;
  }

  /** Updates a notification after an attempt. */
  updateNotification(
    id: string,
    u: { status: NotificationStatus; attempts: number; error: string | null; finishedAt?: number },
  ): void {
    this.db.prepare(
      "UPDATE alert_notifications SET status = ?, attempts = ?, error = ?, finished_at = ? WHERE id = ?",
    ).run(u.status, u.attempts, u.error, u.finishedAt ?? null, id);
  }
}
