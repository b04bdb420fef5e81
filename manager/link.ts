/**
 * The manager's link to one monitor: dials it, authenticates both ways,
 * sends its assignment, stores and acknowledges its results, and keeps the
 * connection alive. A dead or partitioned monitor is noticed by the
 * heartbeat within `DEAD_AFTER_MS` (2.5 s); the link then retries with
 * jittered exponential backoff capped at 0.6 s, so that a monitor whose
 * network returns is online again within 2 s. A process has at most
 * `DIAL_SLOTS` (128) connects and handshakes in flight (`dial_slots.ts`), so
 * a manager starting with thousands of monitors dials them in turn.
 *
 * Results are stored under the epoch of the monitor's `hello` and each frame
 * is acknowledged by its range of sequence numbers once stored (see
 * `shared/protocol.ts`). Two links whose monitors claim one monitor ID are
 * both stored (their epochs differ) and both show a warning in `lastError`;
 * a second link with the same ID and the same epoch (a copied data
 * directory) is refused, so that neither's results are taken for the other's.
 *
 * @example
 * ```ts ignore
 * import { MonitorLink } from "./link.ts";
 * const link = new MonitorLink(monitorConfig, deps);
 * link.start();
 * ```
 *
 * @module
 */
import type { CheckResult, CheckSpec } from "../shared/checks.ts";
import type { MonitorConfig } from "../shared/config.ts";
import { jitteredBackoff } from "../shared/backoff.ts";
import { type Clock, realClock } from "../shared/clock.ts";
import { errorText, FramedConn, type Transport } from "../shared/connection.ts";
import { dialTls, TlsVerifyError } from "../shared/tls.ts";
import { handshake, HandshakeError, type MonitorFields } from "../shared/handshake.ts";
import { ASSIGN_PART_BYTES, type Message, type SpoolReport } from "../shared/protocol.ts";
import { logger } from "../shared/log.ts";
import { type ResultStore, StoreFullError } from "./store.ts";
import { type RejectReason, ResultGuard } from "./result_guard.ts";
import { dialSlots } from "./dial_slots.ts";

const log = logger("link");

/** What the status display shows for a monitor. */
export type LinkStatus = "Offline" | "Online" | "Reconnecting";

/** A snapshot of one link for displays and the API. */
export interface LinkState {
  name: string;
  /** The address dialed, or "dial-in" for a monitor that dials in (stable, as a metric label). */
  address: string;
  /** Who opens the connection: the manager ("dialed") or the monitor ("dialed in", `--connect`). */
  direction: "dialed" | "dialed in";
  /** The peer's address on the current or last connection, or null before the first. */
  remoteAddress: string | null;
  status: LinkStatus;
  /** The monitor's own ID, once it has said hello. */
  monitorId: string | null;
  /**
   * The name the monitor gives itself in its hello (its `--name`, else its
   * host name), or null before one. A detail only: {@linkcode name}, the
   * configuration's, is the monitor's name everywhere.
   */
  reportedName: string | null;
  /** Why the last connection or attempt failed. */
  lastError: string | null;
  /** Wall-clock time of the last status change (epoch ms). */
  since: number;
  /** Wall-clock time of the last frame from the monitor (epoch ms), or null. */
  lastSeen: number | null;
  /** Results the monitor holds that this manager has not stored yet, as of the last frame. */
  heldBack: number;
  /** Results stored from this monitor since the manager started. */
  received: number;
  /** The monitor's own report of its spool, or null until it sends one. */
  spool: SpoolReport | null;
  /** Results acknowledged but not stored, by why (see `result_guard.ts`). */
  rejected?: Readonly<Record<RejectReason, number>>;
}

