/**
 * Several managers sharing one PostgreSQL: each live manager registers
 * itself with a heartbeat, every manager sees the same list of live ones,
 * each monitor is served by the one {@linkcode Cluster.owner} names
 * (rendezvous hashing, so a manager joining or leaving moves only the
 * monitors it must), and one manager at a time holds the leader lease
 * (a PostgreSQL advisory lock) that alert evaluation and notifications need.
 *
 * - The heartbeat is the database's `now()`, so the managers' clocks need not
 *   agree. A manager whose row is older than `deadAfterMs` (10 s) is dead.
 * - A manager that cannot write its heartbeat for `deadAfterMs − heartbeatMs`
 *   (by its own monotonic clock) gives up its monitors and the lease before
 *   the others count it dead and take them, so two never serve one monitor
 *   for long.
 * - The lease is a session lock held on a connection of its own: when the
 *   leader dies, or its connection does, PostgreSQL releases it and the next
 *   manager to try (every heartbeat) takes it.
 * - So that every manager shows the whole fleet, each reports its links'
 *   state at every heartbeat (table `netmon_cluster_monitors`) and shares
 *   the results it stored ({@linkcode Cluster.shareResults}, `NOTIFY
 *   netmon_results`); the leader's alert evaluation reads them too.
 *
 * @example
 * ```ts ignore
 * import { Cluster } from "./cluster.ts";
 * await using cluster = await Cluster.join("postgres://netmon@127.0.0.1/netmon", {
 *   address: "10.0.0.5:8080",
 * });
 * cluster.onChange(() => console.log("edge-1 is served by", cluster.owner("edge-1")));
 * cluster.onLeadership((leader) => console.log(leader ? "evaluating alerts" : "standing by"));
 * ```
 *
 * @module
 */
import postgres from "postgres";
import { type Clock, realClock, type TimerHandle } from "../shared/clock.ts";
import { errorText } from "../shared/connection.ts";
import { fnv1a32, mix32 } from "../shared/hash.ts";
import { logger } from "../shared/log.ts";
import type { CheckResult } from "../shared/checks.ts";
import type { LinkState } from "./link.ts";

const log = logger("cluster");
const encoder = new TextEncoder();

/** The advisory lock key of the leader lease ("netm"); classid 0 and objid this in `pg_locks`. */
const LEASE_KEY = 0x6e65746d;
/** Serialises the managers' first `CREATE TABLE` (two at once can collide in the catalog). */
const SCHEMA_KEY = 0x6e65746e;
/** The channel on which managers share the results they stored. */
const RESULTS_CHANNEL = "netmon_results";
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
const MAX_NOTIFY_BYTES = 7900;
/**
 * Delay before the client reconnects, in seconds. Short: queries come only
 * every heartbeat, which paces the retries; and the client leaves this
 * timer running after `end()`, so closing waits it out.
 */
const RECONNECT_S = 0.1;
/** Rows of managers dead this long are deleted, so the table does not grow with restarts. */
const FORGET_AFTER_S = 24 * 3600;

/**
 * The cluster could not be joined: a URL that is not PostgreSQL's, or a
 * server that cannot be reached. The message names the URL (without its
 * password) and what to do.
 *
 * @example
 * ```ts
 * import { ClusterError } from "./cluster.ts";
 * const e = new ClusterError("mysql://db/netmon", "the cluster needs a postgres:// URL");
 * console.assert(e.message.startsWith('Cannot join the cluster at "mysql://db/netmon"'));
 * ```
 */
export class ClusterError extends Error {
  /** The URL as shown (password masked). */
  readonly url: string;

  constructor(url: string, reason: string, options?: ErrorOptions) {
    super(`Cannot join the cluster at "${url}": ${reason}`, options);
    this.name = "ClusterError";
    this.url = url;
  }
}

/**
 * A live manager as the registry lists it.
 *
 * @example
 * ```ts
 * import type { ManagerInfo } from "./cluster.ts";
 * const m: ManagerInfo = { id: "a1", address: "10.0.0.5:8080", heartbeatAt: 0, self: true };
 * ```
 */
