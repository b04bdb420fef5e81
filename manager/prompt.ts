/**
 * The manager's own prompt: when `netmon manage` runs in a terminal, the
 * `netmon ctl` commands can be typed at it (`status`, `targets`, `run web`,
 * …). They go straight to the API's handler, without the network.
 *
 * Two ways in: {@linkcode startPrompt} reads whole lines (the plain-text log,
 * where the terminal echoes what is typed), and {@linkcode LineEditor} turns
 * keys into edits and commands for the live view, which puts the terminal in
 * cbreak mode and draws the line being typed itself.
 *
 * @example
 * ```ts ignore
 * import { startPrompt } from "./prompt.ts";
 * const prompt = startPrompt(Deno.stdin.readable, (req) => api.handle(req), console.log);
 * ```
 *
 * @module
 */
import { UsageError } from "../shared/cli.ts";
import { CtlError, ctlText, type Transport } from "./ctl.ts";

/**
 * The answer to one typed line, as `netmon ctl` would print it (errors
 * included, as text); null for a blank line. A leading `ctl` is allowed.
 *
 * @example
 * ```ts
 * import { answer } from "./prompt.ts";
 * const text = await answer("bogus", () => Promise.resolve(Response.json({})));
 * console.assert(text?.startsWith('unknown command "bogus"'));
 * ```
 */
export async function answer(line: string, transport: Transport): Promise<string | null> {
  const words = line.trim().split(/\s+/).filter(Boolean);
  if (words[0] === "ctl") words.shift();
  if (words.length === 0) return null;
  try {
    // the URL only names the API; the transport answers in-process
    return await ctlText([...words, "--url", "http://manager"], transport);
  } catch (e) {
    return e instanceof CtlError || e instanceof UsageError
      ? e.message
      : `error: ${e instanceof Error ? e.message : e}`;
  }
}

/** Reads commands line by line from `input` until it ends; resolves then. */
export async function startPrompt(
  input: ReadableStream<Uint8Array>,
  transport: Transport,
  write: (text: string) => void,
): Promise<void> {
  let buf = "";
  for await (const chunk of input.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const text = await answer(buf.slice(0, i), transport);
      buf = buf.slice(i + 1);
      if (text !== null) write(text);
    }
  }
}

/**
 * What a key asks of the live view, besides editing the line:
 * - `submit`: run `line` (Enter);
 * - `scroll`: move the answer by `lines` (↑/↓);
 * - `page`: move the answer by `pages` screenfuls (PgUp/PgDn);
 * - `close`: put the answer away (Esc);
 * - `redraw`: repaint the whole screen (Ctrl-L).
 *
 * @example
 * ```ts
 * import type { KeyAction } from "./prompt.ts";
 * const a: KeyAction = { kind: "submit", line: "status" };
 * ```
 */
export type KeyAction =
  | { kind: "submit"; line: string }
  | { kind: "scroll"; lines: number }
  | { kind: "page"; pages: number }
  | { kind: "close" }
  | { kind: "redraw" };

/**
 * The line being typed at the live view's prompt, fed the keys a terminal in
 * cbreak mode sends: printable text, Backspace, ←/→, Home/End, Ctrl-A/E/U/W,
 * Enter; ↑/↓, PgUp/PgDn, Esc and Ctrl-L come back as {@linkcode KeyAction}s.
 *
 * @example
 * ```ts
 * import { LineEditor } from "./prompt.ts";
 * const ed = new LineEditor();
 * ed.feed("statsu\x7f\x7fus");
 * console.assert(ed.text === "status");
 * const [a] = ed.feed("\r");
 * console.assert(a?.kind === "submit" && a.line === "status" && ed.text === "");
 * ```
 */
export class LineEditor {
  /** The line as typed so far, as code points (so the cursor never splits one). */
  #chars: string[] = [];
  /** Where the next typed character goes, in code points from the start. */
  cursor = 0;
  /** An escape sequence cut by a chunk boundary, kept for the next chunk. */
  #pending = "";
  /** The last key was a \r: a \n right after it is the same Enter. */
  #afterCr = false;

