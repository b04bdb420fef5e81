/**
 * The limits a check must keep to on the wire, in one place: the protocol's
 * validation (`protocol.ts`, which the monitor applies to every assignment)
 * and the configuration parser (`config.ts`) both read them, so that
 * whatever a monitor would refuse, the parser refuses first, with the
 * file, line and field.
 *
 * @example
 * ```ts
 * import { checkIdOf, MAX_CHECK_ID_CHARS } from "./limits.ts";
 * console.assert(checkIdOf("example.com", "HTTP").length <= MAX_CHECK_ID_CHARS);
 * ```
 *
 * @module
 */

/** Longest check ID (`target/TYPE`), in UTF-16 code units as `String.length` counts. */
export const MAX_CHECK_ID_CHARS = 1024;
/** Longest target name, counted as {@linkcode MAX_CHECK_ID_CHARS}. */
export const MAX_TARGET_CHARS = 1024;
/** Shortest interval between two runs of a check (10 ms). */
export const MIN_INTERVAL_MS = 10;
/** Longest interval between two runs of a check (one day: timers cannot wait beyond 2^31 ms). */
export const MAX_INTERVAL_MS = 86_400_000;
/** Largest frame either side accepts, in bytes (newline excluded). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/**
 * Largest check, as JSON in UTF-8 bytes: an assignment frame carries at
 * least one whole check, and its envelope (`{"t":"assign","rev":…,
 * "checks":[…],"more":true}`) must fit beside it in {@linkcode MAX_FRAME_BYTES}.
 */
export const MAX_CHECK_BYTES = MAX_FRAME_BYTES - 1024;

/**
 * A check's ID: its target and type, `example.com/HTTP`.
 *
 * @example
 * ```ts
 * import { checkIdOf } from "./limits.ts";
 * console.assert(checkIdOf("example.com", "HTTP") === "example.com/HTTP");
 * ```
 */
export function checkIdOf(target: string, type: string): string {
  return `${target}/${type}`;
}

/** Size of `value` as JSON in UTF-8 bytes, as it travels in a frame. */
export function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).length;
}