export interface ManagerInfo {
  id: string;
  /** Where its API listens, as it registered (for "served by" links). */
  address: string;
  /** Its last heartbeat, Unix ms by the database's clock. */
  heartbeatAt: number;
  /** Whether this is the manager asking. */
  self: boolean;
}

/**
 * A monitor's link as the manager serving it last reported it.
 *
 * @example
 * ```ts
 * import type { ReportedMonitor } from "./cluster.ts";
 * declare const state: import("./link.ts").LinkState;
 * const r: ReportedMonitor = { managerId: "a1", state, reportedAt: 0 };
 * ```
 */
export interface ReportedMonitor {
  managerId: string;
  state: LinkState;
  /** Unix ms by the database's clock. */
  reportedAt: number;
}

/** Options of {@linkcode Cluster.join}. */
export interface ClusterOptions {
  /** This manager's ID (default a random UUID; a restarted manager is a new member). */
  id?: string;
  /** Where this manager's API listens, shown to the others (default ""). */
  address?: string;
  /** How often the heartbeat is written and the list re-read (default 2 s). */
  heartbeatMs?: number;
  /** A manager whose heartbeat is older than this is dead (default 10 s). */
  deadAfterMs?: number;
  clock?: Clock;
}

/** `url` with its password masked, for messages. */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.href;
  } catch {
    return url;
  }
}

/**
 * The monitor's owner among `managerIds`: the highest rendezvous score of
 * (monitor, manager), ties to the smaller ID; null when there is none.
 * Removing a manager moves only the monitors it owned; adding one moves to
 * it only the monitors it now scores highest for.
 *
 * @example
 * ```ts
 * import { rendezvousOwner } from "./cluster.ts";
 * const owner = rendezvousOwner("edge-1", ["a", "b", "c"]);
 * console.assert(owner !== null && rendezvousOwner("edge-1", ["c", "a", "b"]) === owner);
 * ```
 */
export function rendezvousOwner(monitorName: string, managerIds: readonly string[]): string | null {
  let best: string | null = null;
  let bestScore = -1;
  for (const id of managerIds) {
    const score = mix32(fnv1a32(`${monitorName}\0${id}`));
    if (score > bestScore || (score === bestScore && best !== null && id < best)) {
      [best, bestScore] = [id, score];
    }
  }
  return best;
}

/** This manager's membership of the cluster. See the module doc. */
export class Cluster implements AsyncDisposable {
  readonly id: string;
  #address: string;
  readonly #url: string;
  readonly #sql: postgres.Sql;
  /** The lease's own connection: the advisory lock belongs to its session. */
  readonly #leaseSql: postgres.Sql;
  readonly #heartbeatMs: number;
  readonly #deadAfterMs: number;
  readonly #clock: Clock;
  #members: ManagerInfo[] = [];
  #leader = false;
  /** Monotonic time of the last heartbeat written. */
  #lastBeat: number;
  #timer: TimerHandle | undefined;
  #ticking: Promise<void> | null = null;
  #left = false;
  #failing = false;
  #reported = new Map<string, ReportedMonitor>();
  #ownStates: () => LinkState[] = () => [];
  #beatListeners = new Set<() => void>();
  #unlisten: (() => Promise<void>) | null = null;
  #sharedListeners = new Set<(results: CheckResult[], monitorName: string) => void>();
  #changeListeners = new Set<(members: ManagerInfo[]) => void>();
  #leaderListeners = new Set<(leader: boolean) => void>();

