/**
 * The newest result of every (check, monitor): seeded from the store when
 * the manager starts and kept current as a sink of the manager's ingest, so
 * the API's targets, `/metrics` and the dashboard read it without a query.
 * The one copy of the current state in the manager.
 *
 * @example
 * ```ts
 * import { LatestIndex } from "./latest.ts";
 * const index = new LatestIndex([]);
 * console.assert(index.all().length === 0);
 * ```
 *
 * @module
 */
import type { CheckResult } from "../shared/checks.ts";
import type { StoredResult } from "./store.ts";

const key = (checkId: string, monitorId: string) => `${checkId}\n${monitorId}`;

/** One (check, monitor)'s newest result, made a {@linkcode StoredResult} only when read. */
interface Entry {
  r: CheckResult;
  monitorName: string;
  stored: StoredResult | null;
}

/** Newest stored result per (check, monitor). */
export class LatestIndex {
  #latest = new Map<string, Entry>();

  /** @param seed the store's newest results (`Store.latest()`) */
  constructor(seed: StoredResult[]) {
    for (const r of seed) this.#note(r, r.monitorName, r);
  }

  #note(r: CheckResult, monitorName: string, stored: StoredResult | null) {
    const k = key(r.checkId, r.monitorId);
    const prev = this.#latest.get(k);
    if (!prev) this.#latest.set(k, { r, monitorName, stored });
    // a replayed spool delivers older results after newer ones
    else if (prev.r.startedAt <= r.startedAt) {
      // in place: a result every few seconds per series must not allocate an entry each
      prev.r = r;
      prev.monitorName = monitorName;
      prev.stored = stored;
    }
  }

  /** Takes in a stored batch from the monitor shown as `monitorName`. */
  add(results: readonly CheckResult[], monitorName: string): void {
    for (const r of results) this.#note(r, monitorName, null);
  }

  /** The newest result of every (check, monitor) seen so far. */
  all(): StoredResult[] {
    const out: StoredResult[] = [];
    for (const e of this.#latest.values()) out.push(storedOf(e));
    return out;
  }

  /** The newest result of one check on one monitor. */
  of(checkId: string, monitorId: string): StoredResult | undefined {
    const e = this.#latest.get(key(checkId, monitorId));
    return e && storedOf(e);
  }
}

/** The entry's result with its monitor's name, made once per result however often it is read. */
function storedOf(e: Entry): StoredResult {
  return e.stored ??= { ...e.r, monitorName: e.monitorName };
}
