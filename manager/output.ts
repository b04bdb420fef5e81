/**
 * What the manager prints. Three forms of the same events:
 * - {@linkcode TextOutput}: the seed's plain-text log, one line per result
 *   (`[2024-05-15 11:26:32] Task ID: <uuid>, HTTP URL: ...`), `-----Distributing
 *   tasks for server: NAME-----` lines and the periodic
 *   `Real-time status of monitoring services:` block;
 * - {@linkcode JsonOutput}: one JSON object per line (`--log-format json`);
 * - {@linkcode LiveView}: a terminal screen redrawn in place.
 *
 * @example
 * ```ts
 * import { formatTimestamp } from "./output.ts";
 * console.assert(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(formatTimestamp(Date.now())));
 * ```
 *
 * @module
 */
import type { CheckResult } from "../shared/checks.ts";
import type { LinkState } from "./link.ts";
import { type Judge, stateOf } from "./freshness.ts";

/** The sink for everything the manager reports on stdout. */
export interface Output {
  /** A newly stored result from the monitor named `monitorName`. */
  result(r: CheckResult, monitorName: string): void;
  /** The periodic status of every monitor, and of the store when known. */
  status(links: LinkState[], store?: StoreStatus): void;
  /** Tasks for `target` were sent to a monitor. */
  distributing(target: string, monitorName: string): void;
  /** Something a person should see: a connection, a reload, an error in `tasks.yaml`. */
  event(text: string, data?: Record<string, unknown>): void;
  /** Writes anything buffered. */
  flush(): void;
  /** Stops timers and restores the terminal. */
  close(): void;
}

/** The manager's store as the status block shows it. */
export interface StoreStatus {
  /** The database file whose disk is full, or null while results can be stored. */
  diskFull: string | null;
}

/** The status block's line for the store, or null when there is nothing to say. */
export function storeLine(store: StoreStatus | undefined): string | null {
  if (!store?.diskFull) return null;
  return `Store: disk full at ${store.diskFull} (results wait at the monitors until there is room)`;
}

/** `YYYY-MM-DD HH:MM:SS` in local time, as the seed prints it. */
export function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

/** One result in the seed's format, with the vantage point appended. */
export function resultLine(r: CheckResult, monitorName: string): string {
  return `[${
    formatTimestamp(r.startedAt)
  }] Task ID: ${r.taskId}, ${r.summary}, Monitor: ${monitorName}`;
}

function ago(ms: number | null): string {
  if (ms === null) return "never";
  const s = (Date.now() - ms) / 1000;
  return s < 60 ? `${s.toFixed(1)} s ago` : `${Math.round(s / 60)} min ago`;
}

