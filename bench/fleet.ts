/**
 * The fleet benchmark: one real manager and many fake monitors
 * (`fleet_worker.ts`, each its own authenticated link on its own port), 10
 * checks each every 10 s. For each fleet size it measures the manager's
 * memory with every link idle (connected and assigned, nothing to send),
 * then, while every monitor sends its results, the manager's CPU per stored
 * (acknowledged) result and whether ingest keeps up, then the time for
 * every monitor to be back after the manager is restarted.
 *
 * Sizes are compared with the first (10 monitors): memory per link is the
 * growth of the manager's idle RSS over it, divided by the extra links.
 *
 * ```sh
 * ./netmon --deno run -A bench/run.ts fleet --monitors 10,1000,5000 --seconds 60
 * ```
 *
 * @module
 */
import { tempDir } from "../tests/helpers/proc.ts";
import { loadAverage, rssBytes, TreeSampler } from "./procstat.ts";
import { NETMON_V8_FLAGS, netmonCommand, spawnToFiles, stopChild } from "./system.ts";
import type { FleetReport, FloodReport } from "./fleet_worker.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CHECKS_PER_MONITOR = 10;
const INTERVAL_S = 10;

/** Options for {@linkcode measureFleet}. */
export interface FleetOptions {
  /** Fake monitors. */
  monitors: number;
  /** Length of the measured window while results flow. */
  seconds: number;
  /** Seconds every link sits idle before its memory is read (default 15). */
  idleSeconds?: number;
  /** A directory for V8 tick logs of the manager (`--prof`), one subdirectory per start. */
  profileDir?: string;
}

/** One fleet size's run. */
export interface FleetRun {
  monitors: number;
  /** Seconds from the manager's start until every monitor had a session, and its assignment. */
  firstConnectSeconds: number;
  /** Manager's resident memory with every link idle. */
  idleRssBytes: number;
  /** Manager's CPU per second with every link idle. */
  idleCpuPerSecond: number;
  /** Results acknowledged (stored) per second within the window, and produced. */
  storedPerSecond: number;
  producedPerSecond: number;
  /** Results produced and not acknowledged when the window closed. */
  unackedAtEnd: number;
  managerCpuSeconds: number;
  /** Manager CPU seconds per 1,000 stored results. */
  cpuSecondsPer1000: number;
  /** The fake monitors' own CPU, for how loaded the machine was. */
  fleetCpuSeconds: number;
  managerPeakRssBytes: number;
  windowSeconds: number;
  /** After a SIGTERM to the manager: seconds until it exited, and until every monitor was back. */
  stopSeconds: number;
  /** From the new manager's spawn: every monitor back (max), half of them (p50). */
  reconnectAllSeconds: number;
  reconnectP50Seconds: number;
  /** Connections the monitors accepted from the new manager (more than one each: retries). */
  reconnectAccepts: number;
  /** Monitors that were not back when the wait (120 s) ended. */
  notBack: number;
  /** Sessions and handshakes ended from the restart until every monitor was back, by who and why. */
  restartCloses: Record<string, number>;
  loadavg: [number, number];
}

/**
 * A running fleet worker (`fleet_worker.ts`), driven line by line.
 *
 * @example
 * ```ts ignore
 * await using fleet = new FleetProcess({ count: 10, token: "t" });
 * const { ports } = JSON.parse(await fleet.line());
 * ```
 */
