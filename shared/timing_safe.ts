/**
 * Comparison of secrets (tokens, MACs) in time that does not depend on
 * where they first differ, so that a peer cannot guess one byte by byte.
 *
 * @example
 * ```ts
 * import { timingSafeEqual } from "./timing_safe.ts";
 * console.assert(timingSafeEqual("s3cret", "s3cret") && !timingSafeEqual("s3cret", "s3creT"));
 * ```
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Whether `given` equals `expected`, comparing every byte of `expected`
 * whatever `given` is (strings as UTF-8). Only the length of `expected`
 * shows in the time taken.
 *
 * @example
 * ```ts
 * import { timingSafeEqual } from "./timing_safe.ts";
 * console.assert(!timingSafeEqual("", "token") && timingSafeEqual(new Uint8Array([1]), "\x01"));
 * ```
 */
export function timingSafeEqual(
  given: string | Uint8Array,
  expected: string | Uint8Array,
): boolean {
  const a = typeof given === "string" ? encoder.encode(given) : given;
  const b = typeof expected === "string" ? encoder.encode(expected) : expected;
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!;
  return diff === 0;
}
