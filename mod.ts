/**
 * netmon's command line.
 *
 * ```
 * netmon monitor [--port 54322] [--listen 127.0.0.1] [--data DIR] [--token T]
 * netmon monitor --connect HOST:PORT [--tls-ca FILE | --tls-fingerprint F] [--name N]
 * netmon manage [tasks.yaml] [--db FILE] [--token T] [--log-format text|json]
 *               [--listen-monitors ADDR [--tls-cert FILE --tls-key FILE]]
 * netmon help [command]
 * ```
 *
 * @example
 * ```ts ignore
 * import { main } from "./mod.ts";
 * Deno.exit(await main(["help"]));
 * ```
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "./shared/config.ts";
import { logger, setupLogging } from "./shared/log.ts";
import { VERSION } from "./shared/version.ts";
import { Monitor, MonitorConnectError } from "./monitor/monitor.ts";
import { loadOrCreateToken, prepareDataDir } from "./monitor/state.ts";
import { isLoopback } from "./shared/net.ts";
import { certFingerprint, formatFingerprint } from "./shared/tls.ts";
import { loadConfig, Manager, type ManagerOptions } from "./manager/manager.ts";
import { MonitorListenerError } from "./manager/monitor_listener.ts";
import { checkConfig } from "./manager/check_config.ts";
import {
  DEFAULT_HTTP_ADDRESS,
  type HttpServer,
  parseHttpAddress,
  startHttp,
} from "./manager/http/server.ts";
import { parseHttpHost } from "./manager/http/guard.ts";
import { ctl } from "./manager/ctl.ts";
import { startPrompt } from "./manager/prompt.ts";
import { attachAlerts } from "./manager/alerts/mod.ts";
import { freshnessOf } from "./manager/freshness.ts";
import { StoreFullError } from "./manager/store.ts";
import { JsonOutput, LiveView, type Output, TextOutput } from "./manager/output.ts";

/** A mistake on the command line; carries the exit code and a hint. */
export class UsageError extends Error {
  readonly exitCode: number;
  /** @param message what is wrong @param exitCode exit status (default 2) */
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "UsageError";
    this.exitCode = exitCode;
  }
}

const COMMANDS = ["monitor", "manage", "ctl", "demo", "check", "help", "version"] as const;

