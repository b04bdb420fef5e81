/**
 * Many fake monitors in one process, for the fleet benchmark (`fleet.ts`):
 * each listens on its own loopback port, speaks the protocol through the
 * shared modules (`FramedConn` for framing, heartbeats, validation and frame
 * MACs, `shared/handshake.ts` for the handshake, `shared/protocol.ts` for
 * messages) with a token, so every one is its own authenticated link, and once told to produce sends a result for
 * each assigned check at the check's interval, phase-spread as the real
 * scheduler spreads them. Unacknowledged results are sent again after a
 * reconnect, as a real monitor's spool would.
 *
 * Commands arrive on stdin, one a line: `produce`, `idle`, `mark` (start
 * timing reconnections), `report`, `flood N`, `quit`; each answers with one
 * JSON line on stdout. `flood N` has every monitor send N ready-made results
 * of its assigned checks as fast as the manager acknowledges them (frames
 * of {@linkcode MAX_RESULTS_PER_FRAME}, at most four unacknowledged, as a
 * real monitor's flow control allows) and answers once all are acknowledged:
 * the ingest measurement of `scale.ts`. The first stdout line is
 * `{"ports":[...]}`. With `FLEET_LAG=1` in its environment it prints the
 * worst lag of its event loop each second to stderr, to tell a loaded
 * worker from a slow manager.
 *
 * ```sh
 * ./netmon --deno run -A bench/fleet_worker.ts '{"count":10,"token":"t"}'
 * ```
 *
 * @module
 */
import { FramedConn } from "../shared/connection.ts";
import { handshake, HandshakeError } from "../shared/handshake.ts";
import { MAX_RESULTS_PER_FRAME, type Message } from "../shared/protocol.ts";
import type { CheckResult, UncheckedSpec } from "../shared/checks.ts";
import { phaseOf } from "../monitor/scheduler.ts";
import { taskIdOf } from "../shared/task_id.ts";

/** What the worker is asked to run. */
export interface FleetJob {
  count: number;
  token: string;
}

/** What `report` answers. */
export interface FleetReport {
  /** Monitors with an authenticated session now. */
  online: number;
  /** Monitors that hold an assignment (a set of checks) from their session. */
  assigned: number;
  checks: number;
  produced: number;
  acked: number;
  /** Results sent and not acknowledged, or waiting for a connection. */
  unacked: number;
  /** Sessions closed since the start. */
  disconnects: number;
  /** Monitors back online since `mark`, and when each was, in ms after it (sorted). */
  backAfterMarkMs: number[];
  /** Connections accepted since `mark` (a manager dialling more than once shows here). */
  acceptsSinceMark: number;
  /**
   * Sessions and handshakes ended since `mark`, by who ended them and why
   * (numbers in the reason as N): what a slow restart was made of.
   */
  closesSinceMark: Record<string, number>;
}

/** What `flood` answers. */
export interface FloodReport {
  results: number;
  seconds: number;
}

/** Frames a monitor keeps unacknowledged at most while flooding (the monitor's own limit). */
const FLOOD_FRAMES_IN_FLIGHT = 4;

/** A session's handshake as the side that is dialled; false when it failed (the connection is closed). */
async function greet(
  fc: FramedConn,
  messages: AsyncGenerator<Message>,
  me: { monitorId: string; epoch: string; token: string; lastSeq: number },
): Promise<string | null> {
  try {
    await handshake(fc, messages, {
      side: "listener",
      token: me.token,
      fields: {
        role: "monitor",
        monitorId: me.monitorId,
        name: "fleet",
        epoch: me.epoch,
        lastSeq: me.lastSeq,
      },
    });
    return null;
  } catch (e) {
    if (e instanceof HandshakeError) return e.message;
    throw e;
  }
}

const SUMMARY = "TCP Port: 127.0.0.1 - Port 9 - Open, Description: Port 9 on 127.0.0.1 is open.";

/** One fake monitor: a listener, at most one session, a sequence and what is unacknowledged. */
class FakeMonitor {
  readonly monitorId = crypto.randomUUID();
  readonly epoch = crypto.randomUUID();
  readonly listener: Deno.TcpListener;
  #fleet: Fleet;
  #fc: FramedConn | undefined;
  #checks: UncheckedSpec[] = [];
  /** Each check's phase within its interval (the real scheduler's `phaseOf`). */
  phases: number[] = [];
  #pendingParts: UncheckedSpec[] = [];
  #seq = 0;
  /** Results not yet acknowledged, by sequence number, oldest first. */
  #unacked = new Map<number, CheckResult>();

  constructor(fleet: Fleet) {
    this.#fleet = fleet;
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  }

  get online(): boolean {
    return this.#fc !== undefined && !this.#fc.closed;
  }

  get checks(): UncheckedSpec[] {
    return this.#checks;
  }

  get unacked(): number {
    return this.#unacked.size;
  }

  async serve() {
    for await (const conn of this.listener) {
      this.#fleet.acceptsSinceMark++;
      // one session at a time: a newer connection replaces the older, as with a real monitor
      this.#fc?.close("replaced by a newer connection");
      this.#session(conn).catch(() => {});
    }
  }

