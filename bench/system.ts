/**
 * System against system: netmon (one monitor and the manager, SQLite store,
 * text log to a file) against Prometheus scraping blackbox_exporter, on the
 * same TCP targets (one listener per target on its own loopback address, see
 * `targets.ts`) at the same interval, each system run in turn. Measures the
 * CPU of every process of each system (from `/proc`), their peak memory,
 * the results stored per second and the bytes on disk per stored result.
 *
 * A stored result is one check of one target: a line of netmon's log (one
 * per stored result), a `probe_success` sample in Prometheus' TSDB.
 *
 * ```sh
 * ./netmon --deno run -A bench/run.ts system --targets 2000,10000 --seconds 600
 * ```
 *
 * @module
 */
import { Proc, tempDir } from "../tests/helpers/proc.ts";
import { freeTcpPort, waitForHttpOk, waitForTcp } from "../tests/helpers/ports.ts";
import { startBlackbox } from "./peers.ts";
import { loadAverage, type ProcessSample, TreeSampler } from "./procstat.ts";
import { targetHost } from "./targets.ts";

const ROOT = new URL("../", import.meta.url).pathname;
/** What `./netmon` runs, so that netmon is measured as users run it. */
const NETMON_DENO_ARGS = [
  "run",
  "--quiet",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
  "--allow-run",
];
/**
 * The V8 flags of `./netmon` and of deno.json's compile task: keep them the
 * same; the bench's own workers (`fleet.ts`, `scale.ts`) run with them too.
 */
export const NETMON_V8_FLAGS: readonly string[] = [
  "--max-semi-space-size=2",
  "--heap-growing-percent=30",
];

/** Options for {@linkcode measureSystems}. */
export interface SystemOptions {
  /** TCP targets, one listener each. */
  targets: number;
  /** Length of the measured window, after the warm-up. */
  seconds: number;
  /** Seconds each system runs before the window opens (default 20: four intervals). */
  warmupSeconds?: number;
  /** Check (scrape) interval in seconds (default 5). */
  intervalSeconds?: number;
  /**
   * A directory to write V8 profiles of netmon's two processes into
   * (`--v8-flags=--prof`; read them with `node --prof-process`).
   */
  profileDir?: string;
  /** Which systems to run (default both). */
  systems?: SystemName[];
}

/** The two systems compared. */
export const SYSTEM_NAMES = ["netmon", "prometheus"] as const;
/** One of {@linkcode SYSTEM_NAMES}. */
export type SystemName = typeof SYSTEM_NAMES[number];

/**
 * A comma-separated list of system names, as `--systems` takes it.
 *
 * @example
 * ```ts
 * import { parseSystems } from "./system.ts";
 * console.assert(parseSystems("netmon")[0] === "netmon");
 * ```
 */
export function parseSystems(list: string): SystemName[] {
  return list.split(",").map((name) => {
    const known = SYSTEM_NAMES.find((s) => s === name);
    if (!known) throw new Error(`Unknown system "${name}": use ${SYSTEM_NAMES.join(" or ")}`);
    return known;
  });
}

/** One system's run. */
export interface SystemRun {
  system: SystemName;
  label: string;
  targets: number;
  /** Length of the measured window. */
  seconds: number;
  /** Results stored within the window. */
  results: number;
  resultsPerSecond: number;
  /** What the interval asks for: targets ÷ interval. */
  expectedPerSecond: number;
  /** Stored results within the window that found the target down, and the first reason. */
  failed: number;
  firstError: string | null;
  /** CPU of all the system's processes within the window. */
  cpuSeconds: number;
  cpuSecondsPer1000: number;
  /** Largest sum of the processes' RSS in one sample (once a second). */
  peakRssBytes: number;
  /** The anonymous (not file-backed) part of that sample. */
  peakAnonBytes: number;
  /**
   * Largest sum of the processes' PSS in one sample: shared pages (the one
   * Deno binary both netmon processes run) counted once, not once per process.
   */
  peakPssBytes: number;
  /** Bytes of the store on disk at the end of the whole run, and the results it holds. */
  storeBytes: number;
  storedTotal: number;
  bytesPerResult: number;
  /** netmon's text log, bytes (not in storeBytes). */
  logBytes?: number;
  /**
   * netmon's connect times within the window as its results report them,
   * 50th and 99th percentile, ms: what batching check starts costs them.
   */
  connectMs?: { p50: number; p99: number };
  /** Seconds from start to the end of the run (warm-up and window). */
  runSeconds: number;
  processes: ProcessSample[];
  /** The machine's 1-minute load average when the window opened and closed. */
  loadavg: [number, number];
}

