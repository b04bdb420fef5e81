/**
 * The manager process: holds the configuration, keeps a {@linkcode MonitorLink}
 * to every monitor, decides which monitor runs which check (`all`, a chosen
 * set, or `spread` over the online ones), stores results and reports them.
 *
 * Results take one path: the link parses a frame and calls
 * {@linkcode Manager.ingest}, which stores it once and hands the new results
 * to the sinks (the output, the latest-state index, every
 * {@linkcode Manager.onResult} listener such as the live feed and alerts,
 * every {@linkcode Manager.onBatch} listener such as remote-write), each
 * isolated: a sink that throws is logged and the others, and the
 * acknowledgement, go on.
 *
 * @example
 * ```ts ignore
 * import { Manager } from "./manager.ts";
 * import { TextOutput } from "./output.ts";
 * const m = await Manager.start({ configPath: "tasks.yaml", dbPath: "netmon.db", token: "", output: new TextOutput() });
 * await m.stop();
 * ```
 *
 * @module
 */
import type { CheckResult, CheckSpec } from "../shared/checks.ts";
import { checkById, type Config, ConfigError, parseConfig } from "../shared/config.ts";
import { errorText } from "../shared/connection.ts";
import { logger } from "../shared/log.ts";
import {
  maskOutcome,
  maskSecrets,
  type SecretRules,
  secretRulesOfConfig,
} from "../shared/secrets.ts";
import { type LinkState, type LinkStatus, MonitorLink } from "./link.ts";
import { MonitorListener } from "./monitor_listener.ts";
import type { LinkView } from "./alerts/monitor_offline.ts";
import { calledOtherwise, type Output } from "./output.ts";
import { openStore, type Store, StoreFullError } from "./store.ts";
import { LatestIndex } from "./latest.ts";
import { History, type Retention } from "./rollups.ts";
import { assignedChecks, eligibleChecks, type PlacementState } from "./placement.ts";
import { RemoteWriteSink } from "./remote_write.ts";
import type { Cluster, ClusterOptions } from "./cluster.ts";

const log = logger("manager");

/** Options for {@linkcode Manager.start}. */
export interface ManagerOptions {
  configPath: string;
  /** `--db`: an SQLite file or a `postgres://` URL (see `store/open.ts`). */
  dbPath: string;
  /** Shared secret with the monitors ("" for none). */
  token: string;
  output: Output;
  /** How often the status block is printed (default 10 s, as the seed). */
  statusEveryMs?: number;
  /** Re-read the configuration when the file changes (default true). */
  watch?: boolean;
  /** How long raw results and rollups are kept (default 7 days and 400 days). */
  retention?: Partial<Retention>;
  /**
   * Share the monitors with the other managers registered in this
   * PostgreSQL (see `cluster.ts`): this one links only to the monitors it
   * owns, and evaluates alerts only while it holds the lease.
   */
  cluster?: ClusterOptions & { url: string };
  /**
   * Where monitors started with `--connect` dial in (`--listen-monitors`),
   * with a TLS certificate and key when given; none when unset.
   */
  listenMonitors?: { hostname: string; port: number; tlsCert?: string; tlsKey?: string };
}

/**
 * A monitor's link state, with the manager serving it when several share
 * the monitors (absent for a manager on its own).
 *
 * @example
 * ```ts
 * import type { MonitorState } from "./manager.ts";
 * declare const s: MonitorState;
 * console.log(s.servedBy?.address ?? "this manager");
 * ```
 */
export interface MonitorState extends LinkState {
  servedBy?: { managerId: string; address: string; self: boolean };
}

/** Reads and parses the configuration file. Throws {@linkcode ConfigError}. */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(path, 1, 1, "", `cannot read the configuration: ${errorText(e)}`);
  }
  return parseConfig(text, path);
}

/** How often the configuration file is checked for changes. */
const CONFIG_POLL_MS = 500;

