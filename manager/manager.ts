/**
 * The manager process: holds the configuration, keeps a {@linkcode MonitorLink}
 * to every monitor, decides which monitor runs which check (`all`, a chosen
 * set, or `spread` over the online ones), stores results and reports them.
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
import { type Config, ConfigError, parseConfig } from "../shared/config.ts";
import { errorText } from "../shared/connection.ts";
import { logger } from "../shared/log.ts";
import { maskOutcome, secretRulesOfConfig } from "../shared/secrets.ts";
import { type LinkState, type LinkStatus, MonitorLink } from "./link.ts";
import type { Output } from "./output.ts";
import { ResultStore, StoreFullError } from "./store.ts";
import { History, type Retention } from "./rollups.ts";
import { assignedChecks, type PlacementState } from "./placement.ts";

const log = logger("manager");

/** Options for {@linkcode Manager.start}. */
export interface ManagerOptions {
  configPath: string;
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
  readonly managerId = crypto.randomUUID();
  readonly store: ResultStore;
  /** Rollups, retention and history queries over {@linkcode store}. */
  readonly history: History;
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
  #resultListeners = new Set<(r: CheckResult, monitorName: string) => void>();
  #statusListeners = new Set<(state: LinkState, previous: LinkStatus) => void>();

  private constructor(opts: ManagerOptions, config: Config, store: ResultStore) {
    this.#opts = opts;
    this.#config = config;
    this.store = store;
    this.#paused = new Set(store.pausedChecks());
    this.history = new History(store, opts.retention);
    this.history.start();
    this.#spreadTimer = setTimeout(() => {
      this.#spreadSettled = true;
      this.#redistribute();
    }, SPREAD_SETTLE_MS);
    this.#unsubscribeDiskFull = store.onDiskFull((full) => this.#onDiskFull(full));
    for (const m of config.monitors) this.#addLink(m);
    this.#statusTimer = setInterval(() => this.#printStatus(), opts.statusEveryMs ?? 10_000);
    this.#printStatus();
    if (opts.watch ?? true) this.#watch();
  }

  /** Loads the configuration (throws {@linkcode ConfigError}), opens the store and dials every monitor. */
  static async start(opts: ManagerOptions): Promise<Manager> {
    const config = await loadConfig(opts.configPath);
    const store = ResultStore.open(opts.dbPath);
    return new Manager(opts, config, store);
  }

  /** The configuration in force. */
  get config(): Config {
    return this.#config;
  }

  /** Every link's current state, in configuration order. */
  states(): LinkState[] {
    return [...this.#links.values()].map((l) => l.state);
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
    try {
      this.store.savePaused([...this.#paused]);
      this.#pausesUnsaved = false;
    } catch (e) {
      // called as results were stored: a failure here must not undo that
      log.warn("Pauses not saved yet: {e}", { e: errorText(e) });
    }
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
      // a monitor masks what it reports; this also covers one that does not (an older version)
      maskResults: (results) => {
        const rules = secretRulesOfConfig(this.#config);
        return results.map((r) => maskOutcome(r, rules));
      },
      onResults: (l, results) => {
        for (const r of results) {
          out.result(r, l.config.name);
          for (const cb of this.#resultListeners) cb(r, l.config.name);
        }
      },
      onStatus: (l, previous) => this.#onStatus(l, previous),
      onAssigned: (l, checks) => {
        this.#sent.set(l.config.name, assignmentKey(checks));
        for (const target of new Set(checks.map((c) => c.target))) {
          out.distributing(target, l.config.name);
        }
      },
    });
    this.#links.set(m.name, link);
    link.start();
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
    if (this.#stopping) return;
    const s = link.state;
    for (const cb of this.#statusListeners) cb(s, previous);
    const out = this.#opts.output;
    if (s.status === "Online") {
      out.event(
        `Connected to monitoring service at ${s.address} (monitor ID: ${s.monitorId}, name: ${s.remoteName})`,
        { monitor: s.name, status: s.status },
      );
    } else if (previous === "Online") {
      out.event(`Disconnected from ${s.address}: ${s.lastError}. Reconnecting...`, {
        monitor: s.name,
        status: s.status,
      });
    } else if (s.status === "Offline" && s.lastError) {
      out.event(`Monitoring service at ${s.address} refused us: ${s.lastError}`, {
        monitor: s.name,
        status: s.status,
      });
    }
    // both walk every link: with N monitors changing at a (re)start, one pass per 100 ms, not per change
    if (s.status !== previous) this.#statusDue = true;
    // spread checks follow the set of online monitors; one that came online assigns itself
    if ((s.status === "Online") !== (previous === "Online")) {
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
    const links = [...this.#links.values()];
    return {
      config: this.#config,
      monitors: links.map((l) => l.config.name),
      online: links.filter((l) => l.online).map((l) => l.config.name),
      starting: !this.#spreadSettled,
      paused: this.#paused,
    };
  }

  /** IDs of the checks paused through {@linkcode pause}. */
  get paused(): ReadonlySet<string> {
    return this.#paused;
  }

  /**
   * Pauses (`paused` true) or resumes checks by ID: a paused check is left
   * out of every assignment, so monitors stop running it until it is resumed.
   * Pauses are kept in the store, so they survive a restart of the manager.
   */
  pause(checkIds: string[], paused: boolean): void {
    for (const id of checkIds) paused ? this.#paused.add(id) : this.#paused.delete(id);
    try {
      this.store.setPaused(checkIds, paused);
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
    for (const m of next.monitors) {
      const old = before.get(m.name);
      if (old && old.address === m.address) continue;
      if (old) await this.#removeLink(m.name);
      this.#addLink(m);
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
    await Promise.all([...this.#links.values()].map((l) => l.stop()));
    this.history.stop();
    this.#unsubscribeDiskFull();
    this.#opts.output.flush();
    this.store.close();
  }
}

function assignmentKey(checks: CheckSpec[]): string {
  return checks.map((c) => JSON.stringify(c)).sort().join("\n");
}