/** Both systems at one size, with netmon's advantage. */
export interface SystemReport {
  targets: number;
  intervalSeconds: number;
  runs: SystemRun[];
  /** Prometheus' CPU per stored result over netmon's (higher: netmon lighter). */
  cpuRatio?: number;
  /** Prometheus' peak memory (summed PSS) over netmon's: the target's measure. */
  memoryRatio?: number;
  /** The same with summed RSS, which counts shared pages once per process. */
  rssRatio?: number;
  /** Prometheus' bytes per stored result over netmon's. */
  diskRatio?: number;
}

async function dirBytes(path: string): Promise<number> {
  let sum = 0;
  for await (const e of Deno.readDir(path)) {
    const p = `${path}/${e.name}`;
    if (e.isDirectory) sum += await dirBytes(p);
    else if (e.isFile) sum += (await Deno.stat(p)).size;
  }
  return sum;
}

/** Counts result lines ("Task ID: ") of a growing log file, reading only what is new. */
class LogCounter {
  #file: Deno.FsFile | undefined;
  #path: string;
  #count = 0;
  /** Result lines that carry an error (the check found the target down). */
  failed = 0;
  firstError: string | null = null;
  /** Each up result's connect time as its line says it ("Connect: 0.12 ms"), in order. */
  connectMs: number[] = [];
  #tail = "";
  #buf = new Uint8Array(1 << 20);
  #dec = new TextDecoder();

  constructor(path: string) {
    this.#path = path;
  }

  async count(): Promise<number> {
    this.#file ??= await Deno.open(this.#path, { read: true });
    for (;;) {
      const n = await this.#file.read(this.#buf);
      if (n === null || n === 0) break;
      const text = this.#tail + this.#dec.decode(this.#buf.subarray(0, n), { stream: true });
      const cut = text.lastIndexOf("\n") + 1;
      const whole = text.slice(0, cut);
      this.#tail = text.slice(cut);
      let i = -1;
      while ((i = whole.indexOf("Task ID: ", i + 1)) >= 0) {
        this.#count++;
        // within the line only: searching on through the chunk made this quadratic
        const eol = whole.indexOf("\n", i);
        const line = whole.slice(i, eol);
        const e = line.indexOf(", Error: ");
        if (e >= 0) {
          this.failed++;
          this.firstError ??= line.slice(e + 9);
        }
        const c = line.indexOf(", Connect: ");
        if (c >= 0) this.connectMs.push(parseFloat(line.slice(c + 11)));
        i = eol;
      }
    }
    return this.#count;
  }

  close() {
    this.#file?.close();
  }
}

/**
 * Spawns `cmd` through `sh -c exec` so its stdout and stderr go to files, as
 * a service's would; the child's PID is then `cmd`'s own.
 *
 * @example
 * ```ts ignore
 * const child = spawnToFiles(["sleep", "1"], "/tmp/out", "/tmp/err");
 * await child.status;
 * ```
 */
export function spawnToFiles(
  cmd: string[],
  stdout: string,
  stderr: string,
  cwd?: string,
): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", `exec "$@" >'${stdout}' 2>'${stderr}'`, "sh", ...cmd],
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/**
 * The command line `./netmon ARGS` execs (same permissions and V8 flags),
 * with `--prof` added when `profile` is set.
 *
 * @example
 * ```ts ignore
 * spawnToFiles(netmonCommand(["manage", "tasks.yaml"], false), "log", "err");
 * ```
 */