function forHowLong(since: number): string {
  const s = Math.round((Date.now() - since) / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

/** One monitor's status line: `ADDRESS: Status (details)`. */
export function statusLine(s: LinkState): string {
  // a monitor that dials in is shown where it dialed from
  const where = s.direction === "dialed in" ? s.remoteAddress ?? s.address : s.address;
  const head = `${where}: ${s.status}`;
  const parts: string[] = [];
  if (s.name !== s.address) parts.push(`name ${s.name}`);
  if (s.direction === "dialed in") parts.push("dialed in");
  if (s.status === "Online") {
    if (s.monitorId) parts.push(`ID ${s.monitorId}`);
    parts.push(`last seen ${ago(s.lastSeen)}`, `${s.heldBack} held back`);
  } else {
    if (s.lastError) parts.push(`${s.lastError}`);
    parts.push(`for ${forHowLong(s.since)}`, `last seen ${ago(s.lastSeen)}`);
  }
  parts.push(...spoolParts(s));
  return `${head} (${parts.join(", ")})`;
}

/** What the monitor last reported of its spool: backlog, drops, and a full disk. */
function spoolParts(s: LinkState): string[] {
  if (!s.spool) return [];
  const { pending, dropped, diskFull } = s.spool;
  const parts = [`spool ${pending} pending`];
  if (dropped > 0) parts.push(`${dropped} dropped`);
  if (diskFull) parts.push(`monitor disk full at ${diskFull}`);
  return parts;
}

const encoder = new TextEncoder();

/** Buffered line writer to stdout; flushes every 20 ms or at 64 KiB. */
class LineWriter {
  #buf: string[] = [];
  #size = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #out: { writeSync(p: Uint8Array): number };

  constructor(out: { writeSync(p: Uint8Array): number } = Deno.stdout) {
    this.#out = out;
  }

  write(line: string) {
    this.#buf.push(line);
    this.#size += line.length;
    if (this.#size > 65536) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), 20);
  }

  flush() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buf.length === 0) return;
    let bytes = encoder.encode(this.#buf.join("\n") + "\n");
    this.#buf = [];
    this.#size = 0;
    while (bytes.length > 0) {
      try {
        bytes = bytes.subarray(this.#out.writeSync(bytes));
      } catch {
        return; // stdout closed: nothing more to say to it
      }
    }
  }
}

/** The seed's plain-text log. */
export class TextOutput implements Output {
  #w: LineWriter;
  constructor(out?: { writeSync(p: Uint8Array): number }) {
    this.#w = new LineWriter(out);
  }
  result(r: CheckResult, monitorName: string): void {
    this.#w.write(resultLine(r, monitorName));
  }
  status(links: LinkState[], store?: StoreStatus): void {
    this.#w.write("\nReal-time status of monitoring services:");
    for (const s of links) this.#w.write(statusLine(s));
    const line = storeLine(store);
    if (line) this.#w.write(line);
    this.#w.write("");
  }
  distributing(target: string): void {
    this.#w.write(`\n-----Distributing tasks for server: ${target}-----\n`);
  }
  event(text: string): void {
    this.#w.write(text);
  }
  flush(): void {
    this.#w.flush();
  }
  close(): void {
    this.#w.flush();
  }
}

/** One JSON object per line: `{"type":"result",...}`, `{"type":"status",...}`, `{"type":"event",...}`. */
export class JsonOutput implements Output {
  #w: LineWriter;
  constructor(out?: { writeSync(p: Uint8Array): number }) {
    this.#w = new LineWriter(out);
  }
  result(r: CheckResult, monitorName: string): void {
    this.#w.write(
      JSON.stringify({
        ...r,
        type: "result",
        checkType: r.type,
        time: new Date(r.startedAt).toISOString(),
        line: resultLine(r, monitorName),
        monitorName,
      }),
    );
  }
  status(links: LinkState[], store?: StoreStatus): void {
    this.#w.write(
      JSON.stringify({
        type: "status",
        time: new Date().toISOString(),
        monitors: links,
        ...(store ? { store } : {}),
      }),
    );
  }
  distributing(target: string, monitorName: string): void {
    this.#w.write(
      JSON.stringify({ type: "distributing", time: new Date().toISOString(), target, monitorName }),
    );
  }
  event(text: string, data: Record<string, unknown> = {}): void {
    this.#w.write(JSON.stringify({ type: "event", time: new Date().toISOString(), text, ...data }));
  }
  flush(): void {
    this.#w.flush();
  }
  close(): void {
    this.#w.flush();
  }
}

/**
 * A terminal view redrawn in place: monitors with their status, then the
 * latest result of every check from every monitor, then recent events.
 */
export class LiveView implements Output {
  #links: LinkState[] = [];
  #store: StoreStatus | undefined;
  #latest = new Map<string, { r: CheckResult; monitorName: string }>();
  #events: string[] = [];
  #timer: ReturnType<typeof setInterval>;
  #dirty = true;
  #drawnAt = 0;
  /**
   * Judges whether each row's result still holds (`freshness.ts`); set once
   * the manager runs. A row whose monitor is offline or stale shows unknown.
   */
  judge: Judge | undefined;

