/**
 * netmon's benchmark: starts its own targets on loopback (nginx, unbound,
 * chrony, a TCP listener, a UDP echo, the kernel's ICMP echo on 127.0.0.1),
 * measures netmon's checks, scheduler, manager ingest and ICMP accuracy side
 * by side with blackbox_exporter, fping and Debian's monitoring-plugins,
 * prints one table and writes it as JSON.
 *
 * ```sh
 * ./netmon --deno run -A bench/run.ts [--out FILE] [--only throughput,latency,schedule,ingest]
 * ./netmon --deno run -A bench/run.ts system [--targets 2000,10000] [--seconds 600] [--profile DIR]
 * ./netmon --deno run -A bench/run.ts fleet [--monitors 10,1000,5000] [--seconds 60] [--profile DIR]
 * ```
 *
 * `system` and `fleet` (see `system.ts`, `fleet.ts`) run alone: they need the
 * machine to themselves and take minutes per size.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { CheckType } from "../shared/checks.ts";
import { startNginx } from "../tests/fixtures/nginx.ts";
import { startUnbound } from "../tests/fixtures/unbound.ts";
import { startChrony } from "../tests/fixtures/chrony.ts";
import { Proc } from "../tests/helpers/proc.ts";
import {
  driveBlackbox,
  drivePlugin,
  fpingRtts,
  PLUGIN_DIR,
  startBlackbox,
  type Throughput,
} from "./peers.ts";
import { measureIngest, measureSchedule } from "./scale.ts";
import { measureSystems, parseSystems, type SystemReport, systemTable } from "./system.ts";
import { loadAverage } from "./procstat.ts";
import { type FleetRun, fleetTable, measureFleet } from "./fleet.ts";
import { type ChecksJob, type ChecksReport, quantile } from "./worker.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SECTIONS = ["throughput", "latency", "schedule", "ingest"] as const;
const RUN_MS = 2000;
const NETMON_CONCURRENCY = [16, 64, 256];
const BLACKBOX_CONCURRENCY = [8, 32, 128];
const PLUGIN_CONCURRENCY = [4, 16];
const DNS_ZONE = "bench.test.";
const DNS_NAME = "www.bench.test";

/** Debian packages the benchmark needs, by a program each provides. */
const PACKAGES: Record<string, string> = {
  "/usr/bin/prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
  [`${PLUGIN_DIR}/check_tcp`]: "monitoring-plugins",
  "/usr/bin/fping": "fping",
  "/usr/sbin/nginx": "nginx-light",
  "/usr/sbin/unbound": "unbound",
  "/usr/sbin/chronyd": "chrony",
  "/usr/bin/dig": "dnsutils",
};

/** What the `system` section needs besides: Prometheus itself. */
const SYSTEM_PACKAGES: Record<string, string> = {
  "/usr/bin/prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
  "/usr/bin/prometheus": "prometheus",
};

async function ensurePackages(packages: Record<string, string>) {
  const missing = Object.entries(packages).filter(([path]) => {
    try {
      return !Deno.statSync(path).isFile;
    } catch {
      return true;
    }
  }).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  if (Deno.uid() !== 0) {
    throw new Error(`missing Debian packages; run: sudo apt-get install ${missing.join(" ")}`);
  }
  console.error(`Installing ${missing.join(" ")} with apt-get...`);
  for (const args of [["update", "-q"], ["install", "-y", "-q", ...missing]]) {
    // what apt-get prints goes to stderr: stdout is the report (tests and --out compare it)
    const out = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "piped",
      stderr: "inherit",
    }).output();
    await Deno.stderr.write(out.stdout);
    if (!out.success) throw new Error(`apt-get ${args.join(" ")} failed`);
  }
}

async function netmonChecks(job: ChecksJob): Promise<ChecksReport> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${ROOT}deno.json`,
      `${ROOT}bench/worker.ts`,
      "checks",
      JSON.stringify(job),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`netmon check worker failed for ${job.type}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

/** The best of several concurrencies, by checks per second. */
async function best(
  levels: number[],
  run: (concurrency: number) => Promise<Throughput>,
): Promise<Throughput> {
  let top: Throughput | undefined;
  for (const c of levels) {
    const t = await run(c);
    if (!top || rate(t) > rate(top)) top = t;
  }
  return top!;
}

const rate = (t: Throughput) => (t.checks - t.failures) / t.seconds;
const cpuPer1000 = (t: Throughput) => t.checks === 0 ? NaN : (t.cpuSeconds / t.checks) * 1000;

/** One row of the throughput table. */
interface Row {
  type: CheckType;
  checker: string;
  concurrency: number;
  checksPerSecond: number;
  cpuSecondsPer1000: number;
  failures: number;
  firstError: string | null;
  /** netmon's checks per second over this checker's; cpu ratio likewise (peer / netmon). */
  speedRatio?: number;
  cpuRatio?: number;
}

