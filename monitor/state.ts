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
