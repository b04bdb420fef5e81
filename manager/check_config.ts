/**
 * `netmon check [tasks.yaml]`: validates a configuration as `manage` would
 * load it, for CI pipelines. A valid file prints one line and exits 0:
 *
 * ```
 * tasks.yaml: OK, 2 targets, 14 checks, 1 monitor, 0 notifiers
 * ```
 *
 * an invalid one prints the error at file:line:column: field (on stderr, by
 * `mod.ts`, like any `ConfigError`) and exits 1.
 *
 * @example
 * ```ts ignore
 * import { checkConfig } from "./check_config.ts";
 * console.log(await checkConfig("tasks.yaml"));
 * ```
 *
 * @module
 */
import type { Config } from "../shared/config.ts";
import { loadConfig } from "./manager.ts";

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

/** Loads `path` and returns its summary; throws the file's first `ConfigError`. */
export async function checkConfig(path: string): Promise<string> {
  return summarizeConfig(path, await loadConfig(path));
}