function row(type: CheckType, checker: string, t: Throughput): Row {
  return {
    type,
    checker,
    concurrency: t.concurrency,
    checksPerSecond: rate(t),
    cpuSecondsPer1000: cpuPer1000(t),
    failures: t.failures,
    firstError: t.firstError,
  };
}

interface Targets {
  nginx: number;
  dns: number;
  ntp: number;
  tcp: number;
  udp: number;
}

async function throughput(t: Targets, bbPort: Awaited<ReturnType<typeof startBlackbox>>) {
  const plugins: Record<CheckType, string[] | null> = {
    HTTP: [`${PLUGIN_DIR}/check_http`, "-H", "127.0.0.1", "-p", String(t.nginx), "-u", "/"],
    HTTPS: null,
    TCP: [`${PLUGIN_DIR}/check_tcp`, "-H", "127.0.0.1", "-p", String(t.tcp)],
    UDP: [
      `${PLUGIN_DIR}/check_udp`,
      "-H",
      "127.0.0.1",
      "-p",
      String(t.udp),
      "-s",
      "ping",
      "-e",
      "ping",
    ],
    DNS: [
      `${PLUGIN_DIR}/check_dig`,
      "-H",
      "127.0.0.1",
      "-p",
      String(t.dns),
      "-l",
      DNS_NAME,
      "-T",
      "A",
    ],
    NTP: [`${PLUGIN_DIR}/check_ntp_time`, "-H", "127.0.0.1", "-p", String(t.ntp)],
    // fping over a list of 500 loopback addresses is its best use
    ICMP: null,
  };
  const netmon: Partial<Record<CheckType, Record<string, unknown>>> = {
    HTTP: { url: `http://127.0.0.1:${t.nginx}/` },
    TCP: { host: "127.0.0.1", port: t.tcp },
    UDP: { server_address: "127.0.0.1", port: t.udp, payload: "ping", expect: "ping" },
    DNS: { server_address: "127.0.0.1", port: t.dns, query_name: DNS_NAME },
    NTP: { server_address: "127.0.0.1", port: t.ntp },
    ICMP: { server_address: "127.0.0.1", count: 1 },
  };
  const blackbox: Partial<Record<CheckType, [string, string]>> = {
    HTTP: ["http_2xx", `http://127.0.0.1:${t.nginx}/`],
    TCP: ["tcp_connect", `127.0.0.1:${t.tcp}`],
    DNS: ["dns", `127.0.0.1:${t.dns}`],
    ICMP: ["icmp", "127.0.0.1"],
  };
  const rows: Row[] = [];
  for (const type of ["TCP", "ICMP", "HTTP", "DNS", "UDP", "NTP"] as CheckType[]) {
    console.error(`throughput: ${type}`);
    const ours = await best(NETMON_CONCURRENCY, async (concurrency) => {
      const r = await netmonChecks({ type, raw: netmon[type]!, concurrency, durationMs: RUN_MS });
      return { ...r, concurrency };
    });
    const mine = row(type, "netmon", ours);
    rows.push(mine);
    const peers: [string, Throughput][] = [];
    const bb = blackbox[type];
    if (bb) {
      peers.push([
        "blackbox_exporter",
        await best(BLACKBOX_CONCURRENCY, (c) => driveBlackbox(bbPort, bb[0], bb[1], c, RUN_MS)),
      ]);
    }
    const plugin = plugins[type];
    if (plugin) {
      peers.push([
        plugin[0]!.split("/").at(-1)!,
        await best(PLUGIN_CONCURRENCY, (c) => drivePlugin(plugin, c, RUN_MS)),
      ]);
    }
    if (type === "ICMP") {
      const hosts = Array.from(
        { length: 500 },
        (_, i) => `127.0.${2 + (i >> 8)}.${(i & 255) || 1}`,
      );
      peers.push([
        "fping (500 hosts/run)",
        await best(
          [1, 2],
          (c) =>
            drivePlugin(
              ["fping", "-q", "-c", "1", "-i", "0", "-t", "500", ...hosts],
              c,
              RUN_MS,
              hosts.length,
            ),
        ),
      ]);
    }
    for (const [name, p] of peers) {
      const r = row(type, name, p);
      r.speedRatio = mine.checksPerSecond / r.checksPerSecond;
      r.cpuRatio = r.cpuSecondsPer1000 / mine.cpuSecondsPer1000;
      rows.push(r);
    }
  }
  return rows;
}