export function netmonCommand(args: string[], profile: boolean): string[] {
  const v8 = profile ? [...NETMON_V8_FLAGS, "--prof"] : NETMON_V8_FLAGS;
  return [
    Deno.execPath(),
    ...NETMON_DENO_ARGS,
    `--v8-flags=${v8.join(",")}`,
    "--config",
    `${ROOT}deno.json`,
    `${ROOT}mod.ts`,
    ...args,
  ];
}

/**
 * SIGTERM, then SIGKILL after 10 s; resolves once the child has exited.
 *
 * @example
 * ```ts ignore
 * await stopChild(child);
 * ```
 */
export async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  await child.status;
  clearTimeout(timer);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Samples `sampler` once a second for `seconds`, around `count()` calls at
 * the window's edges; returns what the window held.
 */
async function window(
  sampler: TreeSampler,
  seconds: number,
  count: () => Promise<number>,
): Promise<{ results: number; seconds: number; loadavg: [number, number] }> {
  const load0 = loadAverage()[0];
  const c0 = await count();
  sampler.reset();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(1000, end - performance.now()));
    sampler.sample();
  }
  const c1 = await count();
  const elapsed = (performance.now() - t0) / 1000;
  return { results: c1 - c0, seconds: elapsed, loadavg: [load0, loadAverage()[0]] };
}

async function runNetmon(
  opts: Required<Omit<SystemOptions, "profileDir" | "systems">> & { profileDir?: string },
  targetPort: number,
): Promise<SystemRun> {
  await using dir = await tempDir("netmon-bench-sys-");
  const start = performance.now();
  const monitorPort = freeTcpPort();
  const lines = [
    "monitors:",
    `  - { address: "127.0.0.1:${monitorPort}", name: bench }`,
    "targets:",
  ];
  for (let i = 0; i < opts.targets; i++) {
    lines.push(
      `  t${i}:`,
      `    TCP: { host: ${
        targetHost(i)
      }, port: ${targetPort}, frequency: ${opts.intervalSeconds} }`,
    );
  }
  await Deno.writeTextFile(`${dir.path}/tasks.yaml`, lines.join("\n") + "\n");
  await Deno.mkdir(`${dir.path}/store`);
  const prof = opts.profileDir;
  for (const side of ["monitor", "manager"]) {
    if (prof) await Deno.mkdir(`${prof}/${side}`, { recursive: true });
  }
  const monitor = spawnToFiles(
    netmonCommand(
      ["monitor", "--port", String(monitorPort), "--data", `${dir.path}/monitor`],
      !!prof,
    ),
    `${dir.path}/monitor.out`,
    `${dir.path}/monitor.err`,
    prof ? `${prof}/monitor` : undefined,
  );
  const manager = spawnToFiles(
    netmonCommand([
      "manage",
      `${dir.path}/tasks.yaml`,
      "--db",
      `${dir.path}/store/netmon.db`,
      "--no-live",
      "--http",
      "127.0.0.1:0",
    ], !!prof),
    `${dir.path}/manager.log`,
    `${dir.path}/manager.err`,
    prof ? `${prof}/manager` : undefined,
  );
  const counter = new LogCounter(`${dir.path}/manager.log`);
  try {
    await waitForTcp(monitorPort, "127.0.0.1", 30_000);
    const sampler = new TreeSampler({ monitor: monitor.pid, manager: manager.pid });
    let failed0: number | undefined;
    let connects0: number | undefined;
    const firstBy = performance.now() + 60_000;
    while (await counter.count() === 0) {
      if (performance.now() > firstBy) {
        throw new Error(
          `netmon stored no result within 60 s: ${
            (await Deno.readTextFile(`${dir.path}/manager.err`)).slice(-2000)
          }`,
        );
      }
      sampler.sample();
      await sleep(500);
    }
    for (let t = 0; t < opts.warmupSeconds; t++) {
      sampler.sample();
      await sleep(1000);
    }
    const w = await window(sampler, opts.seconds, async () => {
      const n = await counter.count();
      failed0 ??= counter.failed;
      connects0 ??= counter.connectMs.length;
      return n;
    });
    const connects = counter.connectMs.slice(connects0).sort((a, b) => a - b);
    const storedTotal = await counter.count();
    const storeBytes = await dirBytes(`${dir.path}/store`);
    const logBytes = (await Deno.stat(`${dir.path}/manager.log`)).size;
    return {
      system: "netmon",
      label: "netmon: one monitor + the manager (SQLite, text log to a file)",
      targets: opts.targets,
      seconds: w.seconds,
      results: w.results,
      resultsPerSecond: w.results / w.seconds,
      expectedPerSecond: opts.targets / opts.intervalSeconds,
      failed: counter.failed - (failed0 ?? 0),
      firstError: counter.firstError,
      cpuSeconds: sampler.cpuSeconds(),
      cpuSecondsPer1000: sampler.cpuSeconds() / w.results * 1000,
      peakRssBytes: sampler.peakRssSumBytes,
      peakAnonBytes: sampler.peakAnonOfPeakBytes,
      peakPssBytes: sampler.peakPssSumBytes,
      storeBytes,
      storedTotal,
      bytesPerResult: storeBytes / storedTotal,
      logBytes,
      connectMs: { p50: quantile(connects, 0.5), p99: quantile(connects, 0.99) },
      runSeconds: (performance.now() - start) / 1000,
      processes: sampler.processes(),
      loadavg: w.loadavg,
    };
  } finally {
    counter.close();
    // the manager first, so that the monitor's results are not cut off mid-frame
    await stopChild(manager);
    await stopChild(monitor);
  }
}