export class FleetProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;
  #buf = "";

  constructor(job: { count: number; token: string }) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        // the product's flags, so that the fake monitors' heap behaves as a monitor's
        `--v8-flags=${NETMON_V8_FLAGS.join(",")}`,
        "--config",
        `${ROOT}deno.json`,
        `${ROOT}bench/fleet_worker.ts`,
        JSON.stringify(job),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.#lines = this.child.stdout.pipeThrough(new TextDecoderStream())[Symbol.asyncIterator]();
  }

  /** The worker's next stdout line. */
  async line(): Promise<string> {
    for (;;) {
      const i = this.#buf.indexOf("\n");
      if (i >= 0) {
        const l = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        return l;
      }
      const r = await this.#lines.next();
      if (r.done) throw new Error("the fleet worker exited");
      this.#buf += r.value;
    }
  }

  /** Sends a command and returns its report. */
  async command(cmd: "produce" | "idle" | "mark" | "report"): Promise<FleetReport> {
    await this.#writer.write(new TextEncoder().encode(cmd + "\n"));
    return JSON.parse(await this.line()) as FleetReport;
  }

  /** Every monitor sends `count` results as fast as they are acknowledged; see `fleet_worker.ts`. */
  async flood(count: number): Promise<FloodReport> {
    await this.#writer.write(new TextEncoder().encode(`flood ${count}\n`));
    const answer = JSON.parse(await this.line()) as FloodReport | { error: string };
    if ("error" in answer) throw new Error(`flood failed: ${answer.error}`);
    return answer;
  }

  async [Symbol.asyncDispose]() {
    try {
      await this.#writer.write(new TextEncoder().encode("quit\n"));
      await this.#writer.close();
    } catch { /* exited already */ }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    await this.child.stdout.cancel().catch(() => {});
    await this.child.status;
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls the fleet until `done` holds; returns the last report (and whether
 * it held) by `timeoutMs`.
 *
 * @example
 * ```ts ignore
 * await until(fleet, (r) => r.online === 10, 30_000);
 * ```
 */
export async function until(
  fleet: FleetProcess,
  done: (r: FleetReport) => boolean,
  timeoutMs: number,
  everyMs = 250,
): Promise<{ report: FleetReport; ok: boolean }> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const report = await fleet.command("report");
    if (done(report)) return { report, ok: true };
    if (performance.now() > end) return { report, ok: false };
    await sleep(everyMs);
  }
}

/**
 * Starts `netmon manage DIR/tasks.yaml` with the fleet's token, its store
 * in DIR and its log in `DIR/manager-N.log`.
 *
 * @example
 * ```ts ignore
 * const manager = startManager(dir, token, 1);
 * ```
 */
export function startManager(
  dir: string,
  token: string,
  n: number,
  profileDir?: string,
): Deno.ChildProcess {
  return spawnToFiles(
    netmonCommand([
      "manage",
      `${dir}/tasks.yaml`,
      "--db",
      `${dir}/netmon.db`,
      "--token",
      token,
      "--no-live",
      "--http",
      "127.0.0.1:0",
    ], profileDir !== undefined),
    `${dir}/manager-${n}.log`,
    `${dir}/manager-${n}.err`,
    profileDir,
  );
}

/**
 * Runs one fleet size: idle memory, ingest under load, restart.
 *
 * @example
 * ```ts ignore
 * console.log(await measureFleet({ monitors: 1000, seconds: 60 }));
 * ```
 */
