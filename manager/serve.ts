/**
 * What `netmon manage` and `netmon demo` run once their command line is
 * parsed: the manager process, its HTTP API, prompt and alerting, started
 * and stopped in one order by {@linkcode ManagerProcess}. `cli.ts` loads
 * this module only then.
 *
 * @example
 * ```ts ignore
 * import { runManage } from "./serve.ts";
 * Deno.exit(await runManage(["tasks.yaml", "--http", "none"]));
 * ```
 *
 * @module
 */
import {
  helpText,
  intOption,
  logLevel,
  parseOptions,
  readToken,
  untilSignal,
  UsageError,
} from "../shared/cli.ts";
import { logger, setupLogging } from "../shared/log.ts";
import {
  DEFAULT_HTTP_ADDRESS,
  demoCommand,
  manageCommand,
  type ManageValues,
  ServeError,
} from "./cli.ts";
import { isLoopback } from "../shared/net.ts";
import { Monitor } from "../monitor/monitor.ts";
import { type Alerts, attachAlerts } from "./alerts/mod.ts";
import { freshnessOf } from "./freshness.ts";
import { type HttpServer, parseHttpAddress, requireApiToken, startHttp } from "./http/server.ts";
import { parseHttpHost } from "./http/guard.ts";
import { loadConfig, Manager, type ManagerOptions, stopStep } from "./manager.ts";
import { MonitorListenerError } from "./monitor_listener.ts";
import { JsonOutput, LiveView, type Output, TextOutput } from "./output.ts";
import { startPrompt } from "./prompt.ts";

/**
 * The manager's parts in the order they start, and stop in reverse: output,
 * manager, alerting, HTTP server. Alerting writes to the manager's store
 * and the server reads it, so both stop before the manager;
 * the output stops last, so that the manager's last lines still print.
 * Disposing stops what has started so far, also after a failed start.
 *
 * @example
 * ```ts ignore
 * import { ManagerProcess } from "./serve.ts";
 * await using proc = await ManagerProcess.start(managerOptions, { http: null, httpToken: "" });
 * ```
 */
export class ManagerProcess implements AsyncDisposable {
  readonly manager: Manager;
  readonly server: HttpServer | undefined;
  readonly alerts: Alerts;
  #stack: AsyncDisposableStack;

  private constructor(
    parts: { manager: Manager; server: HttpServer | undefined; alerts: Alerts },
    stack: AsyncDisposableStack,
  ) {
    this.manager = parts.manager;
    this.server = parts.server;
    this.alerts = parts.alerts;
    this.#stack = stack;
  }

  /** Starts every part; on a failure, stops what had started and throws. */
  static async start(
    managerOptions: ManagerOptions,
    http: {
      address: { hostname: string; port: number } | null;
      token: string;
      hosts: string[];
    },
  ): Promise<ManagerProcess> {
    await using stack = new AsyncDisposableStack();
    const output = managerOptions.output;
    stack.defer(() => output.close());
    let manager: Manager;
    try {
      manager = await Manager.start(managerOptions);
    } catch (e) {
      if (e instanceof MonitorListenerError) throw new UsageError(e.message);
      const l = managerOptions.listenMonitors;
      if (l && e instanceof Deno.errors.AddrInUse) {
        throw new ServeError(
          `cannot listen for monitors on ${l.hostname}:${l.port}: ${e.message}; ` +
            `pick another with --listen-monitors HOST:PORT`,
        );
      }
      throw e;
    }
    stack.defer(() => manager.stop());
    if (output instanceof LiveView) {
      output.judge = freshnessOf(manager);
      output.linkStates = () => manager.states();
      output.latest = () => manager.latest.all();
    }
    const alerts = await attachAlerts(manager);
    stack.defer(() => stopStep("stop alerting", () => alerts.stop()));
    let server: HttpServer | undefined;
    if (http.address) {
      try {
        server = await startHttp(manager, {
          ...http.address,
          token: http.token,
          hosts: http.hosts,
        });
      } catch (e) {
        const where = `${http.address.hostname}:${http.address.port}`;
        throw new ServeError(
          `cannot serve the API on ${where}: ${(e as Error).message}; ` +
            `pick another with --http HOST:PORT or turn it off with --http none`,
        );
      }
      const s = server;
      stack.defer(() => stopStep("close the API server", () => s.close()));
    }
    return new ManagerProcess({ manager, server, alerts }, stack.move());
  }