  constructor() {
    Deno.stdout.writeSync(encoder.encode("\x1b[?1049h\x1b[?25l")); // alternate screen, hide cursor
    this.#timer = setInterval(() => this.#draw(), 500);
  }
  result(r: CheckResult, monitorName: string): void {
    const k = `${r.checkId}\0${monitorName}`;
    // a replayed spool must not put an old result over a newer one
    if ((this.#latest.get(k)?.r.startedAt ?? -Infinity) > r.startedAt) return;
    this.#latest.set(k, { r, monitorName });
    this.#dirty = true;
  }
  status(links: LinkState[], store?: StoreStatus): void {
    this.#links = links;
    this.#store = store;
    this.#dirty = true;
  }
  distributing(target: string, monitorName: string): void {
    this.event(`Distributing tasks for server: ${target} to ${monitorName}`);
  }
  event(text: string): void {
    this.#events.push(`${formatTimestamp(Date.now())} ${text}`);
    if (this.#events.length > 50) this.#events.shift();
    this.#dirty = true;
  }
  flush(): void {
    this.#draw();
  }
  close(): void {
    clearInterval(this.#timer);
    Deno.stdout.writeSync(encoder.encode("\x1b[?25h\x1b[?1049l"));
  }

  #draw() {
    // results go stale without any event: redraw now and then even when nothing came in
    if (!this.#dirty && performance.now() - this.#drawnAt < 2000) return;
    this.#dirty = false;
    this.#drawnAt = performance.now();
    const now = Date.now();
    let cols = 120, rows = 40;
    try {
      ({ columns: cols, rows } = Deno.consoleSize());
    } catch { /* not a terminal any more */ }
    const clip = (s: string) => (s.length > cols ? s.slice(0, cols - 1) + "…" : s);
    const lines: string[] = [`netmon manager — ${formatTimestamp(Date.now())}`, ""];
    lines.push("Real-time status of monitoring services:");
    for (const s of this.#links) {
      const color = s.status === "Online" ? "32" : s.status === "Reconnecting" ? "33" : "31";
      lines.push(`\x1b[${color}m●\x1b[0m ${clip(statusLine(s))}`);
    }
    const store = storeLine(this.#store);
    if (store) lines.push(`\x1b[31m●\x1b[0m ${clip(store)}`);
    lines.push("", "Latest results:");
    const sorted = [...this.#latest.values()].sort((a, b) =>
      a.r.checkId.localeCompare(b.r.checkId) || a.monitorName.localeCompare(b.monitorName)
    );
    const room = Math.max(3, rows - lines.length - 6);
    for (const { r, monitorName } of sorted.slice(0, room)) {
      const f = this.judge?.(r.checkId, monitorName, r.startedAt, now) ?? "fresh";
      const state = stateOf(f, r.up);
      const mark = state === "up"
        ? "\x1b[32m✔\x1b[0m"
        : state === "down"
        ? "\x1b[31m✘\x1b[0m"
        : "\x1b[90m?\x1b[0m";
      const lat = r.latencyMs === null || state === "unknown"
        ? "      -"
        : `${r.latencyMs.toFixed(1).padStart(7)}ms`;
      const why = f === "offline" ? "monitor offline" : `stale: last result ${ago(r.startedAt)}`;
      const text = state === "unknown"
        ? `${r.checkId} @${monitorName}: unknown (${why}); last: ${r.summary}`
        : `${r.checkId} @${monitorName}: ${r.summary}`;
      lines.push(`${mark} ${lat} ${clip(text).slice(0, cols - 12)}`);
    }
    if (sorted.length > room) lines.push(`  … ${sorted.length - room} more`);
    lines.push("", "Events:");
    // answers typed at the prompt land here: give them the rest of the screen
    const eventRoom = Math.max(3, rows - lines.length - 1);
    for (const e of this.#events.slice(-eventRoom)) lines.push(clip(e));
    Deno.stdout.writeSync(encoder.encode("\x1b[H\x1b[2J" + lines.join("\n")));
  }
}
