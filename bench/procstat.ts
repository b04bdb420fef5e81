/**
 * CPU time and memory of processes, read from `/proc`, so that netmon and
 * its peers are measured the same way whatever language they are written in.
 *
 * @example
 * ```ts ignore
 * import { cpuSeconds, peakRssBytes } from "./procstat.ts";
 * const before = cpuSeconds(1234);
 * // … load …
 * console.log(cpuSeconds(1234) - before, peakRssBytes(1234));
 * ```
 *
 * @module
 */

/** Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`; 100 on Linux). */
const TICKS = 100;

function statFields(pid: number | "self"): string[] {
  const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // the command name may hold spaces and parentheses: fields start after the last ")"
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/**
 * User plus system CPU seconds a process has used so far.
 *
 * @example
 * ```ts ignore
 * console.log(cpuSeconds("self"));
 * ```
 */
export function cpuSeconds(pid: number | "self"): number {
  const f = statFields(pid);
  // fields 14 and 15 of proc(5), counted from 3 here
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/**
 * CPU seconds of this process's children that have exited and been waited
 * for: the cost of short-lived plugin and fping runs.
 *
 * @example
 * ```ts ignore
 * const before = reapedChildrenCpuSeconds();
 * await new Deno.Command("true").output();
 * console.log(reapedChildrenCpuSeconds() - before);
 * ```
 */
export function reapedChildrenCpuSeconds(): number {
  const f = statFields("self");
  return (Number(f[13]) + Number(f[14])) / TICKS;
}

function statusKb(pid: number | "self", key: string): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : 0;
}

/**
 * The most resident memory a process has had (VmHWM), in bytes.
 *
 * @example
 * ```ts ignore
 * console.log(peakRssBytes("self") / 2 ** 20, "MiB");
 * ```
 */
export function peakRssBytes(pid: number | "self"): number {
  return statusKb(pid, "VmHWM") * 1024;
}

/**
 * The resident memory of a process now (VmRSS), in bytes.
 *
 * @example
 * ```ts ignore
 * console.log(rssBytes("self"));
 * ```
 */
export function rssBytes(pid: number | "self"): number {
  return statusKb(pid, "VmRSS") * 1024;
}

/** A process's resident memory now, whole and its anonymous part (not file-backed: heap, stacks). */
export function residentBytes(pid: number | "self"): { rss: number; anon: number; hwm: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) =>
    Number(text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"))?.[1] ?? 0);
  return { rss: kb("VmRSS") * 1024, anon: kb("RssAnon") * 1024, hwm: kb("VmHWM") * 1024 };
}

/**
 * A process's proportional set size now (`Pss` of `/proc/PID/smaps_rollup`),
 * bytes: its private pages, plus each page it shares divided by the number
 * of processes that map it. Two netmon processes run one Deno binary, whose
 * pages RSS counts in full in each; summed PSS counts them once, as the
 * kernel holds them once.
 *
 * @example
 * ```ts ignore
 * console.log(pssBytes(1234) / 2 ** 20, "MiB");
 * ```
 */
export function pssBytes(pid: number | "self"): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  return Number(text.match(/^Pss:\s+(\d+) kB/m)?.[1] ?? 0) * 1024;
}

/**
 * `pid` and every process descended from it, alive now (read from the
 * parent PIDs in `/proc/PID/stat`).
 *
 * @example
 * ```ts ignore
 * console.log(processTree(1234));
 * ```
 */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const ppid = Number(statFields(Number(e.name))[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e.name));
      children.set(ppid, list);
    } catch { /* exited meanwhile */ }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

/** The short command name of a process (`/proc/PID/comm`), or "?" once it has gone. */
export function processName(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return "?";
  }
}

/** The 1-, 5- and 15-minute load averages of the machine. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = Deno.readTextFileSync("/proc/loadavg").split(" ").map(Number);
  return [a ?? NaN, b ?? NaN, c ?? NaN];
}

/** One process as a {@linkcode TreeSampler} last saw it. */
export interface ProcessSample {
  pid: number;
  name: string;
  /** CPU seconds used since the sampler's {@linkcode TreeSampler.reset}. */
  cpuSeconds: number;
  /** Its most resident memory (VmHWM), bytes. */
  peakRssBytes: number;
}

/**
 * Follows every process of a system (the trees under some root PIDs): CPU
 * used since a reset, each process's peak RSS, and the peak of their summed
 * RSS over the samples taken. A process that exits keeps what it was last
 * seen to have used.
 *
 * @example
 * ```ts ignore
 * const s = new TreeSampler({ prometheus: prometheusPid, blackbox_exporter: blackboxPid });
 * s.reset();
 * // … every second: s.sample();
 * console.log(s.cpuSeconds(), s.peakRssSumBytes);
 * ```
 */
export class TreeSampler {
  /** The root processes by the name they are reported under (descendants: `name/comm`). */
  readonly roots: Record<string, number>;
  /** The largest sum of the processes' resident memory seen in one sample. */
  peakRssSumBytes = 0;
  /**
   * The anonymous part of that sum in the same sample: the rest is pages of
   * the programs' files, which each process counts though they share them.
   */
  peakAnonOfPeakBytes = 0;
  /** The largest sum of the processes' {@linkcode pssBytes} seen in one sample. */
  peakPssSumBytes = 0;
  #seen = new Map<number, { name: string; cpu: number; base: number; hwm: number }>();
  /** The trees as last listed; listing walks all of `/proc`, so it is redone every 10th sample. */
  #trees: [string, number, number[]][] = [];
  #samples = 0;

  constructor(roots: Record<string, number>) {
    this.roots = roots;
  }

  /** Reads every process once; returns their summed RSS now. */
  sample(): number {
    let rss = 0, anon = 0, pss = 0;
    if (this.#samples++ % 10 === 0) {
      this.#trees = Object.entries(this.roots).map(([label, root]) => [
        label,
        root,
        processTree(root),
      ]);
    }
    for (const [label, root, pids] of this.#trees) {
      for (const pid of pids) {
        try {
          const cpu = cpuSeconds(pid);
          const { rss: now, anon: anonNow, hwm } = residentBytes(pid);
          const s = this.#seen.get(pid);
          if (s) {
            s.cpu = cpu;
            s.hwm = hwm;
          } else {
            const name = pid === root ? label : `${label}/${processName(pid)}`;
            this.#seen.set(pid, { name, cpu, base: 0, hwm });
          }
          rss += now;
          anon += anonNow;
          pss += pssBytes(pid);
        } catch { /* exited between listing and reading */ }
      }
    }
    if (rss > this.peakRssSumBytes) {
      this.peakRssSumBytes = rss;
      this.peakAnonOfPeakBytes = anon;
    }
    if (pss > this.peakPssSumBytes) this.peakPssSumBytes = pss;
    return rss;
  }

  /** Starts counting CPU from now (peaks are kept). */
  reset(): void {
    this.sample();
    for (const s of this.#seen.values()) s.base = s.cpu;
  }

  /** CPU seconds of all processes since {@linkcode reset}. */
  cpuSeconds(): number {
    let sum = 0;
    for (const s of this.#seen.values()) sum += s.cpu - s.base;
    return sum;
  }

  /** Every process seen, with its CPU since the reset and its peak RSS. */
  processes(): ProcessSample[] {
    return [...this.#seen].map(([pid, s]) => ({
      pid,
      name: s.name,
      cpuSeconds: s.cpu - s.base,
      peakRssBytes: s.hwm,
    }));
  }
}