async function latency() {
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let round = 0; round < 5; round++) {
    const r = await netmonChecks({
      type: "ICMP",
      raw: { server_address: "127.0.0.1", count: 20, interval_ms: 10 },
      concurrency: 1,
      durationMs: 1000,
    });
    if (r.rttMedianMs !== null) ours.push(r.rttMedianMs);
    theirs.push(...await fpingRtts("127.0.0.1", 20, 10));
  }
  ours.sort((a, b) => a - b);
  theirs.sort((a, b) => a - b);
  const netmonMs = quantile(ours, 0.5), fpingMs = quantile(theirs, 0.5);
  return { netmonMedianMs: netmonMs, fpingMedianMs: fpingMs, addedMs: netmonMs - fpingMs };
}

const fmt = (x: number | undefined, digits = 0) =>
  x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits);
const mib = (b: number) => b / 2 ** 20;

async function machine(): Promise<string> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/^model name\s*:\s*(.*)$/m)?.[1];
  return `${navigator.hardwareConcurrency} × ${cpu ?? "unknown CPU"}, ${
    fmt(mib(Deno.systemMemoryInfo().total) / 1024, 0)
  } GiB, ${Deno.osRelease()}, Deno ${Deno.version.deno}`;
}

function table(report: Record<string, unknown>): string {
  const lines: string[] = [];
  lines.push(`netmon benchmark, ${report.date}, ${report.machine}`, "");
  const rows = report.throughput as Row[] | undefined;
  if (rows) {
    lines.push(
      "| check | checker | best concurrency | checks/s | CPU s per 1,000 | netmon speed × | peer CPU ÷ netmon CPU |",
      "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const r of rows) {
      lines.push(
        `| ${r.type} | ${r.checker}${
          r.failures ? ` (${r.failures} failed)` : ""
        } | ${r.concurrency} | ${fmt(r.checksPerSecond)} | ${fmt(r.cpuSecondsPer1000, 3)} | ${
          fmt(r.speedRatio, 2)
        } | ${fmt(r.cpuRatio, 2)} |`,
      );
    }
    lines.push("");
  }
  const lat = report.latency as Awaited<ReturnType<typeof latency>> | undefined;
  if (lat) {
    lines.push(
      `ICMP RTT to 127.0.0.1, median: netmon ${fmt(lat.netmonMedianMs, 4)} ms, fping ${
        fmt(lat.fpingMedianMs, 4)
      } ms, netmon − fping ${fmt(lat.addedMs, 4)} ms (target: within 0.1 ms)`,
    );
  }
  const s = report.schedule as Awaited<ReturnType<typeof measureSchedule>> | undefined;
  if (s) {
    lines.push(
      `Scheduler, ${s.checks} checks (TCP and ICMP) every 10 s for ${
        fmt(s.seconds)
      } s: ${s.starts} starts, ` +
        `start lag p50 ${fmt(s.lagP50Ms, 2)} ms, p99 ${fmt(s.lagP99Ms, 2)} ms, max ${
          fmt(s.lagMaxMs, 1)
        } ms ` +
        `(target p99 < 50 ms); peak RSS ${fmt(mib(s.peakRssBytes))} MiB (target < 150); ` +
        `CPU ${
          fmt((s.cpuSeconds / s.seconds) * 100)
        } % of a core; ${s.resultsReceived} results acknowledged`,
    );
  }
  const i = report.ingest as Awaited<ReturnType<typeof measureIngest>> | undefined;
  if (i) {
    lines.push(
      `Manager ingest, 10 monitors at once: ${
        fmt(i.resultsPerSecond)
      } results/s stored and acknowledged ` +
        `(${i.results} in ${fmt(i.seconds, 2)} s; target ≥ 20,000/s); peak RSS ${
          fmt(mib(i.managerPeakRssBytes))
        } MiB`,
    );
  }
  for (const name of SECTIONS) {
    if (report[`${name}Error`]) lines.push(`${name} failed: ${report[`${name}Error`]}`);
  }
  return lines.join("\n");
}

const numbers = (s: string) => s.split(",").map(Number);

/** Writes the report (and its table) as JSON to `out` or a dated file under bench/results/. */
async function save(report: Record<string, unknown>, text: string, out: string | undefined) {
  const date = String(report.date);
  const path = out ??
    `${ROOT}bench/results/${date.replace(/[: ]/g, "-").replace("-UTC", "")}${
      report.section ? `-${report.section}` : ""
    }.json`;
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || ".", { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify({ ...report, table: text }, null, 2) + "\n");
  console.error(`Wrote ${path}`);
}

