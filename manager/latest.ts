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

/** Newest stored result per (check, monitor). */
export class LatestIndex {
  #latest = new Map<string, StoredResult>();

  /** @param seed the store's newest results (`Store.latest()`) */
  constructor(seed: StoredResult[]) {
    for (const r of seed) this.#note(r);
  }

  #note(r: StoredResult) {
    const k = key(r.checkId, r.monitorId);
    const prev = this.#latest.get(k);
    // a replayed spool delivers older results after newer ones
    if (!prev || prev.startedAt <= r.startedAt) this.#latest.set(k, r);
  }

  /** Takes in a stored batch from the monitor shown as `monitorName`. */
  add(results: CheckResult[], monitorName: string): void {
    for (const r of results) this.#note({ ...r, monitorName });
  }

  /** The newest result of every (check, monitor) seen so far. */
  all(): StoredResult[] {
    return [...this.#latest.values()];
  }

  /** The newest result of one check on one monitor. */
  of(checkId: string, monitorId: string): StoredResult | undefined {
    return this.#latest.get(key(checkId, monitorId));
  }
}