/** The identity of the file at `path` (changes when it is rewritten or replaced), or "" when missing. */
function fileStamp(path: string): string {
  try {
    // stat is a few microseconds and, unlike watching, opens nothing
    const st = Deno.statSync(path);
    return `${st.ino}:${st.size}:${st.mtime?.getTime()}`;
  } catch {
    return "";
  }
}

/** How long a starting manager waits for every monitor before it spreads `spread` checks. */
const SPREAD_SETTLE_MS = 1500;

/** A running manager. */
export class Manager {
  readonly managerId: string;
  readonly store: Store;
  /** The newest result of every (check, monitor), kept by ingest. */
  readonly latest: LatestIndex;
  /** Rollups, retention and history queries over {@linkcode store}. */
  readonly history: History;
  /** Sends every stored result's metrics to the `remote_write:` endpoints. */
  readonly remoteWrite: RemoteWriteSink;
  #opts: ManagerOptions;
  #config: Config;
  #links = new Map<string, MonitorLink>();
  /** Last assignment sent per link, to resend only what changed. */
  #sent = new Map<string, string>();
  #statusTimer: ReturnType<typeof setInterval>;
  #watchTimer: ReturnType<typeof setInterval> | undefined;
  #reloadTimer: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;
  #spreadSettled = false;
  #spreadTimer: ReturnType<typeof setTimeout>;
  #paused: Set<string>;
  /** Pauses made while the store's disk was full, saved once it has room. */
  #pausesUnsaved = false;
  #unsubscribeDiskFull: () => void;
  #listener: MonitorListener | undefined;
  #resultListeners = new Set<(r: CheckResult, monitorName: string) => void>();
  #batchListeners = new Set<(results: CheckResult[], monitorName: string) => void>();
  #statusListeners = new Set<(state: LinkState, previous: LinkStatus) => void>();
  #leaderListeners = new Set<(leader: boolean) => void>();
  readonly #cluster: Cluster | null;

