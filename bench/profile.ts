/**
 * Reads a V8 tick log (`--v8-flags=--prof`) of a netmon process with
 * `node --prof-process --preprocess` and prints where netmon's own code
 * spends the time: for each tick, the innermost frame that is netmon's
 * (a file under this repository), with everything it called that is not
 * (builtins, the runtime, SQLite, system calls) counted to it; and each
 * function's inclusive share. Positions are mapped back from the emitted
 * JavaScript to the TypeScript source through Deno's inline source maps, so
 * the `file:line` points at what to edit.
 *
 * ```sh
 * ./netmon --deno run -A bench/profile.ts /tmp/prof/manager/isolate-*.log [--top 25]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url).pathname;

interface CodeEntry {
  name: string;
  type: string;
}

interface Preprocessed {
  code: CodeEntry[];
  ticks: { s: number[] }[];
}

/** One of netmon's functions with its ticks. */
export interface ProfileEntry {
  /** `file:line` in the TypeScript source (or the emitted position if unmapped). */
  where: string;
  name: string;
  /** Ticks in which it was netmon's innermost frame. */
  self: number;
  /** Ticks in which it was anywhere on the stack. */
  inclusive: number;
}

/** A profile's totals and its heaviest functions. */
export interface ProfileSummary {
  ticks: number;
  /** Ticks with no netmon frame on the stack (runtime, GC, idle work of Deno itself). */
  outside: number;
  /** Ticks whose top frame was a C/C++ symbol (a system call, mostly), by symbol. */
  native: [string, number][];
  entries: ProfileEntry[];
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Decodes a source map's `mappings` into, per generated line, [column, sourceLine] pairs. */
function decodeMappings(mappings: string): [number, number][][] {
  const lines: [number, number][][] = [];
  let srcLine = 0;
  for (const line of mappings.split(";")) {
    const out: [number, number][] = [];
    let col = 0;
    for (const seg of line.split(",")) {
      if (!seg) continue;
      const values: number[] = [];
      let shift = 0, value = 0;
      for (const ch of seg) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >> 1) : value >> 1);
          shift = value = 0;
        }
      }
      col += values[0] ?? 0;
      if (values.length >= 3) {
        srcLine += values[2]!;
        out.push([col, srcLine]);
      }
    }
    lines.push(out);
  }
  return lines;
}

const maps = new Map<string, [number, number][][] | null>();

/** The TypeScript line of emitted `line:col` (1-based) of `path`, from Deno's emit cache. */
function sourceLine(path: string, line: number, col: number): number | null {
  if (!maps.has(path)) {
    let decoded: [number, number][][] | null = null;
    try {
      const js = Deno.readTextFileSync(`${denoDir()}/gen/file${path}.js`);
      const m = js.match(/sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)/);
      if (m) decoded = decodeMappings(JSON.parse(atob(m[1]!)).mappings);
    } catch { /* not emitted (plain JS) or cache elsewhere */ }
    maps.set(path, decoded);
  }
  const segs = maps.get(path)?.[line - 1];
  if (!segs || segs.length === 0) return null;
  let best = segs[0]!;
  for (const s of segs) if (s[0] <= col - 1) best = s;
  return best[1] + 1;
}

function denoDir(): string {
  return Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
}

/** `name file:///path:line:col` → where in netmon's source, if it is netmon's. */
function ours(name: string): { fn: string; where: string } | null {
  const m = name.match(/^(?:[~^+*])?(.*?) ?file:\/\/(\/[^:]+):(\d+):(\d+)$/);
  if (!m || !m[2]!.startsWith(ROOT) || m[2]!.includes("/node_modules/")) return null;
  const [, fn, path, line, col] = m;
  const ts = sourceLine(path!, Number(line), Number(col));
  return { fn: fn || "<anonymous>", where: `${path!.slice(ROOT.length)}:${ts ?? `js${line}`}` };
}

/**
 * Summarises the tick log at `logPath`.
 *
 * @example
 * ```ts ignore
 * const s = await summarise("/tmp/prof/manager/isolate-0x1-1-v8.log");
 * console.log(s.entries.slice(0, 10));
 * ```
 */
export async function summarise(logPath: string): Promise<ProfileSummary> {
  const out = await new Deno.Command("node", {
    args: ["--prof-process", "--preprocess", logPath],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) throw new Error(`node --prof-process failed on ${logPath}`);
  const text = new TextDecoder().decode(out.stdout);
  const data = JSON.parse(text.slice(text.indexOf("{"))) as Preprocessed;
  const resolved = data.code.map((c) => (c.type === "JS" ? ours(c.name) : null));
  const byWhere = new Map<string, ProfileEntry>();
  const native = new Map<string, number>();
  let outside = 0;
  for (const tick of data.ticks) {
    const top = data.code[tick.s[0]!];
    if (top && top.type === "CPP") native.set(top.name, (native.get(top.name) ?? 0) + 1);
    let first: ProfileEntry | undefined;
    const seen = new Set<ProfileEntry>();
    for (let i = 0; i < tick.s.length; i += 2) {
      const r = resolved[tick.s[i]!];
      if (!r) continue;
      const key = `${r.where} ${r.fn}`;
      let e = byWhere.get(key);
      if (!e) byWhere.set(key, e = { where: r.where, name: r.fn, self: 0, inclusive: 0 });
      first ??= e;
      seen.add(e);
    }
    if (first) first.self++;
    else outside++;
    for (const e of seen) e.inclusive++;
  }
  return {
    ticks: data.ticks.length,
    outside,
    native: [...native].sort((a, b) => b[1] - a[1]),
    entries: [...byWhere.values()].sort((a, b) => b.self - a.self),
  };
}

/**
 * The summary as text: totals, the top system calls, then the `top`
 * heaviest of netmon's functions by self ticks.
 *
 * @example
 * ```ts ignore
 * console.log(profileText("manager", await summarise(log), 20));
 * ```
 */
export function profileText(label: string, s: ProfileSummary, top = 25): string {
  const pct = (n: number) => `${(n / s.ticks * 100).toFixed(1)} %`;
  const lines = [
    `${label}: ${s.ticks} ticks; ${pct(s.outside)} with no netmon frame on the stack`,
    `  top native frames: ${s.native.slice(0, 6).map(([n, t]) => `${n} ${pct(t)}`).join(", ")}`,
    "  self (with what it calls outside netmon) | inclusive | function | where",
  ];
  for (const e of s.entries.slice(0, top)) {
    lines.push(
      `  ${pct(e.self).padStart(7)} | ${pct(e.inclusive).padStart(7)} | ${e.name} | ${e.where}`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { top: { type: "string" } },
  });
  for (const log of positionals) {
    console.log(profileText(log, await summarise(log), Number(values.top ?? 25)));
  }
}
