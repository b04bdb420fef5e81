/**
 * `GET /healthz`: 200 `{ok: true, store: "writable"}` while the manager runs
 * and its store takes writes, 503 `{ok: false, reason}` otherwise, for load
 * balancers and service managers. Each probe writes: a row in the database
 * (a read-only or locked file fails it) and, for a store on disk, a page
 * beside the database file, since SQLite can still fit a small write into
 * space it holds while the next batch of results finds none.
 *
 * @example
 * ```ts ignore
 * import { health } from "./health.ts";
 * const { ok, reason } = await health(manager.store);
 * ```
 *
 * @module
 */
import { dirname } from "node:path";
import { errorText } from "../../shared/connection.ts";
import { isDiskFull, type Store } from "../store.ts";

/**
 * What {@linkcode health} needs of the result store.
 *
 * @example
 * ```ts ignore
 * import type { HealthStore } from "./health.ts";
 * const s: HealthStore = manager.store;
 * ```
 */
export type HealthStore = Pick<Store, "path" | "diskFull" | "engine" | "healthProbe">;

/**
 * The answer of `/healthz`.
 *
 * @example
 * ```ts
 * import type { Health } from "./health.ts";
 * const h: Health = { ok: false, reason: "disk full at /var/lib/netmon/netmon.db" };
 * ```
 */
export type Health = { ok: true; store: "writable" } | { ok: false; reason: string };

/** Bytes written beside the database: one page of most file systems. */
const PROBE_BYTES = 4096;

/**
 * Probes whether `store` takes writes now.
 *
 * @example
 * ```ts ignore
 * import { health } from "./health.ts";
 * console.log(await health(manager.store));
 * ```
 */
export async function health(store: HealthStore): Promise<Health> {
  if (store.diskFull !== null) {
    return { ok: false, reason: `disk full at ${store.diskFull}: results cannot be stored` };
  }
  try {
    // Store.healthProbe keeps out of diskFull: a failed probe must not mark results as unstorable
    await store.healthProbe(Date.now());
  } catch (e) {
    return {
      ok: false,
      reason: isDiskFull(e)
        ? `disk full at ${store.path}`
        : `the store at ${store.path} refuses writes: ${errorText(e)}`,
    };
  }
  if (store.engine === "sqlite" && store.path !== ":memory:" && store.path !== "") {
    const probe = `${dirname(store.path)}/.netmon-healthz-${Deno.pid}`;
    try {
      await Deno.writeFile(probe, new Uint8Array(PROBE_BYTES));
    } catch (e) {
      return {
        ok: false,
        reason: `cannot write beside the store at ${store.path}: ${errorText(e)}`,
      };
    } finally {
      await Deno.remove(probe).catch(() => {});
    }
  }
  return { ok: true, store: "writable" };
}
