/**
 * `netmon monitor`: runs a monitor until SIGINT or SIGTERM.
 *
 * @example
 * ```ts ignore
 * import { monitorCommand } from "./cli.ts";
 * Deno.exit(await monitorCommand.run(["--port", "54322"]));
 * ```
 *
 * @module
 */
import {
  type Command,
  HELP_OPTION,
  helpText,
  intOption,
  logLevel,
  logLevelOption,
  type OptionValues,
  parseOptions,
  readToken,
  TOKEN_OPTIONS,
  untilSignal,
  UsageError,
} from "../shared/cli.ts";
import { logger, setupLogging } from "../shared/log.ts";
import { isLoopback } from "../shared/net.ts";
import { certFingerprint, formatFingerprint } from "../shared/tls.ts";
import { Monitor, MonitorConnectError } from "./monitor.ts";
import { loadOrCreateToken, prepareDataDir } from "./state.ts";

const options = {
  port: { type: "string", value: "N", help: "TCP port to listen on (default 54322)" },
  listen: { type: "string", value: "ADDR", help: "address to listen on (default 127.0.0.1)" },
  data: {
    type: "string",
    value: "DIR",
    help:
      "where the monitor ID, last assignment and result spool live\n(default ./data/monitor-PORT)",
  },
  ...TOKEN_OPTIONS,
  name: {
    type: "string",
    value: "NAME",
    help: "what this monitor calls itself (default: this host's name); the manager\n" +
      "names it as tasks.yaml does and shows this as a detail",
  },
  "tls-cert": {
    type: "string",
    value: "FILE",
    help: "serve the monitor port over TLS with this PEM certificate",
  },
  "tls-key": { type: "string", value: "FILE", help: "... and this PEM private key" },
  "tls-client-ca": {
    type: "string",
    value: "F",
    help: "require the manager to present a client certificate signed by this CA\n" +
      "(set client_cert and client_key for the monitor in tasks.yaml)",
  },
  "spool-max-mb": {
    type: "string",
    value: "N",
    help: "unacknowledged results kept at most, in MiB (default 256)",
  },
  connect: {
    type: "string",
    multiple: true,
    value: "HOST:PORT",
    help: "dial the manager's --listen-monitors address instead of listening\n" +
      "(repeatable: a standby manager is dialed while none is connected);\n" +
      "reconnects with jittered backoff",
  },
  "tls-ca": {
    type: "string",
    value: "FILE",
    help: "with --connect: TLS, verifying the manager against this CA",
  },
  "tls-fingerprint": {
    type: "string",
    value: "F",
    help: "with --connect: TLS, pinning the manager's SHA-256 certificate\n" +
      "fingerprint (--tls-cert/--tls-key then give an optional client certificate)",
  },
  ...logLevelOption("info"),
  ...HELP_OPTION,
} as const;

/** `netmon monitor [options]`. */
export const monitorCommand = {
  name: "monitor",
  summary: "run a monitor (the manager connects to it, or it dials with --connect)",
  usage: "[options]",
  description: `Listens for the manager (or, with --connect, dials it), runs the checks it
assigns on its own schedule and streams the results back. Keeps checking, and
keeps every result, while no manager is connected.

Without a token, a monitor listening beyond loopback makes one in DIR/token
(mode 0600) and says how to give it to the manager.`,
  options,
  run: runMonitor,
} satisfies Command;

async function runMonitor(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(monitorCommand, args);
  if (values.help) {
    console.log(helpText(monitorCommand));
    return 0;
  }
  if (positionals.length) {
    throw new UsageError(`monitor takes no arguments, got "${positionals[0]}"`);
  }
  setupLogging({ level: logLevel(values, "info") });
  if (values.connect?.length) return await runDialingMonitor(values);
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
  try {
    console.log(`Monitoring service ${monitor.id} listening on ${monitor.address}`);
    if (values["tls-cert"]) {
      const fp = formatFingerprint(
        await certFingerprint(await Deno.readTextFile(values["tls-cert"])),
      );
      console.log(
        `TLS certificate SHA-256 fingerprint (pin it in tasks.yaml as fingerprint): ${fp}`,
      );
    }
    const sig = await untilSignal();
    logger("monitor").info("Stopping on {sig}", { sig });
  } finally {
    await monitor.stop();
  }
  return 0;
}

/** `netmon monitor --connect H:P`: dials the manager, listens nowhere. */
async function runDialingMonitor(values: OptionValues<typeof options>): Promise<number> {
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
  if (!values["tls-ca"] && !fingerprint && values["tls-cert"]) {
    throw new UsageError(
      "with --connect, --tls-cert/--tls-key are a client certificate: give --tls-ca or " +
        "--tls-fingerprint too",
    );
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
  let monitor: Monitor;
  try {
    monitor = await Monitor.start({
      port: 0,
      dataDir: values.data ?? "./data/monitor",
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
  try {
    console.log(`Monitoring service ${monitor.id} dialing ${monitor.address}`);
    const sig = await untilSignal();
    logger("monitor").info("Stopping on {sig}", { sig });
  } finally {
    await monitor.stop();
  }
  return 0;
}
