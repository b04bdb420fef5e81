/**
 * The monitor process: listens for the manager, proves and checks the shared
 * token, runs the assigned checks on its scheduler, spools every result and
 * streams it to the manager until acknowledged.
 *
 * The last assignment is kept on disk, so a monitor keeps checking while no
 * manager is connected and after its own restart.
 *
 * A session sends nothing before its `welcome`. It then sends live results
 * first and the backlog (everything held at `welcome`) behind them, paced,
 * and forgets a frame's results only when the manager acknowledges that
 * frame; the spool's report (`stats`) follows whenever it changes. See
 * `shared/protocol.ts`.
 *
 * @example
 * ```ts ignore
 * import { Monitor } from "./monitor.ts";
 * const m = await Monitor.start({ hostname: "127.0.0.1", port: 54322, dataDir: "./data" });
 * await m.stop();
 * ```
 *
 * @module
 */
import { jitteredBackoff } from "../shared/backoff.ts";
import { errorText, formatAddr, FramedConn, type Transport } from "../shared/connection.ts";
import { dialTls, listenTlsClientAuth, TlsVerifyError } from "../shared/tls.ts";
import type { MonitorTls } from "../shared/config.ts";
import { handshake, HandshakeError } from "../shared/handshake.ts";
import {
  MAX_RESULTS_PER_FRAME,
  type Message,
  REPLAY_FRAMES_IN_FLIGHT,
  REPLAY_RESULTS_PER_S,
  RESULT_FRAME_BYTES,
} from "../shared/protocol.ts";
import type { CheckSpec, UncheckedSpec } from "../shared/checks.ts";
import { assignable } from "./checks/mod.ts";
import { logger } from "../shared/log.ts";
import { ABANDON_GRACE_MS, Scheduler, type UnsequencedResult } from "./scheduler.ts";
import { PREAUTH_DEADLINE_MS, PreauthSlots, type PreauthTicket } from "./preauth.ts";
import { Spool } from "./spool.ts";
import { loadAssignment, loadOrCreateIdentity, prepareDataDir, saveAssignment } from "./state.ts";

const log = logger("monitor");

/**
 * How long a restarted monitor waits for a manager's assignment before it
 * resumes its saved one. A manager that is up dials again within a second,
 * and may have moved this monitor's `spread` checks to another monitor
 * meanwhile: resuming them at once would run them on two monitors at a time.
 */
const RESUME_GRACE_MS = 2000;

/** Options for {@linkcode Monitor.start}. */
export interface MonitorOptions {
  /** Address to listen on (default 127.0.0.1). */
  hostname?: string;
  port: number;
  /** Directory for the monitor ID, the last assignment and the spool. */
  dataDir: string;
  /** Shared secret with the manager ("" for none). */
  token?: string;
  /** Name shown by the manager (default: this host's name). */
  name?: string;
  /** Spool bound in bytes. */
  spoolMaxBytes?: number;
  /** PEM certificate and key files: the monitor port then speaks TLS. */
  tlsCert?: string;
  tlsKey?: string;
  /** PEM CA file: the manager must then present a client certificate it signed. */
  tlsClientCa?: string;
  /**
   * Managers to dial (`host:port`, `--connect`) instead of listening: the
   * monitor then listens nowhere. With several, it holds one session at a
   * time and dials the others while it has none (a standby manager).
   */
  connect?: string[];
  /**
   * How to verify the manager's certificate when dialing over TLS (`--tls-ca`,
   * `--tls-fingerprint`); `clientCert`/`clientKey` are presented when set.
   * Unset: plain TCP.
   */
  dialTls?: MonitorTls;
}

/** A manager address to dial. */
interface DialTarget {
  host: string;
  port: number;
  address: string;
}

/** Dial-out reconnects back off from 200 ms to 2 s, each delay randomised to 50–100 %. */
const DIAL_BACKOFF = { baseMs: 200, capMs: 2000 };
/** After a refusal (wrong token, no common protocol version, busy), the next dial waits this long. */
const DIAL_REFUSED_MS = 10_000;
/** Connect attempts are abandoned after this long. */
const DIAL_TIMEOUT_MS = 3000;

/** `host:port` or `[v6]:port` split; throws {@linkcode MonitorConnectError}. */
export function parseConnect(address: string): DialTarget {
  const m = address.match(/^\[([^\]]+)\]:(\d+)$/) ?? address.match(/^([^:\[\]]+):(\d+)$/);
  const port = Number(m?.[2]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new MonitorConnectError(
      `--connect ${address}: give the manager's --listen-monitors address as HOST:PORT (or [v6]:PORT)`,
    );
  }
  return { host: m[1]!, port, address };
}