  /** Stops the server, alerting, the manager and the output, in that order. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stack.disposeAsync();
  }
}

/** Runs `netmon manage ARGS`; resolves with the exit code. */
export async function runManage(args: string[], stop?: AbortSignal): Promise<number> {
  const { values, positionals } = parseOptions(manageCommand, args);
  if (values.help) {
    console.log(helpText(manageCommand));
    return 0;
  }
  return await manage(values, positionals, stop);
}

async function manage(
  values: ManageValues,
  positionals: string[],
  stop?: AbortSignal,
): Promise<number> {
  const httpAddr = values.http === "none" ? null : values.http ?? DEFAULT_HTTP_ADDRESS;
  const httpToken = values["http-token"] ?? Deno.env.get("NETMON_HTTP_TOKEN") ?? "";
  const http = httpAddr === null ? null : parseHttpAddress(httpAddr);
  if (http) requireApiToken(http.hostname, httpToken);
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
  // openStore makes an SQLite file's directory; a URL is no directory
  const dbPath = values.db ?? "./data/netmon.db";
  const managerOptions: ManagerOptions = {
    configPath: positionals[0] ?? "tasks.yaml",
    dbPath,
    token: await readToken(values),
    listenMonitors: listenMonitorsOption(values),
    output: format === "json" ? new JsonOutput() : live ? new LiveView() : new TextOutput(),
    statusEveryMs: intOption(values, "status-every", 10, 86400) * 1000 || 10_000,
    retention: {
      rawMs: intOption(values, "keep-raw-days", 7, 36500) * 86_400_000,
      minuteMs: intOption(values, "keep-rollups-days", 400, 36500) * 86_400_000,
      hourMs: intOption(values, "keep-rollups-days", 400, 36500) * 86_400_000,
    },
    ...(values.cluster
      ? {
        cluster: {
          url: values.cluster,
          ...(values["cluster-id"] ? { id: values["cluster-id"] } : {}),
        },
      }
      : {}),
  };
  const output = managerOptions.output;
  // what is written to the terminal under the live view would be drawn over: show it there
  const intoView = output instanceof LiveView && Deno.stderr.isTerminal();
  const say = intoView ? (line: string) => output.event(line) : console.error;
  if (intoView) setupLogging({ level: logLevel(values, "warning"), write: say });
  await using proc = await ManagerProcess.start(managerOptions, {
    address: http,
    token: httpToken,
    hosts: httpHosts,
  });
  if (proc.manager.monitorsAddress) {
    console.error(`netmon: monitors dial in at ${proc.manager.monitorsAddress}`);
  }
  if (proc.server) {
    say(`netmon: API and dashboard on ${proc.server.url}/`);
    proc.manager.advertise(proc.server.url);
    if (Deno.stdin.isTerminal()) {
      startTerminalPrompt(proc.server, httpToken, live, managerOptions.output);
    }
  }
  const manager = proc.manager;
  Deno.addSignalListener("SIGHUP", () => manager.reload());
  const sig = await untilSignal(stop);
  logger("manager").info("Stopping on {sig}", { sig });
  return 0;
}

/** The `netmon ctl` commands, typed at the manager's terminal, answered in-process. */
function startTerminalPrompt(
  server: HttpServer,
  httpToken: string,
  live: boolean,
  output: Output,
): void {
  const api = server.api;
  const transport = (req: Request) => {
    if (httpToken) req.headers.set("authorization", `Bearer ${httpToken}`);
    return api.handle(req);
  };
  // the live view draws the line being typed and the answers itself
  (output instanceof LiveView
    ? output.prompt(Deno.stdin, transport)
    : startPrompt(Deno.stdin.readable, transport, console.log))
    .catch((e) => logger("manager").warn("The command prompt stopped: {e}", { e }));
  if (!live) {
    console.error("netmon: type status, monitors, targets, results, run, pause, resume or reload");
  }
}

/** `--listen-monitors HOST:PORT` with its optional `--tls-cert`/`--tls-key`. */
function listenMonitorsOption(values: ManageValues): ManagerOptions["listenMonitors"] {
  const addr = values["listen-monitors"];
  if (addr === undefined) {
    if (values["tls-cert"] !== undefined || values["tls-key"] !== undefined) {
      throw new UsageError("--tls-cert and --tls-key are for --listen-monitors");
    }
    return undefined;
  }
  const m = addr.match(/^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/);
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new UsageError(
      `--listen-monitors must be HOST:PORT such as 0.0.0.0:54320 or [::]:54320; got "${addr}"`,
    );
  }
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  return {
    hostname: m[1] ?? m[2]!,
    port,
    ...(values["tls-cert"] ? { tlsCert: values["tls-cert"], tlsKey: values["tls-key"] } : {}),
  };
}

function httpHostOption(names: string[] | undefined): string[] {
  try {
    return (names ?? []).map(parseHttpHost);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * `demo`: the manager with the given (or shipped) configuration, plus an
 * in-process monitor for every monitor of that file on a loopback address.
 */
/** Runs `netmon demo ARGS`; resolves with the exit code. */
export async function runDemo(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(demoCommand, args);
  if (values.help) {
    console.log(helpText(demoCommand));
    return 0;
  }
  const stop = new AbortController();
  await using stack = new AsyncDisposableStack();
  if (values.for !== undefined) {
    const seconds = Number(values.for);
    if (!(seconds > 0)) {
      throw new UsageError(`--for takes a number of seconds, got "${values.for}"`);
    }
    const timer = setTimeout(() => stop.abort(), seconds * 1000);
    stack.defer(() => clearTimeout(timer));
  }
  const configPath = positionals[0] ?? "tasks.yaml";
  setupLogging({ level: "warning" });
  const config = await loadConfig(configPath);
  const token = await readToken({});
  for (const m of config.monitors.filter((m) => isLoopback(m.host))) {
    const monitor = await Monitor.start({
      hostname: m.host,
      port: m.port,
      dataDir: `./data/monitor-${m.port}`,
      token,
    });
    stack.defer(() => monitor.stop());
  }
  const { for: _, ...manageValues } = values;
  return await manage(manageValues, positionals, stop.signal);
}
