/**
 * Diagnostics for both processes, through `@logtape/logtape`, written to
 * stderr (stdout belongs to the manager's result log).
 *
 * @example
 * ```ts
 * import { logger, setupLogging } from "./log.ts";
 * setupLogging({ level: "warning" });
 * logger("monitor").info("listening on {addr}", { addr: "127.0.0.1:54322" });
 * ```
 *
 * @module
 */
import {
  configureSync,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogLevel,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";

const encoder = new TextEncoder();

/** Options for {@linkcode setupLogging}. */
export interface LogOptions {
  level?: LogLevel;
  /** `json` writes one JSON object per line. */
  format?: "text" | "json";
  /**
   * Where each formatted line goes instead of stderr: the manager's live
   * view shows them among its events, since lines written to the terminal
   * under it would be drawn over.
   */
  write?: (line: string) => void;
}

/** Sends netmon's diagnostics to stderr (or `write`) at `level` and above. Safe to call again. */
export function setupLogging(options: LogOptions = {}): void {
  const format = options.format === "json" ? getJsonLinesFormatter() : getTextFormatter({
    // a line handed to `write` is shown with the time it is shown at
    timestamp: options.write ? "none" : "date-time-tz",
    value: (v) => (typeof v === "string" ? v : Deno.inspect(v)),
  });
  resetSync();
  configureSync({
    sinks: {
      stderr: (record: LogRecord) => {
        const write = options.write;
        if (write) write(format(record).trimEnd());
        // synchronous, so the last lines before an exit are not lost
        else Deno.stderr.writeSync(encoder.encode(format(record)));
      },
    },
    loggers: [
      { category: ["netmon"], lowestLevel: options.level ?? "info", sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** The logger for one part of netmon (`monitor`, `manager`, `link`, ...). */
export function logger(part: string): Logger {
  return getLogger(["netmon", part]);
}
