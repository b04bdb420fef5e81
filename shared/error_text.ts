/**
 * One way to show an error to a user: its message without the stack or
 * the OS's error number, starting lower case so that it reads inside a
 * sentence (`TCP connect failed: connection refused`).
 *
 * @example
 * ```ts
 * import { errorText } from "./error_text.ts";
 * console.assert(errorText(new Error("Connection refused (os error 111)")) === "connection refused");
 * console.assert(errorText("plain") === "plain");
 * ```
 *
 * @module
 */

/** A short, user-facing description of an error (no stack, no `(os error N)`). */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const msg = e.message.replace(/\s*\(os error \d+\)$/, "");
    return msg.charAt(0).toLowerCase() + msg.slice(1);
  }
  return String(e);
}