const HELP: Record<string, string> = {
  main: `netmon ${VERSION} — a distributed network monitor

Usage:
  netmon monitor [options]        run a monitor that the manager connects to
  netmon manage [tasks.yaml]      run the manager: distribute checks, collect results
  netmon demo [tasks.yaml]        the manager plus its loopback monitors in one process
  netmon ctl COMMAND              ask a running manager: status, monitors, targets, results,
                                  run, pause, resume, reload ('netmon ctl --help')
  netmon check [tasks.yaml]       validate a configuration (exit 1 on an error), for CI
  netmon help [command]           show help for a command
  netmon version                  print the version

Run 'netmon help monitor' or 'netmon help manage' for their options.`,
  monitor: `Usage: netmon monitor [options]

Listens for the manager (or, with --connect, dials it), runs the checks it
assigns on its own schedule and streams the results back. Keeps checking, and keeps every result, while no
manager is connected.

Options:
  --port N          TCP port to listen on (default 54322)
  --listen ADDR     address to listen on (default 127.0.0.1)
  --data DIR        where the monitor ID, last assignment and result spool live
                    (default ./data/monitor-PORT)
  --token TOKEN     shared secret with the manager (or NETMON_TOKEN, or --token-file)
  --token-file F    read the shared secret from file F
  --name NAME       name shown by the manager (default: this host's name)
  --tls-cert FILE   serve the monitor port over TLS with this PEM certificate
  --tls-key FILE    ... and this PEM private key
  --tls-client-ca F require the manager to present a client certificate signed by this CA
                    (set client_cert and client_key for the monitor in tasks.yaml)
                    Without a token, a monitor listening beyond loopback makes one
                    in DIR/token (mode 0600) and says how to give it to the manager.
  --spool-max-mb N  unacknowledged results kept at most, in MiB (default 256)
  --connect H:P     dial the manager's --listen-monitors address instead of
                    listening (repeatable: a standby manager is dialed while
                    none is connected); reconnects with jittered backoff
  --tls-ca FILE     with --connect: TLS, verifying the manager against this CA
  --tls-fingerprint F  with --connect: TLS, pinning the manager's SHA-256
                    certificate fingerprint (--tls-cert/--tls-key then give
                    an optional client certificate)
  --log-level L     debug, info, warning or error (default info)
  -h, --help        show this help`,
  demo: `Usage: netmon demo [tasks.yaml] [--for SECONDS] [manage options]

Runs the manager on the configuration (default ./tasks.yaml) together with a
monitor, in the same process, for every monitor of that file whose address is
on loopback (the shipped file has one, 127.0.0.1:54322). Stops on Ctrl-C, or
after --for SECONDS.`,
  check: `Usage: netmon check [tasks.yaml]

Validates the configuration (default ./tasks.yaml) as 'netmon manage' would
load it, without starting anything. Prints one line with what it holds
(targets, checks, monitors, notifiers) and exits 0, or prints each error as
FILE:LINE:COLUMN: FIELD: REASON (every check's; a mistake outside the checks
stops there) and exits 1.`,
  manage: `Usage: netmon manage [tasks.yaml] [options]

Reads the configuration (default ./tasks.yaml), keeps a connection to every
monitor in it, hands each its checks and prints every result. Edit the file
or send SIGHUP to reload it. Serves an API, Prometheus /metrics and a live
web dashboard (see --http); in a terminal, the 'netmon ctl' commands (status,
targets, run web, ...) can be typed at it.

Options:
  --db FILE           result store (default ./data/netmon.db)
  --token TOKEN       shared secret with the monitors (or NETMON_TOKEN, or --token-file)
  --token-file F      read the shared secret from file F
  --log-format F      text (the seed's format) or json (one object per line)
  --live / --no-live  redraw a live view in place (default: when stdout is a terminal)
  --status-every S    seconds between status blocks (default 10)
  --log-level L       debug, info, warning or error for diagnostics on stderr (default warning)
  --http ADDR         serve the API, /metrics and the dashboard on ADDR (default
                      127.0.0.1:8080; "none" for off; port 0 picks a free one)
  --http-token T      bearer token the API requires (or NETMON_HTTP_TOKEN); needed
                      when ADDR is not loopback
  --http-host NAME    also answer to this host name (repeatable); without it, only
                      ADDR, localhost and loopback addresses are served, so that a
                      web page cannot reach the API by rebinding its own name
  --keep-raw-days N   days raw results are kept (default 7)
  --keep-rollups-days N  days per-minute and per-hour rollups are kept (default 400)
  --listen-monitors ADDR  accept monitors started with --connect on ADDR (HOST:PORT);
                      beyond loopback only with a token. A monitors: entry with a
                      name and no address is such a monitor, known by its --name
  --tls-cert FILE     serve --listen-monitors over TLS with this PEM certificate
  --tls-key FILE      ... and this PEM private key
  -h, --help          show this help`,
};

function suggest(word: string): string {
  const near = COMMANDS.find((c) =>
    c.startsWith(word.slice(0, 3)) || word.startsWith(c.slice(0, 3))
  );
  return near ? ` (did you mean '${near}'?)` : "";
}

function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>(config);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

async function readToken(values: Record<string, unknown>): Promise<string> {
  if (typeof values.token === "string") {
    console.error(
      "netmon: warning: --token on the command line is visible to every user of this host " +
        "(ps, /proc); pass it with --token-file FILE or the NETMON_TOKEN environment variable",
    );
    return values.token;
  }
  if (typeof values["token-file"] === "string") {
    try {
      return (await Deno.readTextFile(values["token-file"])).trim();
    } catch (e) {
      throw new UsageError(
        `Cannot read the token file "${values["token-file"]}": ${
          e instanceof Error ? e.message : e
        }`,
      );
    }
  }
  return Deno.env.get("NETMON_TOKEN") ?? "";
}

function httpHostOption(names: string[] | undefined): string[] {
  try {
    return (names ?? []).map(parseHttpHost);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function intOption(
  values: Record<string, unknown>,
  name: string,
  dflt: number,
  max = 1e9,
  min = 0,
): number {
  const v = values[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${v}"`);
  }
  return n;
}

function logLevel(values: Record<string, unknown>, dflt: "info" | "warning") {
  const v = values["log-level"] ?? dflt;
  if (v !== "debug" && v !== "info" && v !== "warning" && v !== "error") {
    throw new UsageError(`--log-level must be debug, info, warning or error, got "${v}"`);
  }
  return v;
}

/** The first argument of `manage` options that is not an option or an option's value. */
function firstPositional(args: string[]): string | undefined {
  const flags = new Set(["--live", "--no-live", "-h", "--help"]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("-")) return a;
    if (!flags.has(a) && !a.includes("=")) i++;
  }
  return undefined;
}

/** Aborted to stop the running command as if SIGTERM had arrived (`demo --for`). */
const stopRequested = new AbortController();

/** Resolves when SIGINT or SIGTERM arrives, or a stop is requested. */
function untilSignal(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(sig, () => resolve(sig));
    }
    stopRequested.signal.addEventListener("abort", () => resolve("SIGTERM"));
  });
}

