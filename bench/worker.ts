/**
 * The benchmark's subprocess, so that what is measured runs alone in its own
 * process: `checks` runs one netmon check function in a loop at a bounded
 * concurrency; `monitor` runs a real {@linkcode Monitor} and reports its
 * scheduler's start lag; `monitors` plays ten monitors that stream results to
 * a manager as fast as it takes them. Each mode prints one JSON line.
 *
 * @example
 * ```sh
 * ./netmon --deno run -A bench/worker.ts checks '{"type":"TCP","raw":{"host":"127.0.0.1","port":80},"concurrency":32,"durationMs":2000}'
 * ```
 *
 * @module
 */
import process from "node:process";
import type { CheckResult, CheckType } from "../shared/checks.ts";
import { CHECKS, runCheck } from "../monitor/checks/mod.ts";
import { checkSpec } from "../shared/params/mod.ts";
import { Monitor } from "../monitor/monitor.ts";
import { FramedConn } from "../shared/connection.ts";
import { handshake } from "../shared/handshake.ts";
import { MAX_RESULTS_PER_FRAME } from "../shared/protocol.ts";
import { peakRssBytes } from "./procstat.ts";
import { taskIdOf } from "../shared/task_id.ts";

/** What `checks` mode is asked to run. */
export interface ChecksJob {
  type: CheckType;
  /** Parameters as written in `tasks.yaml`. */
  raw: Record<string, unknown>;
  concurrency: number;
  durationMs: number;
  timeoutMs?: number;
}

/** What `checks` mode measured. */
export interface ChecksReport {
  checks: number;
  failures: number;
  firstError: string | null;
  seconds: number;
  cpuSeconds: number;
  /** Median over runs of `details.rtt_median_ms` (ICMP only), else null. */
  rttMedianMs: number | null;
}

const WARMUP_MS = 400;

async function runChecks(job: ChecksJob): Promise<ChecksReport> {
  const target = "bench";
  const timeoutMs = job.timeoutMs ?? 2000;
  const spec = checkSpec(job.type, job.raw, { target, intervalMs: timeoutMs + 1, timeoutMs });
  const report: ChecksReport = {
    checks: 0,
    failures: 0,
    firstError: null,
    seconds: 0,
    cpuSeconds: 0,
    rttMedianMs: null,
  };
  const medians: number[] = [];
  let counting = false;
  const loop = async (until: number) => {
    while (performance.now() < until) {
      const o = await runCheck(CHECKS, spec, {
        signal: AbortSignal.timeout(timeoutMs),
        timeoutMs,
        target,
      });
      if (!counting) continue;
      report.checks++;
      if (!o.up) {
        report.failures++;
        report.firstError ??= o.error ?? o.summary;
      }
      const median = o.details?.rtt_median_ms;
      if (typeof median === "number") medians.push(median);
    }
  };
  const slots = (until: number) =>
    Promise.all(Array.from({ length: job.concurrency }, () => loop(until)));
  await slots(performance.now() + WARMUP_MS);
  counting = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await slots(t0 + job.durationMs);
  report.seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  report.cpuSeconds = (cpu.user + cpu.system) / 1e6;
  if (medians.length > 0) report.rttMedianMs = quantile(medians.sort((a, b) => a - b), 0.5);
  return report;
}

/** What `monitor` mode is asked to do. */
export interface MonitorJob {
  port: number;
  dataDir: string;
  /** How long to measure once the assignment is running. */
  durationMs: number;
}

/** What `monitor` mode measured. */
export interface MonitorReport {
  checks: number;
  starts: number;
  runs: number;
  overlapsSkipped: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  peakRssBytes: number;
  cpuSeconds: number;
  seconds: number;
}

/** The `p`-quantile (0–1) of sorted numbers. */
export function quantile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function runMonitor(job: MonitorJob): Promise<MonitorReport> {
  const monitor = await Monitor.start({ port: job.port, dataDir: job.dataDir, name: "bench" });
  console.log(JSON.stringify({ ready: true }));
  const lags: number[] = [];
  let seen = monitor.scheduler.stats();
  const started = (s: typeof seen) => s.runs + s.inFlight;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < job.durationMs) {
    await new Promise((r) => setTimeout(r, 500));
    const now = monitor.scheduler.stats();
    const fresh = started(now) - started(seen);
    if (fresh > 0) lags.push(...now.lagsMs.slice(-fresh));
    seen = now;
  }
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  await monitor.stop();
  lags.sort((a, b) => a - b);
  return {
    checks: seen.checks,
    starts: lags.length,
    runs: seen.runs,
    overlapsSkipped: seen.overlapsSkipped,
    lagP50Ms: quantile(lags, 0.5),
    lagP99Ms: quantile(lags, 0.99),
    lagMaxMs: lags.at(-1) ?? NaN,
    peakRssBytes: peakRssBytes("self"),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    seconds,
  };
}

/** What `monitors` mode is asked to do. */
export interface MonitorsJob {
  ports: number[];
  /** Results each fake monitor sends. */
  perMonitor: number;
}

/** What `monitors` mode measured. */
export interface MonitorsReport {
  results: number;
  seconds: number;
}

/** The targets whose results the `monitors` mode sends: t0 … t999, each with a TCP check. */
export const FAKE_TARGETS = 1000;

