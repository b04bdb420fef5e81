/**
 * Start netmon's processes through `./netmon`, as a user would.
 *
 * @example
 * ```ts ignore
 * import { startMonitor } from "./netmon.ts";
 * await using mon = await startMonitor({ dataDir: "/tmp/x" });
 * ```
 *
 * @module
 */
import { Proc } from "./proc.ts";
import { freeTcpPort } from "./ports.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The launcher a user runs. */
export const NETMON = `${ROOT}netmon`;

/** A monitor process and where it listens. */
export interface MonitorProc extends AsyncDisposable {
  proc: Proc;
  port: number;
  dataDir: string;
  /** The monitor ID it printed at start. */
  id: string;
}

/** Starts `netmon monitor` and waits until it listens. */
export async function startMonitor(
  options: {
    dataDir: string;
    port?: number;
    listen?: string;
    extra?: string[];
    wrap?: (c: string[]) => string[];
  },
): Promise<MonitorProc> {
  const port = options.port ?? freeTcpPort();
  let cmd = [
    NETMON,
    "monitor",
    "--port",
    String(port),
    "--listen",
    options.listen ?? "127.0.0.1",
    "--data",
    options.dataDir,
    ...(options.extra ?? []),
  ];
  if (options.wrap) cmd = options.wrap(cmd);
  const proc = Proc.start(cmd, { name: `monitor:${port}` });
  const line = await proc.waitFor(/^Monitoring service \S+ listening on/, 60_000);
  const id = line.split(" ")[2]!;
  return {
    proc,
    port,
    dataDir: options.dataDir,
    id,
    [Symbol.asyncDispose]: () => proc.stop("SIGKILL").then(() => {}),
  };
}

/** Starts `netmon manage CONFIG` with a text log (no live view) and its API on a free port. */
export function startManager(
  configPath: string,
  options: { db: string; extra?: string[] },
): Proc {
  return Proc.start(
    // a free port for the API unless the test picks one: tests run in parallel
    [
      NETMON,
      "manage",
      configPath,
      "--db",
      options.db,
      "--no-live",
      "--http",
      "127.0.0.1:0",
      ...(options.extra ?? []),
    ],
    { name: "manager" },
  );
}

/**
 * The seed's result-line prefix: `[YYYY-MM-DD HH:MM:SS] Task ID: <uuid>, `. The seed's UUIDs
 * are version 4 (random); a monitor's are version 8, made of its spool epoch and the result's
 * sequence number (`shared/task_id.ts`): any RFC 9562 UUID passes.
 */
export const RESULT_PREFIX =
  /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] Task ID: [0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}, /;

/** The task ID of a result line. */
export function taskIdOf(line: string): string {
  return line.match(/Task ID: ([0-9a-f-]{36})/)![1]!;
}
