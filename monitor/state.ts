/**
 * What a monitor keeps in its data directory besides the spool: its ID (a
 * UUID made on first start) and its last assignment, written atomically.
 *
 * @example
 * ```ts ignore
 * import { loadOrCreateIdentity } from "./state.ts";
 * const id = await loadOrCreateIdentity("./data");
 * ```
 *
 * @module
 */
import type { CheckSpec } from "../shared/checks.ts";
import { parseMessage } from "../shared/protocol.ts";

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
export async function saveAssignment(dir: string, checks: CheckSpec[]): Promise<void> {
  await writeAtomic(`${dir}/assignment.json`, JSON.stringify({ t: "assign", rev: 0, checks }));
}

/** The last saved assignment, or none; a damaged file is ignored rather than fatal. */
export async function loadAssignment(dir: string): Promise<CheckSpec[]> {
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
  await Deno.writeTextFile(tmp, text);
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