/** The `q` quantile of the ascending `sorted` (nearest rank), NaN when empty. */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Prometheus' scrape configuration: every target through blackbox_exporter's `/probe`. */
function prometheusConfig(
  targets: number,
  targetPort: number,
  blackboxPort: number,
  intervalSeconds: number,
): string {
  const list = Array.from({ length: targets }, (_, i) => `"${targetHost(i)}:${targetPort}"`);
  return `global:
  scrape_interval: ${intervalSeconds}s
  scrape_timeout: ${Math.max(1, intervalSeconds - 1)}s
  evaluation_interval: 1m
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: { module: [tcp_connect] }
    static_configs:
      - targets: [${list.join(", ")}]
    relabel_configs:
      - { source_labels: [__address__], target_label: __param_target }
      - { source_labels: [__param_target], target_label: instance }
      - { target_label: __address__, replacement: "127.0.0.1:${blackboxPort}" }
`;
}

async function promQuery(port: number, query: string, time: number): Promise<number> {
  const url = `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}&time=${
    time / 1000
  }`;
  const body = await (await fetch(url)).json() as {
    status: string;
    error?: string;
    data?: { result?: { value: [number, string] }[] };
  };
  if (body.status !== "success") throw new Error(`Prometheus refused ${query}: ${body.error}`);
  return Number(body.data?.result?.[0]?.value[1] ?? 0);
}

