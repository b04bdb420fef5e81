/**
 * mulberry32: a small, fast seeded PRNG; the same seed gives the same cases
 * on every machine, so a failing case can be replayed.
 *
 * @example
 * ```ts
 * import { mulberry32 } from "./prng.ts";
 * console.assert(mulberry32(1)() === mulberry32(1)());
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