/**
 * `demo`: the manager with the given (or shipped) configuration, plus an
 * in-process monitor for every monitor of that file on a loopback address.
 */
async function runDemo(args: string[]): Promise<number> {
  const at = args.indexOf("--for");
  let rest = args;
  if (at >= 0) {
    const seconds = Number(args[at + 1]);
    if (!(seconds > 0)) {
      throw new UsageError(`--for takes a number of seconds, got "${args[at + 1]}"`);
    }
    setTimeout(() => stopRequested.abort(), seconds * 1000);
    rest = [...args.slice(0, at), ...args.slice(at + 2)];
  }
  if (rest.includes("-h") || rest.includes("--help")) return help("demo");
  const configPath = firstPositional(rest) ?? "tasks.yaml";
  setupLogging({ level: "warning" });
  const config = await loadConfig(configPath);
  const token = await readToken({});
  const monitors: Monitor[] = [];
  for (const m of config.monitors.filter((m) => isLoopback(m.host))) {
    monitors.push(
      await Monitor.start({
        hostname: m.host,
        port: m.port,
        dataDir: `./data/monitor-${m.port}`,
        token,
      }),
    );
  }
  try {
    return await runManager(rest);
  } finally {
    await Promise.all(monitors.map((m) => m.stop()));
  }
}

