/**
 * Small facts about addresses, shared by the monitor and the manager.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./net.ts";
 * console.assert(isLoopback("127.0.0.1") && !isLoopback("10.0.0.1"));
 * ```
 *
 * @module
 */

/**
 * Whether `host` is a loopback address or name: `localhost`, `::1` or an
 * address in 127.0.0.0/8 (a name that merely starts with `127.` is not).
 *
 * @example
 * ```ts
 * import { isLoopback } from "./net.ts";
 * console.assert(isLoopback("::1") && !isLoopback("127.example.com"));
 * ```
 */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
