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
import type { StoredResult } from "./store.ts";
import { type Judge, stateOf } from "./freshness.ts";
import { answer, type KeyAction, LineEditor } from "./prompt.ts";
import type { Transport } from "./ctl.ts";

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

/** The second {@linkcode formatTimestamp} formatted last, and its text. */
let stampSecond = NaN;
let stampText = "";

/** `YYYY-MM-DD HH:MM:SS` in local time, as the seed prints it. */
export function formatTimestamp(ms: number): string {
  // the results of a frame mostly started within the same second: format it once
  const second = Math.floor(ms / 1000);
  if (second === stampSecond) return stampText;
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  stampText = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
  stampSecond = second;
  return stampText;
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

/**
 * Whether the monitor calls itself something else than the configuration
 * does: the configuration's name is its name everywhere, this one only a detail.
 *
 * @example
 * ```ts
 * import { calledOtherwise } from "./output.ts";
 * console.assert(calledOtherwise({ name: "nyc-1", reportedName: "vm" }));
 * console.assert(!calledOtherwise({ name: "nyc-1", reportedName: null }));
 * ```
 */
export function calledOtherwise(s: Pick<LinkState, "name" | "reportedName">): boolean {
  return s.reportedName !== null && s.reportedName !== s.name;
}

/** One monitor's status line: `ADDRESS: Status (details)`. */
export function statusLine(s: LinkState): string {
  // a monitor that dials in is shown where it dialed from
  const where = s.direction === "dialed in" ? s.remoteAddress ?? s.address : s.address;
  const head = `${where}: ${s.status}`;
  const parts: string[] = [];
  if (s.name !== s.address) parts.push(`name ${s.name}`);
  if (s.direction === "dialed in") parts.push("dialed in");
  if (calledOtherwise(s)) parts.push(`calls itself ${s.reportedName}`);
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

/**
 * Paces a status block that lists every monitor: the first comes out at
 * once, later ones at most one per {@linkcode STATUS_GAP_MS_PER_MONITOR}
 * per monitor listed, the latest of those asked for meanwhile printed when
 * the gap ends. While thousands of monitors (re)connect the manager asks for
 * a block every 100 ms, and printing every monitor each time cost more than
 * the connections themselves; a few monitors' blocks are not held back.
 */
class StatusPacer {
  #print: (links: LinkState[], store?: StoreStatus) => void;
  #lastAt = -Infinity;
  #pending: [LinkState[], StoreStatus | undefined] | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(print: (links: LinkState[], store?: StoreStatus) => void) {
    this.#print = print;
  }

  status(links: LinkState[], store?: StoreStatus) {
    const gap = links.length * STATUS_GAP_MS_PER_MONITOR;
    const wait = this.#lastAt + gap - performance.now();
    if (wait <= 0 && !this.#timer) return this.#now(links, store);
    this.#pending = [links, store];
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flushPending();
    }, wait);
  }

  #now(links: LinkState[], store?: StoreStatus) {
    this.#lastAt = performance.now();
    this.#print(links, store);
  }

  #flushPending() {
    const p = this.#pending;
    this.#pending = undefined;
    if (p) this.#now(p[0], p[1]);
  }

  /** Prints what is pending at once and stops the timer. */
  close() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flushPending();
  }
}

/** The shortest time between two status blocks, per monitor they list (see {@linkcode StatusPacer}). */
export const STATUS_GAP_MS_PER_MONITOR = 1;