/**
 * The `targets:` entries of a tasks.yaml that assign each fake monitor of
 * the `monitors` mode every check it reports, since the manager stores only
 * results of checks assigned to the monitor (see `manager/result_guard.ts`).
 *
 * @example
 * ```ts
 * import { fakeTargetsYaml } from "./worker.ts";
 * const yaml = ["targets:", ...fakeTargetsYaml(9)].join("\n");
 * ```
 */
export function fakeTargetsYaml(tcpPort: number): string[] {
  return Array.from(
    { length: FAKE_TARGETS },
    (_, i) => `  t${i}: { TCP: { host: 127.0.0.1, port: ${tcpPort}, frequency: 60 } }`,
  );
}

function fakeResults(monitorId: string, epoch: string, n: number): string[] {
  const frames: string[] = [];
  const now = Date.now();
  for (let seq = 1; seq <= n; seq += MAX_RESULTS_PER_FRAME) {
    const results: CheckResult[] = [];
    for (let s = seq; s < Math.min(n + 1, seq + MAX_RESULTS_PER_FRAME); s++) {
      const target = `t${s % FAKE_TARGETS}`;
      results.push({
        seq: s,
        // as a real monitor's spool names them
        taskId: taskIdOf(epoch, s)!,
        monitorId,
        checkId: `${target}/TCP`,
        target,
        type: "TCP",
        startedAt: now + s,
        durationMs: 0.4,
        up: true,
        summary:
          `TCP Port: 127.0.0.1 - Port 8080 - Open, Description: Port 8080 on 127.0.0.1 is open.`,
        latencyMs: 0.12,
        metrics: {
          probe_success: 1,
          probe_duration_seconds: 0.0004,
          probe_dns_lookup_time_seconds: 0,
          probe_ip_protocol: 4,
          'probe_tcp_duration_seconds{phase="connect"}': 0.00012,
        },
        details: { address: "127.0.0.1" },
      });
    }
    frames.push(JSON.stringify({ t: "results", results }));
  }
  return frames;
}

/**
 * Plays one monitor, so that ready-made frames go out without re-encoding
 * (only sealed, as a real monitor's): handshake (no token), then every result
 * once all peers are ready, with heartbeats until the last one is acknowledged.
 */
async function fakeMonitor(
  listener: Deno.TcpListener,
  perMonitor: number,
  ready: () => Promise<void>,
): Promise<void> {
  const monitorId = crypto.randomUUID();
  const epoch = crypto.randomUUID();
  const frames = fakeResults(monitorId, epoch, perMonitor);
  const conn = await listener.accept();
  // a real connection: the handshake as a listening monitor, then sealed frames and heartbeats
  const fc = new FramedConn(conn, "manager");
  const messages = fc.messages();
  await handshake(fc, messages, {
    side: "listener",
    token: "",
    fields: {
      role: "monitor",
      monitorId,
      name: "bench",
      epoch,
      lastSeq: perMonitor,
    },
  });
  const next = async () => {
    const r = await messages.next();
    if (r.done) throw new Error(`the manager closed the connection: ${fc.closed?.reason}`);
    return r.value;
  };
  await ready();
  let acked = false;
  let ackedSeq = 0;
  let wake: (() => void) | undefined;
  const acks = (async () => {
    for (;;) {
      const msg = await next();
      if (msg.t !== "ack") continue;
      // frames go out in order and the manager acknowledges them in order
      ackedSeq = Math.max(ackedSeq, msg.to);
      wake?.();
      if (msg.to >= perMonitor) return;
    }
  })().finally(() => acked = true);
  // the same flow control as a real monitor: at most 4 frames unacknowledged
  for (let i = 0; i < frames.length; i++) {
    while ((i - 3) * MAX_RESULTS_PER_FRAME > ackedSeq && !acked) {
      await new Promise<void>((r) => (wake = r));
    }
    await fc.sendFrame(frames[i]!);
  }
  await acks;
  fc.close("done");
}

async function runMonitors(job: MonitorsJob): Promise<MonitorsReport> {
  const listeners = job.ports.map((port) => Deno.listen({ hostname: "127.0.0.1", port }));
  let waiting = listeners.length;
  const all = Promise.withResolvers<void>();
  let t0 = 0;
  const ready = () => {
    if (--waiting === 0) {
      t0 = performance.now();
      all.resolve();
    }
    return all.promise;
  };
  console.log(JSON.stringify({ ready: true }));
  await Promise.all(listeners.map((l) => fakeMonitor(l, job.perMonitor, ready)));
  const seconds = (performance.now() - t0) / 1000;
  for (const l of listeners) l.close();
  return { results: job.perMonitor * listeners.length, seconds };
}

if (import.meta.main) {
  const [mode, arg] = Deno.args;
  const job = JSON.parse(arg ?? "{}");
  const report = mode === "checks"
    ? await runChecks(job)
    : mode === "monitor"
    ? await runMonitor(job)
    : mode === "monitors"
    ? await runMonitors(job)
    : (() => {
      throw new Error(`unknown mode ${mode}: use checks, monitor or monitors`);
    })();
  console.log(JSON.stringify(report));
  Deno.exit(0);
}
