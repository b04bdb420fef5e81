/**
 * `GET /api/v1/heartbeats?limit=N`: the newest N results of every
 * configured check, every monitor together, newest last, in a compact
 * form: what the dashboard's heartbeat strip draws.
 *
 * @example
 * ```ts
 * import { openStore } from "../store.ts";
 * import { heartbeats } from "./heartbeats.ts";
 * const store = await openStore(":memory:");
 * console.assert((await heartbeats(store, ["web/HTTP"], 30))["web/HTTP"]?.length === 0);
 * await store.close();
 * ```
 *
 * @module
 */
import type { Beat, Store } from "../store.ts";

/** One result in a heartbeat strip (see `Store.heartbeats`). */
export type { Beat };

/**
 * The newest `limit` results of each check in `checkIds`, oldest first
 * (`Store.heartbeats`: one indexed read per series, so the cost does not
 * grow with history).
 *
 * @example
 * ```ts ignore
 * import { heartbeats } from "./heartbeats.ts";
 * console.log(await heartbeats(manager.store, ["web/HTTP"], 30));
 * ```
 */
export function heartbeats(
  store: Store,
  checkIds: readonly string[],
  limit: number,
): Promise<Record<string, Beat[]>> {
  return store.heartbeats(checkIds, limit);
}
