/**
 * The one non-cryptographic string hash netmon uses where it needs a stable,
 * well-spread number from a name: the scheduler's start phases and the
 * manager's rendezvous placement. Not for secrets.
 *
 * @example
 * ```ts
 * import { fnv1a32 } from "./hash.ts";
 * console.assert(fnv1a32("a") === 0xe40c292c);
 * ```
 *
 * @module
 */

/**
 * 32-bit FNV-1a over the string's UTF-16 code units (for ASCII the same as
 * over its bytes), as an unsigned integer.
 *
 * @example
 * ```ts
 * import { fnv1a32 } from "./hash.ts";
 * console.assert(fnv1a32("") === 0x811c9dc5);
 * ```
 */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Mixes the bits of a 32-bit hash (part of MurmurHash3's finaliser), so that
 * keys that differ only at the end still score far apart. Unsigned result.
 *
 * @example
 * ```ts
 * import { fnv1a32, mix32 } from "./hash.ts";
 * console.assert(mix32(fnv1a32("x/TCP\0a")) !== mix32(fnv1a32("x/TCP\0b")));
 * ```
 */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
