/**
 * `netmon manage` and `netmon demo`: their options and help. What they run
 * (`serve.ts`: the manager process, its HTTP API, prompt and alerting) is
 * loaded only when one of them runs.
 *
 * @example
 * ```ts ignore
 * import { manageCommand } from "./cli.ts";
 * Deno.exit(await manageCommand.run(["tasks.yaml", "--http", "none"]));
 * ```
 *
 * @module
 */
import {
  type Command,
  HELP_OPTION,
  logLevelOption,
  type OptionValues,
  TOKEN_OPTIONS,
} from "../shared/cli.ts";

/** Where the API, /metrics and the dashboard are served unless `--http` says otherwise. */
export const DEFAULT_HTTP_ADDRESS = "127.0.0.1:8080";

const options = {
  db: {
    type: "string",
    value: "FILE|URL",
    help: "result store: an SQLite file (default ./data/netmon.db) or a postgres:// URL",
  },
  ...TOKEN_OPTIONS,
  "log-format": {
    type: "string",
    value: "F",
    help: "text (the seed's format) or json (one object per line)",
  },
  live: {
    type: "boolean",
    help: "redraw a live view in place (default: when stdout is a terminal)",
  },
  "no-live": { type: "boolean", help: "print one line per result even in a terminal" },
  "status-every": {
    type: "string",
    value: "S",
    help: "seconds between status blocks (default 10)",
  },
  ...logLevelOption("warning"),
  http: {
    type: "string",
    value: "ADDR",
    help: `serve the API, /metrics and the dashboard on ADDR (default\n${DEFAULT_HTTP_ADDRESS}; ` +
      `"none" for off; port 0 picks a free one)`,
  },
  "http-token": {
    type: "string",
    value: "T",
    help: "bearer token the API requires (or NETMON_HTTP_TOKEN); needed\nwhen ADDR is not loopback",
  },
  "http-host": {
    type: "string",
    multiple: true,
    value: "NAME",
    help: "also answer to this host name (repeatable); without it, only\n" +
      "ADDR, localhost and loopback addresses are served, so that a\n" +
      "web page cannot reach the API by rebinding its own name",
  },
  "keep-raw-days": { type: "string", value: "N", help: "days raw results are kept (default 7)" },
  "keep-rollups-days": {
    type: "string",
    value: "N",
    help: "days per-minute and per-hour rollups are kept (default 400)",
  },
  cluster: {
    type: "string",
    value: "URL",
    help: "share the monitors with the other managers registered in the\n" +
      "PostgreSQL at URL (postgres://user@host:port/db): each monitor is\n" +
      "served by one live manager, alerts are evaluated by one",
  },
  "cluster-id": {
    type: "string",
    value: "ID",
    help: "this manager's name in the cluster (default a random one); a\n" +
      "manager restarted with its ID takes its monitors back at once.\n" +
      "Never give two running managers the same ID",
  },
  "listen-monitors": {
    type: "string",
    value: "ADDR",
    help: "accept monitors started with --connect on ADDR (HOST:PORT); beyond\n" +
      "loopback only with a token. A monitors: entry with a name and no\n" +
      "address is such a monitor, known by its --name",
  },
  "tls-cert": {
    type: "string",
    value: "FILE",
    help: "serve --listen-monitors over TLS with this PEM certificate",
  },
  "tls-key": { type: "string", value: "FILE", help: "... and this PEM private key" },
  ...HELP_OPTION,
} as const;

/** The parsed options of `netmon manage`. */
export type ManageValues = OptionValues<typeof options>;

/** `netmon manage [tasks.yaml] [options]`. */
export const manageCommand = {
  name: "manage",
  summary: "run the manager: distribute checks, collect results",
  usage: "[tasks.yaml] [options]",
  description: `Reads the configuration (default ./tasks.yaml), keeps a connection to every
monitor in it, hands each its checks and prints every result. Edit the file
or send SIGHUP to reload it. Serves an API, Prometheus /metrics and a live
web dashboard (see --http); in a terminal, the 'netmon ctl' commands (status,
targets, run web, ...) can be typed at it.`,
  options,
  // the manager's modules load only when a manager runs, so that a monitor, ctl or help
  // process does not hold them in memory
  run: async (args: string[]) => (await import("./serve.ts")).runManage(args),
} satisfies Command;

/** `netmon demo [tasks.yaml] [--for SECONDS] [manage options]`. */
export const demoCommand = {
  name: "demo",
  summary: "the manager plus its loopback monitors in one process",
  usage: "[tasks.yaml] [--for SECONDS] [manage options]",
  description: `Runs the manager on the configuration (default ./tasks.yaml) together with a
monitor, in the same process, for every monitor of that file whose address is
on loopback (the shipped file has one, 127.0.0.1:54322). Stops on Ctrl-C, or
after --for SECONDS. Takes every option of 'netmon manage'.`,
  options: {
    for: { type: "string", value: "SECONDS", help: "stop after this many seconds" },
    ...options,
  },
  run: async (args: string[]) => (await import("./serve.ts")).runDemo(args),
} satisfies Command;

/** The API could not be served where asked (exit 1: the address, not the command line, is wrong). */
export class ServeError extends Error {
  /** The process's exit status. */
  readonly exitCode = 1;
  /** @param message what failed and what to change */
  constructor(message: string) {
    super(message);
    this.name = "ServeError";
  }
}