  async #session(conn: Deno.TcpConn) {
    conn.setNoDelay(true);
    const fc = new FramedConn(conn, "manager");
    const messages = fc.messages();
    const failed = await greet(fc, messages, {
      monitorId: this.monitorId,
      epoch: this.epoch,
      token: this.#fleet.token,
      lastSeq: this.#seq,
    });
    if (failed !== null) {
      this.#fleet.closed(`handshake: ${failed}`, fc.closed?.local ?? true);
      fc.close("handshake failed");
      return;
    }
    this.#fc = fc;
    this.#fleet.welcomed(this);
    fc.onClose((info) => {
      this.#fleet.disconnects++;
      this.#fleet.closed(info.reason, info.local);
      this.#ackWaiter?.reject(new Error(`the manager closed the connection: ${fc.closed?.reason}`));
      this.#ackWaiter = undefined;
    });
    // what the last session left unacknowledged goes first, in one frame, as a spool replays it
    if (this.#unacked.size > 0) {
      fc.send({ t: "results", results: [...this.#unacked.values()] });
    }
    for await (const msg of messages) {
      if (msg.t === "assign") {
        this.#pendingParts.push(...msg.checks);
        if (msg.more) continue;
        this.#checks = this.#pendingParts;
        this.#pendingParts = [];
        this.phases = this.#checks.map((c) => phaseOf(`${this.monitorId}/${c.id}`, c.intervalMs));
      } else if (msg.t === "ack") {
        for (let s = msg.from; s <= msg.to; s++) {
          if (this.#unacked.delete(s)) this.#fleet.acked++;
        }
        // flood frames are acknowledged in order: the highest seen is how far it got
        this.#floodAcked = Math.max(this.#floodAcked, msg.to);
        this.#ackWaiter?.resolve();
        this.#ackWaiter = undefined;
      }
    }
  }

  /** Measures check `i` once: a result as the TCP check makes it, in a frame of its own. */
  produce(i: number) {
    const spec = this.#checks[i];
    if (!spec) return;
    const r = this.#result(spec, Date.now());
    this.#unacked.set(r.seq, r);
    this.#fleet.produced++;
    if (this.online) this.#fc!.send({ t: "results", results: [r] });
  }

  /**
   * Sends `count` results of the assigned checks, numbered on from the last,
   * at most {@linkcode FLOOD_FRAMES_IN_FLIGHT} frames unacknowledged; the
   * frames are encoded before the clock starts. Resolves once every one is
   * acknowledged.
   */
  async flood(count: number, start: Promise<void>): Promise<void> {
    const fc = this.#fc;
    if (!fc || this.#checks.length === 0) throw new Error("flood needs a session with checks");
    const now = Date.now();
    const frames: { json: string; to: number }[] = [];
    for (let k = 0; k < count; k += MAX_RESULTS_PER_FRAME) {
      const results: CheckResult[] = [];
      for (let j = k; j < Math.min(count, k + MAX_RESULTS_PER_FRAME); j++) {
        // in the past, a millisecond apart: what a monitor measured while away
        results.push(this.#result(this.#checks[j % this.#checks.length]!, now - count + j));
      }
      frames.push({ json: JSON.stringify({ t: "results", results }), to: this.#seq });
    }
    const last = this.#seq;
    await start;
    for (let i = 0; i < frames.length; i++) {
      while (
        i >= FLOOD_FRAMES_IN_FLIGHT && this.#floodAcked < frames[i - FLOOD_FRAMES_IN_FLIGHT]!.to
      ) {
        await this.#ackArrived();
      }
      if (!await fc.sendFrame(frames[i]!.json)) {
        throw new Error("the manager closed the connection");
      }
    }
    while (this.#floodAcked < last) await this.#ackArrived();
  }

  #floodAcked = 0;
  #ackWaiter: PromiseWithResolvers<void> | undefined;

  #ackArrived(): Promise<void> {
    this.#ackWaiter ??= Promise.withResolvers<void>();
    const fc = this.#fc;
    if (!fc || fc.closed) return Promise.reject(new Error("the manager closed the connection"));
    return this.#ackWaiter.promise;
  }

  #result(spec: UncheckedSpec, startedAt: number): CheckResult {
    return {
      seq: ++this.#seq,
      // as a real monitor's spool names them
      taskId: taskIdOf(this.epoch, this.#seq)!,
      monitorId: this.monitorId,
      checkId: spec.id,
      target: spec.target,
      type: spec.type,
      startedAt,
      durationMs: 0.4,
      up: true,
      summary: SUMMARY,
      latencyMs: 0.12,
      metrics: {
        probe_success: 1,
        probe_duration_seconds: 0.0004,
        probe_dns_lookup_time_seconds: 0,
        probe_ip_protocol: 4,
        'probe_tcp_duration_seconds{phase="connect"}': 0.00012,
      },
      details: { address: "127.0.0.1" },
    };
  }

  close() {
    this.#fc?.close("fleet stopping");
    this.listener.close();
  }
}

/** All the fake monitors, one clock for all of their checks. */
class Fleet {
  readonly token: string;
  readonly monitors: FakeMonitor[];
  produced = 0;
  acked = 0;
  disconnects = 0;
  acceptsSinceMark = 0;
  #closes = new Map<string, number>();
  #producing = false;
  #markAt = 0;
  #backAt = new Map<FakeMonitor, number>();
  #ticker: ReturnType<typeof setInterval> | undefined;
  #lastTick = 0;

  constructor(job: FleetJob) {
    this.token = job.token;
    this.monitors = Array.from({ length: job.count }, () => new FakeMonitor(this));
    for (const m of this.monitors) m.serve();
  }

  welcomed(m: FakeMonitor) {
    if (this.#markAt > 0 && !this.#backAt.has(m)) {
      this.#backAt.set(m, performance.now() - this.#markAt);
    }
  }

  mark() {
    this.#markAt = performance.now();
    this.#backAt.clear();
    this.acceptsSinceMark = 0;
    this.#closes.clear();
  }

  /** Counts a session's end: `local` when the monitor ended it. */
  closed(reason: string, local: boolean) {
    const key = `${local ? "monitor" : "manager"}: ${reason.replace(/\d+/g, "N")}`;
    this.#closes.set(key, (this.#closes.get(key) ?? 0) + 1);
  }

  /**
   * Every 20 ms, runs each check whose phase point (by the real scheduler's
   * `phaseOf`) its interval passed since the last tick.
   */
  setProducing(on: boolean) {
    this.#producing = on;
    if (!on) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
      return;
    }
    this.#lastTick = Date.now();
    this.#ticker ??= setInterval(() => this.#tick(), 20);
  }

  #tick() {
    if (!this.#producing) return;
    const now = Date.now();
    const from = this.#lastTick;
    this.#lastTick = now;
    for (const m of this.monitors) {
      const checks = m.checks;
      for (let i = 0; i < checks.length; i++) {
        const intervalMs = checks[i]!.intervalMs;
        const phase = m.phases[i]!;
        // the number of the check's slots (phase + k × interval) that fall in (from, now]
        if (Math.floor((now - phase) / intervalMs) > Math.floor((from - phase) / intervalMs)) {
          m.produce(i);
        }
      }
    }
  }

  report(): FleetReport {
    let unacked = 0;
    for (const m of this.monitors) unacked += m.unacked;
    return {
      online: this.monitors.filter((m) => m.online).length,
      assigned: this.monitors.filter((m) => m.checks.length > 0).length,
      checks: this.monitors.reduce((n, m) => n + m.checks.length, 0),
      produced: this.produced,
      acked: this.acked,
      unacked,
      disconnects: this.disconnects,
      backAfterMarkMs: [...this.#backAt.values()].sort((a, b) => a - b),
      acceptsSinceMark: this.acceptsSinceMark,
      closesSinceMark: Object.fromEntries(this.#closes),
    };
  }

  /** Every monitor floods `count` results at once; see {@linkcode FakeMonitor.flood}. */
  async flood(count: number): Promise<FloodReport> {
    const go = Promise.withResolvers<void>();
    let t0 = 0;
    const all = Promise.all(this.monitors.map((m) => m.flood(count, go.promise)));
    // every monitor has its frames encoded once the promises above have started
    await new Promise((r) => setTimeout(r, 0));
    t0 = performance.now();
    go.resolve();
    await all;
    return { results: count * this.monitors.length, seconds: (performance.now() - t0) / 1000 };
  }

  close() {
    this.setProducing(false);
    for (const m of this.monitors) m.close();
  }
}

async function main() {
  if (Deno.env.get("FLEET_LAG")) {
    let last = performance.now();
    let max = 0;
    let n = 0;
    setInterval(() => {
      const now = performance.now();
      max = Math.max(max, now - last - 50);
      last = now;
      if (++n % 20 === 0) {
        console.error(`fleet lag max ${max.toFixed(0)} ms`);
        max = 0;
      }
    }, 50);
  }
  const job = JSON.parse(Deno.args[0] ?? "{}") as FleetJob;
  const fleet = new Fleet(job);
  console.log(JSON.stringify({ ports: fleet.monitors.map((m) => m.listener.addr.port) }));
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buf = "";
  for await (const chunk of lines) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const cmd = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (cmd === "produce") fleet.setProducing(true);
      else if (cmd === "idle") fleet.setProducing(false);
      else if (cmd === "mark") fleet.mark();
      else if (cmd.startsWith("flood ")) {
        const report = await fleet.flood(Number(cmd.slice(6))).catch((e) => ({
          error: e instanceof Error ? e.message : String(e),
        }));
        console.log(JSON.stringify(report));
        continue;
      } else if (cmd === "quit") {
        fleet.close();
        console.log(JSON.stringify({ bye: true }));
        Deno.exit(0);
      } else if (cmd !== "report") {
        console.log(JSON.stringify({ error: `unknown command ${cmd}` }));
        continue;
      }
      console.log(JSON.stringify(fleet.report()));
    }
  }
  fleet.close();
}

if (import.meta.main) await main();
