/**
 * The manager's store, as the rest of the manager imports it: the
 * {@linkcode Store} interface and its errors (`store/store.ts`) and
 * {@linkcode openStore}, which picks SQLite or PostgreSQL from `--db`
 * (`store/open.ts`). The engines live in `store/`.
 *
 * @example
 * ```ts
 * import { openStore } from "./store.ts";
 * const store = await openStore(":memory:");
 * console.assert((await store.add([], "monitor-1")).length === 0);
 * await store.close();
 * ```
 *
 * @module
 */
export * from "./store/store.ts";
export { openStore, storeKind } from "./store/open.ts";
import type { Store } from "./store/store.ts";

/**
 * The name the manager's store had before it had two engines.
 *
 * @example
 * ```ts
 * import type { ResultStore } from "./store.ts";
 * const path = (s: ResultStore) => s.path;
 * ```
 */
export type ResultStore = Store;
