/**
 * A manager started in-process on a `tasks.yaml` text, printing nothing, for
 * tests that drive its API, store or alerts directly.
 *
 * @example
 * ```ts ignore
 * import { startQuietManager } from "./manager.ts";
 * await using m = await startQuietManager("monitors: [{address: '127.0.0.1:1'}]\ntargets: {x: {TCP: {port: 1}}}\n");
 * console.log(m.manager.config.checks.length);
 * ```
 *
 * @module
 */
import { Manager } from "../../manager/manager.ts";
import { tempDir } from "./proc.ts";
import { quietOutput } from "./quiet_output.ts";

/** A running in-process manager and its temporary directory; disposing stops both. */
export interface QuietManager extends AsyncDisposable {
  manager: Manager;
  dir: string;
}

/**
 * Writes `yaml` as `tasks.yaml` in a fresh temporary directory and starts a
 * manager on it (no file watching) with its store in memory, or in that
 * directory when `onDisk` is set.
 */
export async function startQuietManager(
  yaml: string,
  options: { onDisk?: boolean } = {},
): Promise<QuietManager> {
  const tmp = await tempDir();
  const configPath = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(configPath, yaml);
  const manager = await Manager.start({
    configPath,
    dbPath: options.onDisk ? `${tmp.path}/netmon.db` : ":memory:",
    token: "",
    output: quietOutput,
    watch: false,
  });
  return {
    manager,
    dir: tmp.path,
    async [Symbol.asyncDispose]() {
      await manager.stop();
      await tmp[Symbol.asyncDispose]();
    },
  };
}