export async function measureFleet(options: FleetOptions): Promise<FleetRun> {
  const n = options.monitors;
  const idleSeconds = options.idleSeconds ?? 15;
  await using dir = await tempDir("netmon-bench-fleet-");
  const token = crypto.randomUUID();
  await using fleet = new FleetProcess({ count: n, token });
  const { ports } = JSON.parse(await fleet.line()) as { ports: number[] };
  const yaml = ["monitors:"];
  ports.forEach((p, i) => yaml.push(`  - { address: "127.0.0.1:${p}", name: f${i} }`));
  yaml.push("targets:");
  for (let c = 0; c < CHECKS_PER_MONITOR; c++) {
    // every monitor checks the same ten targets, as vantage points do
    yaml.push(`  c${c}:`, `    TCP: { host: 127.0.0.1, port: 9, frequency: ${INTERVAL_S} }`);
  }
  await Deno.writeTextFile(`${dir.path}/tasks.yaml`, yaml.join("\n") + "\n");

  const t0 = performance.now();
  const prof = async (k: number) => {
    if (!options.profileDir) return undefined;
    const d = `${options.profileDir}/manager-${n}-${k}`;
    await Deno.mkdir(d, { recursive: true });
    return d;
  };
  let manager = startManager(dir.path, token, 1, await prof(1));
  try {
    const all = (r: FleetReport) => r.online === n && r.assigned === n;
    const first = await until(fleet, all, 120_000, 500);
    if (!first.ok) {
      throw new Error(
        `only ${first.report.online} of ${n} monitors online (${first.report.assigned} assigned) ` +
          `after 120 s: ${(await Deno.readTextFile(`${dir.path}/manager-1.err`)).slice(-1500)}`,
      );
    }
    const firstConnectSeconds = (performance.now() - t0) / 1000;
    const mgr = new TreeSampler({ manager: manager.pid });
    mgr.reset();
    const idle0 = performance.now();
    await sleep(idleSeconds * 1000);
    mgr.sample();
    const idleCpuPerSecond = mgr.cpuSeconds() / ((performance.now() - idle0) / 1000);
    const idleRssBytes = rssBytes(manager.pid);

    await fleet.command("produce");
    // one full interval, so that every check has started its rhythm
    await sleep((INTERVAL_S + 5) * 1000);
    const fleetSampler = new TreeSampler({ fleet: fleet.child.pid });
    const load0 = loadAverage()[0];
    const r0 = await fleet.command("report");
    mgr.reset();
    fleetSampler.reset();
    const w0 = performance.now();
    const end = w0 + options.seconds * 1000;
    while (performance.now() < end) {
      await sleep(Math.min(1000, end - performance.now()));
      mgr.sample();
      fleetSampler.sample();
    }
    const r1 = await fleet.command("report");
    const windowSeconds = (performance.now() - w0) / 1000;
    const stored = r1.acked - r0.acked;
    const managerCpuSeconds = mgr.cpuSeconds();
    const loadavg: [number, number] = [load0, loadAverage()[0]];

    // restart: SIGTERM, wait for the exit, start again; the monitors keep producing
    await fleet.command("mark");
    const k0 = performance.now();
    await stopChild(manager);
    const stopSeconds = (performance.now() - k0) / 1000;
    const s0 = performance.now();
    manager = startManager(dir.path, token, 2, await prof(2));
    const back = await until(fleet, (r) => r.backAfterMarkMs.length === n, 120_000, 100);
    const spawnAfterMarkMs = s0 - k0;
    const managerCloses = await disconnectsIn(`${dir.path}/manager-2.log`);
    const fromSpawn = back.report.backAfterMarkMs.map((ms) => (ms - spawnAfterMarkMs) / 1000);
    return {
      monitors: n,
      firstConnectSeconds,
      idleRssBytes,
      idleCpuPerSecond,
      storedPerSecond: stored / windowSeconds,
      producedPerSecond: (r1.produced - r0.produced) / windowSeconds,
      unackedAtEnd: r1.unacked,
      managerCpuSeconds,
      cpuSecondsPer1000: managerCpuSeconds / stored * 1000,
      fleetCpuSeconds: fleetSampler.cpuSeconds(),
      managerPeakRssBytes: mgr.processes()[0]?.peakRssBytes ?? 0,
      windowSeconds,
      stopSeconds,
      reconnectAllSeconds: fromSpawn.at(-1) ?? NaN,
      reconnectP50Seconds: fromSpawn[Math.floor(fromSpawn.length / 2)] ?? NaN,
      reconnectAccepts: back.report.acceptsSinceMark,
      notBack: n - back.report.backAfterMarkMs.length,
      restartCloses: { ...back.report.closesSinceMark, ...managerCloses },
      loadavg,
    };
  } finally {
    await stopChild(manager);
  }
}

/**
 * The manager's "Disconnected from ADDR: REASON. Reconnecting..." lines in
 * its log, by reason (numbers as N): its own side of why sessions ended.
 */