/** What a link needs from the manager. */
export interface LinkDeps {
  managerId: string;
  token: string;
  store: ResultStore;
  /** The checks this monitor should run now. */
  assignment: (link: MonitorLink) => CheckSpec[];
  /**
   * Every check this monitor may have run under the configuration, whoever
   * placed it there: its backlog can hold results of checks that an earlier
   * manager process assigned, before this one has sent anything (default:
   * {@linkcode assignment}).
   */
  eligible?: (link: MonitorLink) => CheckSpec[];
  /** Masks the secrets of results before they are stored (see `shared/secrets.ts`). */
  maskResults?: (results: CheckResult[]) => CheckResult[];
  /**
   * Stores a frame's results once and hands the new ones to the manager's
   * sinks (see `Manager.ingest`); resolves with the new ones. Rejects with
   * `StoreFullError` when nothing was stored.
   */
  ingest: (link: MonitorLink, results: CheckResult[], epoch: number) => Promise<CheckResult[]>;
  /** Called on every status change. */
  onStatus: (link: MonitorLink, previous: LinkStatus) => void;
  /** Called when an assignment was sent, with the targets in it. */
  onAssigned?: (link: MonitorLink, checks: CheckSpec[]) => void;
  /**
   * Whether this manager is the monitor's rightful one, and so takes it from
   * any other manager connected to it, even one that took it from this one
   * (in a cluster, placement decides; default: no, a manager that was
   * replaced asks rather than takes, so two managers never fight over one).
   */
  rightful?: () => boolean;
  /** Time for timeouts, heartbeats, backoff and timestamps (default: the real clock). */
  clock?: Clock;
}

/**
 * Connect attempts are abandoned after this long. A SYN (or ARP request) lost
 * to a partition is only resent after 1 s, so a fresh attempt after the
 * network returns beats waiting out a longer timeout: worst case is this plus
 * the backoff cap, under the 2 s in which a returning monitor must be online.
 */
const CONNECT_TIMEOUT_MS = 1000;
/** Retry delays grow from BASE to CAP, each randomised to 50–100 % (see {@linkcode backoff}). */
export const BACKOFF_BASE_MS = 100;
/** The longest wait between two connect attempts (after a failure, not a refusal). */
export const BACKOFF_CAP_MS = 600;
/** Retry delay after the monitor refused us (another manager, wrong token). */
const REFUSED_RETRY_MS = 5000;
/** How often a results frame the store had no room for is tried again. */
const STORE_RETRY_MS = 1000;
/**
 * Result frames held while the store's disk is full before the link stops
 * reading: a monitor sends at most a few unacknowledged frames (its flow
 * control), so this bounds only one that does not keep to it.
 */
const HELD_FRAMES_MAX = 16;

/** One monitor's connection, kept alive for the life of the manager. */
export class MonitorLink {
  readonly config: MonitorConfig;
  #deps: LinkDeps;
  #state: LinkState;
  #fc: FramedConn | undefined;
  #stopped = false;
  /** Aborted by {@linkcode stop}: a link waiting for a dial slot leaves the queue. */
  #stopping = new AbortController();
  #wake: (() => void) | undefined;
  #rev = 0;
  /** The spool epoch of the current session's monitor, and its number in the store. */
  #epoch = "";
  #epochId = 0;
  /** Monitor IDs other than the hello's whose results arrived on this session (already warned). */
  #foreign = new Set<string>();
  /** Set when another manager took the monitor over; we then ask rather than take. */
  #yielded = false;
  #loop: Promise<void> | undefined;
  #wasOnline = false;
  /** Result frames of this session not stored yet for a full disk, oldest first. */
  #held: CheckResult[][] = [];
  /** The session of the connection a dialing-in monitor opened, while it runs. */
  #adopted: Promise<void> | undefined;
  readonly #guard: ResultGuard;
  #admitted = new WeakMap<CheckResult[], CheckResult[]>();
  readonly #clock: Clock;

