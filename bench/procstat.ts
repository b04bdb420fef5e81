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