async function runPrometheus(
  opts: Required<Omit<SystemOptions, "profileDir" | "systems">>,
  targetPort: number,
): Promise<SystemRun> {
  await using dir = await tempDir("netmon-bench-prom-");
  const start = performance.now();
  const startedAt = Date.now();
  await using bb = await startBlackbox("bench.test");
  await Deno.writeTextFile(
    `${dir.path}/prometheus.yml`,
    prometheusConfig(opts.targets, targetPort, bb.port, opts.intervalSeconds),
  );
  const port = freeTcpPort();
  await using prom = Proc.start([
    "prometheus",
    `--config.file=${dir.path}/prometheus.yml`,
    `--storage.tsdb.path=${dir.path}/tsdb`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ], { name: "prometheus" });
  if (!await waitForHttpOk(`http://127.0.0.1:${port}/-/ready`, 60_000)) {
    throw new Error(`Prometheus did not get ready: ${prom.lines.slice(-20).join("\n")}`);
  }
  const sampler = new TreeSampler({ prometheus: prom.child.pid, blackbox_exporter: bb.pid });
  for (let t = 0; t < opts.warmupSeconds + opts.intervalSeconds; t++) {
    sampler.sample();
    await sleep(1000);
  }
  // the TSDB is asked once the window has closed, so that the queries cost nothing in it
  let windowStart = 0, windowEnd = 0;
  const w = await window(sampler, opts.seconds, () => {
    if (windowStart === 0) windowStart = Date.now();
    else windowEnd = Date.now();
    return Promise.resolve(0);
  });
  // samples land in the TSDB up to a scrape timeout after they were taken
  await sleep(opts.intervalSeconds * 1000);
  const span = (windowEnd - windowStart) / 1000;
  // Prometheus durations take no fractions: the window goes in whole milliseconds
  const range = `[${Math.round(span * 1000)}ms]`;
  const results = await promQuery(port, `sum(count_over_time(probe_success${range}))`, windowEnd);
  const up = await promQuery(port, `sum(sum_over_time(probe_success${range}))`, windowEnd);
  // a scrape that failed (timed out) stores up = 0 and no probe result at all
  const scrapes = await promQuery(port, `sum(count_over_time(up${range}))`, windowEnd);
  const storedTotal = await promQuery(
    port,
    `sum(count_over_time(probe_success[${Math.ceil((Date.now() - startedAt) / 1000) + 60}s]))`,
    Date.now(),
  );
  const storeBytes = await dirBytes(`${dir.path}/tsdb`);
  return {
    system: "prometheus",
    label: "Prometheus scraping blackbox_exporter (TSDB)",
    targets: opts.targets,
    seconds: w.seconds,
    results,
    resultsPerSecond: results / w.seconds,
    expectedPerSecond: opts.targets / opts.intervalSeconds,
    failed: results - up,
    firstError: scrapes > results
      ? `${scrapes - results} scrapes stored no probe result (scrape failed or timed out)`
      : null,
    cpuSeconds: sampler.cpuSeconds(),
    cpuSecondsPer1000: sampler.cpuSeconds() / results * 1000,
    peakRssBytes: sampler.peakRssSumBytes,
    peakAnonBytes: sampler.peakAnonOfPeakBytes,
    peakPssBytes: sampler.peakPssSumBytes,
    storeBytes,
    storedTotal,
    bytesPerResult: storeBytes / storedTotal,
    runSeconds: (performance.now() - start) / 1000,
    processes: sampler.processes(),
    loadavg: w.loadavg,
  };
}

/**
 * Runs netmon, then Prometheus with blackbox_exporter, against one set of
 * `targets` loopback listeners, and reports both with the ratios.
 *
 * @example
 * ```ts ignore
 * const r = await measureSystems({ targets: 2000, seconds: 120 });
 * console.log(r.cpuRatio);
 * ```
 */
export async function measureSystems(options: SystemOptions): Promise<SystemReport> {
  const opts = {
    warmupSeconds: 20,
    intervalSeconds: 5,
    ...options,
  };
  const systems = options.systems ?? ["netmon", "prometheus"];
  await using targets = Proc.start([
    Deno.execPath(),
    "run",
    "-A",
    `${ROOT}bench/targets.ts`,
    String(opts.targets),
  ], { name: "targets" });
  const { port } = JSON.parse(await targets.waitFor(/^\{"port"/, 60_000)) as { port: number };
  const runs: SystemRun[] = [];
  for (const system of systems) {
    console.error(`system: ${system}, ${opts.targets} targets, ${opts.seconds} s`);
    runs.push(
      system === "netmon" ? await runNetmon(opts, port) : await runPrometheus(opts, port),
    );
  }
  const report: SystemReport = {
    targets: opts.targets,
    intervalSeconds: opts.intervalSeconds,
    runs,
  };
  const n = runs.find((r) => r.system === "netmon");
  const p = runs.find((r) => r.system === "prometheus");
  if (n && p) {
    report.cpuRatio = p.cpuSecondsPer1000 / n.cpuSecondsPer1000;
    report.memoryRatio = p.peakPssBytes / n.peakPssBytes;
    report.rssRatio = p.peakRssBytes / n.peakRssBytes;
    report.diskRatio = p.bytesPerResult / n.bytesPerResult;
  }
  return report;
}

const fmt = (x: number | undefined, digits = 0) =>
  x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits);
