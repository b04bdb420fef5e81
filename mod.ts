/**
 * netmon's command line: picks the command by name and maps its errors to
 * exit codes. Each command is defined beside the code it drives
 * (`monitor/cli.ts`, `manager/cli.ts`, `manager/ctl.ts`,
 * `manager/check_config.ts`); `netmon help` is generated from them.
 *
 * ```
 * netmon monitor [--port 54322] [--listen 127.0.0.1] [--data DIR] [--token-file F]
 * netmon manage [tasks.yaml] [--db FILE|URL] [--token-file F] [--log-format text|json]
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
import {
  type Command,
  HELP_OPTION,
  helpText,
  overviewText,
  parseOptions,
  suggest,
  UsageError,
} from "./shared/cli.ts";
import { VERSION } from "./shared/version.ts";
import { monitorCommand } from "./monitor/cli.ts";
import { demoCommand, manageCommand, ServeError } from "./manager/cli.ts";
import { ctlCommand } from "./manager/ctl.ts";
import { checkCommand } from "./manager/check_config.ts";
import { StoreFullError, StoreOpenError } from "./manager/store/store.ts";

const helpCommand: Command = {
  name: "help",
  summary: "show help for a command",
  usage: "[command]",
  options: HELP_OPTION,
  run: (args) => {
    const { values, positionals } = parseOptions(helpCommand, args);
    const topic = values.help ? "help" : positionals[0];
    if (topic === undefined) {
      console.log(overviewText(`netmon ${VERSION} — a distributed network monitor`, COMMANDS));
      return Promise.resolve(0);
    }
    const command = COMMANDS.find((c) => c.name === topic);
    if (!command) throw new UsageError(`No help for "${topic}"${suggest(topic, NAMES)}`);
    console.log(helpText(command));
    return Promise.resolve(0);
  },
};

const versionCommand: Command = {
  name: "version",
  summary: "print the version",
  usage: "",
  options: HELP_OPTION,
  run: (args) => {
    const { values, positionals } = parseOptions(versionCommand, args);
    if (positionals.length) throw new UsageError(`version takes no arguments`);
    console.log(values.help ? helpText(versionCommand) : `netmon ${VERSION}`);
    return Promise.resolve(0);
  },
};

/** Every command, in the order `netmon help` lists them. */
export const COMMANDS: readonly Command[] = [
  monitorCommand,
  manageCommand,
  demoCommand,
  ctlCommand,
  checkCommand,
  helpCommand,
  versionCommand,
];
const NAMES = COMMANDS.map((c) => c.name);
const ALIASES: Record<string, string> = { "-h": "help", "--help": "help", "--version": "version" };

/**
 * `e`, if it is an error whose message says it all (exit 1). The modules of
 * the configuration and of the cluster are imported here, after the fact,
 * rather than at the top: a monitor never loads them otherwise, and each
 * module a process loads stays in its memory.
 */
async function plainError(e: unknown): Promise<Error | null> {
  if (e instanceof Deno.errors.PermissionDenied) return e;
  const [{ ConfigError }, { ClusterError }] = await Promise.all([
    import("./shared/config.ts"),
    import("./manager/cluster.ts"),
  ]);
  return e instanceof ConfigError || e instanceof ClusterError ? e : null;
}

/** Runs the command line `args`; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const [word = "help", ...rest] = args;
  const name = ALIASES[word] ?? word;
  try {
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) {
      throw new UsageError(`Unknown command "${word}"${suggest(word, NAMES)}; run 'netmon help'`);
    }
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ServeError) {
      console.error(`netmon: ${e.message}`);
      return e.exitCode;
    }
    const plain = await plainError(e);
    if (plain) {
      console.error(`netmon: ${plain.message}`);
      return 1;
    }
    if (e instanceof Deno.errors.AddrInUse) {
      console.error(`netmon: ${e.message}: another process listens there; pick another --port`);
      return 1;
    }
    if (e instanceof StoreOpenError) {
      console.error(`netmon: cannot open the store: ${e.message}`);
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
