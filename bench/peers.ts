/**
 * The peers netmon is measured against, each driven the way it is used in
 * production: Debian's `prometheus-blackbox-exporter` over its `/probe` HTTP
 * API at a chosen concurrency, Nagios-style plugins (one fork and exec per
 * check, a few in parallel) and `fping` over a list of targets.
 *
 * @example
 * ```ts ignore
 * import { startBlackbox, driveBlackbox } from "./peers.ts";
 * await using bb = await startBlackbox(9115);
 * console.log(await driveBlackbox(bb, "tcp_connect", "127.0.0.1:80", 32, 2000));
 * ```
 *
 * @module
 */
import { Proc, tempDir } from "../tests/helpers/proc.ts";
import { freeTcpPort, waitForTcp } from "../tests/helpers/ports.ts";
import { cpuSeconds, reapedChildrenCpuSeconds } from "./procstat.ts";

/** Where Debian's monitoring-plugins live. */
export const PLUGIN_DIR = "/usr/lib/nagios/plugins";

/** One measured run of a checker. */
export interface Throughput {
  checks: number;
  failures: number;
  firstError: string | null;
  seconds: number;
  cpuSeconds: number;
  concurrency: number;
}

/** A running blackbox_exporter. */
export interface Blackbox extends AsyncDisposable {
  port: number;
  pid: number;
  proc: Proc;
}

/** The modules the benchmark probes with; the DNS module asks `dnsName`. */
function blackboxConfig(dnsName: string): string {
  return `modules:
  http_2xx: { prober: http, timeout: 2s, http: { preferred_ip_protocol: ip4 } }
  tcp_connect: { prober: tcp, timeout: 2s, tcp: { preferred_ip_protocol: ip4 } }
  icmp: { prober: icmp, timeout: 2s, icmp: { preferred_ip_protocol: ip4 } }
  dns: { prober: dns, timeout: 2s, dns: { query_name: "${dnsName}", query_type: A, transport_protocol: udp, preferred_ip_protocol: ip4 } }
`;
}

/**
 * Starts blackbox_exporter on a free port of 127.0.0.1 with the benchmark's
 * modules.
 *
 * @example
 * ```ts ignore
 * await using bb = await startBlackbox("www.bench.test");
 * ```
 */
export async function startBlackbox(dnsName: string): Promise<Blackbox> {
  const dir = await tempDir("netmon-bench-bb-");
  const config = `${dir.path}/blackbox.yml`;
  await Deno.writeTextFile(config, blackboxConfig(dnsName));
  const port = freeTcpPort();
  const proc = Proc.start([
    "prometheus-blackbox-exporter",
    `--config.file=${config}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ], { name: "blackbox" });
  await waitForTcp(port);
  return {
    port,
    pid: proc.child.pid,
    proc,
    async [Symbol.asyncDispose]() {
      await proc.stop();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/**
 * Probes `target` with `module` through `/probe`, `concurrency` requests at a
 * time for `durationMs`; CPU is blackbox_exporter's own.
 *
 * @example
 * ```ts ignore
 * const t = await driveBlackbox(bb, "icmp", "127.0.0.1", 32, 2000);
 * ```
 */
export async function driveBlackbox(
  bb: Blackbox,
  module: string,
  target: string,
  concurrency: number,
  durationMs: number,
): Promise<Throughput> {
  const url = `http://127.0.0.1:${bb.port}/probe?module=${module}&target=${
    encodeURIComponent(target)
  }`;
  const result: Throughput = {
    checks: 0,
    failures: 0,
    firstError: null,
    seconds: 0,
    cpuSeconds: 0,
    concurrency,
  };
  let counting = false;
  const loop = async (until: number) => {
    while (performance.now() < until) {
      const body = await (await fetch(url)).text();
      if (!counting) continue;
      result.checks++;
      if (!/^probe_success 1$/m.test(body)) {
        result.failures++;
        result.firstError ??= body.split("\n").find((l) => l.startsWith("probe_")) ?? body;
      }
    }
  };
  const slots = (until: number) =>
    Promise.all(Array.from({ length: concurrency }, () => loop(until)));
  await slots(performance.now() + 300);
  counting = true;
  const cpu0 = cpuSeconds(bb.pid);
  const t0 = performance.now();
  await slots(t0 + durationMs);
  result.seconds = (performance.now() - t0) / 1000;
  result.cpuSeconds = cpuSeconds(bb.pid) - cpu0;
  return result;
}

/**
 * Runs the command `cmd` over and over, `concurrency` at a time, for
 * `durationMs`, as Nagios runs a plugin: a fresh process per check, OK when
 * it exits 0. `perRun` is how many checks one run performs (fping checks a
 * whole list). CPU is that of the finished children.
 *
 * @example
 * ```ts ignore
 * const t = await drivePlugin([`${PLUGIN_DIR}/check_tcp`, "-H", "127.0.0.1", "-p", "80"], 8, 2000);
 * ```
 */
export async function drivePlugin(
  cmd: string[],
  concurrency: number,
  durationMs: number,
  perRun = 1,
): Promise<Throughput> {
  const [bin, ...args] = cmd;
  const result: Throughput = {
    checks: 0,
    failures: 0,
    firstError: null,
    seconds: 0,
    cpuSeconds: 0,
    concurrency,
  };
  const command = new Deno.Command(bin!, { args, stdin: "null", stdout: "piped", stderr: "piped" });
  const loop = async (until: number) => {
    while (performance.now() < until) {
      const out = await command.output();
      result.checks += perRun;
      if (!out.success) {
        result.failures += perRun;
        result.firstError ??= new TextDecoder().decode(out.stdout).trim() ||
          new TextDecoder().decode(out.stderr).trim();
      }
    }
  };
  const cpu0 = reapedChildrenCpuSeconds();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => loop(t0 + durationMs)));
  result.seconds = (performance.now() - t0) / 1000;
  result.cpuSeconds = reapedChildrenCpuSeconds() - cpu0;
  return result;
}

/**
 * fping's own round-trip times to `host`: `count` echoes `periodMs` apart,
 * as fping prints them with `-C`.
 *
 * @example
 * ```ts ignore
 * const rtts = await fpingRtts("127.0.0.1", 20, 10);
 * ```
 */
export async function fpingRtts(host: string, count: number, periodMs: number): Promise<number[]> {
  const out = await new Deno.Command("fping", {
    args: ["-q", "-C", String(count), "-p", String(periodMs), host],
    stdout: "piped",
    stderr: "piped",
  }).output();
  // -C prints "host : 0.03 0.02 -" on stderr, "-" for a lost echo
  const line = new TextDecoder().decode(out.stderr).split("\n").find((l) => l.startsWith(host));
  return (line?.split(":")[1] ?? "").trim().split(/\s+/).filter((x) => x !== "-").map(Number);
}