async function runMonitor(args: string[]): Promise<number> {
  const { values } = parse({
    args,
    strict: true,
    options: {
      port: { type: "string" },
      listen: { type: "string" },
      data: { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      name: { type: "string" },
      "spool-max-mb": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "tls-client-ca": { type: "string" },
      "tls-ca": { type: "string" },
      "tls-fingerprint": { type: "string" },
      connect: { type: "string", multiple: true },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return help("monitor");
  if (values.connect?.length) return await runDialingMonitor(values);
  setupLogging({ level: logLevel(values, "info") });
  const port = intOption(values, "port", 54322, 65535);
  const hostname = values.listen ?? "127.0.0.1";
  const dataDir = values.data ?? `./data/monitor-${port}`;
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  let token = await readToken(values);
  if (token === "" && !isLoopback(hostname)) {
    // never an open relay: beyond loopback a monitor always has a token
    await prepareDataDir(dataDir);
    const made = await loadOrCreateToken(dataDir);
    token = made.token;
    console.log(
      `${
        made.created ? "Created" : "Using"
      } the token in ${dataDir}/token (mode 0600), since no --token was ` +
        `given and ${hostname} is not loopback. Copy that file to the manager and run: ` +
        `netmon manage tasks.yaml --token-file <the copy>`,
    );
  }
  const monitor = await Monitor.start({
    hostname,
    port,
    dataDir,
    token,
    tlsCert: values["tls-cert"],
    tlsKey: values["tls-key"],
    tlsClientCa: values["tls-client-ca"],
    name: values.name,
    spoolMaxBytes: intOption(values, "spool-max-mb", 256, 1e6, 1) * 1024 * 1024,
  });
  console.log(`Monitoring service ${monitor.id} listening on ${monitor.address}`);
  if (values["tls-cert"]) {
    const fp = formatFingerprint(
      await certFingerprint(await Deno.readTextFile(values["tls-cert"])),
    );
    console.log(`TLS certificate SHA-256 fingerprint (pin it in tasks.yaml as fingerprint): ${fp}`);
  }
  const sig = await untilSignal();
  logger("monitor").info("Stopping on {sig}", { sig });
  await monitor.stop();
  return 0;
}

/** `netmon monitor --connect H:P`: dials the manager, listens nowhere. */
async function runDialingMonitor(values: {
  connect?: string[];
  port?: string;
  listen?: string;
  data?: string;
  token?: string;
  "token-file"?: string;
  name?: string;
  "spool-max-mb"?: string;
  "tls-cert"?: string;
  "tls-key"?: string;
  "tls-client-ca"?: string;
  "tls-ca"?: string;
  "tls-fingerprint"?: string;
  "log-level"?: string;
}): Promise<number> {
  setupLogging({ level: logLevel(values, "info") });
  for (const flag of ["port", "listen", "tls-client-ca"] as const) {
    if (values[flag] !== undefined) {
      throw new UsageError(
        `--${flag} is for a listening monitor; with --connect it listens nowhere`,
      );
    }
  }
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  let fingerprint: string | undefined;
  if (values["tls-fingerprint"] !== undefined) {
    fingerprint = values["tls-fingerprint"].replace(/^sha256:/i, "").replace(/:/g, "")
      .toUpperCase();
    if (!/^[0-9A-F]{64}$/.test(fingerprint)) {
      throw new UsageError(
        "--tls-fingerprint must be a SHA-256 fingerprint: 64 hex digits, colons allowed",
      );
    }
  }
  const tls = values["tls-ca"] || fingerprint
    ? {
      ...(values["tls-ca"] ? { ca: values["tls-ca"] } : {}),
      ...(fingerprint ? { fingerprint } : {}),
      ...(values["tls-cert"]
        ? { clientCert: values["tls-cert"], clientKey: values["tls-key"] }
        : {}),
    }
    : undefined;
  if (!tls && values["tls-cert"]) {
    throw new UsageError(
      "with --connect, --tls-cert/--tls-key are a client certificate: give --tls-ca or --tls-fingerprint too",
    );
  }
  const dataDir = values.data ?? "./data/monitor";
  let monitor: Monitor;
  try {
    monitor = await Monitor.start({
      port: 0,
      dataDir,
      token: await readToken(values),
      name: values.name,
      spoolMaxBytes: intOption(values, "spool-max-mb", 256, 1e6, 1) * 1024 * 1024,
      connect: values.connect,
      dialTls: tls,
    });
  } catch (e) {
    if (e instanceof MonitorConnectError) throw new UsageError(e.message);
    throw e;
  }
  console.log(`Monitoring service ${monitor.id} dialing ${monitor.address}`);
  const sig = await untilSignal();
  logger("monitor").info("Stopping on {sig}", { sig });
  await monitor.stop();
  return 0;
}

async function runManager(args: string[]): Promise<number> {
  const { values, positionals } = parse({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      db: { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      "log-format": { type: "string" },
      live: { type: "boolean" },
      "no-live": { type: "boolean" },
      "status-every": { type: "string" },
      "log-level": { type: "string" },
      http: { type: "string" },
      "http-token": { type: "string" },
      "http-host": { type: "string", multiple: true },
      "keep-raw-days": { type: "string" },
      "keep-rollups-days": { type: "string" },
      "listen-monitors": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return help("manage");
  let listenMonitors: ManagerOptions["listenMonitors"];
  if (values["listen-monitors"] !== undefined) {
    const m = values["listen-monitors"].match(/^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/);
    const port = Number(m?.[3]);
    if (!m || port > 65535) {
      throw new UsageError(
        `--listen-monitors must be HOST:PORT such as 0.0.0.0:54320 or [::]:54320; got "${
          values["listen-monitors"]
        }"`,
      );
    }
    if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) {
      throw new UsageError("--tls-cert and --tls-key go together");
    }
    listenMonitors = {
      hostname: m[1] ?? m[2]!,
      port,
      ...(values["tls-cert"] ? { tlsCert: values["tls-cert"], tlsKey: values["tls-key"] } : {}),
    };
  } else if (values["tls-cert"] !== undefined || values["tls-key"] !== undefined) {
    throw new UsageError("--tls-cert and --tls-key are for --listen-monitors");
  }
  const httpAddr = values.http === "none" ? null : values.http ?? DEFAULT_HTTP_ADDRESS;
  const httpToken = values["http-token"] ?? Deno.env.get("NETMON_HTTP_TOKEN") ?? "";
  let http: { hostname: string; port: number } | null = null;
  try {
    http = httpAddr === null ? null : parseHttpAddress(httpAddr);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (http && !isLoopback(http.hostname) && !httpToken) {
    throw new UsageError(
      `--http ${httpAddr} is not a loopback address: the API can pause checks and reload the ` +
        `configuration, so it needs --http-token TOKEN (or NETMON_HTTP_TOKEN) there`,
    );
  }
  const httpHosts = httpHostOption(values["http-host"]);
  if (positionals.length > 1) {
    throw new UsageError(`manage takes one configuration file, got ${positionals.length}`);
  }
  setupLogging({ level: logLevel(values, "warning") });
  const format = values["log-format"] ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--log-format must be text or json, got "${format}"`);
  }
  const live = values.live ?? (!values["no-live"] && format === "text" && Deno.stdout.isTerminal());
  const output: Output = format === "json"
    ? new JsonOutput()
    : live
    ? new LiveView()
    : new TextOutput();
  const dbPath = values.db ?? "./data/netmon.db";
  if (dbPath.includes("/")) {
    await Deno.mkdir(dbPath.slice(0, dbPath.lastIndexOf("/")), { recursive: true });
  }
  let manager: Manager;
  try {
    manager = await Manager.start({
      configPath: positionals[0] ?? "tasks.yaml",
      dbPath,
      token: await readToken(values),
      output,
      listenMonitors,
      statusEveryMs: intOption(values, "status-every", 10, 86400) * 1000 || 10_000,
      retention: {
        rawMs: intOption(values, "keep-raw-days", 7, 36500) * 86_400_000,
        minuteMs: intOption(values, "keep-rollups-days", 400, 36500) * 86_400_000,
        hourMs: intOption(values, "keep-rollups-days", 400, 36500) * 86_400_000,
      },
    });
  } catch (e) {
    output.close();
    if (e instanceof MonitorListenerError) throw new UsageError(e.message);
    if (listenMonitors && e instanceof Deno.errors.AddrInUse) {
      throw new UsageError(
        `cannot listen for monitors on ${values["listen-monitors"]}: ${(e as Error).message}`,
        1,
      );
    }
    throw e;
  }
  if (manager.monitorsAddress) {
    console.error(`netmon: monitors dial in at ${manager.monitorsAddress}`);
  }
  if (output instanceof LiveView) output.judge = freshnessOf(manager);
  let server: HttpServer | undefined;
  if (http) {
    try {
      server = await startHttp(manager, { ...http, token: httpToken, hosts: httpHosts });
    } catch (e) {
      await manager.stop();
      output.close();
      throw new UsageError(
        `cannot serve the API on ${httpAddr}: ${(e as Error).message}; ` +
          `pick another with --http HOST:PORT or turn it off with --http none`,
        1,
      );
    }
    console.error(`netmon: API and dashboard on ${server.url}/`);
    if (Deno.stdin.isTerminal()) {
      const api = server.api;
      // the netmon ctl commands, typed here, answered in-process
      startPrompt(Deno.stdin.readable, (req) => {
        if (httpToken) req.headers.set("authorization", `Bearer ${httpToken}`);
        return api.handle(req);
      }, (text) => live ? text.split("\n").forEach((l) => output.event(l)) : console.log(text))
        .catch((e) => logger("manager").warn("The command prompt stopped: {e}", { e }));
      if (!live) {
        console.error(
          "netmon: type status, monitors, targets, results, run, pause, resume or reload",
        );
      }
    }
  }
  const alerts = attachAlerts(manager);
  Deno.addSignalListener("SIGHUP", () => manager.reload());
  const sig = await untilSignal();
  logger("manager").info("Stopping on {sig}", { sig });
  await server?.close();
  // alerts write to the manager's store: stop them before it closes
  await alerts.stop();
  await manager.stop();
  output.close();
  return 0;
}

async function runCheck(args: string[]): Promise<number> {
  const { values, positionals } = parse({
    args,
    strict: true,
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h" } },
  });
  if (values.help) return help("check");
  if (positionals.length > 1) throw new UsageError("check takes one configuration file");
  const report = await checkConfig(positionals[0] ?? "tasks.yaml");
  if (report.ok) console.log(report.summary);
  for (const e of report.ok ? [] : report.errors) console.error(`netmon: ${e}`);
  return report.ok ? 0 : 1;
}

function help(topic?: string): number {
  const text = HELP[topic ?? "main"];
  if (!text) throw new UsageError(`No help for "${topic}"${suggest(topic ?? "")}`);
  console.log(text);
  return 0;
}

/** Runs the command line `args`; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  try {
    switch (cmd) {
      case "monitor":
        return await runMonitor(rest);
      case "manage":
        return await runManager(rest);
      case "ctl":
        return await ctl(rest);
      case "demo":
        return await runDemo(rest);
      case "check":
        return await runCheck(rest);
      case undefined:
      case "help":
      case "-h":
      case "--help":
        return help(rest[0]);
      case "version":
      case "--version":
        console.log(`netmon ${VERSION}`);
        return 0;
      default:
        throw new UsageError(`Unknown command "${cmd}"${suggest(cmd)}; run 'netmon help'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`netmon: ${e.message}`);
      return e.exitCode;
    }
    if (e instanceof ConfigError) {
      console.error(`netmon: ${e.message}`);
      return 1;
    }
    if (e instanceof Deno.errors.AddrInUse) {
      console.error(`netmon: ${e.message}: another process listens there; pick another --port`);
      return 1;
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      console.error(`netmon: ${e.message}`);
      return 1;
    }
    if (e instanceof StoreFullError) {
      console.error(
        `netmon: cannot open the store: ${e.message}; free space there or pick another --db`,
      );
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