async function systemSection(
  values: {
    targets?: string;
    seconds?: string;
    warmup?: string;
    profile?: string;
    systems?: string;
    out?: string;
  },
) {
  const systems = values.systems ? parseSystems(values.systems) : undefined;
  // netmon alone needs neither package
  if (!systems || systems.includes("prometheus")) await ensurePackages(SYSTEM_PACKAGES);
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const load = loadAverage();
  const reports: SystemReport[] = [];
  for (const targets of numbers(values.targets ?? "2000,10000")) {
    reports.push(
      await measureSystems({
        targets,
        seconds: Number(values.seconds ?? 600),
        warmupSeconds: values.warmup ? Number(values.warmup) : undefined,
        profileDir: values.profile,
        systems,
      }),
    );
  }
  const text = [
    `netmon system benchmark, ${date}, ${await machine()}; loadavg at start ${
      load.map((x) => x.toFixed(2)).join(" ")
    }, at end ${loadAverage().map((x) => x.toFixed(2)).join(" ")}`,
    "",
    systemTable(reports),
  ].join("\n");
  console.log(text);
  await save(
    { section: "system", date, machine: await machine(), system: reports },
    text,
    values.out,
  );
}

async function fleetSection(
  values: { monitors?: string; seconds?: string; idle?: string; profile?: string; out?: string },
) {
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const load = loadAverage();
  const runs: FleetRun[] = [];
  let failure = "";
  for (const monitors of numbers(values.monitors ?? "10,1000,5000")) {
    console.error(`fleet: ${monitors} monitors`);
    try {
      runs.push(
        await measureFleet({
          monitors,
          seconds: Number(values.seconds ?? 60),
          idleSeconds: values.idle ? Number(values.idle) : undefined,
          profileDir: values.profile,
        }),
      );
    } catch (e) {
      // a size the machine cannot hold (file descriptors, memory) ends the section, not the report
      failure = `fleet: ${monitors} monitors failed: ${e instanceof Error ? e.message : e}`;
      console.error(failure);
      break;
    }
  }
  const text = [
    `netmon fleet benchmark, ${date}, ${await machine()}; ulimit -n ${await fdLimit()}; loadavg at start ${
      load.map((x) => x.toFixed(2)).join(" ")
    }, at end ${loadAverage().map((x) => x.toFixed(2)).join(" ")}`,
    "",
    fleetTable(runs),
    ...(failure ? ["", failure] : []),
  ].join("\n");
  console.log(text);
  await save({ section: "fleet", date, machine: await machine(), fleet: runs }, text, values.out);
}

/** This process's open-file limit (soft), which its children inherit. */
async function fdLimit(): Promise<string> {
  const limits = await Deno.readTextFile("/proc/self/limits");
  return limits.match(/^Max open files\s+(\d+)/m)?.[1] ?? "unknown";
}

async function main() {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      only: { type: "string" },
      targets: { type: "string" },
      seconds: { type: "string" },
      warmup: { type: "string" },
      profile: { type: "string" },
      systems: { type: "string" },
      monitors: { type: "string" },
      idle: { type: "string" },
    },
  });
  if (positionals[0] === "system") return await systemSection(values);
  if (positionals[0] === "fleet") return await fleetSection(values);
  if (positionals.length > 0) {
    throw new Error(
      `unknown section ${positionals[0]}: use system, fleet, or none for the check sections`,
    );
  }
  const only = new Set(values.only ? values.only.split(",") : SECTIONS);
  await ensurePackages(PACKAGES);
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const report: Record<string, unknown> = { date, machine: await machine() };

  await using nginx = await startNginx();
  await using dns = await startUnbound(DNS_ZONE, ["www IN A 192.0.2.1"]);
  await using ntp = await startChrony({ stratum: 3 });
  await using echo = Proc.start([Deno.execPath(), "run", "-A", `${ROOT}bench/echo_server.ts`], {
    name: "echo",
  });
  const ports = JSON.parse(await echo.waitFor(/^\{"tcp"/)) as { tcp: number; udp: number };
  await using bb = await startBlackbox(DNS_NAME);
  const targets: Targets = {
    nginx: nginx.port,
    dns: dns.port,
    ntp: ntp.port,
    tcp: ports.tcp,
    udp: ports.udp,
  };

  // a section that fails is reported as such; the others still count
  const section = async (name: string, run: () => Promise<unknown>) => {
    if (!only.has(name)) return;
    console.error(`${name}...`);
    try {
      report[name] = await run();
    } catch (e) {
      report[`${name}Error`] = e instanceof Error ? e.message : String(e);
    }
  };
  await section("throughput", () => throughput(targets, bb));
  await section("latency", latency);
  await section(
    "schedule",
    () => measureSchedule({ tcpPort: ports.tcp, checks: 10_000, durationMs: 35_000 }),
  );
  await section(
    "ingest",
    () => measureIngest({ monitors: 10, perMonitor: 50_000 }),
  );
  const text = table(report);
  console.log(text);
  await save(report, text, values.out);
}

if (import.meta.main) await main();
