/**
 * Alerting for a running manager: watches every stored result and every
 * monitor's link, opens and resolves incidents by the rules in `tasks.yaml`
 * (a check down, slow or with an expiring certificate; a monitor offline for
 * `alerts.monitor_offline_after` seconds), and tells the configured
 * notifiers once per opening and once per resolution, unless a maintenance
 * window covers the target. Every notification is recorded in the store
 * (see {@linkcode listNotifications} and {@linkcode listIncidents}).
 *
 * @example
 * ```ts ignore
 * import { Manager } from "../manager.ts";
 * import { TextOutput } from "../output.ts";
 * import { attachAlerts } from "./mod.ts";
 * const manager = await Manager.start({
 *   configPath: "tasks.yaml", dbPath: "netmon.db", token: "", output: new TextOutput(),
 * });
 * const alerts = await attachAlerts(manager);
 * // ... on shutdown, before the store closes:
 * await alerts.stop();
 * await manager.stop();
 * ```
 *
 * @module
 */
import type { CheckResult } from "../../shared/checks.ts";
import { checkById, type Config } from "../../shared/config.ts";
import type { NotifierConfig } from "../../shared/config_alerts.ts";
import { logger } from "../../shared/log.ts";
import type { Manager } from "../manager.ts";
import type { Store } from "../store.ts";
import { AlertEngine, type AlertEvent, type Incident } from "./engine.ts";
import { activeWindow } from "./maintenance.ts";
import { buildMessage } from "./message.ts";
import { deliver } from "./notifiers.ts";
import { ruleFor } from "./rules.ts";
import { AlertStore } from "./store.ts";
import {
  isMonitorIncident,
  MONITOR_OFFLINE_AFTER_MS,
  type OfflineEvent,
  OfflineWatch,
} from "./monitor_offline.ts";

export { type AlertQuery, listIncidents, listNotifications } from "./store.ts";
export type { StoredIncident, StoredNotification } from "./store.ts";

const log = logger("alerts");

/**
 * Options for {@linkcode attachAlerts}.
 *
 * @example
 * ```ts
 * import type { AlertsOptions } from "./mod.ts";
 * const o: AlertsOptions = {};
 * ```
 */
export interface AlertsOptions {
  /** Where incidents and notifications go (default: the manager's store). */
  store?: Store;
}

/**
 * Alerting attached to a manager; `stop()` before the manager stops.
 *
 * @example
 * ```ts ignore
 * const alerts = await attachAlerts(manager);
 * console.log(alerts.openIncidents.length);
 * await alerts.stop();
 * ```
 */
export class Alerts {
  readonly store: AlertStore;
  #manager: Manager;
  #engine: AlertEngine;
  #config: Config;
  #unsubscribe: (() => void)[] = [];
  #stop = new AbortController();
  #inFlight = new Set<Promise<void>>();
  #offline: OfflineWatch;
  /** Set while a manager that just gained the lease reads the open incidents again. */
  #reloading: Promise<void> | null = null;
  #sweepTimer: ReturnType<typeof setInterval>;
  #sweepSoon: ReturnType<typeof setTimeout> | undefined;

