/**
 * The two scale measurements: a real monitor with 10,000 scheduled checks
 * (start lag and peak memory), and a real manager ingesting results from ten
 * monitors at once (results stored and acknowledged per second, memory);
 * the monitors are `fleet_worker.ts`'s fakes, which speak the protocol
 * through the shared modules.
 *
 * @example
 * ```ts ignore
 * import { measureSchedule } from "./scale.ts";
 * console.log(await measureSchedule({ tcpPort: 8080, checks: 10_000, durationMs: 30_000 }));
 * ```
 *
 * @module
 */
import type { CheckSpec, CheckType } from "../shared/checks.ts";
import { checkSpec } from "../shared/params/mod.ts";
import { FramedConn } from "../shared/connection.ts";
import { handshake } from "../shared/handshake.ts";
import { tempDir } from "../tests/helpers/proc.ts";
import { freeTcpPort, waitForTcp } from "../tests/helpers/ports.ts";
import { cpuSeconds, peakRssBytes } from "./procstat.ts";
import type { MonitorReport } from "./worker.ts";
import type { FloodReport } from "./fleet_worker.ts";
import { FleetProcess, startManager, until } from "./fleet.ts";
import { NETMON_V8_FLAGS, stopChild } from "./system.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const WORKER = `${ROOT}bench/worker.ts`;

/** Starts `bench/worker.ts MODE JOB` and resolves its stdout lines one by one. */
function startWorker(mode: string, job: unknown) {
  const child = new Deno.Command(Deno.execPath(), {
    // the same V8 flags as ./netmon, so the worker measures what users run
    args: [
      "run",
      "-A",
      `--v8-flags=${NETMON_V8_FLAGS.join(",")}`,
      "--config",
      `${ROOT}deno.json`,
      WORKER,
      mode,
      JSON.stringify(job),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
  let buf = "";
  const next = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf("\n");
      if (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        return line;
      }
      const r = await lines.next();
      if (r.done) throw new Error(`bench worker (${mode}) exited early`);
      buf += r.value;
    }
  };
  return { child, next };
}

/** The schedule measurement's result. */
export type ScheduleReport = MonitorReport & { resultsReceived: number };

/**
 * Half TCP checks of `127.0.0.1:tcpPort`, half ICMP checks of distinct
 * loopback addresses, all every 10 s.
 */
function syntheticAssignment(checks: number, tcpPort: number): CheckSpec[] {
  const specs: CheckSpec[] = [];
  for (let i = 0; i < checks; i++) {
    const type: CheckType = i % 2 === 0 ? "TCP" : "ICMP";
    const target = `t${i}`;
    const raw = type === "TCP"
      ? { host: "127.0.0.1", port: tcpPort }
      : { server_address: `127.0.${(i >> 8) & 255}.${(i & 255) || 1}` };
    specs.push(checkSpec(type, raw, { target, intervalMs: 10_000, timeoutMs: 5_000 }));
  }
  return specs;
}

/**
 * Runs a real monitor (the {@linkcode Monitor} class in a process of its own)
 * with `checks` checks resumed from a saved assignment, acts as its manager
 * (acknowledging every result) and reports its scheduler's start lag.
 */
export async function measureSchedule(
  options: { tcpPort: number; checks: number; durationMs: number },
): Promise<ScheduleReport> {
  await using dir = await tempDir("netmon-bench-mon-");
  // an assignment this large exceeds one protocol frame, so it is handed over as the saved one
  await Deno.writeTextFile(
    `${dir.path}/assignment.json`,
    JSON.stringify({
      t: "assign",
      rev: 0,
      checks: syntheticAssignment(options.checks, options.tcpPort),
    }),
  );
  const port = freeTcpPort();
  const worker = startWorker("monitor", {
    port,
    dataDir: dir.path,
    durationMs: options.durationMs,
  });
  await worker.next();
  await waitForTcp(port);
  const fc = new FramedConn(
    await Deno.connect({ hostname: "127.0.0.1", port }),
    `127.0.0.1:${port}`,
  );
  const messages = fc.messages();
  await handshake(fc, messages, {
    side: "dialer",
    token: "",
    fields: { role: "manager", managerId: crypto.randomUUID(), takeover: true },
  });
  let received = 0;
  const reading = (async () => {
    for await (const msg of messages) {
      if (msg.t !== "results" || msg.results.length === 0) continue;
      received += msg.results.length;
      fc.send({ t: "ack", from: msg.results[0]!.seq, to: msg.results.at(-1)!.seq });
    }
  })();
  const report = JSON.parse(await worker.next()) as MonitorReport;
  fc.close("benchmark done");
  await reading;
  await worker.child.status;
  return { ...report, resultsReceived: received };
}

/** The ingest measurement's result. */
export interface IngestReport extends FloodReport {
  resultsPerSecond: number;
  managerPeakRssBytes: number;
  managerCpuSeconds: number;
}

/**
 * Starts `./netmon manage` with `monitors` fake monitors (`fleet_worker.ts`,
 * each its own authenticated link) that, once all are connected and
 * assigned, each stream `perMonitor` ready-made results as fast as the
 * manager acknowledges them.
 */
export async function measureIngest(
  options: { monitors: number; perMonitor: number },
): Promise<IngestReport> {
  await using dir = await tempDir("netmon-bench-mgr-");
  const token = crypto.randomUUID();
  await using fleet = new FleetProcess({ count: options.monitors, token });
  const { ports } = JSON.parse(await fleet.line()) as { ports: number[] };
  await Deno.writeTextFile(
    `${dir.path}/tasks.yaml`,
    [
      "monitors:",
      ...ports.map((p, i) => `  - { address: "127.0.0.1:${p}", name: m${i} }`),
      "targets:",
      // the fake monitors send only what they are told to: the checks' own rhythm plays no part
      ...Array.from(
        { length: 10 },
        (_, i) => `  t${i}:\n    TCP: { host: 127.0.0.1, port: 9, frequency: 60 }`,
      ),
      "",
    ].join("\n"),
  );
  const manager = startManager(dir.path, token, 1);
  try {
    const all = (r: { online: number; assigned: number }) =>
      r.online === options.monitors && r.assigned === options.monitors;
    if (!(await until(fleet, all, 60_000)).ok) {
      throw new Error(`not every monitor was connected and assigned within 60 s`);
    }
    const cpu0 = cpuSeconds(manager.pid);
    const report = await fleet.flood(options.perMonitor);
    return {
      ...report,
      resultsPerSecond: report.results / report.seconds,
      managerPeakRssBytes: peakRssBytes(manager.pid),
      managerCpuSeconds: cpuSeconds(manager.pid) - cpu0,
    };
  } finally {
    await stopChild(manager);
  }
}
