/**
 * `GET /api/v1/heartbeats?limit=N`: the newest N results of every
 * configured check, every monitor together, newest last, in a compact
 * form: what the dashboard's heartbeat strip draws.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { heartbeats } from "./heartbeats.ts";
 * const db = new DatabaseSync(":memory:");
 * db.exec("CREATE TABLE series (id INTEGER PRIMARY KEY, check_id TEXT, monitor_id TEXT, monitor_name TEXT)");
 * db.exec("CREATE TABLE result_rows (id INTEGER PRIMARY KEY, series_id INTEGER, started_at INTEGER, up INTEGER, latency_ms REAL, error TEXT)");
 * console.assert(heartbeats(db, ["web/HTTP"], 30)["web/HTTP"]?.length === 0);
 * ```
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";

/**
 * One result in a heartbeat strip: `[startedAt, up 1|0, latency ms or null, monitor name]`.
 *
 * @example
 * ```ts
 * import type { Beat } from "./heartbeats.ts";
 * const b: Beat = [Date.now(), 1, 12.5, "edge-a"];
 * ```
 */
export type Beat = [number, 0 | 1, number | null, string];

// ---------------------------------------------------------------------------
// Heartbeat queries: the only SQL of this module, to move behind `Store` as
// `heartbeats(checkIds, limit)`.
// ---------------------------------------------------------------------------

/**
 * The newest `limit` results of each check in `checkIds`, oldest first.
 * One indexed read per series, so the cost does not grow with history.
 *
 * @example
 * ```ts ignore
 * import { heartbeats } from "./heartbeats.ts";
 * console.log(heartbeats(manager.store.db, ["web/HTTP"], 30));
 * ```
 */
export function heartbeats(
  db: DatabaseSync,
  checkIds: readonly string[],
  limit: number,
): Record<string, Beat[]> {
  const out: Record<string, Beat[]> = {};
  const newest = db.prepare(
    `SELECT started_at, up, latency_ms FROM result_rows WHERE series_id = ?
     ORDER BY started_at DESC LIMIT ?`,
  );
  const series = db.prepare(
    "SELECT id, monitor_name FROM series WHERE check_id = ?",
  );
  for (const checkId of checkIds) {
    const beats: Beat[] = [];
    for (const s of series.all(checkId) as Record<string, SQLInputValue>[]) {
      for (const r of newest.all(s.id ?? 0, limit) as Record<string, SQLInputValue>[]) {
        beats.push([
          Number(r.started_at),
          Number(r.up) === 1 ? 1 : 0,
          r.latency_ms === null ? null : Number(r.latency_ms),
          String(s.monitor_name),
        ]);
      }
    }
    out[checkId] = beats.sort((a, b) => a[0] - b[0]).slice(-limit);
  }
  return out;
}