  /** Subscribes to `manager`'s results and monitor status; `store` holds the incidents open at start. */
  constructor(manager: Manager, store: AlertStore) {
    this.#manager = manager;
    this.store = store;
    const open = this.store.openIncidents();
    this.#engine = new AlertEngine(open.filter((i) => !isMonitorIncident(i)));
    this.#offline = new OfflineWatch(open.filter(isMonitorIncident), Date.now());
    this.#config = manager.config;
    // incidents reopened from the store for checks removed while the manager was down end now
    this.#guard(() => {
      const now = Date.now();
      for (const e of this.#engine.prune(manager.config, now)) this.#handle(e, manager.config, now);
    });
    this.#unsubscribe.push(
      manager.onResult((r, monitor) => this.#guard(() => this.#onResult(r, monitor))),
      manager.onStatus((state, previous) => {
        // its verdicts are stale now; its replayed spool rebuilds them when it returns
        if (previous === "Online" && state.status !== "Online") {
          this.#engine.forgetMonitor(state.name);
        }
        this.#offline.noteStatus(state.name, state.status === "Online", state.since);
        // a sweep walks every monitor: one per 100 ms, not one per change of N at a (re)start
        this.#sweepSoon ??= setTimeout(() => {
          this.#sweepSoon = undefined;
          this.#guard(() => this.#sweep());
        }, 100);
      }),
    );
    // a monitor offline long enough is news without any result or status change
    this.#sweepTimer = setInterval(() => this.#guard(() => this.#sweep()), 1000);
    // in a cluster the lease moves: a new leader starts from the incidents the store holds
    this.#unsubscribe.push(manager.onLeadership((leader) => {
      if (!leader) return;
      // nothing is evaluated until the engine holds what the store holds now
      this.#reloading = this.store.reload().then(() => {
        const open = this.store.openIncidents();
        this.#engine = new AlertEngine(open.filter((i) => !isMonitorIncident(i)));
        this.#offline = new OfflineWatch(open.filter(isMonitorIncident), Date.now());
      }).catch((e) => log.error("Open incidents not reloaded: {e}", { e })).finally(() => {
        this.#reloading = null;
      });
    }));
  }

  /** Opens and resolves monitor-offline incidents. */
  #sweep() {
    // in a cluster only the manager holding the lease evaluates and notifies
    if (this.#stop.signal.aborted || !this.#manager.leads || this.#reloading) return;
    const config = this.#manager.config;
    const links = this.#manager.linkViews();
    const afterMs = config.alerting?.monitorOfflineAfterMs ?? MONITOR_OFFLINE_AFTER_MS;
    const now = Date.now();
    for (const e of this.#offline.sweep(links, afterMs, now)) this.#handleOffline(e, config, now);
    // openings silenced by a maintenance window that has since closed
    const windows = (config.alerting?.maintenance ?? []).filter((w) => w.targets === "all");
    for (const i of this.#offline.open) {
      if (this.store.wasNotified(i.id) || activeWindow(windows, i.target, now)) continue;
      this.#send({ kind: "opened", incident: i, rule: ruleFor(config, "") }, config, now, null);
    }
  }

  #handleOffline(e: OfflineEvent, config: Config, now: number) {
    // the rule of no target in particular: the global notify list, if any
    this.#handle({ ...e, rule: ruleFor(config, "") }, config, now);
  }

  /** Incidents open now: checks' and monitors'. */
  get openIncidents(): Incident[] {
    return [...this.#engine.open, ...this.#offline.open];
  }

  /** An alerting fault must never stop results from flowing. */
  #guard(fn: () => void) {
    try {
      fn();
    } catch (e) {
      log.error("Alerting failed on a result: {e}", { e });
    }
  }

  #onResult(r: CheckResult, monitor: string) {
    if (this.#stop.signal.aborted || !this.#manager.leads || this.#reloading) return;
    const config = this.#manager.config;
    const now = Date.now();
    const events: AlertEvent[] = [];
    if (config !== this.#config) {
      this.#config = config;
      events.push(...this.#engine.prune(config, now));
    }
    const offline = this.#manager.offlineMonitors();
    for (const e of this.#engine.observe(r, monitor, config, now, offline)) events.push(e);
    for (const e of events) this.#handle(e, config, now);
    this.#announceLate(r.checkId, config, now);
  }

  #notifiersFor(e: AlertEvent, config: Config): NotifierConfig[] {
    const all = config.alerting?.notifiers ?? [];
    return e.rule.notify === null ? all : all.filter((n) => e.rule.notify!.includes(n.name));
  }

  #handle(e: AlertEvent, config: Config, now: number) {
    const i = e.incident;
    if (e.kind === "opened") this.store.opened(i);
    else this.store.resolved(i);
    this.#manager.announce(`Incident ${e.kind}: ${i.checkId} ${i.condition}: ${i.detail}`, {
      incident: e.kind,
      checkId: i.checkId,
      condition: i.condition,
    });
    const windows = config.alerting?.maintenance ?? [];
    // a monitor is no target: only a window over all targets covers it
    const window = isMonitorIncident(i)
      ? activeWindow(windows.filter((w) => w.targets === "all"), i.target, now)
      : activeWindow(windows, i.target, now);
    // a resolution is news only to those told of the opening
    const silencedBy = window
      ? `silenced by maintenance window ${window.name}`
      : e.kind === "resolved" && !this.store.wasNotified(i.id)
      ? "the opening was not announced (maintenance)"
      : null;
    this.#send(e, config, now, silencedBy);
  }

  /** Announces openings silenced by a maintenance window that has since closed. */
  #announceLate(checkId: string, config: Config, now: number) {
    // the check's own incidents, not every open one: this runs for every result
    for (const i of this.#engine.openOf(checkId)) {
      if (this.store.wasNotified(i.id)) continue;
      if (activeWindow(config.alerting?.maintenance ?? [], i.target, now)) continue;
      const check = checkById(config, checkId);
      if (!check) continue;
      const rule = ruleFor(config, i.target, check.alert);
      this.#send({ kind: "opened", incident: i, rule }, config, now, null);
    }
  }

  #send(e: AlertEvent, config: Config, now: number, silencedBy: string | null) {
    const message = buildMessage(e);
    const notifiers = this.#notifiersFor(e, config);
    if (e.kind === "opened" && silencedBy === null) this.store.markNotified(e.incident.id);
    for (const n of notifiers) {
      const id = this.store.addNotification({
        incidentId: e.incident.id,
        event: e.kind,
        notifier: n.name,
        notifierType: n.type,
        status: silencedBy === null ? "pending" : "silenced",
        createdAt: now,
        title: message.title,
        ...(silencedBy === null ? {} : { error: silencedBy }),
      });
      if (silencedBy !== null) continue;
      const job = deliver(n, message, {
        signal: this.#stop.signal,
        onAttempt: (attempts, error) => {
          log.warn("{error} (try {attempts} of {total})", {
            error,
            attempts,
            total: n.retries + 1,
          });
          this.#guard(() =>
            this.store.updateNotification(id, { status: "pending", attempts, error })
          );
        },
      }).then((d) => {
        if (d.ok) {
          log.info("Sent {title} to {notifier}", { title: message.title, notifier: n.name });
        } else {log.error("Gave up on {notifier} after {attempts} tries", {
            notifier: n.name,
            attempts: d.attempts,
          });}
        this.#guard(() =>
          this.store.updateNotification(id, {
            status: d.ok ? "sent" : "failed",
            attempts: d.attempts,
            error: d.error,
            finishedAt: Date.now(),
          })
        );
      });
      this.#inFlight.add(job);
      job.finally(() => this.#inFlight.delete(job));
    }
  }

  /**
   * Unsubscribes and stops retrying; a try in progress ends within its
   * notifier's timeout. Call before the manager closes its store.
   */
  async stop(): Promise<void> {
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#sweepSoon);
    for (const u of this.#unsubscribe) u();
    this.#stop.abort();
    await Promise.allSettled([...this.#inFlight, this.#reloading]);
    await this.store.flush();
  }
}

/**
 * Starts alerting for `manager`.
 *
 * @example
 * ```ts ignore
 * const alerts = await attachAlerts(manager);
 * await alerts.stop();
 * ```
 */
export async function attachAlerts(manager: Manager, options: AlertsOptions = {}): Promise<Alerts> {
  return new Alerts(manager, await AlertStore.load(options.store ?? manager.store));
}
