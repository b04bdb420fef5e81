/**
 * What a monitor keeps in its data directory besides the spool: its ID (a
 * UUID made on first start) and its last assignment, written atomically.
 * The assignment holds URL passwords and `Authorization` headers, the
 * spool the results, so the directory is 0700 and every file in it 0600.
 *
 * @example
 * ```ts ignore
 * import { loadOrCreateIdentity } from "./state.ts";
 * const id = await loadOrCreateIdentity("./data");
 * ```
 *
 * @module
 */
import type { UncheckedSpec } from "../shared/checks.ts";
import { parseMessage } from "../shared/protocol.ts";

/** Files of the data directory that only the monitor's user may read. */
const PRIVATE_FILES = [
  "assignment.json",
  "assignment.json.tmp",
  "monitor-id",
  "token",
  "spool.db",
  "spool.db-wal",
  "spool.db-shm",
];

/**
 * Creates `dir` mode 0700 (tightening it if it exists), makes its known
 * files 0600, and creates an empty `spool.db` 0600 so that SQLite, which
 * gives the `-wal` and `-shm` files the database's mode, makes them 0600.
 *
 * @example
 * ```ts
 * import { prepareDataDir } from "./state.ts";
 * const dir = await Deno.makeTempDir();
 * await prepareDataDir(`${dir}/data`);
 * console.assert(((await Deno.stat(`${dir}/data`)).mode! & 0o777) === 0o700);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function prepareDataDir(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  for (const name of PRIVATE_FILES) {
    try {
      await Deno.chmod(`${dir}/${name}`, 0o600);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const spool = await Deno.open(`${dir}/spool.db`, { create: true, append: true, mode: 0o600 });
  spool.close();
}

/** Reads the monitor ID from `dir/monitor-id`, creating it on first start. */
export async function loadOrCreateIdentity(dir: string): Promise<string> {
  const path = `${dir}/monitor-id`;
  try {
    const id = (await Deno.readTextFile(path)).trim();
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const id = crypto.randomUUID();
  await writeAtomic(path, id + "\n");
  return id;
}

/** Saves the assignment so that checks resume after a restart. */
export async function saveAssignment(dir: string, checks: UncheckedSpec[]): Promise<void> {
  await writeAtomic(`${dir}/assignment.json`, JSON.stringify({ t: "assign", rev: 0, checks }));
}

/** The last saved assignment, or none; a damaged file is ignored rather than fatal. */
export async function loadAssignment(dir: string): Promise<UncheckedSpec[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/assignment.json`);
  } catch {
    return [];
  }
  try {
    const msg = parseMessage(text);
    return msg.t === "assign" ? msg.checks : [];
  } catch {
    return [];
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, text, { mode: 0o600 });
  // a tmp file left by a crash keeps its old mode: set it
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
}

/**
 * The token kept in `dir/token` (mode 0600), made on first use. For monitors
 * that listen beyond loopback and were given no token: they never run open.
 * Returns the token and whether it was just created.
 */
export async function loadOrCreateToken(dir: string): Promise<{ token: string; created: boolean }> {
  const path = `${dir}/token`;
  try {
    const token = (await Deno.readTextFile(path)).trim();
    if (token.length >= 16) return { token, created: false };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  await Deno.writeTextFile(path, token + "\n", { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return { token, created: true };
}