async function disconnectsIn(logPath: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const text = await Deno.readTextFile(logPath).catch(() => "");
  for (const m of text.matchAll(/Disconnected from \S+: (.*)\. Reconnecting\.\.\./g)) {
    const key = `manager's log: ${m[1]!.replace(/\d+/g, "N")}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** The commonest ways sessions ended during a restart, as a sentence. */
function closesText(closes: Record<string, number>): string {
  const top = Object.entries(closes).sort((a, b) => b[1] - a[1]);
  if (top.length === 0) return "";
  const shown = top.slice(0, 5).map(([why, k]) => `${k} × ${why}`);
  if (top.length > 5) shown.push(`${top.slice(5).reduce((n, [, k]) => n + k, 0)} other`);
  return ` Sessions ended until all were back: ${shown.join("; ")}.`;
}

const fmt = (x: number | undefined, digits = 0) =>
  x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits);
const mib = (b: number) => b / 2 ** 20;

/**
 * The fleet section as Markdown: one row per size, then the issue's targets
 * against the first size's figures.
 *
 * @example
 * ```ts ignore
 * console.log(fleetTable([await measureFleet({ monitors: 10, seconds: 30 })]));
 * ```
 */
export function fleetTable(runs: FleetRun[]): string {
  const base = runs[0];
  const lines = [
    "| monitors | all online after start s | idle manager RSS MiB | KB per link (over the first row) | idle manager CPU % | stored/s (produced/s) | unacked at end | manager CPU s per 1,000 stored | × first row | manager peak RSS MiB | back after restart: all s (p50) | accepts | loadavg |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
  ];
  for (const r of runs) {
    const perLink = base && r !== base
      ? (r.idleRssBytes - base.idleRssBytes) / (r.monitors - base.monitors) / 1024
      : NaN;
    const cpuX = base && r !== base ? r.cpuSecondsPer1000 / base.cpuSecondsPer1000 : NaN;
    lines.push(
      `| ${r.monitors} | ${fmt(r.firstConnectSeconds, 1)} | ${fmt(mib(r.idleRssBytes))} | ${
        fmt(perLink)
      } | ${fmt(r.idleCpuPerSecond * 100, 1)} | ${fmt(r.storedPerSecond)} (${
        fmt(r.producedPerSecond)
      }) | ${r.unackedAtEnd} | ${fmt(r.cpuSecondsPer1000, 3)} | ${fmt(cpuX, 2)} | ${
        fmt(mib(r.managerPeakRssBytes))
      } | ${fmt(r.reconnectAllSeconds, 1)} (${fmt(r.reconnectP50Seconds, 1)})${
        r.notBack ? `, ${r.notBack} not back` : ""
      } | ${r.reconnectAccepts} | ${fmt(r.loadavg[0], 2)}→${fmt(r.loadavg[1], 2)} |`,
    );
  }
  if (base) {
    lines.push("");
    for (const r of runs.slice(1)) {
      const perLinkKb = (r.idleRssBytes - base.idleRssBytes) / (r.monitors - base.monitors) / 1024;
      const cpuX = r.cpuSecondsPer1000 / base.cpuSecondsPer1000;
      const verdict = (ok: boolean) => ok ? "met" : "missed";
      lines.push(
        `- ${r.monitors} monitors: ${
          fmt(perLinkKb)
        } KB of manager memory per idle link (target ≤ 100: ${
          verdict(perLinkKb <= 100)
        }); CPU per stored result ${
          fmt(cpuX, 2)
        }× the ${base.monitors}-monitor figure (target ≤ 1.2: ${verdict(cpuX <= 1.2)}); ingest ${
          fmt(r.storedPerSecond / r.producedPerSecond * 100)
        } % of what was produced; every monitor back ${
          fmt(r.reconnectAllSeconds, 1)
        } s after the new manager started (target ≤ 30: ${
          verdict(r.notBack === 0 && r.reconnectAllSeconds <= 30)
        }); the old one took ${fmt(r.stopSeconds, 1)} s to stop.${closesText(r.restartCloses)}`,
      );
    }
  }
  return lines.join("\n");
}