  /** The line as typed so far. */
  get text(): string {
    return this.#chars.join("");
  }

  /** Applies the keys in `chunk`; returns what they ask beyond editing, in order. */
  feed(chunk: string): KeyAction[] {
    const actions: KeyAction[] = [];
    let s = this.#pending + chunk;
    this.#pending = "";
    while (s.length > 0) {
      if (s[0] === "\x1b") {
        // CSI / SS3 sequences: ESC [ params final, ESC O final
        // deno-lint-ignore no-control-regex
        const m = /^\x1b(?:\[[0-9;?]*[@-~]|O[@-~])/.exec(s);
        if (m) {
          this.#escape(m[0], actions);
          s = s.slice(m[0].length);
          continue;
        }
        // deno-lint-ignore no-control-regex
        if (/^\x1b(?:\[[0-9;?]*|O)?$/.test(s) && s.length > 1) {
          this.#pending = s; // the rest of the sequence is in the next chunk
          break;
        }
        actions.push({ kind: "close" }); // a lone Esc
        s = s.slice(1);
        continue;
      }
      const ch = String.fromCodePoint(s.codePointAt(0)!);
      s = s.slice(ch.length);
      if (ch === "\r" || ch === "\n") {
        if (ch === "\n" && this.#afterCr) {
          this.#afterCr = false;
          continue; // the \n of a \r\n
        }
        this.#afterCr = ch === "\r";
        actions.push({ kind: "submit", line: this.text });
        this.#chars = [];
        this.cursor = 0;
        continue;
      }
      this.#afterCr = false;
      if (ch === "\x7f" || ch === "\b") {
        if (this.cursor > 0) this.#chars.splice(--this.cursor, 1);
      } else if (ch === "\x01") this.cursor = 0;
      else if (ch === "\x05") this.cursor = this.#chars.length;
      else if (ch === "\x15") {
        this.#chars.splice(0, this.cursor);
        this.cursor = 0;
      } else if (ch === "\x17") {
        let i = this.cursor;
        while (i > 0 && this.#chars[i - 1] === " ") i--;
        while (i > 0 && this.#chars[i - 1] !== " ") i--;
        this.#chars.splice(i, this.cursor - i);
        this.cursor = i;
      } else if (ch === "\x0c") actions.push({ kind: "redraw" });
      else if (ch === "\t") this.#insert(" ");
      else if (ch >= " ") this.#insert(ch);
      // other control characters do nothing
    }
    return actions;
  }

  #insert(ch: string) {
    this.#chars.splice(this.cursor++, 0, ch);
  }

  #escape(seq: string, actions: KeyAction[]) {
    switch (seq) {
      case "\x1b[A":
      case "\x1bOA":
        actions.push({ kind: "scroll", lines: -1 });
        break;
      case "\x1b[B":
      case "\x1bOB":
        actions.push({ kind: "scroll", lines: 1 });
        break;
      case "\x1b[5~":
        actions.push({ kind: "page", pages: -1 });
        break;
      case "\x1b[6~":
        actions.push({ kind: "page", pages: 1 });
        break;
      case "\x1b[D":
      case "\x1bOD":
        this.cursor = Math.max(0, this.cursor - 1);
        break;
      case "\x1b[C":
      case "\x1bOC":
        this.cursor = Math.min(this.#chars.length, this.cursor + 1);
        break;
      case "\x1b[H":
      case "\x1bOH":
      case "\x1b[1~":
        this.cursor = 0;
        break;
      case "\x1b[F":
      case "\x1bOF":
      case "\x1b[4~":
        this.cursor = this.#chars.length;
        break;
      case "\x1b[3~": // Delete
        this.#chars.splice(this.cursor, 1);
        break;
      default: // other keys (function keys, Alt-…) do nothing
    }
  }
}
