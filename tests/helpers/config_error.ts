/**
 * The {@linkcode ConfigError} a `tasks.yaml` text raises, for tests of the
 * parser's messages and positions.
 *
 * @example
 * ```ts
 * import { configErrorOf } from "./config_error.ts";
 * console.assert(configErrorOf("monitors: []\n").field === "monitors");
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../shared/config.ts";

/** The error `text` raises; fails the test when it parses. */
export function configErrorOf(text: string): ConfigError {
  try {
    parseConfig(text, "tasks.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail("parseConfig() accepted the text");
}
