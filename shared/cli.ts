/**
 * The shape every `netmon` command has, and what the commands share: one
 * {@linkcode UsageError}, option parsing from the command's own option table,
 * help generated from that table, the token options and the stop signal.
 *
 * Each command lives beside the code it drives (`monitor/cli.ts`,
 * `manager/cli.ts`, `manager/ctl.ts`, …) and exports a {@linkcode Command};
 * `mod.ts` only picks one by name.
 *
 * @example
 * ```ts
 * import { type Command, helpText, parseOptions } from "./cli.ts";
 * const hello = {
 *   name: "hello",
 *   summary: "say hello",
 *   usage: "[--to NAME]",
 *   options: { to: { type: "string", value: "NAME", help: "whom to greet" } },
 *   run: (args: string[]) => {
 *     const { values } = parseOptions(hello, args);
 *     console.log(`hello ${values.to ?? "world"}`);
 *     return Promise.resolve(0);
 *   },
 * } satisfies Command;
 * console.assert(helpText(hello).includes("--to NAME"));
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

/**
 * A mistake on the command line: a bad flag, a bad value, a missing
 * argument. `netmon` prints the message and exits with `exitCode` (2).
 *
 * @example
 * ```ts
 * import { UsageError } from "./cli.ts";
 * const e = new UsageError('--port must be a whole number from 0 to 65535, got "x"');
 * console.assert(e.exitCode === 2);
 * ```
 */