const mib = (b: number) => b / 2 ** 20;
const verdict = (ratio: number | undefined, target: number) =>
  ratio === undefined || !Number.isFinite(ratio)
    ? "not measured"
    : ratio >= target
    ? "met"
    : "missed";

/**
 * The system section as Markdown: one row per system and size, then the
 * ratios against the issue's targets.
 *
 * @example
 * ```ts ignore
 * console.log(systemTable([await measureSystems({ targets: 2000, seconds: 120 })]));
 * ```
 */
export function systemTable(reports: SystemReport[]): string {
  const lines = [
    "| targets | system | window s | results/s (asked) | down | CPU s per 1,000 stored | peak memory MiB (PSS) | peak RSS MiB | store bytes per result | loadavg (start→end) |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const rep of reports) {
    for (const r of rep.runs) {
      lines.push(
        `| ${r.targets} | ${r.label} | ${fmt(r.seconds)} | ${fmt(r.resultsPerSecond, 1)} (${
          fmt(r.expectedPerSecond)
        }) | ${r.failed} | ${fmt(r.cpuSecondsPer1000, 3)} | ${fmt(mib(r.peakPssBytes))} | ${
          fmt(mib(r.peakRssBytes))
        } | ${fmt(r.bytesPerResult)} | ${fmt(r.loadavg[0], 2)}→${fmt(r.loadavg[1], 2)} |`,
      );
    }
  }
  lines.push("");
  const procs = (r: SystemRun) =>
    r.processes.filter((p) => p.cpuSeconds > 0 || p.peakRssBytes > 0).map((p) =>
      `${p.name} ${fmt(p.cpuSeconds, 1)} s, ${fmt(mib(p.peakRssBytes))} MiB`
    ).join("; ") +
    ` (peak summed RSS ${fmt(mib(r.peakRssBytes))} MiB, ${
      fmt(mib(r.peakAnonBytes))
    } of it anonymous, the rest pages of program files; peak summed PSS ${
      fmt(mib(r.peakPssBytes))
    } MiB)`;
  const connects = (r: SystemRun) =>
    r.connectMs
      ? `; connect p50 ${fmt(r.connectMs.p50, 2)} ms, p99 ${fmt(r.connectMs.p99, 2)} ms`
      : "";
  for (const rep of reports) {
    const n = rep.runs.find((r) => r.system === "netmon");
    const p = rep.runs.find((r) => r.system === "prometheus");
    if (!n || !p || rep.cpuRatio === undefined) {
      // one system alone: its processes, without ratios
      for (const r of rep.runs) {
        lines.push(`- ${rep.targets} targets, ${r.system} alone: ${procs(r)}${connects(r)}.`);
      }
      continue;
    }
    lines.push(
      `- ${rep.targets} targets every ${rep.intervalSeconds} s: Prometheus + blackbox_exporter use ${
        fmt(rep.cpuRatio, 2)
      }× netmon's CPU per stored result (target ≥ 3: ${verdict(rep.cpuRatio, 3)}), ${
        fmt(rep.memoryRatio, 2)
      }× its peak memory (summed PSS; target ≥ 2: ${verdict(rep.memoryRatio, 2)}; ${
        fmt(rep.rssRatio, 2)
      }× by summed RSS), ${fmt(rep.diskRatio, 2)}× its bytes per stored result (netmon's store ${
        fmt(n.bytesPerResult)
      } B/result after a ${fmt(n.runSeconds)} s run; text log ${
        fmt((n.logBytes ?? 0) / n.storedTotal)
      } B/result besides; Prometheus' TSDB after ${
        fmt(p.runSeconds)
      } s is still its WAL and head chunks).`,
      `  - netmon processes: ${procs(n)}${connects(n)}. Prometheus: ${procs(p)}.`,
      ...rep.runs.filter((r) => r.firstError).map((r) =>
        `  - ${r.system}: ${r.failed} down in the window; ${r.firstError}`
      ),
    );
  }
  return lines.join("\n").trimEnd();
}
