/**
 * A monitor that stays offline is an incident of its own: a vantage point is
 * gone, and every check it ran is unknown there. It opens once the monitor's
 * link has not been Online for `alerts.monitor_offline_after` seconds
 * (default 60) and resolves when the link is Online again, or when the
 * monitor leaves the configuration. Free of I/O and of the clock: the caller
 * passes link states and `now`, and persists and notifies the events.
 *
 * @example
 * ```ts
 * import { OfflineWatch } from "./monitor_offline.ts";
 * const watch = new OfflineWatch([], 0);
 * const down = [{ name: "a", online: false, status: "Reconnecting", lastError: "refused" }];
 * console.assert(watch.sweep(down, 60_000, 59_999).length === 0);
 * console.assert(watch.sweep(down, 60_000, 60_000)[0]?.kind === "opened");
 * ```
 *
 * @module
 */
import type { Incident } from "./engine.ts";

/**
 * The default of `alerts.monitor_offline_after`, in milliseconds.
 *
 * @example
 * ```ts
 * import { MONITOR_OFFLINE_AFTER_MS } from "./monitor_offline.ts";
 * console.assert(MONITOR_OFFLINE_AFTER_MS === 60_000);
 * ```
 */
export const MONITOR_OFFLINE_AFTER_MS = 60_000;

/**
 * What the watch needs of one link (a `LinkState` is one, with `online` added).
 *
 * @example
 * ```ts
 * import type { LinkView } from "./monitor_offline.ts";
 * const l: LinkView = { name: "a", online: true, status: "Online", lastError: null };
 * ```
 */
export interface LinkView {
  name: string;
  online: boolean;
  status: string;
  lastError: string | null;
}

/**
 * A monitor incident opening or resolving.
 *
 * @example
 * ```ts
 * import type { OfflineEvent } from "./monitor_offline.ts";
 * const show = (e: OfflineEvent) => `${e.kind} ${e.incident.target}`;
 * ```
 */
export interface OfflineEvent {
  kind: "opened" | "resolved";
  incident: Incident;
}

/**
 * Whether `i` is a monitor's own incident (rather than a check's).
 *
 * @example
 * ```ts
 * import { isMonitorIncident } from "./monitor_offline.ts";
 * console.assert(!isMonitorIncident({ condition: "down" }));
 * ```
 */
export function isMonitorIncident(i: Pick<Incident, "condition">): boolean {
  return i.condition === "offline";
}

/** Tracks how long each monitor has been offline and its open incident. */
export class OfflineWatch {
  /** Monitor name → wall-clock time its link stopped being Online. */
  #down = new Map<string, number>();
  /** Monitor name → its open incident. */
  #open = new Map<string, Incident>();
  #startedAt: number;

  /**
   * Starts with the monitor incidents still open in the store; monitors not
   * online yet count as offline from `now` (the manager just started).
   */
  constructor(open: Incident[], now: number) {
    for (const i of open) {
      this.#open.set(i.target, i);
      this.#down.set(i.target, i.openedAt);
    }
    this.#startedAt = now;
  }

  /** The open monitor incidents. */
  get open(): Incident[] {
    return [...this.#open.values()];
  }

  /** Notes a link's status change at `at`: the offline clock starts when it leaves Online. */
  noteStatus(name: string, online: boolean, at: number): void {
    if (online) this.#down.delete(name);
    else if (!this.#down.has(name)) this.#down.set(name, at);
  }

  /**
   * Opens an incident for every monitor offline for at least `afterMs`,
   * resolves those of monitors online again or no longer in `links`.
   */
  sweep(links: readonly LinkView[], afterMs: number, now: number): OfflineEvent[] {
    const events: OfflineEvent[] = [];
    const names = new Set(links.map((l) => l.name));
    for (const name of this.#down.keys()) if (!names.has(name)) this.#down.delete(name);
    for (const [name, i] of this.#open) {
      if (names.has(name)) continue;
      this.#open.delete(name);
      this.#down.delete(name);
      events.push(this.#resolved(i, now, "the monitor was removed from the configuration"));
    }
    for (const l of links) {
      const open = this.#open.get(l.name);
      if (l.online) {
        this.#down.delete(l.name);
        if (open) {
          this.#open.delete(l.name);
          events.push(this.#resolved(open, now, `monitor ${l.name} is back online`, l));
        }
        continue;
      }
      const since = this.#down.get(l.name) ?? this.#startedAt;
      this.#down.set(l.name, since);
      if (open || now - since < afterMs) continue;
      const incident: Incident = {
        id: crypto.randomUUID(),
        checkId: `monitor:${l.name}`,
        target: l.name,
        type: "monitor",
        condition: "offline",
        openedAt: since,
        resolvedAt: null,
        quorum: 1,
        running: 1,
        vantage: [view(l, "bad", since)],
        detail: `monitor ${l.name} offline since ${new Date(since).toISOString()} (${l.status}${
          l.lastError ? `: ${l.lastError}` : ""
        })`,
      };
      this.#open.set(l.name, incident);
      events.push({ kind: "opened", incident });
    }
    return events;
  }

  #resolved(i: Incident, now: number, detail: string, l?: LinkView): OfflineEvent {
    return {
      kind: "resolved",
      incident: {
        ...i,
        resolvedAt: now,
        detail,
        vantage: l ? [view(l, "good", now)] : i.vantage,
      },
    };
  }
}

function view(l: LinkView, state: "bad" | "good", at: number): Incident["vantage"][number] {
  return {
    monitor: l.name,
    state,
    summary: l.online ? "Online" : `${l.status}${l.lastError ? `: ${l.lastError}` : ""}`,
    latencyMs: null,
    at,
  };
}
