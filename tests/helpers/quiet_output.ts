/**
 * An {@linkcode Output} that keeps nothing, for tests that drive a manager
 * in-process and read its API or store rather than its log.
 *
 * @example
 * ```ts
 * import { quietOutput } from "./quiet_output.ts";
 * quietOutput.event("ignored");
 * ```
 *
 * @module
 */
import type { Output } from "../../manager/output.ts";

/** Discards everything the manager reports. */
export const quietOutput: Output = {
  result() {},
  status() {},
  distributing() {},
  event() {},
  flush() {},
  close() {},
};