/** A `--connect` address that cannot be used. */
export class MonitorConnectError extends Error {
  /** @param message what is wrong and what to give instead */
  constructor(message: string) {
    super(message);
    this.name = "MonitorConnectError";
  }
}

/** Where accepted connections come from: plain TCP, Deno's TLS, or TLS with client certificates. */
interface Acceptor extends AsyncIterable<{ conn: Transport; hostname: string; port: number }> {
  readonly addr: Deno.NetAddr;
  close(): void;
}

async function listen(opts: MonitorOptions): Promise<Acceptor> {
  const hostname = opts.hostname ?? "127.0.0.1";
  if (!opts.tlsCert && !opts.tlsKey) return fromDeno(Deno.listen({ hostname, port: opts.port }));
  const cert = await Deno.readTextFile(opts.tlsCert ?? "");
  const key = await Deno.readTextFile(opts.tlsKey ?? "");
  if (opts.tlsClientCa) {
    const ca = await Deno.readTextFile(opts.tlsClientCa);
    const l = await listenTlsClientAuth({ hostname, port: opts.port, cert, key, ca });
    return {
      addr: l.addr,
      close: () => l.close(),
      async *[Symbol.asyncIterator]() {
        for await (const a of l) yield { conn: a.transport, hostname: a.hostname, port: a.port };
      },
    };
  }
  return fromDeno(Deno.listenTls({ hostname, port: opts.port, cert, key }));
}

function fromDeno(l: Deno.Listener): Acceptor {
  return {
    addr: l.addr as Deno.NetAddr,
    close: () => l.close(),
    async *[Symbol.asyncIterator]() {
      for await (const conn of l) {
        if ("setKeepAlive" in conn && typeof conn.setKeepAlive === "function") {
          conn.setKeepAlive(true);
        }
        // a frame's last segment must not wait for the manager's delayed TCP ack (Nagle)
        if ("setNoDelay" in conn && typeof conn.setNoDelay === "function") conn.setNoDelay(true);
        const r = conn.remoteAddr as Deno.NetAddr;
        yield { conn, hostname: r.hostname, port: r.port };
      }
    },
  };
}

/** Result frames sent but not yet acknowledged, at most, per connection. */
const MAX_FRAMES_IN_FLIGHT = 4;
/** Backlog results the replay may send in one burst (100 ms at its rate). */
const REPLAY_BURST = REPLAY_RESULTS_PER_S / 10;
/** The replay waits until it may send at least this many results, not one frame per token. */
const REPLAY_MIN_FRAME = 100;
/** The spool report goes to the manager at most this often, when it changed. */
const STATS_EVERY_MS = 1000;

/** Failed handshakes from one address within this window slow its next ones down. */
const AUTH_FAILURE_WINDOW_MS = 60_000;
/** The delay before answering an address grows by this much per recent failure, up to the cap. */
const AUTH_PENALTY_STEP_MS = 500;
const AUTH_PENALTY_CAP_MS = 10_000;

interface Session {
  fc: FramedConn;
  managerId: string;
  /** Results numbered up to this before the session began are its backlog, sent behind live ones. */
  backlogTo: number;
  /** Highest backlog sequence number sent on this session. */
  replayCursor: number;
  /** Highest live (numbered since the session began) sequence number sent. */
  liveCursor: number;
  /** Result frames sent and not yet acknowledged, by their range of sequence numbers. */
  inFlight: { from: number; to: number; replay: boolean }[];
  /** Results the replay may send now, refilled at its rate. */
  replayTokens: number;
  replayRefilledAt: number;
  /** The spool report last sent, as JSON. */
  stats: string;
  /** An assignment arriving in parts. */
  assigning?: { rev: number; checks: UncheckedSpec[] };
}

/** A running monitor. */
export class Monitor {
  readonly id: string;
  /** Where the monitor listens; undefined when it dials out (`connect`). */
  readonly listener: Acceptor | undefined;
  readonly scheduler: Scheduler;
  readonly spool: Spool;
  #opts: MonitorOptions;
  #session: Session | undefined;
  #buffer: UnsequencedResult[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #resumeTimer: ReturnType<typeof setTimeout> | undefined;
  #pumping = false;
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;
  #statsTimer: ReturnType<typeof setInterval>;
  #stopping = false;
  #acceptLoop: Promise<void>;
  /** Connections being dialed and not yet sessions, closed on stop. */
  #dialing = new Set<FramedConn>();
  #wakeDialers = new Set<() => void>();