  private constructor(
    opts: ManagerOptions,
    config: Config,
    store: Store,
    paused: string[],
    latest: LatestIndex,
    cluster: Cluster | null,
  ) {
    this.#opts = opts;
    this.#cluster = cluster;
    this.managerId = cluster?.id ?? crypto.randomUUID();
    this.#config = config;
    this.store = store;
    this.latest = latest;
    this.#paused = new Set(paused);
    this.history = new History(store, opts.retention);
    this.history.start();
    this.remoteWrite = new RemoteWriteSink(config.remoteWrite ?? []);
    this.#spreadTimer = setTimeout(() => {
      this.#spreadSettled = true;
      this.#redistribute();
    }, SPREAD_SETTLE_MS);
    this.#unsubscribeDiskFull = store.onDiskFull((full) => this.#onDiskFull(full));
    for (const m of config.monitors) if (this.#serves(m.name)) this.#addLink(m);
    if (cluster) this.#joinCluster(cluster);
    this.#statusTimer = setInterval(() => this.#printStatus(), opts.statusEveryMs ?? 10_000);
    this.#printStatus();
    if (opts.watch ?? true) this.#watch();
  }

  /** Loads the configuration (throws {@linkcode ConfigError}), opens the store and dials every monitor. */
  static async start(opts: ManagerOptions): Promise<Manager> {
    const config = await loadConfig(opts.configPath);
    // the cluster (and its PostgreSQL driver) is loaded only when asked for
    const cluster = opts.cluster
      ? await (await import("./cluster.ts")).Cluster.join(opts.cluster.url, opts.cluster)
      : null;
    let store: Store;
    try {
      store = await openStore(opts.dbPath);
    } catch (e) {
      await cluster?.leave();
      throw e;
    }
    let m: Manager;
    try {
      const [paused, latest] = await Promise.all([store.pausedChecks(), store.latest()]);
      m = new Manager(opts, config, store, paused, new LatestIndex(latest), cluster);
    } catch (e) {
      await store.close();
      await cluster?.leave();
      throw e;
    }
    if (opts.listenMonitors) {
      try {
        m.#listener = await MonitorListener.start({
          ...opts.listenMonitors,
          token: opts.token,
          managerId: m.managerId,
          linkFor: (name) => {
            const link = m.#links.get(name);
            return link?.config.dialIn ? link : undefined;
          },
          onUnknown: () => m.#printStatus(),
        });
      } catch (e) {
        await m.stop();
        throw e;
      }
    }
    return m;
  }

  /** Where monitors dial in (`host:port`), or null without `--listen-monitors`. */
  get monitorsAddress(): string | null {
    return this.#listener?.address ?? null;
  }

  /** Whether this manager runs the link to the monitor named `name`. */
  #serves(name: string): boolean {
    return this.#cluster?.owns(name) ?? true;
  }

  #joinCluster(cluster: Cluster) {
    cluster.reportLinks(() => [...this.#links.values()].map((l) => l.state));
    cluster.onHeartbeat(() => {
      this.#followCluster().catch((e) =>
        log.error("Following the cluster failed: {e}", { e: errorText(e) })
      );
    });
    cluster.onSharedResults((results, monitorName) => {
      // another manager stored them: this one shows them, it does not store them again
      sink("latest", () => this.latest.add(results, monitorName));
      for (const r of results) {
        for (const cb of this.#resultListeners) sink("result listener", () => cb(r, monitorName));
      }
    });
    cluster.onLeadership((leader) => {
      for (const cb of this.#leaderListeners) cb(leader);
    });
  }

  /** Takes the links to the monitors this manager now owns, drops the others, resends spreads. */
  async #followCluster() {
    if (this.#stopping) return;
    const drop = [...this.#links.keys()].filter((name) => !this.#serves(name));
    for (const m of this.#config.monitors) {
      if (this.#serves(m.name) && !this.#links.has(m.name)) this.#addLink(m);
    }
    await Promise.all(drop.map((name) => this.#removeLink(name)));
    this.#redistribute();
  }

  /**
   * Whether this manager evaluates alerts and sends notifications: always
   * on its own, only while it holds the lease in a cluster.
   */
  get leads(): boolean {
    return this.#cluster?.leader ?? true;
  }

  /** Calls `cb` when this manager gains or loses the lease. Returns a function that unsubscribes. */
  onLeadership(cb: (leader: boolean) => void): () => void {
    this.#leaderListeners.add(cb);
    return () => this.#leaderListeners.delete(cb);
  }

  /** Tells the other managers of the cluster where this one's API is (e.g. `http://10.0.0.5:8080`). */
  advertise(address: string): void {
    if (this.#cluster) this.#cluster.address = address;
  }

  /** Whether this manager shares the monitors with others (`--cluster`). */
  get clustered(): boolean {
    return this.#cluster !== null;
  }

  /** The managers sharing the monitors (empty for a manager on its own). */
  clusterMembers(): { id: string; address: string; self: boolean }[] {
    return this.#cluster?.members() ?? [];
  }

  /** The configuration in force. */
  get config(): Config {
    return this.#config;
  }

  /** The monitors that dialed in without a `monitors:` entry, as link states. */
  #unknownStates(): LinkState[] {
    return (this.#listener?.unknown() ?? []).map((u): LinkState => ({
      name: u.name,
      address: "dial-in",
      direction: "dialed in",
      remoteAddress: u.address,
      status: "Offline",
      monitorId: u.monitorId,
      reportedName: u.name,
      lastError: `${u.message}: not in tasks.yaml, so it gets no checks`,
      since: u.since,
      lastSeen: null,
      heldBack: 0,
      received: 0,
      spool: null,
    }));
  }

  /**
   * Every monitor's link state, in configuration order, then the monitors
   * that dialed in without a `monitors:` entry ("unknown monitor NAME from
   * ADDR", no checks). In a cluster, the monitors other managers serve come
   * as their manager last reported them.
   */
  states(): MonitorState[] {
    const cluster = this.#cluster;
    const unknown = this.#unknownStates();
    if (!cluster) return [...[...this.#links.values()].map((l) => l.state), ...unknown];
    const members = new Map(cluster.members().map((m) => [m.id, m]));
    const reported = cluster.reported();
    const served = this.#config.monitors.map((m): MonitorState => {
      const owner = cluster.owner(m.name);
      const member = owner === null ? undefined : members.get(owner);
      const servedBy = member
        ? { managerId: member.id, address: member.address, self: member.self }
        : undefined;
      const link = this.#links.get(m.name);
      if (link) return { ...link.state, ...(servedBy ? { servedBy } : {}) };
      const r = reported.get(m.name);
      if (r && r.managerId === owner) return { ...r.state, ...(servedBy ? { servedBy } : {}) };
      return {
        name: m.name,
        address: m.address,
        direction: m.dialIn ? "dialed in" : "dialed",
        remoteAddress: null,
        status: "Reconnecting",
        monitorId: null,
        reportedName: null,
        lastError: owner === null
          ? "no manager of the cluster is live"
          : `served by manager ${owner}, which has not reported it yet`,
        since: Date.now(),
        lastSeen: null,
        heldBack: 0,
        received: 0,
        spool: null,
        ...(servedBy ? { servedBy } : {}),
      };
    });
    return [...served, ...unknown];
  }

  /**
   * Name, status and last error of every monitor of {@linkcode states}, in
   * its order, for the monitor-offline alerts. Outside a cluster they are read
   * off the links: the alert sweep asks every second, and copying 5,000 whole
   * states for it was 7 % of a manager's CPU.
   *
   * @example
   * ```ts ignore
   * const down = manager.linkViews().filter((l) => !l.online);
   * ```
   */
  linkViews(): LinkView[] {
    const view = (name: string, status: LinkStatus, lastError: string | null): LinkView => ({
      name,
      online: status === "Online",
      status,
      lastError,
    });
    const ofState = (s: MonitorState) => view(s.name, s.status, s.lastError);
    if (this.#cluster) return this.states().map(ofState);
    return [
      ...[...this.#links.values()].map((l) => view(l.config.name, l.status, l.lastError)),
      ...this.#unknownStates().map(ofState),
    ];
  }

  /**
   * The monitors of the configuration whose link is not Online, whichever
   * manager serves them (see {@linkcode isOnline}). Worked out again only when
   * a link, the configuration or what the cluster reported changed since the
   * last call, so the alerts ask it for every result.
   */
  offlineMonitors(): ReadonlySet<string> {
    const reported = this.#cluster?.reported();
    const members = this.#cluster?.members();
    const o = this.#offline;
    if (
      o.links !== this.#linkChanges || o.config !== this.#config || o.reported !== reported ||
      o.members !== members
    ) {
      const names = new Set<string>();
      for (const m of this.#config.monitors) if (!this.isOnline(m.name)) names.add(m.name);
      this.#offline = {
        names,
        links: this.#linkChanges,
        config: this.#config,
        reported,
        members,
      };
    }
    return this.#offline.names;
  }

  /** Changes of the links' set or status, for {@linkcode offlineMonitors}. */
  #linkChanges = 0;
  /** Links added or removed, for {@linkcode #placing}. */
  #linkSetChanges = 0;
  #offline: {
    names: ReadonlySet<string>;
    links: number;
    config: Config | null;
    reported: unknown;
    members: unknown;
  } = { names: new Set(), links: -1, config: null, reported: undefined, members: undefined };

  /** Whether the link to the monitor named `name` is Online, whichever manager serves it. */
  isOnline(name: string): boolean {
    const link = this.#links.get(name);
    if (link || !this.#cluster) return link?.online ?? false;
    const r = this.#cluster.reported().get(name);
    return r !== undefined && r.managerId === this.#cluster.owner(name) &&
      r.state.status === "Online";
  }

  #printStatus() {
    this.#opts.output.status(this.states(), { diskFull: this.store.diskFull });
  }

  /** Says when the store's disk fills up and when it has room again. */
  #onDiskFull(full: string | null) {
    const out = this.#opts.output;
    if (full) {
      log.error("Disk full at {path}", { path: full });
      out.event(
        `Disk full at ${full}: results are not acknowledged, so the monitors keep them; ` +
          `they are stored once there is room`,
        { diskFull: full },
      );
    } else {
      out.event(`The store at ${this.store.path} has room again: storing the held results`, {
        diskFull: null,
      });
      if (this.#pausesUnsaved) this.#savePauses();
    }
    if (!this.#stopping) this.#printStatus();
  }

  /** Writes the pauses made while the disk was full; on failure they wait for the next chance. */
  #savePauses() {
    this.#pausesUnsaved = false;
    this.store.savePaused([...this.#paused]).catch((e) => {
      // called as results were stored: a failure here must not undo that
      this.#pausesUnsaved = true;
      log.warn("Pauses not saved yet: {e}", { e: errorText(e) });
    });
  }

  /** The links, by monitor name. */
  get links(): ReadonlyMap<string, MonitorLink> {
    return this.#links;
  }

  #addLink(m: Config["monitors"][number]) {
    const out = this.#opts.output;
    const link = new MonitorLink(m, {
      managerId: this.managerId,
      token: this.#opts.token,
      store: this.store,
      assignment: (l) => this.#assignmentFor(l),
      eligible: (l) => eligibleChecks(l.config.name, this.#config),
      // a monitor masks what it reports; this also covers one that does not (an older version)
      maskResults: (results) => maskResults(results, secretRulesOfConfig(this.#config)),
      ingest: (l, results, epoch) => this.ingest(results, l.config.name, epoch),
      // placement names one manager per monitor: a link kept only while this one is it
      rightful: () => this.#cluster?.owns(m.name) ?? false,
      onStatus: (l, previous) => this.#onStatus(l, previous),
      onAssigned: (l, checks) => {
        this.#sent.set(l.config.name, assignmentKey(checks));
        for (const target of new Set(checks.map((c) => c.target))) {
          out.distributing(target, l.config.name);
        }
      },
    });
    this.#links.set(m.name, link);
    this.#linkChanges++;
    this.#linkSetChanges++;
    link.start();
  }

  /**
   * Stores `results` from the monitor shown as `monitorName` (numbered in
   * the spool epoch `epoch`, from `Store.epochId`) once, then hands the new
   * ones to every sink: the output, the latest-state index, the
   * {@linkcode onBatch} and {@linkcode onResult} listeners. A sink that
   * throws is logged; the others still run and the results stay stored.
   * Resolves with the new results; rejects with {@linkcode StoreFullError}
   * when nothing was stored (the link then holds the frame unacknowledged).
   */
  async ingest(results: CheckResult[], monitorName: string, epoch: number): Promise<CheckResult[]> {
    const fresh = await this.store.add(results, monitorName, epoch);
    if (fresh.length === 0) return fresh;
    const out = this.#opts.output;
    sink("latest", () => this.latest.add(fresh, monitorName));
    sink("cluster", () => {
      this.#cluster?.shareResults(fresh, monitorName).catch((e) =>
        log.warn("Results not shared with the cluster: {e}", { e: errorText(e) })
      );
    });
    sink("remote-write", () => {
      const config = this.#config;
      this.remoteWrite.write(fresh, monitorName, (id) => checkById(config, id)?.spec);
    });
    for (const cb of this.#batchListeners) sink("batch listener", () => cb(fresh, monitorName));
    // per result, the sinks are called without a closure each
    for (const r of fresh) {
      try {
        out.result(r, monitorName);
      } catch (e) {
        sinkFailed("output", e);
      }
      for (const cb of this.#resultListeners) {
        try {
          cb(r, monitorName);
        } catch (e) {
          sinkFailed("result listener", e);
        }
      }
    }
    return fresh;
  }

  /**
   * Calls `cb` with each batch of newly stored results (after it is
   * durable), for sinks that send batches on, such as remote-write.
   * Returns a function that unsubscribes.
   */
  onBatch(cb: (results: CheckResult[], monitorName: string) => void): () => void {
    this.#batchListeners.add(cb);
    return () => this.#batchListeners.delete(cb);
  }

  /**
   * Calls `cb` with every newly stored result (after it is durable), for the
   * API's live stream and the alert engine. Returns a function that unsubscribes.
   */
  onResult(cb: (r: CheckResult, monitorName: string) => void): () => void {
    this.#resultListeners.add(cb);
    return () => this.#resultListeners.delete(cb);
  }

  /** Shows `text` to the person watching the manager (log line, live view or JSON event). */
  announce(text: string, data: Record<string, unknown> = {}): void {
    this.#opts.output.event(text, data);
  }

  /** Calls `cb` on every monitor status change. Returns a function that unsubscribes. */
  onStatus(cb: (state: LinkState, previous: LinkStatus) => void): () => void {
    this.#statusListeners.add(cb);
    return () => this.#statusListeners.delete(cb);
  }

  #onStatus(link: MonitorLink, previous: LinkStatus) {
    this.#linkChanges++;
    if (this.#stopping) return;
    const s = link.state;
    for (const cb of this.#statusListeners) cb(s, previous);
    const out = this.#opts.output;
    const where = s.direction === "dialed in" ? s.remoteAddress ?? s.address : s.address;
    if (s.status === "Online") {
      out.event(
        `Connected to monitoring service at ${where} (monitor ID: ${s.monitorId}, name: ${s.name}${
          calledOtherwise(s) ? `, calls itself ${s.reportedName}` : ""
        })`,
        { monitor: s.name, status: s.status },
      );
    } else if (previous === "Online") {
      out.event(`Disconnected from ${where}: ${s.lastError}. Reconnecting...`, {
        monitor: s.name,
        status: s.status,
      });
    } else if (s.status === "Offline" && s.lastError) {
      out.event(`Monitoring service at ${where} refused us: ${s.lastError}`, {
        monitor: s.name,
        status: s.status,
      });
    }
    // both walk every link: with N monitors changing at a (re)start, one pass per 100 ms, not per change
    if (s.status !== previous) this.#statusDue = true;
    // spread checks follow the set of online monitors (no other check does); one that came
    // online assigns itself
    if ((s.status === "Online") !== (previous === "Online") && hasSpread(this.#config)) {
      this.#redistributeDue = true;
      if (s.status === "Online") this.#cameOnline.add(link);
    }
    this.#coalesce ??= setTimeout(() => {
      this.#coalesce = undefined;
      if (this.#statusDue) this.#printStatus();
      if (this.#redistributeDue) this.#redistribute(this.#cameOnline);
      this.#statusDue = this.#redistributeDue = false;
      this.#cameOnline = new Set();
    }, 100);
  }

  #coalesce: ReturnType<typeof setTimeout> | undefined;
  #statusDue = false;
  #redistributeDue = false;
  #cameOnline = new Set<MonitorLink>();

  /** Sends new assignments to every online link whose set of checks changed. */
  #redistribute(except: ReadonlySet<MonitorLink> = new Set()) {
    const losing: MonitorLink[] = [];
    const gaining: MonitorLink[] = [];
    // the placement's inputs once per pass: per link they made a pass O(N²)
    const placing = this.#placing();
    for (const link of this.#links.values()) {
      if (!link.online || except.has(link)) continue;
      const next = assignedChecks(link.config.name, placing);
      const before = this.#sent.get(link.config.name);
      if (before === assignmentKey(next)) continue;
      const had = before ? before.split("\n").length : 0;
      (next.length < had ? losing : gaining).push(link);
    }
    // stop checks where they move from before starting them where they move to
    for (const link of [...losing, ...gaining]) link.assign();
  }

  #assignmentFor(link: MonitorLink): CheckSpec[] {
    return this.assignedTo(link.config.name);
  }

  /** The checks the monitor named `name` runs now (or would run once online), paused ones left out. */
  assignedTo(name: string): CheckSpec[] {
    return assignedChecks(name, this.#placing());
  }

  #placing(): PlacementState {
    const reported = this.#cluster?.reported();
    const members = this.#cluster?.members();
    const c = this.#placed;
    // each link that comes online asks for its assignment: worked out once per change of the
    // links, not once per link (1,000 links reconnecting walked 1,000 states each); without
    // spread checks who is online plays no part, so only a change of the set of links counts
    // (5,000 links reconnecting each made it walk all of them)
    const links = hasSpread(this.#config) ? this.#linkChanges : this.#linkSetChanges;
    if (
      c && c.links === links && c.state.config === this.#config &&
      c.state.starting === !this.#spreadSettled && c.reported === reported && c.members === members
    ) return c.state;
    // in a cluster a spread check goes to one monitor of the whole fleet
    const states = this.#cluster ? this.states() : [...this.#links.values()].map((l) => ({
      name: l.config.name,
      status: l.online ? "Online" : "Offline",
    }));
    const state: PlacementState = {
      config: this.#config,
      monitors: states.map((s) => s.name),
      online: states.filter((s) => s.status === "Online").map((s) => s.name),
      starting: !this.#spreadSettled,
      paused: this.#paused,
    };
    this.#placed = { state, links, reported, members };
    return state;
  }

  /** The last {@linkcode #placing} and what it was worked out from. */
  #placed:
    | { state: PlacementState; links: number; reported: unknown; members: unknown }
    | undefined;

  /** IDs of the checks paused through {@linkcode pause}. */
  get paused(): ReadonlySet<string> {
    return this.#paused;
  }

  /**
   * Pauses (`paused` true) or resumes checks by ID: a paused check is left
   * out of every assignment, so monitors stop running it until it is resumed.
   * Pauses are kept in the store, so they survive a restart of the manager.
   */
  async pause(checkIds: string[], paused: boolean): Promise<void> {
    for (const id of checkIds) paused ? this.#paused.add(id) : this.#paused.delete(id);
    try {
      await this.store.setPaused(checkIds, paused);
    } catch (e) {
      if (!(e instanceof StoreFullError)) throw e;
      // in force now; written once the disk has room
      this.#pausesUnsaved = true;
      this.#opts.output.event(
        `${paused ? "Paused" : "Resumed"} ${checkIds.join(", ")}, not saved yet: ${e.message}`,
        { diskFull: e.path },
      );
    }
    this.#redistribute();
  }

  /**
   * Re-reads the configuration. A valid file is applied as a diff (monitors
   * added or removed, assignments resent; monitors restart only the checks
   * that changed); an invalid one is reported and the running one stays.
   */
  async reload(): Promise<{ ok: boolean; error?: string }> {
    let next: Config;
    try {
      next = await loadConfig(this.#opts.configPath);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.#opts.output.event(`Configuration not applied, keeping the running one: ${error}`, {
        error,
      });
      return { ok: false, error };
    }
    const before = new Map(this.#config.monitors.map((m) => [m.name, m]));
    this.#config = next;
    void this.remoteWrite.update(next.remoteWrite ?? []);
    for (const m of next.monitors) {
      const old = before.get(m.name);
      if (old && old.address === m.address) continue;
      if (old) await this.#removeLink(m.name);
      if (this.#serves(m.name)) this.#addLink(m);
    }
    for (const name of before.keys()) {
      if (!next.monitors.some((m) => m.name === name)) await this.#removeLink(name);
    }
    this.#redistribute();
    this.#opts.output.event(
      `Configuration reloaded: ${next.checks.length} checks, ${next.monitors.length} monitors`,
    );
    return { ok: true };
  }

  async #removeLink(name: string) {
    const link = this.#links.get(name);
    this.#links.delete(name);
    this.#linkChanges++;
    this.#linkSetChanges++;
    this.#sent.delete(name);
    await link?.stop();
  }

  /**
   * Polls the configuration file's identity (inode, size, mtime) rather than
   * using `Deno.watchFs`: for every event in the watched directory, Deno opens
   * and closes the file it names, and when the store lives in that directory
   * each close drops this process's POSIX locks on the database and its
   * `-shm`. An outside reader (`sqlite3 -readonly`) then believes it is alone,
   * truncates `-shm`, and the manager dies of SIGBUS. `stat` opens nothing.
   */
  #watch() {
    const path = this.#opts.configPath;
    let last = fileStamp(path);
    this.#watchTimer = setInterval(() => {
      const now = fileStamp(path);
      if (now === last || this.#stopping) return;
      last = now;
      // editors write in steps (truncate, write, rename): act once it settled
      clearTimeout(this.#reloadTimer);
      this.#reloadTimer = setTimeout(() => this.reload(), 300);
    }, CONFIG_POLL_MS);
  }

  /** Closes every link with a goodbye, flushes the output and closes the store. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#statusTimer);
    clearTimeout(this.#spreadTimer);
    clearInterval(this.#watchTimer);
    clearTimeout(this.#reloadTimer);
    clearTimeout(this.#coalesce);
    await stopStep("close the monitor listener", () => this.#listener?.close());
    await stopStep(
      "say goodbye to every monitor",
      () => Promise.all([...this.#links.values()].map((l) => l.stop())),
    );
    await stopStep("leave the cluster", () => this.#cluster?.leave());
    await stopStep("stop the rollups", () => this.history.stop());
    await stopStep("flush remote write", () => this.remoteWrite.stop());
    this.#unsubscribeDiskFull();
    this.#opts.output.flush();
    await stopStep("close the store", () => this.store.close());
  }
}

/**
 * Runs one step of a shutdown; one that takes over a second is logged with
 * what it is, when a second has passed and when it ends, so that a slow stop
 * (a supervisor's SIGKILL after its grace period) names its cause.
 *
 * @example
 * ```ts ignore
 * await stopStep("close the store", () => store.close());
 * ```
 */
export async function stopStep(what: string, step: () => unknown): Promise<void> {
  const t0 = performance.now();
  // said while it waits too: a step that never ends is the one a SIGKILL cuts short
  const slow = setTimeout(() => log.warn("Stopping: still waiting to {what}", { what }), 1_000);
  try {
    await step();
  } finally {
    clearTimeout(slow);
  }
  const ms = performance.now() - t0;
  if (ms > 1_000) log.warn("Stopping: {what} took {s} s", { what, s: (ms / 1000).toFixed(1) });
}

const SPREAD = new WeakMap<Config, boolean>();

/** Whether any check of `config` is placed `spread`, worked out once per configuration. */
function hasSpread(config: Config): boolean {
  let has = SPREAD.get(config);
  if (has === undefined) {
    SPREAD.set(config, has = config.checks.some((c) => c.placement.mode === "spread"));
  }
  return has;
}

/** Runs one sink of {@linkcode Manager.ingest}: a fault there must not reach the others or the ack. */
function sink(name: string, fn: () => void) {
  try {
    fn();
  } catch (e) {
    sinkFailed(name, e);
  }
}

function sinkFailed(name: string, e: unknown) {
  log.error("The {name} sink failed on stored results: {e}", { name, e });
}

/**
 * `results` with their secrets masked. The monitor masked them already, so
 * masking mostly changes nothing: then the results (and the array) are the
 * ones given, not copies.
 */
function maskResults(results: CheckResult[], rules: SecretRules): CheckResult[] {
  let out: CheckResult[] | null = null;
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    if (masked(r, rules)) continue;
    (out ??= results.slice())[i] = maskOutcome(r, rules);
  }
  return out ?? results;
}

/** Whether masking would leave `r` as it is. */
function masked(r: CheckResult, rules: SecretRules): boolean {
  const same = (text: string) => maskSecrets(text, rules) === text;
  if (!same(r.summary) || (r.error !== undefined && !same(r.error))) return false;
  for (const k in r.details) {
    const v = r.details[k];
    if (typeof v === "string" ? !same(v) : Array.isArray(v) && !v.every(same)) return false;
  }
  return true;
}

function assignmentKey(checks: CheckSpec[]): string {
  return checks.map((c) => JSON.stringify(c)).sort().join("\n");
}
