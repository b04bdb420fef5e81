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
}

/** Sends netmon's diagnostics to stderr at `level` and above. Safe to call again. */
export function setupLogging(options: LogOptions = {}): void {
  const format = options.format === "json" ? getJsonLinesFormatter() : getTextFormatter({
    timestamp: "date-time-tz",
    value: (v) => (typeof v === "string" ? v : Deno.inspect(v)),
  });
  resetSync();
  configureSync({
    sinks: {
      stderr: (record: LogRecord) => {
        // synchronous, so the last lines before an exit are not lost
        Deno.stderr.writeSync(encoder.encode(format(record)));
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