  #preauth = new PreauthSlots();
  /** Connections being served, awaited at stop so that none outlives the monitor. */
  #handlers = new Set<Promise<void>>();
  #authFailures = new Map<string, number[]>();

  private constructor(
    opts: MonitorOptions,
    id: string,
    listener: Acceptor | undefined,
    spool: Spool,
  ) {
    this.#opts = opts;
    this.id = id;
    this.listener = listener;
    this.spool = spool;
    this.scheduler = new Scheduler({ monitorId: id, onResult: (r) => this.#onResult(r) });
    this.#statsTimer = setInterval(() => this.#sendStats(), STATS_EVERY_MS);
    this.#acceptLoop = listener
      ? this.#accept(listener)
      : Promise.all((opts.connect ?? []).map((a) => this.#dial(parseConnect(a)))).then(() => {});
  }

  /** Loads state from `dataDir`, starts listening and resumes the last assignment. */
  static async start(opts: MonitorOptions): Promise<Monitor> {
    await prepareDataDir(opts.dataDir);
    const id = await loadOrCreateIdentity(opts.dataDir);
    const spool = Spool.open(`${opts.dataDir}/spool.db`, {
      maxBytes: opts.spoolMaxBytes,
      onDrop: (n, total) =>
        log.warn("Spool full: dropped the {n} oldest unacknowledged results ({total} so far)", {
          n,
          total,
        }),
      onDiskFull: (full) => {
        if (full) {
          log.warn("Spool: {full}; holding results in memory until space returns", { full });
        } else log.info("Spool: space returned; results held in memory are written");
      },
    });
    for (const a of opts.connect ?? []) parseConnect(a);
    const listener = opts.connect?.length ? undefined : await listen(opts);
    const m = new Monitor(opts, id, listener, spool);
    const saved = await loadAssignment(opts.dataDir);
    if (saved.length > 0) {
      m.#resumeTimer = setTimeout(() => {
        m.#resumeTimer = undefined;
        m.scheduler.apply(assignable(saved));
        log.info("Resumed {n} checks from the last assignment: no manager within {ms} ms", {
          n: saved.length,
          ms: RESUME_GRACE_MS,
        });
      }, RESUME_GRACE_MS);
    }
    return m;
  }

  /** The address the monitor listens on, as `host:port`. */
  get address(): string {
    if (!this.listener) return (this.#opts.connect ?? []).join(", ");
    const a = this.listener.addr;
    return formatAddr(a.hostname, a.port);
  }

  /** Whether a manager is connected and authenticated. */
  get connected(): boolean {
    return this.#session !== undefined && !this.#session.fc.closed;
  }

  async #accept(listener: Acceptor) {
    for await (const { conn, hostname, port } of listener) {
      const handled = this.#handle(conn, hostname, port).catch((e) =>
        log.error("Connection handler failed: {e}", { e })
      );
      this.#handlers.add(handled);
      handled.finally(() => this.#handlers.delete(handled));
    }
  }

  async #handle(conn: Transport, ip: string, port: number) {
    let evicted = false;
    const ticket = this.#preauth.admit(ip, () => {
      evicted = true;
      try {
        conn.close();
      } catch { /* closed */ }
    });
    try {
      await this.#greet(conn, formatAddr(ip, port), ip, ticket, () => evicted);
    } finally {
      ticket.release();
    }
  }

  /** Recent failed handshakes from `ip`, pruned to the window. */
  #recentFailures(ip: string): number[] {
    const now = performance.now();
    const list = (this.#authFailures.get(ip) ?? []).filter((t) => now - t < AUTH_FAILURE_WINDOW_MS);
    if (list.length > 0) this.#authFailures.set(ip, list);
    else this.#authFailures.delete(ip);
    return list;
  }

  /**
   * Handshake within the pre-auth deadline; on success the pre-auth slot is
   * released and the connection becomes the session, served until it ends.
   */
  async #greet(
    conn: Transport,
    peer: string,
    ip: string,
    ticket: PreauthTicket,
    evicted: () => boolean,
  ) {
    const failures = this.#recentFailures(ip).length;
    if (failures > 0) {
      // slow down whoever is guessing tokens: each recent failure adds to the wait before hello
      await new Promise((r) =>
        setTimeout(r, Math.min(AUTH_PENALTY_CAP_MS, failures * AUTH_PENALTY_STEP_MS))
      );
    }
    if (evicted()) return;
    const fc = new FramedConn(conn, peer);
    try {
      await this.#greetFramed(fc, ip, ticket);
    } finally {
      // whatever ended the handshake or the session, the connection ends with it
      fc.close("connection ended");
    }
  }

  async #greetFramed(fc: FramedConn, ip: string, ticket: PreauthTicket) {
    ticket.onEvict((reason) => fc.close(reason), () => fc.bytesReceived === 0);
    const messages = fc.messages();
    const token = this.#opts.token ?? "";
    let old: Session | undefined;
    let session: Session | undefined;
    try {
      await handshake(fc, messages, {
        side: "listener",
        timeoutMs: PREAUTH_DEADLINE_MS,
        token,
        fields: this.#fields(),
        accept: (manager) => {
          if (manager.role !== "manager") return undefined;
          old = this.#session;
          if (old && !old.fc.closed && !manager.takeover) {
            return { reason: `another manager is connected (from ${old.fc.peer})`, code: "busy" };
          }
          session = this.#newSession(fc, manager.managerId);
          ticket.release();
          return undefined;
        },
      });
    } catch (e) {
      if (!(e instanceof HandshakeError)) throw e;
      if (e.proved && e.code !== "busy") {
        // this address got our proof and did not prove the token back: a wrong token, or
        // someone collecting proofs to test guesses offline; either way, slow it down
        const recent = this.#recentFailures(ip);
        recent.push(performance.now());
        this.#authFailures.set(ip, recent);
        log.warn(
          "Authentication failed for manager at {peer}: wrong or missing token ({n} in the last minute)",
          { peer: fc.peer, n: recent.length },
        );
      } else if (e.code === "closed") {
        // a peer that just closes is a port scanner or a TCP health check: not worth a warning
        const level = fc.closed?.local ? "warn" : "debug";
        log[level]("Connection from {peer} closed before authenticating: {reason}", {
          peer: fc.peer,
          reason: e.message,
        });
      } else if (e.code !== "busy") {
        log.warn("Closed connection from {peer}: {reason}", { peer: fc.peer, reason: e.message });
      }
      return;
    }
    if (!session) return;
    if (old && !old.fc.closed) {
      log.info("Manager at {peer} takes over from {old}", { peer: fc.peer, old: old.fc.peer });
      await old.fc.goodbye(`replaced by the manager at ${fc.peer}`, "replaced");
    }
    await this.#serve(session, messages);
  }

  /**
   * Dials the manager at `target` for the life of the monitor: handshake as
   * the dialer, then the session as a listening monitor serves it; on its end
   * (or a failed attempt) dials again with jittered backoff, slower after a
   * refusal. While another manager's session is up it waits.
   */
  async #dial(target: DialTarget) {
    let failures = 0;
    let lastReason = "";
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          wakers.delete(done);
          resolve();
        }
        const wakers = this.#wakeDialers;
        wakers.add(done);
      });
    while (!this.#stopping) {
      if (this.connected) {
        await sleep(1000);
        continue;
      }
      let retryMs: number;
      try {
        await this.#dialOnce(target);
        failures = 0;
        lastReason = "";
        retryMs = jitteredBackoff(0, DIAL_BACKOFF);
      } catch (e) {
        if (this.#stopping) break;
        failures++;
        const refused = e instanceof HandshakeError && e.code !== "closed" &&
          e.code !== "shutdown";
        retryMs = refused ? DIAL_REFUSED_MS : jitteredBackoff(failures, DIAL_BACKOFF);
        const reason = errorText(e);
        // one line per new reason, not one per attempt
        const level = reason === lastReason ? "debug" : refused ? "error" : "warn";
        log[level]("Manager at {address}: {reason}; dialing again in {s} s", {
          address: target.address,
          reason,
          s: (retryMs / 1000).toFixed(1),
        });
        lastReason = reason;
      }
      await sleep(retryMs);
    }
  }

  /** One dialed connection, from connect to close. Throws why it failed. */
  async #dialOnce(target: DialTarget) {
    const signal = AbortSignal.timeout(DIAL_TIMEOUT_MS);
    let conn: Transport;
    try {
      if (this.#opts.dialTls) {
        conn = (await dialTls(target.host, target.port, this.#opts.dialTls, signal)).transport;
      } else {
        const tcp = await Deno.connect({ hostname: target.host, port: target.port, signal });
        tcp.setKeepAlive(true);
        tcp.setNoDelay(true);
        conn = tcp;
      }
    } catch (e) {
      if (e instanceof DOMException && e.name === "TimeoutError") {
        throw new Error(`no answer within ${DIAL_TIMEOUT_MS} ms`);
      }
      if (e instanceof TlsVerifyError) throw new HandshakeError(e.message, "auth", false);
      throw e;
    }
    const fc = new FramedConn(conn, target.address);
    this.#dialing.add(fc);
    let session: Session;
    const messages = fc.messages();
    try {
      const done = await handshake(fc, messages, {
        side: "dialer",
        token: this.#opts.token ?? "",
        fields: this.#fields(),
      });
      if (done.peer.role !== "manager") return;
      if (this.connected || this.#stopping) {
        await fc.goodbye("this monitor is already connected to another manager", "busy");
        return;
      }
      session = this.#newSession(fc, done.peer.managerId);
    } finally {
      this.#dialing.delete(fc);
    }
    await this.#serve(session, messages);
  }

  /** This monitor's fields for a hello. */
  #fields() {
    return {
      role: "monitor" as const,
      monitorId: this.id,
      name: this.#opts.name ?? Deno.hostname(),
      epoch: this.spool.epoch,
      lastSeq: this.spool.lastSeq,
    };
  }

  /**
   * Makes `fc` the session: from here the welcome is on its way (a listening
   * monitor's handshake sends it next), so everything numbered so far is
   * backlog and results may follow.
   */
  #newSession(fc: FramedConn, managerId: string): Session {
    const session: Session = {
      fc,
      managerId,
      backlogTo: this.spool.lastSeq,
      replayCursor: 0,
      liveCursor: this.spool.lastSeq,
      inFlight: [],
      replayTokens: REPLAY_BURST,
      replayRefilledAt: performance.now(),
      stats: "",
    };
    this.#session = session;
    return session;
  }

  /** Serves an authenticated session until it ends. */
  async #serve(session: Session, messages: AsyncGenerator<Message>) {
    const fc = session.fc;
    log.info("Manager connected from {peer}; {pending} results to replay", {
      peer: fc.peer,
      pending: this.spool.pending,
    });
    this.#sendStats();
    fc.onClose((info) => {
      if (this.#session === session) {
        log.info("Manager at {peer} disconnected: {reason}", {
          peer: fc.peer,
          reason: info.reason,
        });
      }
    });
    this.#pump();
    for await (const msg of messages) await this.#onMessage(session, msg);
    if (fc.closed?.local && !this.#stopping) {
      log.warn("Closed connection from {peer}: {reason}", {
        peer: fc.peer,
        reason: fc.closed.reason,
      });
    }
  }

  async #onMessage(session: Session, msg: Message) {
    switch (msg.t) {
      case "assign": {
        // parts of one revision accumulate until the last one
        if (session.assigning?.rev !== msg.rev) session.assigning = { rev: msg.rev, checks: [] };
        session.assigning.checks.push(...msg.checks);
        if (msg.more) break;
        msg.checks = session.assigning.checks;
        session.assigning = undefined;
        clearTimeout(this.#resumeTimer);
        this.#resumeTimer = undefined;
        await saveAssignment(this.#opts.dataDir, msg.checks).catch((e) =>
          // a full disk must not stop the checks: they run, only a restart would not resume them
          log.warn("Could not save the assignment in {dir}: {e}", { dir: this.#opts.dataDir, e })
        );
        const c = this.scheduler.apply(assignable(msg.checks));
        log.info(
          "Assignment {rev}: {total} checks ({added} added, {changed} changed, {removed} removed)",
          { rev: msg.rev, total: msg.checks.length, ...c },
        );
        break;
      }
      case "ack": {
        // only a frame this monitor sent on this connection is forgotten, and only its range
        const i = session.inFlight.findIndex((f) => f.from === msg.from && f.to === msg.to);
        if (i < 0) {
          log.warn("Ignored an acknowledgement from {peer} of results {from}-{to} not sent to it", {
            peer: session.fc.peer,
            from: msg.from,
            to: msg.to,
          });
          break;
        }
        session.inFlight.splice(i, 1);
        this.spool.ack(msg.from, msg.to);
        this.#pump(); // the window may have room again
        break;
      }
      case "run":
        this.scheduler.runNow(msg.checkId);
        break;
      default:
        session.fc.close(`unexpected ${msg.t} message from the manager`);
    }
  }

  #onResult(r: UnsequencedResult) {
    this.#buffer.push(r);
    // batch the spool write and the send: a lone result waits 20 ms, a stream of them goes
    // in one transaction and one frame per 200 ms. A frame costs both sides far more than a
    // result in it (bench/system.ts, 2,000 TCP checks every 5 s: 0.54 CPU s per 1,000 results
    // at one frame per 20 ms, 0.28 at one per 200 ms, no better at 500)
    const wait = Math.max(20, this.#flushedAt + 200 - performance.now());
    this.#flushTimer ??= setTimeout(() => this.#flush(), wait);
  }

  #flushedAt = -Infinity;

  #flush() {
    this.#flushTimer = undefined;
    this.#flushedAt = performance.now();
    const batch = this.#buffer;
    this.#buffer = [];
    try {
      this.spool.append(batch);
    } catch (e) {
      log.error("Could not write {n} results to the spool: {e}", { n: batch.length, e });
      return;
    }
    this.#pump();
  }

  /** Sends the spool's report if it changed since the session last heard it. */
  #sendStats() {
    const s = this.#session;
    if (!s || s.fc.closed) return;
    const report = this.spool.report();
    const json = JSON.stringify(report);
    if (json === s.stats) return;
    s.stats = json;
    s.fc.send({ t: "stats", ...report });
  }

  /**
   * Sends what the session has not been sent, one frame at a time: live
   * results first, then the backlog, oldest first, paced (see the protocol
   * module doc).
   */
  async #pump() {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (;;) {
        const s = this.#session;
        if (!s || s.fc.closed) break;
        // flow control: a manager that falls behind slows its monitors down (they keep
        // spooling) instead of drowning in unread data
        if (s.inFlight.length >= MAX_FRAMES_IN_FLIGHT) break;
        const last = this.spool.lastSeq;
        let replay = false;
        let part;
        if (s.liveCursor < last) {
          // the stored JSON goes out as it is: no parse and re-encode per result
          part = this.spool.readFrame(
            s.liveCursor,
            last,
            MAX_RESULTS_PER_FRAME,
            RESULT_FRAME_BYTES,
          );
          if (!part) {
            s.liveCursor = last;
            continue;
          }
        } else if (s.replayCursor < s.backlogTo) {
          if (s.inFlight.filter((f) => f.replay).length >= REPLAY_FRAMES_IN_FLIGHT) break;
          const now = performance.now();
          s.replayTokens = Math.min(
            REPLAY_BURST,
            s.replayTokens + (now - s.replayRefilledAt) * REPLAY_RESULTS_PER_S / 1000,
          );
          s.replayRefilledAt = now;
          if (s.replayTokens < REPLAY_MIN_FRAME) {
            this.#pumpTimer ??= setTimeout(() => {
              this.#pumpTimer = undefined;
              this.#pump();
            }, Math.ceil((REPLAY_MIN_FRAME - s.replayTokens) * 1000 / REPLAY_RESULTS_PER_S));
            break;
          }
          const limit = Math.min(MAX_RESULTS_PER_FRAME, Math.floor(s.replayTokens));
          part = this.spool.readFrame(s.replayCursor, s.backlogTo, limit, RESULT_FRAME_BYTES);
          if (!part) {
            s.replayCursor = s.backlogTo;
            continue;
          }
          s.replayTokens -= part.count;
          replay = true;
        } else break;
        s.inFlight.push({ from: part.from, to: part.to, replay });
        this.spool.markSent(part.from, part.to);
        if (replay) s.replayCursor = part.to;
        else s.liveCursor = part.to;
        if (!await s.fc.sendFrame(part.frame)) break;
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** The checks currently assigned. */
  checks(): CheckSpec[] {
    return this.scheduler.specs();
  }

  /** Stops checking, writes what was measured, says goodbye and closes. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.scheduler.stop();
    clearTimeout(this.#resumeTimer);
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#pumpTimer);
    clearInterval(this.#statsTimer);
    if (this.#buffer.length > 0) this.#flush();
    await this.#session?.fc.goodbye("monitor shutting down", "shutdown");
    this.listener?.close();
    for (const fc of this.#dialing) fc.close("monitor shutting down");
    for (const wake of this.#wakeDialers) wake();
    await this.#acceptLoop.catch(() => {});
    this.#preauth.closeAll("monitor shutting down");
    await Promise.all(this.#handlers);
    // aborted checks close their sockets as they return; one that ignores its signal is not waited for
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.scheduler.settled(),
      new Promise((r) => timer = setTimeout(r, ABANDON_GRACE_MS)),
    ]);
    clearTimeout(timer);
    this.spool.close();
  }
}