export class UsageError extends Error {
  /** The process's exit status for this mistake. */
  readonly exitCode: number = 2;
  /** @param message what is wrong, naming the flag or argument */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One option of a command: how it parses and how help shows it. */
export interface OptionSpec {
  type: "string" | "boolean";
  /** A one-letter alias, e.g. `h` for `-h`. */
  short?: string;
  /** Repeatable: the value is every occurrence, in order. */
  multiple?: boolean;
  /** The placeholder help shows after the flag, e.g. `N` or `FILE`. */
  value?: string;
  /** What help says about it; further lines are indented under the first. */
  help: string;
}

/** A command's options by long name (without `--`). */
export type OptionTable = Record<string, OptionSpec>;

/** The parsed value of each option in `O`: absent, a string, strings or a boolean. */
export type OptionValues<O extends OptionTable> = {
  [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean
    : O[K]["multiple"] extends true ? string[]
    : string;
};

/** A `netmon` subcommand. */
export interface Command {
  /** What the user types: `netmon NAME`. */
  name: string;
  /** One line for `netmon help`. */
  summary: string;
  /** What follows `netmon NAME` in the usage line, e.g. `[tasks.yaml] [options]`. */
  usage: string;
  /** Paragraphs shown under the usage line by `netmon help NAME`. */
  description?: string;
  /** Subcommands, if the command has them (`ctl status`, …): name and one line. */
  commands?: readonly (readonly [string, string])[];
  options: OptionTable;
  /** Text after the options in help (exit status, examples). */
  footer?: string;
  /** Runs the command with the arguments after its name; resolves with the exit code. */
  run(args: string[]): Promise<number>;
}

/** The `-h, --help` option every command has. */
export const HELP_OPTION = {
  help: { type: "boolean", short: "h", help: "show this help" },
} as const satisfies OptionTable;

/**
 * Parses `args` with `command`'s option table. Throws {@linkcode UsageError}
 * naming the flag for an unknown option or a missing value.
 *
 * @example
 * ```ts
 * import { parseOptions } from "./cli.ts";
 * const cmd = { name: "x", options: { port: { type: "string", help: "" } } } as const;
 * console.assert(parseOptions(cmd, ["--port", "1"]).values.port === "1");
 * ```
 */
export function parseOptions<O extends OptionTable>(
  command: { name: string; options: O },
  args: string[],
): { values: OptionValues<O>; positionals: string[] } {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const [name, o] of Object.entries(command.options)) {
    options[name] = { type: o.type };
    if (o.short !== undefined) options[name].short = o.short;
    if (o.multiple !== undefined) options[name].multiple = o.multiple;
  }
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { values: parsed.values as OptionValues<O>, positionals: parsed.positionals };
  } catch (e) {
    // a bad table is a programmer's error; only the user's mistakes (ERR_PARSE_ARGS_*) are usage
    if (!String((e as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")) throw e;
    // node's messages name the flag; keep their first sentence and point to the help
    const why = (e instanceof Error ? e.message : String(e)).split(". ")[0]!.replace(/\.$/, "");
    throw new UsageError(`${why}; run 'netmon help ${command.name}'`);
  }
}

/**
 * The help of one command, generated from its definition.
 *
 * @example
 * ```ts
 * import { helpText } from "./cli.ts";
 * const text = helpText({
 *   name: "x",
 *   summary: "",
 *   usage: "[options]",
 *   options: { port: { type: "string", value: "N", help: "the port" } },
 *   run: () => Promise.resolve(0),
 * });
 * console.assert(text.startsWith("Usage: netmon x [options]"));
 * ```
 */
export function helpText(command: Command): string {
  const parts = [`Usage: netmon ${command.name} ${command.usage}`.trimEnd()];
  if (command.description) parts.push(command.description);
  if (command.commands?.length) {
    parts.push("Commands:\n" + columns(command.commands.map(([n, s]) => [n, s])));
  }
  const opts = Object.entries(command.options).map(([name, o]): [string, string] => [
    `${o.short ? `-${o.short}, ` : ""}--${name}${o.value ? ` ${o.value}` : ""}`,
    o.help,
  ]);
  if (opts.length) parts.push("Options:\n" + columns(opts));
  if (command.footer) parts.push(command.footer);
  return parts.join("\n\n");
}

/**
 * `netmon help`: every command with its summary.
 *
 * @example
 * ```ts
 * import { overviewText } from "./cli.ts";
 * console.assert(overviewText("netmon 1", []).startsWith("netmon 1"));
 * ```
 */
export function overviewText(title: string, commands: readonly Command[]): string {
  return `${title}\n\nUsage:\n${
    columns(commands.map((c) => [`netmon ${c.name} ${c.usage}`.trimEnd(), c.summary]))
  }\n\nRun 'netmon help COMMAND' or 'netmon COMMAND --help' for a command's options.`;
}

/** Two columns, the second aligned; continuation lines of the second stay under it. */
function columns(rows: readonly (readonly [string, string])[]): string {
  const width = Math.min(28, Math.max(...rows.map(([a]) => a.length))) + 2;
  return rows.map(([a, b]) => {
    const [first = "", ...more] = b.split("\n");
    const head = a.length + 2 > width
      ? `  ${a}\n  ${" ".repeat(width)}${first}`
      : `  ${a.padEnd(width)}${first}`;
    return [head, ...more.map((l) => `  ${" ".repeat(width)}${l}`)].join("\n");
  }).join("\n");
}

/**
 * The command whose name is nearest `word`, for "did you mean …?".
 *
 * @example
 * ```ts
 * import { suggest } from "./cli.ts";
 * console.assert(suggest("monit", ["monitor", "manage"]) === " (did you mean 'monitor'?)");
 * ```
 */
export function suggest(word: string, names: readonly string[]): string {
  const near = names.find((c) => c.startsWith(word.slice(0, 3)) || word.startsWith(c.slice(0, 3)));
  return near ? ` (did you mean '${near}'?)` : "";
}

/** The options that give the shared secret with the other side. */
export const TOKEN_OPTIONS = {
  token: {
    type: "string",
    value: "TOKEN",
    help: "shared secret with the other side (or NETMON_TOKEN, or --token-file)",
  },
  "token-file": { type: "string", value: "F", help: "read the shared secret from file F" },
} as const satisfies OptionTable;

/**
 * The shared secret from `--token`, `--token-file` or `NETMON_TOKEN`, in
 * that order ("" for none). `--token` warns: every user of the host can read it.
 *
 * @example
 * ```ts ignore
 * import { readToken } from "./cli.ts";
 * const token = await readToken({ "token-file": "/etc/netmon/token" });
 * ```
 */
export async function readToken(
  values: { token?: string; "token-file"?: string },
): Promise<string> {
  if (values.token !== undefined) {
    console.error(
      "netmon: warning: --token on the command line is visible to every user of this host " +
        "(ps, /proc); pass it with --token-file FILE or the NETMON_TOKEN environment variable",
    );
    return values.token;
  }
  const file = values["token-file"];
  if (file !== undefined) {
    try {
      return (await Deno.readTextFile(file)).trim();
    } catch (e) {
      throw new UsageError(
        `Cannot read the token file "${file}": ${e instanceof Error ? e.message : e}`,
      );
    }
  }
  return Deno.env.get("NETMON_TOKEN") ?? "";
}

/**
 * The whole number in option `name`, `dflt` when absent. Throws
 * {@linkcode UsageError} naming the flag when it is not within [min, max].
 *
 * @example
 * ```ts
 * import { intOption } from "./cli.ts";
 * console.assert(intOption({ port: "80" }, "port", 1, 65535) === 80);
 * ```
 */
export function intOption(
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

/**
 * The `--log-level` option, whose help names the command's default.
 *
 * @example
 * ```ts
 * import { logLevelOption } from "./cli.ts";
 * console.assert(logLevelOption("info")["log-level"].help.includes("(default info)"));
 * ```
 */
export function logLevelOption(dflt: "info" | "warning") {
  return {
    "log-level": {
      type: "string",
      value: "L",
      help: `debug, info, warning or error (default ${dflt})`,
    },
  } as const satisfies OptionTable;
}

/**
 * The `--log-level` value, `dflt` when absent; throws {@linkcode UsageError} otherwise.
 *
 * @example
 * ```ts
 * import { logLevel } from "./cli.ts";
 * console.assert(logLevel({}, "info") === "info");
 * ```
 */
export function logLevel(
  values: { "log-level"?: string },
  dflt: "info" | "warning",
): "debug" | "info" | "warning" | "error" {
  const v = values["log-level"] ?? dflt;
  if (v !== "debug" && v !== "info" && v !== "warning" && v !== "error") {
    throw new UsageError(`--log-level must be debug, info, warning or error, got "${v}"`);
  }
  return v;
}

/**
 * Resolves when SIGINT or SIGTERM arrives, or `stop` aborts (as SIGTERM).
 *
 * @example
 * ```ts ignore
 * import { untilSignal } from "./cli.ts";
 * const sig = await untilSignal(AbortSignal.timeout(60_000));
 * ```
 */
export function untilSignal(stop?: AbortSignal): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(sig, () => resolve(sig));
    }
    if (stop?.aborted) resolve("SIGTERM");
    stop?.addEventListener("abort", () => resolve("SIGTERM"));
  });
}