  private constructor(url: string, options: ClusterOptions) {
    this.id = options.id ?? crypto.randomUUID();
    this.#address = options.address ?? "";
    this.#url = url;
    this.#heartbeatMs = options.heartbeatMs ?? 2_000;
    this.#deadAfterMs = options.deadAfterMs ?? 10_000;
    this.#clock = options.clock ?? realClock;
    this.#lastBeat = this.#clock.now();
    const common = {
      onnotice: () => {},
      connect_timeout: 5,
      // the default recycles connections after 30–60 min, which would drop the lease
      max_lifetime: null,
      // a dead peer is noticed by TCP keepalive within a minute at worst
      keep_alive: 5,
      backoff: () => RECONNECT_S,
    };
    this.#sql = postgres(url, { ...common, max: 2 });
    this.#leaseSql = postgres(url, {
      ...common,
      max: 1,
      // the session that held the lock is gone: so is the lease, at once
      onclose: () => this.#setLeader(false),
    });
  }

  /**
   * Registers this manager in the PostgreSQL at `url` (creating the
   * registry table when missing), reads the live managers and tries for the
   * lease once before it returns; then keeps it all current every
   * `heartbeatMs`. Throws {@linkcode ClusterError} for a bad URL or a server
   * it cannot reach.
   */
  static async join(url: string, options: ClusterOptions = {}): Promise<Cluster> {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new ClusterError(
        shownUrl(url),
        "the cluster needs a postgres:// or postgresql:// URL",
      );
    }
    const c = new Cluster(url, options);
    try {
      await c.#sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${SCHEMA_KEY})`;
        await tx`CREATE TABLE IF NOT EXISTS netmon_cluster_managers (
          id text PRIMARY KEY,
          address text NOT NULL,
          started_at timestamptz NOT NULL DEFAULT now(),
          heartbeat_at timestamptz NOT NULL
        )`;
        await tx`CREATE TABLE IF NOT EXISTS netmon_cluster_monitors (
          name text PRIMARY KEY,
          manager_id text NOT NULL,
          state jsonb NOT NULL,
          reported_at timestamptz NOT NULL
        )`;
      });
      await c.#listen();
    } catch (e) {
      await c.#close();
      throw new ClusterError(
        shownUrl(url),
        `${errorText(e)}; check that the server runs and the URL's user may create tables`,
        { cause: e },
      );
    }
    await c.tick();
    c.#schedule();
    return c;
  }

  /** Where this manager's API listens, as the others see it. */
  get address(): string {
    return this.#address;
  }

  /** Changes {@linkcode address} (e.g. once the API has its port); written at the next heartbeat. */
  set address(address: string) {
    this.#address = address;
  }

  /** The live managers (this one among them while its heartbeat holds), by ID. */
  members(): ManagerInfo[] {
    return this.#members;
  }

  /** The ID of the manager that serves the monitor named `monitorName`, or null when none is live. */
  owner(monitorName: string): string | null {
    return rendezvousOwner(monitorName, this.#members.map((m) => m.id));
  }

  /** Whether this manager serves the monitor named `monitorName`. */
  owns(monitorName: string): boolean {
    return this.owner(monitorName) === this.id;
  }

  /**
   * Sets what this manager reports at every heartbeat: the links it serves,
   * so every manager can show the whole fleet ({@linkcode reported}).
   */
  reportLinks(states: () => LinkState[]): void {
    this.#ownStates = states;
  }

  /** Each monitor's link as the manager serving it last reported it, by monitor name. */
  reported(): ReadonlyMap<string, ReportedMonitor> {
    return this.#reported;
  }

  /**
   * Tells the other managers about results this one stored (PostgreSQL
   * `NOTIFY`), for their live views and the leader's alert evaluation. A
   * result too large for one notification goes without its details; one
   * still too large is not shared (it is in the store all the same).
   */
  async shareResults(results: readonly CheckResult[], monitorName: string): Promise<void> {
    const head =
      encoder.encode(JSON.stringify({ from: this.id, monitor: monitorName, results: [] }))
        .length;
    let batch: string[] = [];
    let size = head;
    const flush = async () => {
      if (batch.length === 0) return;
      const payload = `{"from":${JSON.stringify(this.id)},"monitor":${
        JSON.stringify(monitorName)
      },"results":[${batch.join(",")}]}`;
      batch = [];
      size = head;
      await this.#sql.notify(RESULTS_CHANNEL, payload);
    };
    const bytes = (t: string) => encoder.encode(t).length;
    for (const r of results) {
      let text = JSON.stringify(r);
      if (head + bytes(text) > MAX_NOTIFY_BYTES) text = JSON.stringify({ ...r, details: {} });
      const n = bytes(text);
      if (head + n > MAX_NOTIFY_BYTES) {
        log.debug("Result {seq} of {monitor} too large to share", {
          seq: r.seq,
          monitor: monitorName,
        });
        continue;
      }
      if (size + n + 1 > MAX_NOTIFY_BYTES) await flush();
      batch.push(text);
      size += n + 1;
    }
    await flush();
  }

  /**
   * Calls `cb` with the results other managers share. Returns a function
   * that unsubscribes.
   */
  onSharedResults(cb: (results: CheckResult[], monitorName: string) => void): () => void {
    this.#sharedListeners.add(cb);
    return () => this.#sharedListeners.delete(cb);
  }

  async #listen() {
    await this.#unlisten?.();
    const meta = await this.#sql.listen(RESULTS_CHANNEL, (payload) => this.#onShared(payload));
    this.#unlisten = meta.unlisten;
  }

  #onShared(payload: string) {
    try {
      const msg: { from: string; monitor: string; results: CheckResult[] } = JSON.parse(payload);
      if (msg.from === this.id || this.#left) return;
      for (const cb of this.#sharedListeners) cb(msg.results, msg.monitor);
    } catch (e) {
      log.warn("A shared result could not be read: {e}", { e: errorText(e) });
    }
  }

  /** Whether this manager holds the leader lease (alert evaluation and notifications). */
  get leader(): boolean {
    return this.#leader;
  }

  /** Calls `cb` whenever the set of live managers changes. Returns a function that unsubscribes. */
  onChange(cb: (members: ManagerInfo[]) => void): () => void {
    this.#changeListeners.add(cb);
    return () => this.#changeListeners.delete(cb);
  }

  /** Calls `cb` after every heartbeat, failed or not. Returns a function that unsubscribes. */
  onHeartbeat(cb: () => void): () => void {
    this.#beatListeners.add(cb);
    return () => this.#beatListeners.delete(cb);
  }

  /** Calls `cb` when this manager gains or loses the lease. Returns a function that unsubscribes. */
  onLeadership(cb: (leader: boolean) => void): () => void {
    this.#leaderListeners.add(cb);
    return () => this.#leaderListeners.delete(cb);
  }

  /**
   * One heartbeat now: writes this manager's row, re-reads the live ones and
   * tries for (or confirms) the lease. Runs by itself every `heartbeatMs`;
   * calls that overlap share one run.
   */
  tick(): Promise<void> {
    this.#ticking ??= this.#beat().finally(() => this.#ticking = null);
    return this.#ticking;
  }

  async #beat() {
    if (this.#left) return;
    const deadS = this.#deadAfterMs / 1000;
    try {
      const rows = await this.#sql.begin(async (tx) => {
        await tx`INSERT INTO netmon_cluster_managers (id, address, heartbeat_at)
          VALUES (${this.id}, ${this.#address}, now())
          ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), address = EXCLUDED.address`;
        await tx`DELETE FROM netmon_cluster_managers
          WHERE heartbeat_at < now() - make_interval(secs => ${FORGET_AFTER_S})`;
        const own = this.#ownStates();
        if (own.length) {
          const rows = JSON.stringify(own.map((st) => ({ name: st.name, state: st })));
          // a text parameter: one typed json would be encoded a second time
          await tx`INSERT INTO netmon_cluster_monitors (name, manager_id, state, reported_at)
            SELECT r.name, ${this.id}, r.state::jsonb, now()
            FROM json_to_recordset(${rows}::text::json) AS r(name text, state json)
            ON CONFLICT (name) DO UPDATE SET manager_id = EXCLUDED.manager_id,
              state = EXCLUDED.state, reported_at = EXCLUDED.reported_at`;
        }
        const reported = await tx<
          { name: string; manager_id: string; state: LinkState; at: number }[]
        >`SELECT name, manager_id, state,
            (extract(epoch FROM reported_at) * 1000)::float8 AS at
          FROM netmon_cluster_monitors`;
        this.#reported = new Map(
          reported.map((
            r,
          ) => [r.name, { managerId: r.manager_id, state: r.state, reportedAt: r.at }]),
        );
        return await tx<{ id: string; address: string; at: number }[]>`
          SELECT id, address, (extract(epoch FROM heartbeat_at) * 1000)::float8 AS at
          FROM netmon_cluster_managers
          WHERE heartbeat_at > now() - make_interval(secs => ${deadS})
          ORDER BY id`;
      });
      this.#lastBeat = this.#clock.now();
      if (this.#failing) {
        log.info("Cluster heartbeat works again");
        // the client re-listens once after a lost connection; an outage may outlast that
        await this.#listen().catch((e) =>
          log.warn("Shared results not received: {e}", { e: errorText(e) })
        );
      }
      this.#failing = false;
      this.#setMembers(
        rows.map((r) => ({
          id: r.id,
          address: r.address,
          heartbeatAt: r.at,
          self: r.id === this.id,
        })),
      );
    } catch (e) {
      if (this.#left) return;
      if (!this.#failing) {
        log.warn("Cluster heartbeat to {url} failed: {e}", {
          url: shownUrl(this.#url),
          e: errorText(e),
        });
      }
      this.#failing = true;
      // step down before the others count this manager dead and take its monitors
      if (this.#clock.now() - this.#lastBeat >= this.#deadAfterMs - this.#heartbeatMs) {
        this.#setMembers([]);
      }
    }
    await this.#tryLease();
    if (!this.#left) { for (const cb of this.#beatListeners) cb(); }
  }

  async #tryLease() {
    if (this.#left) return;
    if (this.#members.length === 0) {
      // not live in the registry: no business evaluating alerts
      if (this.#leader) await this.#releaseLease();
      return;
    }
    try {
      // the session may hold the lock already (a second try would stack it)
      const [row] = await this.#leaseSql<{ held: boolean }[]>`
        SELECT CASE WHEN EXISTS (
          SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
            AND classid = 0 AND objid::text::bigint = ${LEASE_KEY} AND objsubid = 1 AND granted
        ) THEN true ELSE pg_try_advisory_lock(${LEASE_KEY}) END AS held`;
      this.#setLeader(row?.held === true);
    } catch (e) {
      log.debug("Leader lease check failed: {e}", { e: errorText(e) });
      this.#setLeader(false);
    }
  }

  async #releaseLease() {
    this.#setLeader(false);
    await this.#leaseSql`SELECT pg_advisory_unlock_all()`.catch(() => {});
  }

  #setMembers(next: ManagerInfo[]) {
    const key = (ms: ManagerInfo[]) => ms.map((m) => m.id).join("\n");
    const changed = key(next) !== key(this.#members);
    this.#members = next;
    if (changed) { for (const cb of this.#changeListeners) cb(next); }
  }

  #setLeader(leader: boolean) {
    if (leader === this.#leader) return;
    this.#leader = leader;
    if (!this.#left) log.info(leader ? "This manager leads the cluster" : "Leader lease lost");
    for (const cb of this.#leaderListeners) cb(leader);
  }

  #schedule() {
    if (this.#left) return;
    this.#timer = this.#clock.setTimeout(async () => {
      await this.tick();
      this.#schedule();
    }, this.#heartbeatMs);
  }

  async #close() {
    await Promise.all([this.#sql.end({ timeout: 1 }), this.#leaseSql.end({ timeout: 1 })]);
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_S * 1000 + 50));
  }

  /**
   * Leaves the cluster: deletes this manager's row (the others move its
   * monitors at their next heartbeat rather than after `deadAfterMs`),
   * releases the lease and closes the connections.
   */
  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    this.#clock.clearTimeout(this.#timer);
    await this.#ticking;
    this.#setLeader(false);
    this.#members = [];
    await this.#sql`DELETE FROM netmon_cluster_managers WHERE id = ${this.id}`.catch(() => {});
    await this.#close();
  }

  /** {@linkcode leave}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.leave();
  }
}
