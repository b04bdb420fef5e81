/**
 * Reconnect delays for both ends of a link: the manager redialing a monitor
 * and a monitor dialing its manager (`--connect`).
 *
 * @example
 * ```ts
 * import { jitteredBackoff } from "./backoff.ts";
 * console.assert(jitteredBackoff(3, { baseMs: 100, capMs: 600, random: () => 1 }) === 600);
 * ```
 *
 * @module
 */

/** Where a backoff starts and stops growing, and its source of randomness. */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Default `Math.random`. */
  random?: () => number;
}

/**
 * The wait before attempt `failures` + 1: doubling from `baseMs` up to
 * `capMs`, each randomised to 50–100 % so that links cut together do not all
 * redial at once.
 *
 * @example
 * ```ts
 * import { jitteredBackoff } from "./backoff.ts";
 * const ms = jitteredBackoff(1, { baseMs: 100, capMs: 600 });
 * console.assert(ms >= 100 && ms <= 200);
 * ```
 */
export function jitteredBackoff(failures: number, opts: BackoffOptions): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(failures, 10));
  return ceiling * (0.5 + (opts.random ?? Math.random)() * 0.5);
}