  constructor(config: MonitorConfig, deps: LinkDeps) {
    this.config = config;
    this.#deps = deps;
    this.#clock = deps.clock ?? realClock;
    this.#state = {
      name: config.name,
      address: config.dialIn ? "dial-in" : config.address,
      direction: config.dialIn ? "dialed in" : "dialed",
      remoteAddress: null,
      status: "Offline",
      monitorId: null,
      reportedName: null,
      lastError: null,
      since: this.#clock.wallNow(),
      lastSeen: null,
      heldBack: 0,
      received: 0,
      spool: null,
    };
    this.#guard = new ResultGuard({
      name: config.name,
      address: config.address,
      clock: this.#clock,
    });
  }

  /** Where the monitor is, for logs: the address dialed, or the one it dialed in from. */
  get #where(): string {
    return this.config.dialIn ? this.#state.remoteAddress ?? "dial-in" : this.config.address;
  }

  /** A copy of the link's current state. */
  get state(): LinkState {
    return { ...this.#state, rejected: this.#guard.rejected };
  }

  /** The link's status, without copying its state. */
  get status(): LinkStatus {
    return this.#state.status;
  }

  /** Why the last connection or attempt failed, without copying the state. */
  get lastError(): string | null {
    return this.#state.lastError;
  }

  /** Whether the monitor is connected and authenticated. */
  get online(): boolean {
    return this.#state.status === "Online";
  }

  /** Starts the connect loop (a monitor that dials in is waited for instead). */
  start(): void {
    if (this.config.dialIn) return;
    this.#loop ??= this.#run();
  }

  /**
   * Serves a connection from a monitor that dialed in and has completed the
   * handshake (see `manager/monitor_listener.ts`), replacing any earlier
   * connection of this link. Resolves when the connection ends.
   */
  async adopt(
    fc: FramedConn,
    messages: AsyncGenerator<Message>,
    hello: MonitorFields,
  ): Promise<void> {
    const old = this.#fc;
    if (old && !old.closed) {
      await old.goodbye(`replaced by a new connection from ${fc.peer}`, "replaced");
      await this.#adopted;
    }
    if (this.#stopped) {
      await fc.goodbye("manager shutting down", "shutdown");
      return;
    }
    this.#fc = fc;
    this.#state.remoteAddress = fc.peer;
    const served = this.#serve(fc, messages, hello).catch((e) => {
      if (!this.#stopped) this.#setStatus("Offline", errorText(e));
    });
    this.#adopted = served;
    await served;
  }

  /** Sends the current assignment now, if connected. */
  async assign(): Promise<void> {
    const fc = this.#fc;
    if (!fc || fc.closed || !this.online) return;
    const checks = this.#deps.assignment(this);
    this.#guard.assigned(this.#deps.eligible?.(this) ?? checks);
    const rev = ++this.#rev;
    const parts = splitBySize(checks, ASSIGN_PART_BYTES);
    for (let i = 0; i < parts.length; i++) {
      const more = i < parts.length - 1;
      if (!await fc.send({ t: "assign", rev, checks: parts[i]!, ...(more ? { more } : {}) })) {
        return;
      }
    }
    this.#deps.onAssigned?.(this, checks);
  }

  /** Asks the monitor to run a check now. Returns false when not connected. */
  runNow(checkId: string): Promise<boolean> {
    const fc = this.#fc;
    if (!fc || fc.closed || !this.online) return Promise.resolve(false);
    return fc.send({ t: "run", checkId });
  }

  /** Closes the connection with a goodbye and stops reconnecting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort(new Error("manager stopped"));
    this.#wake?.();
    await this.#fc?.goodbye("manager shutting down", "shutdown");
    await this.#loop;
    await this.#adopted;
    if (this.config.dialIn) this.#setStatus("Offline", "manager stopped");
  }

  #setStatus(status: LinkStatus, error: string | null = this.#state.lastError) {
    const previous = this.#state.status;
    const previousError = this.#state.lastError;
    this.#state.lastError = error;
    // a new reason while still down is news too (e.g. refused for a new cause)
    if (previous === status && previousError === error) return;
    this.#state.status = status;
    this.#state.since = this.#clock.wallNow();
    this.#deps.onStatus(this, previous);
  }

  get #rightful(): boolean {
    return this.#deps.rightful?.() ?? false;
  }

  async #run() {
    let failures = 0;
    while (!this.#stopped) {
      let retryMs: number;
      try {
        await this.#session();
        failures = 0;
        retryMs = 0;
      } catch (e) {
        const refused = e instanceof RefusedError;
        if (!this.#stopped) {
          this.#setStatus(refused ? "Offline" : "Reconnecting", errorText(e));
        }
        if (this.#wasOnline) failures = 0;
        this.#wasOnline = false;
        failures++;
        retryMs = refused ? REFUSED_RETRY_MS : backoff(failures);
      }
      if (this.#stopped) break;
      if (this.#yielded && !this.#rightful) retryMs = Math.max(retryMs, REFUSED_RETRY_MS);
      await new Promise<void>((resolve) => {
        const t = this.#clock.setTimeout(resolve, retryMs);
        this.#wake = () => {
          this.#clock.clearTimeout(t);
          resolve();
        };
      });
    }
    this.#setStatus("Offline", "manager stopped");
  }

  /** One connection, from dial to close. Throws why it ended. */
  async #session(): Promise<void> {
    const release = await dialSlots.acquire(this.#stopping.signal);
    let dialed: Dialed | undefined;
    try {
      dialed = await this.#dial();
    } finally {
      release();
    }
    if (dialed) await this.#serve(dialed.fc, dialed.messages, dialed.hello);
  }

  /**
   * Connects and runs the handshake, within one of the process's dial slots.
   * Resolves with the session to serve, or undefined when the link stopped
   * meanwhile; throws why the attempt failed.
   */
  async #dial(): Promise<Dialed | undefined> {
    const { host, port, tls } = this.config;
    const abort = new AbortController();
    const connectTimer = this.#clock.setTimeout(
      () => abort.abort(new DOMException("connect timed out", "TimeoutError")),
      CONNECT_TIMEOUT_MS,
    );
    const signal = abort.signal;
    let conn: Transport;
    try {
      if (tls) {
        conn = (await dialTls(host, port, tls, signal)).transport;
      } else {
        const tcp = await Deno.connect({ hostname: host, port, signal });
        tcp.setKeepAlive(true);
        // acks are small frames that must not wait for a delayed TCP ack (Nagle)
        tcp.setNoDelay(true);
        conn = tcp;
      }
    } catch (e) {
      if (e instanceof DOMException && e.name === "TimeoutError") {
        throw new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`);
      }
      if (e instanceof TlsVerifyError) throw new RefusedError(e.message, "tls");
      throw e;
    } finally {
      this.#clock.clearTimeout(connectTimer);
    }
    const fc = new FramedConn(conn, this.config.address, { clock: this.#clock });
    this.#state.remoteAddress = this.config.address;
    this.#fc = fc;
    if (this.#stopped) {
      fc.close("manager stopping");
      return undefined;
    }
    const messages = fc.messages();
    let hello: MonitorFields;
    try {
      const done = await handshake(fc, messages, {
        side: "dialer",
        token: this.#deps.token,
        fields: {
          role: "manager",
          managerId: this.#deps.managerId,
          takeover: this.#rightful || !this.#yielded,
        },
        clock: this.#clock,
      });
      if (done.peer.role !== "monitor") throw new Error("unreachable: the peer is a monitor");
      hello = done.peer;
    } catch (e) {
      if (!(e instanceof HandshakeError)) throw e;
      if (e.code === "closed" && tls && !tls.clientCert) {
        // a monitor that demands a client certificate ends the TLS handshake this way
        throw new Error(
          `the monitor closed the TLS connection before its hello (${e.message}); ` +
            `if it requires a client certificate, set client_cert and client_key for it in tasks.yaml`,
        );
      }
      if (e.code === "closed" || e.code === "shutdown") throw new Error(e.message);
      // a version mismatch is logged once per attempt and retried slowly: never a crash loop
      if (e.code === "protocol") {
        log.error("{address}: {reason}", { address: this.config.address, reason: e.message });
      }
      throw new RefusedError(e.message, e.code);
    }
    return { fc, messages, hello };
  }

  /** The session after a completed handshake, dialed or dialed in. Throws why it ended. */
  async #serve(fc: FramedConn, messages: AsyncGenerator<Message>, hello: MonitorFields) {
    const twin = claimsOf(this.#deps.store, hello.monitorId).find((l) =>
      l !== this && l.online && l.#epoch === hello.epoch
    );
    if (twin) {
      throw await this.#fail(
        fc,
        `monitor ID ${hello.monitorId} and its spool epoch are also those of the monitor ` +
          `${twin.config.name} at ${twin.#where}: a copied data directory? ` +
          `Give each monitor its own`,
      );
    }
    this.#yielded = false;
    // a monitor that reconnects keeps its spool: one store write per epoch, not per session
    if (hello.epoch !== this.#epoch || this.#epochId === 0) {
      this.#epoch = hello.epoch;
      this.#epochId = 0;
      this.#epochId = await this.#deps.store.epochId(hello.epoch);
    }
    this.#foreign.clear();
    Object.assign(this.#state, {
      monitorId: hello.monitorId,
      reportedName: hello.name,
      lastSeen: this.#clock.wallNow(),
      heldBack: 0,
    });
    this.#wasOnline = true;
    // the backlog arrives before this session's first assignment
    this.#guard.assigned(this.#deps.eligible?.(this) ?? this.#deps.assignment(this));
    this.#setStatus("Online", null);
    log.info("Connected to {address} (monitor {id}, spool epoch {epoch}, at result {seq})", {
      address: this.#where,
      id: hello.monitorId,
      epoch: hello.epoch,
      seq: hello.lastSeq,
    });
    const claims = claimsOf(this.#deps.store, hello.monitorId);
    claims.push(this);
    try {
      warnClaims(claims);
      await this.assign();
      this.#held = [];
      for await (const msg of messages) {
        this.#state.lastSeen = this.#clock.wallNow();
        if (msg.t === "results") {
          if (this.#held.length > 0 || !(await this.#onResults(fc, msg.results))) {
            await this.#hold(fc, msg.results);
          }
          // a socket with data always ready would otherwise run on in microtasks and starve the
          // other monitors' sockets (and their heartbeats) under load: yield to the event loop
          await new Promise((r) => setTimeout(r, 0));
        } else if (msg.t === "stats") {
          const { pending, dropped, diskFull } = msg;
          this.#state.spool = { pending, dropped, diskFull };
          this.#state.heldBack = pending;
        } else fc.close(`unexpected ${msg.t} message`);
      }
    } finally {
      claims.splice(claims.indexOf(this), 1);
      warnClaims(claims);
    }
    throw closedError(fc, (code) => {
      if (code === "replaced") this.#yielded = true;
    });
  }

  /**
   * Shows (or clears, with null) the warning that another link claims this
   * monitor's ID. Called by the other links of the same manager.
   */
  warnTwin(warning: string | null): void {
    if (!this.online || this.#state.lastError === warning) return;
    if (warning) log.warn("{address}: {warning}", { address: this.#where, warning });
    this.#setStatus("Online", warning);
  }

  /** Stores and acknowledges a results frame; false when the store's disk is full (nothing acknowledged). */
  async #onResults(fc: FramedConn, results: CheckResult[]): Promise<boolean> {
    if (results.length === 0) return true;
    // rejected results are acknowledged with the frame, so that the monitor forgets them
    const [from, to] = [results[0]!.seq, results[results.length - 1]!.seq];
    // a frame held for a full disk comes back here: judge (and count) it once
    let admitted = this.#admitted.get(results);
    if (!admitted) this.#admitted.set(results, admitted = this.#guard.admit(results));
    results = admitted;
    const monitorId = this.#state.monitorId!;
    for (const r of results) {
      if (r.monitorId === monitorId || this.#foreign.has(r.monitorId)) continue;
      // the epoch is the monitor's spool, whatever ID its results were measured under
      this.#foreign.add(r.monitorId);
      log.warn(
        "{address}: results of monitor {other} arrive from monitor {id} (its monitor-id " +
          "changed while it held them); stored under {other}",
        { address: this.#where, other: r.monitorId, id: monitorId },
      );
    }
    let fresh: CheckResult[];
    try {
      fresh = await this.#deps.ingest(
        this,
        this.#deps.maskResults?.(results) ?? results,
        this.#epochId,
      );
    } catch (e) {
      if (e instanceof StoreFullError) return false;
      throw e;
    }
    this.#state.received += fresh.length;
    fc.send({ t: "ack", from, to });
    return true;
  }

  /**
   * Holds a results frame the store had no room for: the held frames are
   * tried again every {@linkcode STORE_RETRY_MS}, in order, and acknowledged
   * only once stored, while the connection stays up (heartbeats are still
   * read). Past {@linkcode HELD_FRAMES_MAX} held frames this waits for room
   * before reading on. What a closed connection held, the monitor replays.
   */
  async #hold(fc: FramedConn, results: CheckResult[]) {
    const held = this.#held;
    held.push(results);
    if (held.length === 1) {
      (async () => {
        while (held.length > 0 && !fc.closed) {
          await new Promise<void>((r) => this.#clock.setTimeout(() => r(), STORE_RETRY_MS));
          while (held.length > 0 && !fc.closed && await this.#onResults(fc, held[0]!)) held.shift();
        }
        held.length = 0;
      })().catch((e) => fc.close(`storing results failed: ${errorText(e)}`));
    }
    while (held.length > HELD_FRAMES_MAX && !fc.closed) {
      await new Promise<void>((r) => this.#clock.setTimeout(() => r(), STORE_RETRY_MS / 10));
    }
  }

  async #fail(fc: FramedConn, reason: string, code: "auth" | "protocol" = "protocol") {
    await fc.goodbye(reason, code);
    return new RefusedError(reason, code);
  }
}

/** A connection whose handshake is done, and the monitor's hello. */
interface Dialed {
  fc: FramedConn;
  messages: AsyncGenerator<Message>;
  hello: MonitorFields;
}

/** The online links by the monitor ID they claim, per store (one manager). */
const CLAIMS = new WeakMap<ResultStore, Map<string, MonitorLink[]>>();

function claimsOf(store: ResultStore, monitorId: string): MonitorLink[] {
  let byId = CLAIMS.get(store);
  if (!byId) CLAIMS.set(store, byId = new Map());
  let links = byId.get(monitorId);
  if (!links) byId.set(monitorId, links = []);
  return links;
}

/** Warns every link in `claims` (one monitor ID) about the others, or clears the warning. */
function warnClaims(claims: MonitorLink[]) {
  for (const link of claims) {
    const others = claims.filter((l) => l !== link).map((l) =>
      `${l.config.name} at ${l.state.remoteAddress ?? l.state.address}`
    );
    link.warnTwin(
      others.length === 0 ? null : `monitor ID ${link.state.monitorId} is also claimed by ` +
        `${others.join(", ")}: both are stored, but give each monitor its own data directory`,
    );
  }
}

/** The monitor (or we) ended the handshake on purpose: retry slowly. */
class RefusedError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = "RefusedError";
    this.code = code;
  }
}

function closedError(fc: FramedConn, onCode?: (code: string) => void): Error {
  const code = fc.peerByeCode;
  if (code) onCode?.(code);
  const reason = fc.closed?.reason ?? "connection closed";
  if (code === "auth" || code === "busy" || code === "replaced") {
    return new RefusedError(reason, code);
  }
  return new Error(reason);
}

/** Splits `items` into runs whose JSON is at most about `bytes` long (at least one item each). */
function splitBySize<T>(items: T[], bytes: number): T[][] {
  const parts: T[][] = [[]];
  let size = 0;
  for (const item of items) {
    const n = JSON.stringify(item).length + 1;
    if (size + n > bytes && parts[parts.length - 1]!.length > 0) {
      parts.push([]);
      size = 0;
    }
    parts[parts.length - 1]!.push(item);
    size += n;
  }
  return parts;
}

/**
 * The wait before reconnect attempt `failures` + 1: growing from
 * {@linkcode BACKOFF_BASE_MS} to {@linkcode BACKOFF_CAP_MS}, each randomised
 * to 50–100 % so that links cut together do not all redial at once.
 *
 * @example
 * ```ts
 * import { BACKOFF_CAP_MS, backoff } from "./link.ts";
 * console.assert(backoff(20, () => 1) === BACKOFF_CAP_MS && backoff(1, () => 0) === 100);
 * ```
 */
export function backoff(failures: number, random: () => number = Math.random): number {
  return jitteredBackoff(failures, { baseMs: BACKOFF_BASE_MS, capMs: BACKOFF_CAP_MS, random });
}