/** The seed's plain-text log. */
export class TextOutput implements Output {
  #w: LineWriter;
  #pacer = new StatusPacer((links, store) => {
    this.#w.write("\nReal-time status of monitoring services:");
    for (const s of links) this.#w.write(statusLine(s));
    const line = storeLine(store);
    if (line) this.#w.write(line);
    this.#w.write("");
  });
  constructor(out?: { writeSync(p: Uint8Array): number }) {
    this.#w = new LineWriter(out);
  }
  result(r: CheckResult, monitorName: string): void {
    this.#w.write(resultLine(r, monitorName));
  }
  status(links: LinkState[], store?: StoreStatus): void {
    this.#pacer.status(links, store);
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
    this.#pacer.close();
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
  #pacer = new StatusPacer((links, store) => {
    this.#w.write(
      JSON.stringify({
        type: "status",
        time: new Date().toISOString(),
        monitors: links,
        ...(store ? { store } : {}),
      }),
    );
  });
  status(links: LinkState[], store?: StoreStatus): void {
    this.#pacer.status(links, store);
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
    this.#pacer.close();
    this.#w.flush();
  }
}

/**
 * Text from elsewhere (a server's error, a check's summary, a typed line)
 * made safe to print on a terminal: control characters, which could move the
 * cursor or change colours, become spaces.
 *
 * @example
 * ```ts
 * import { printable } from "./output.ts";
 * console.assert(printable("a\x1b[2Jb\nc") === "a [2Jb c");
 * ```
 */
export function printable(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, " ");
}

/** Whether the code point takes two columns (East Asian wide and full-width, emoji). */
function isWide(cp: number): boolean {
  return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd);
}

/** Columns one code point takes: 0 for combining marks, 2 for wide ones, else 1. */
function charWidth(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 0x300 && cp <= 0x36f) || cp === 0x200b || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  return isWide(cp) ? 2 : 1;
}

// deno-lint-ignore no-control-regex
const SGR = /\x1b\[[0-9;]*m/g;

/**
 * How many terminal columns `s` takes, colour codes not counted.
 *
 * @example
 * ```ts
 * import { displayWidth } from "./output.ts";
 * console.assert(displayWidth("\x1b[32m✔\x1b[0m ok") === 4);
 * console.assert(displayWidth("東京") === 4);
 * ```
 */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(SGR, "")) w += charWidth(ch);
  return w;
}

/**
 * `s` (plain text, no colour codes) cut to at most `width` columns, ending in
 * "…" when something was cut.
 *
 * @example
 * ```ts
 * import { fit } from "./output.ts";
 * console.assert(fit("abcdef", 4) === "abc…");
 * console.assert(fit("abc", 4) === "abc");
 * ```
 */
