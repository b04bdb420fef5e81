/**
 * `netmon check [tasks.yaml]`: validates a configuration as `manage` would
 * load it, for CI pipelines. A valid file gives one line, exit 0:
 *
 * ```
 * tasks.yaml: OK, 2 targets, 14 checks, 1 monitor, 0 notifiers
 * ```
 *
 * an invalid one every error found, each as file:line:column: field: reason
 * (every check's mistake; a mistake outside the checks stops the reading
 * there), exit 1.
 *
 * @example
 * ```ts ignore
 * import { checkConfig } from "./check_config.ts";
 * const r = await checkConfig("tasks.yaml");
 * console.log(r.ok ? r.summary : r.errors.join("\n"));
 * ```
 *
 * @module
 */
import type { Config } from "../shared/config.ts";
import { errorText } from "../shared/error_text.ts";
import { type Command, HELP_OPTION, helpText, parseOptions, UsageError } from "../shared/cli.ts";

/** `netmon check [tasks.yaml]`. */
export const checkCommand = {
  name: "check",
  summary: "validate a configuration (exit 1 on an error), for CI",
  usage: "[tasks.yaml]",
  description: `Validates the configuration (default ./tasks.yaml) as 'netmon manage' would
load it, without starting anything. Prints one line with what it holds
(targets, checks, monitors, notifiers) and exits 0, or prints each error as
FILE:LINE:COLUMN: FIELD: REASON (every check's; a mistake outside the checks
stops there) and exits 1.`,
  options: HELP_OPTION,
  run: runCheck,
} satisfies Command;

async function runCheck(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(checkCommand, args);
  if (values.help) {
    console.log(helpText(checkCommand));
    return 0;
  }
  if (positionals.length > 1) {
    throw new UsageError(`check takes one configuration file, got ${positionals.length}`);
  }
  const report = await checkConfig(positionals[0] ?? "tasks.yaml");
  if (report.ok) console.log(report.summary);
  for (const e of report.ok ? [] : report.errors) console.error(`netmon: ${e}`);
  return report.ok ? 0 : 1;
}

/** What {@linkcode checkConfig} found. */
export type CheckReport = { ok: true; summary: string } | { ok: false; errors: string[] };

/**
 * The one-line summary of a parsed configuration.
 *
 * @example
 * ```ts
 * import { summarizeConfig } from "./check_config.ts";
 * const line = summarizeConfig("t.yaml", { monitors: [], checks: [], targets: [] });
 * console.assert(line === "t.yaml: OK, 0 targets, 0 checks, 0 monitors, 0 notifiers");
 * ```
 */
export function summarizeConfig(path: string, config: Config): string {
  const n = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
  return `${path}: OK, ${n(config.targets.length, "target")}, ${
    n(config.checks.length, "check")
  }, ${n(config.monitors.length, "monitor")}, ${
    n(config.alerting?.notifiers.length ?? 0, "notifier")
  }`;
}

/** Reads and validates `path`. */
export async function checkConfig(path: string): Promise<CheckReport> {
  // loaded here, not at the top: `mod.ts` imports every command, and a monitor has no use for
  // the configuration's parser (its YAML library among it) in its memory
  const { ConfigError, parseConfig } = await import("../shared/config.ts");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const error = new ConfigError(path, 1, 1, "", `cannot read the configuration: ${errorText(e)}`);
    return { ok: false, errors: [error.message] };
  }
  const errors: InstanceType<typeof ConfigError>[] = [];
  try {
    return { ok: true, summary: summarizeConfig(path, parseConfig(text, path, { errors })) };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (!errors.includes(e)) errors.push(e);
    return { ok: false, errors: errors.map((x) => x.message) };
  }
}
