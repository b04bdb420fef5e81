/**
 * `--db` to a {@linkcode Store}:
 *
 * - a path (no `scheme://`): SQLite, the file created with its directory;
 * - `postgres://…` or `postgresql://…`: PostgreSQL at that URL (parts it
 *   leaves out, such as the password, come from `PGHOST`, `PGPORT`, `PGUSER`,
 *   `PGPASSWORD`, `PGDATABASE`, as with `psql`);
 * - `postgres:` or `postgresql:` alone: PostgreSQL from the `PG*` variables only;
 * - any other `scheme://`: {@linkcode StoreOpenError} naming the scheme.
 *
 * @example
 * ```ts
 * import { openStore } from "./open.ts";
 * const store = await openStore(":memory:");
 * console.assert(store.engine === "sqlite");
 * await store.close();
 * ```
 *
 * @module
 */
import { SqliteStore } from "./sqlite.ts";
import { type Store, StoreOpenError } from "./store.ts";

/**
 * Which engine `arg` names, without opening it. Throws
 * {@linkcode StoreOpenError} for a scheme netmon has no engine for.
 *
 * @example
 * ```ts
 * import { storeKind } from "./open.ts";
 * console.assert(storeKind("data/netmon.db").engine === "sqlite");
 * console.assert(storeKind("postgres://db.example/netmon").engine === "postgres");
 * ```
 */
export function storeKind(
  arg: string,
): { engine: "sqlite"; path: string } | { engine: "postgres"; url: string | null } {
  if (/^postgres(ql)?:$/i.test(arg)) return { engine: "postgres", url: null };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(arg)?.[1];
  if (!scheme) return { engine: "sqlite", path: arg };
  if (/^postgres(ql)?$/i.test(scheme)) return { engine: "postgres", url: arg };
  throw new StoreOpenError(
    `--db ${scheme}:// is not a store netmon knows: give a file path (SQLite) or a ` +
      `postgres:// URL (PostgreSQL)`,
  );
}

/**
 * Opens the store `arg` names (see the module doc) and migrates it to this
 * netmon's schema. Throws {@linkcode StoreOpenError} (unknown scheme,
 * unreachable server, newer schema) or `StoreFullError`.
 *
 * @example
 * ```ts
 * import { openStore } from "./open.ts";
 * const store = await openStore(":memory:");
 * console.assert((await store.count()) === 0);
 * await store.close();
 * ```
 */
export async function openStore(arg: string): Promise<Store> {
  const kind = storeKind(arg);
  if (kind.engine === "postgres") {
    // loaded only for a PostgreSQL store: its driver is memory an SQLite manager never uses
    const { PostgresStore } = await import("./postgres.ts");
    return await PostgresStore.open(kind.url);
  }
  const dir = kind.path.includes("/") ? kind.path.slice(0, kind.path.lastIndexOf("/")) : "";
  if (dir) await Deno.mkdir(dir, { recursive: true });
  return SqliteStore.open(kind.path);
}