export function fit(s: string, width: number): string {
  if (displayWidth(s) <= width) return s;
  if (width <= 0) return "";
  let out = "", w = 0;
  for (const ch of s) {
    const cw = charWidth(ch);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + "…";
}

/**
 * `s` (plain text) broken into lines of at most `width` columns, nothing
 * dropped; the continuation lines are indented so that they read as such.
 */
function wrap(s: string, width: number): string[] {
  const indent = width > 8 ? "  " : "";
  const out: string[] = [];
  let line = "", w = 0;
  for (const ch of s) {
    const cw = charWidth(ch);
    if (w + cw > width && w > indent.length) {
      out.push(line);
      line = indent;
      w = indent.length;
    }
    line += ch;
    w += cw;
  }
  out.push(line);
  return out;
}

/**
 * An age as the live view shows it, in whole seconds (minutes from 2 min):
 * the difference of the two times' wall-clock seconds, so every age on the
 * screen changes at the same second boundary and one redraw a second keeps
 * them all within a second of the truth.
 */
function liveAge(then: number, now: number): string {
  const s = Math.max(0, Math.floor(now / 1000) - Math.floor(then / 1000));
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min`;
}

/** A part of a live monitor line; the lowest `keep` goes first when the line is too wide. */
interface Part {
  text: string;
  keep: number;
}

/**
 * One monitor as the live view shows it, at most `width` columns: its name
 * (the configuration's), address and status first, then what matters most
 * (for how long, when last seen, what it holds back), then details (what it
 * calls itself, its ID), and last why it is not online — the details dropped
 * from the least important while the line is too wide, the rest cut with "…".
 */
export function liveMonitorLine(s: LinkState, now: number, width: number): string {
  const name = printable(s.name), address = printable(s.address);
  const head = `${name === address ? address : `${name} ${address}`}: ${s.status}`;
  const parts: Part[] = [];
  if (s.status !== "Online") parts.push({ text: `for ${liveAge(s.since, now)}`, keep: 8 });
  parts.push({
    text: s.lastSeen === null ? "never seen" : `last seen ${liveAge(s.lastSeen, now)} ago`,
    keep: 7,
  });
  if (s.spool?.diskFull) {
    parts.push({ text: `monitor disk full at ${printable(s.spool.diskFull)}`, keep: 9 });
  }
  if (s.status === "Online") parts.push({ text: `${s.heldBack} held back`, keep: 6 });
  if (s.spool && s.spool.dropped > 0) parts.push({ text: `${s.spool.dropped} dropped`, keep: 5 });
  if (calledOtherwise(s)) {
    parts.push({ text: `calls itself ${printable(s.reportedName ?? "")}`, keep: 3 });
  }
  if (s.monitorId) parts.push({ text: `ID ${s.monitorId}`, keep: 1 });
  // why it is not online goes last, whole or cut: it is often long, and part of it still says something
  const why = s.status !== "Online" && s.lastError ? [printable(s.lastError)] : [];
  const join = () => [head, ...parts.map((p) => p.text), ...why].join(" · ");
  while (displayWidth(join()) > width) {
    const least = parts.reduce<Part | undefined>(
      (a, b) => (a && a.keep <= b.keep ? a : b),
      undefined,
    );
    if (!least || (why.length > 0 && least.keep >= 7)) break;
    parts.splice(parts.indexOf(least), 1);
  }
  return fit(join(), width);
}

/** The answer to a command typed at the live view's prompt. */
interface Answer {
  command: string;
  /** Null while the command runs. */
  text: string | null;
  /** The first answer line on screen. */
  top: number;
}

/**
 * What {@linkcode liveScreen} draws: the manager's state, the answer to the
 * last command typed (if any) and the prompt line (null when there is no
 * prompt).
 */
export interface LiveModel {
  links: LinkState[];
  store?: StoreStatus;
  latest: { r: CheckResult; monitorName: string }[];
  events: string[];
  judge?: Judge;
  answer: Answer | null;
  input: { text: string; cursor: number } | null;
}

/** A drawn screen: one string per row (colour codes included) and where the cursor goes. */
export interface LiveScreen {
  lines: string[];
  /** 0-based row and column of the cursor, or null to hide it. */
  cursor: { row: number; col: number } | null;
  /** Rows the answer's text had: a page, for PgUp/PgDn. */
  answerRows: number;
}

const PROMPT = "netmon> ";
const HINT = "type status, monitors, targets, results, run, pause, resume, reload or help";

const color = (code: string, s: string) => `\x1b[${code}m${s}\x1b[0m`;

/**
 * The live view's screen for a terminal of `cols` × `rows`: no row wider than
 * `cols`, no more rows than `rows`, the prompt on the last row. With an
 * answer on screen, it takes every row below the monitors and scrolls there.
 *
 * @example
 * ```ts
 * import { liveScreen } from "./output.ts";
 * const s = liveScreen({ links: [], latest: [], events: [], answer: null, input: { text: "sta", cursor: 3 } },
 *   { cols: 80, rows: 24, now: Date.now() });
 * console.assert(s.lines.length === 24 && s.lines[23]!.includes("netmon> sta"));
 * ```
 */
export function liveScreen(
  m: LiveModel,
  size: { cols: number; rows: number; now: number },
): LiveScreen {
  const { cols, now } = size;
  const rows = Math.max(1, size.rows);
  const body = rows - (m.input ? 1 : 0);
  const lines: string[] = [];
  const line = (s: string) => lines.push(fit(s, cols));
  const marked = (mark: string, text: string) => lines.push(`${mark} ${fit(text, cols - 2)}`);

  const judged = m.latest.map((x) => {
    const f = m.judge?.(x.r.checkId, x.monitorName, x.r.startedAt, now) ?? "fresh";
    return { ...x, f, state: stateOf(f, x.r.up) };
  });
  const count = (st: string) => judged.filter((x) => x.state === st).length;
  const online = m.links.filter((s) => s.status === "Online").length;
  const down = count("down");
  const unknown = count("unknown");
  line(
    `netmon manager — ${formatTimestamp(now)} · ${online} of ${m.links.length} monitors online · ` +
      `${down} down, ${count("up")} up${unknown ? `, ${unknown} unknown` : ""}`,
  );
  lines.push("");
  line("Real-time status of monitoring services:");
  // many monitors must not push the results (or an answer) off the screen
  const monitorRoom = Math.max(2, Math.floor(body / 3));
  const shownLinks = m.links.length > monitorRoom ? m.links.slice(0, monitorRoom - 1) : m.links;
  for (const s of shownLinks) {
    const c = s.status === "Online" ? "32" : s.status === "Reconnecting" ? "33" : "31";
    lines.push(`${color(c, "●")} ${liveMonitorLine(s, now, cols - 2)}`);
  }
  if (shownLinks.length < m.links.length) {
    line(`  … ${m.links.length - shownLinks.length} more monitors: type monitors to list them`);
  }
  const store = storeLine(m.store);
  if (store) marked(color("31", "●"), store);
  lines.push("");

  let answerRows = 0;
  if (m.answer) {
    const a = m.answer;
    line(`${PROMPT}${printable(a.command)}`);
    const text = a.text === null
      ? ["…"]
      : a.text.split("\n").flatMap((l) => wrap(printable(l), cols));
    answerRows = Math.max(1, body - lines.length - 1);
    a.top = Math.max(0, Math.min(a.top, text.length - answerRows));
    lines.push(...text.slice(a.top, a.top + answerRows));
    const keys = "Esc: back to the results";
    const end = Math.min(text.length, a.top + answerRows);
    // colours go on after fitting: fit() counts the characters of a colour code as columns
    lines.push(
      text.length > answerRows
        ? color(
          "7",
          fit(
            ` lines ${a.top + 1}–${end} of ${text.length} · ↑/↓ PgUp/PgDn scroll · ${keys} `,
            cols,
          ),
        )
        : color("90", fit(keys, cols)),
    );
  } else {
    const sorted = judged.sort((a, b) =>
      a.r.checkId.localeCompare(b.r.checkId) || a.monitorName.localeCompare(b.monitorName)
    );
    line("Latest results:");
    // the results get the room, less a few rows to keep the latest events in sight
    const free = body - lines.length - 2;
    const keepEvents = Math.min(3, m.events.length);
    let room = Math.max(0, Math.min(sorted.length, free - keepEvents));
    if (room < sorted.length) room = Math.max(0, room - 1); // a row for "… N more"
    for (const { r, monitorName, f, state } of sorted.slice(0, room)) {
      const mark = state === "up"
        ? color("32", "✔")
        : state === "down"
        ? color("31", "✘")
        : color("90", "?");
      const lat = r.latencyMs === null || state === "unknown"
        ? "      -"
        : `${r.latencyMs.toFixed(1).padStart(7)}ms`;
      const why = f === "offline"
        ? "monitor offline"
        : `stale: last result ${liveAge(r.startedAt, now)} ago`;
      const id = `${printable(r.checkId)} @${printable(monitorName)}`;
      const summary = printable(r.summary);
      const text = state === "unknown"
        ? `${id}: unknown (${why}); last: ${summary}`
        : `${id}: ${summary}`;
      lines.push(`${mark} ${lat} ${fit(text, cols - 3 - lat.length)}`);
    }
    if (room < sorted.length) {
      line(`  … ${sorted.length - room} more: type targets to see them all`);
    }
    lines.push("");
    line("Events:");
    const eventRoom = Math.max(0, body - lines.length);
    for (const e of eventRoom > 0 ? m.events.slice(-eventRoom) : []) line(e);
  }
  lines.length = Math.min(lines.length, body);
  while (lines.length < body) lines.push("");

  let cursor: LiveScreen["cursor"] = null;
  if (m.input) {
    // the typed line scrolls sideways so that the cursor stays in sight
    const chars = [...printable(m.input.text)];
    const room = Math.max(1, cols - PROMPT.length - 1);
    let start = 0;
    while (displayWidth(chars.slice(start, m.input.cursor).join("")) > room) start++;
    let shown = "", w = 0;
    for (const ch of chars.slice(start)) {
      if (w + charWidth(ch) > room) break;
      shown += ch;
      w += charWidth(ch);
    }
    const before = displayWidth(chars.slice(start, m.input.cursor).join(""));
    const hint = chars.length === 0 && !m.answer ? color("90", fit(HINT, room)) : "";
    lines.push(`${fit(PROMPT, cols)}${shown}${hint}`);
    cursor = { row: rows - 1, col: Math.min(cols - 1, PROMPT.length + before) };
  }
  return { lines: lines.slice(0, rows), cursor, answerRows };
}

/** Writes all of `text` to stdout; gives up quietly once stdout is closed. */
function writeAll(text: string) {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
    } catch {
      return; // stdout closed: nothing more to say to it
    }
  }
}

/** The terminal input the live view's prompt reads: `Deno.stdin`. */
export interface KeyInput {
  readable: ReadableStream<Uint8Array>;
  setRaw(mode: boolean, options?: { cbreak: boolean }): void;
}

/**
 * A terminal view redrawn in place: monitors with their status, then the
 * latest result of every check from every monitor, then recent events, and a
 * prompt for the `netmon ctl` commands whose answers take the screen. Only
 * rows that changed are rewritten: when results arrive (at most every
 * 100 ms) and at each wall-clock second, which keeps every age on screen true
 * to within a second.
 */
export class LiveView implements Output {
  #links: LinkState[] = [];
  #store: StoreStatus | undefined;
  #events: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Wall-clock time of the paint the timer is set for. */
  #due = Infinity;
  /** The rows on the terminal now, to rewrite only those that change; null to repaint all. */
  #painted: string[] | null = null;
  #size = "";
  #answer: Answer | null = null;
  #answerRows = 1;
  #commands = 0;
  #editor: LineEditor | undefined;
  #input: KeyInput | undefined;
  #closed = false;
  #onResize = () => {
    this.#painted = null;
    this.#paint();
  };
  /**
   * Judges whether each row's result still holds (`freshness.ts`); set once
   * the manager runs. A row whose monitor is offline or stale shows unknown.
   */
  judge: Judge | undefined;
  /**
   * The links' current states, read at every paint (set once the manager
   * runs): the status block the manager sends every few seconds would show
   * ages as old as that.
   */
  linkStates: (() => LinkState[]) | undefined;
  /**
   * The newest result of every check from every monitor: the manager's
   * latest-state index (`latest.ts`), read at every paint (set once the manager runs).
   */
  latest: (() => StoredResult[]) | undefined;

  constructor() {
    writeAll("\x1b[?1049h\x1b[?25l"); // alternate screen, hide cursor
    try {
      Deno.addSignalListener("SIGWINCH", this.#onResize);
    } catch { /* no such signal here: the size is still read at every paint */ }
    this.#want(Date.now());
  }
  result(_r: CheckResult, _monitorName: string): void {
    // the rows come from the manager's index, which already has it
    this.#want(Date.now() + 100);
  }
  status(links: LinkState[], store?: StoreStatus): void {
    this.#links = links;
    this.#store = store;
    this.#want(Date.now() + 100);
  }
  distributing(target: string, monitorName: string): void {
    this.event(`Distributing tasks for server: ${target} to ${monitorName}`);
  }
  event(text: string): void {
    // once the terminal is back to normal, what is said (stopping, a last warning) goes to stderr
    if (this.#closed) return void console.error(text);
    this.#events.push(`${formatTimestamp(Date.now())} ${printable(text)}`);
    if (this.#events.length > 200) this.#events.shift();
    this.#want(Date.now() + 100);
  }
  flush(): void {
    this.#paint();
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      Deno.removeSignalListener("SIGWINCH", this.#onResize);
    } catch { /* never added */ }
    try {
      this.#input?.setRaw(false);
    } catch { /* not a terminal any more */ }
    writeAll("\x1b[?25h\x1b[?1049l");
  }

  /**
   * Reads keys from `input` (in cbreak mode: no echo, Ctrl-C still stops the
   * manager) and runs each line typed through `transport` as `netmon ctl`
   * would; resolves when the input ends.
   */
  async prompt(input: KeyInput, transport: Transport): Promise<void> {
    input.setRaw(true, { cbreak: true });
    this.#input = input;
    const editor = this.#editor = new LineEditor();
    this.#paint();
    for await (const chunk of input.readable.pipeThrough(new TextDecoderStream())) {
      if (this.#closed) break;
      for (const a of editor.feed(chunk)) this.#act(a, transport);
      this.#paint(); // what was typed shows at once
    }
  }

  #act(a: KeyAction, transport: Transport) {
    if (a.kind === "submit") {
      if (a.line.trim() === "") return;
      const answerTo: Answer = { command: a.line.trim(), text: null, top: 0 };
      this.#answer = answerTo;
      const n = ++this.#commands;
      answer(a.line, transport).then((text) => {
        answerTo.text = text ?? "";
        if (n === this.#commands) this.#paint();
      });
    } else if (a.kind === "close") this.#answer = null;
    else if (a.kind === "scroll" && this.#answer) this.#answer.top += a.lines;
    else if (a.kind === "page" && this.#answer) {
      this.#answer.top += a.pages * Math.max(1, this.#answerRows - 1);
    } else if (a.kind === "redraw") this.#painted = null;
  }

  /** Sets the timer to paint at `at` (wall clock) unless one is due sooner. */
  #want(at: number) {
    if (this.#closed || at >= this.#due) return;
    clearTimeout(this.#timer);
    this.#due = at;
    this.#timer = setTimeout(() => this.#paint(), Math.max(0, at - Date.now()));
  }

  #paint() {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#due = Infinity;
    const now = Date.now();
    let cols = 120, rows = 40;
    try {
      ({ columns: cols, rows } = Deno.consoleSize());
    } catch { /* not a terminal any more */ }
    if (`${cols}x${rows}` !== this.#size) {
      this.#size = `${cols}x${rows}`;
      this.#painted = null;
    }
    const screen = liveScreen({
      links: this.linkStates?.() ?? this.#links,
      store: this.#store,
      latest: (this.latest?.() ?? []).map((r) => ({ r, monitorName: r.monitorName })),
      events: this.#events,
      judge: this.judge,
      answer: this.#answer,
      input: this.#editor ? { text: this.#editor.text, cursor: this.#editor.cursor } : null,
    }, { cols, rows, now });
    this.#answerRows = screen.answerRows;
    let out = this.#painted === null ? "\x1b[H\x1b[2J" : "";
    screen.lines.forEach((l, i) => {
      if (this.#painted?.[i] === l) return;
      // a full-width row must not be followed by an erase: the cursor waits on its last column
      out += `\x1b[${i + 1};1H${l}${displayWidth(l) < cols ? "\x1b[K" : ""}`;
    });
    this.#painted = screen.lines;
    out += screen.cursor
      ? `\x1b[${screen.cursor.row + 1};${screen.cursor.col + 1}H\x1b[?25h`
      : "\x1b[?25l";
    writeAll(out);
    // the ages on screen change at the next wall-clock second
    this.#want(now - (now % 1000) + 1000);
  }
}
