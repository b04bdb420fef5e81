/**
 * Incidents and notifications in the manager's store, beside the results:
 * every notification attempt's outcome is recorded, so the API and the
 * dashboard can show what was sent, when, and what failed. The SQL is the
 * store's (`../store/sql.ts`); this is the alert engine's synchronous view
 * of it: writes are queued in order, and whether an opening was announced
 * is known without a query.
 *
 * @example
 * ```ts
 * import { openStore } from "../store.ts";
 * import { AlertStore, listIncidents } from "./store.ts";
 * const store = await openStore(":memory:");
 * const alerts = await AlertStore.load(store);
 * console.assert(alerts.openIncidents().length === 0);
 * console.assert((await listIncidents(store)).length === 0);
 * await store.close();
 * ```
 *
 * @module
 */
import { logger } from "../../shared/log.ts";
import type {
  AlertQuery,
  NewNotification,
  NotificationStatus,
  Store,
  StoredIncident,
  StoredNotification,
} from "../store.ts";
import type { Incident } from "./engine.ts";

export type {
  AlertQuery,
  NewNotification,
  NotificationStatus,
  StoredIncident,
  StoredNotification,
} from "../store.ts";

const log = logger("alerts");

/**
 * Incidents, newest first.
 *
 * @example
 * ```ts
 * import { openStore } from "../store.ts";
 * import { listIncidents } from "./store.ts";
 * const store = await openStore(":memory:");
 * console.assert((await listIncidents(store, { open: true, limit: 10 })).length === 0);
 * await store.close();
 * ```
 */
export function listIncidents(store: Store, q: AlertQuery = {}): Promise<StoredIncident[]> {
  return store.incidents(q);
}

/**
 * Notifications, newest first.
 *
 * @example
 * ```ts
 * import { openStore } from "../store.ts";
 * import { listNotifications } from "./store.ts";
 * const store = await openStore(":memory:");
 * console.assert((await listNotifications(store, { limit: 5 })).length === 0);
 * await store.close();
 * ```
 */
export function listNotifications(store: Store, q: AlertQuery = {}): Promise<StoredNotification[]> {
  return store.notifications(q);
}

/**
 * Writes incidents and notifications as the alert engine moves. Writes are
 * queued and run in order; one that fails is logged (the engine's state in
 * memory goes on), and {@linkcode flush} waits for the queue.
 *
 * @example
 * ```ts
 * import { openStore } from "../store.ts";
 * import { AlertStore } from "./store.ts";
 * const alerts = await AlertStore.load(await openStore(":memory:"));
 * console.assert(!alerts.wasNotified("no-such-incident"));
 * ```
 */
export class AlertStore {
  readonly store: Store;
  #open: StoredIncident[];
  #notified: Set<string>;
  #tail: Promise<void> = Promise.resolve();

  private constructor(store: Store, open: StoredIncident[]) {
    this.store = store;
    this.#open = open;
    this.#notified = new Set(open.filter((i) => i.notified).map((i) => i.id));
  }

  /** Reads the incidents still open from `store`. */
  static async load(store: Store): Promise<AlertStore> {
    return new AlertStore(store, await store.incidents({ open: true, limit: 10_000 }));
  }

  /**
   * Reads the open incidents again (a manager gaining the cluster's lease
   * goes on from what the previous leader opened in the shared store).
   */
  async reload(): Promise<void> {
    await this.flush();
    this.#open = await this.store.incidents({ open: true, limit: 10_000 });
    this.#notified = new Set(this.#open.filter((i) => i.notified).map((i) => i.id));
  }

  /** The incidents open when {@linkcode load} read them, for the engine to pick up after a restart. */
  openIncidents(): StoredIncident[] {
    return this.#open;
  }

  #queue(what: string, write: () => Promise<void>) {
    this.#tail = this.#tail.then(write).catch((e) => {
      log.error("Could not record {what}: {e}", { what, e });
    });
  }

  /** Waits for every write queued so far. */
  flush(): Promise<void> {
    return this.#tail;
  }

  /** Records a newly opened incident. */
  opened(i: Incident): void {
    const copy = structuredClone(i);
    this.#queue(`incident ${i.id}`, () => this.store.incidentOpened(copy));
  }

  /** Records that an incident resolved. */
  resolved(i: Incident): void {
    const copy = structuredClone(i);
    this.#queue(`incident ${i.id}`, () => this.store.incidentResolved(copy));
  }

  /** Marks the opening of incident `id` as announced. */
  markNotified(id: string): void {
    this.#notified.add(id);
    this.#queue(`incident ${id}`, () => this.store.markNotified(id));
  }

  /** Whether the opening of incident `id` was announced. */
  wasNotified(id: string): boolean {
    return this.#notified.has(id);
  }

  /** Records a notification; returns its ID. */
  addNotification(n: NewNotification): string {
    const id = crypto.randomUUID();
    this.#queue(`notification ${id}`, () => this.store.addNotification(id, n));
    return id;
  }

  /** Updates a notification after an attempt. */
  updateNotification(
    id: string,
    u: { status: NotificationStatus; attempts: number; error: string | null; finishedAt?: number },
  ): void {
    this.#queue(`notification ${id}`, () => this.store.updateNotification(id, u));
  }
}
