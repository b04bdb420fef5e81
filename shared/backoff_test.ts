import assert from "node:assert/strict";
import { jitteredBackoff } from "./backoff.ts";

Deno.test("jitteredBackoff doubles from baseMs to capMs, each randomised to 50–100 %", () => {
  const at = (random: number) => (n: number) =>
    jitteredBackoff(n, { baseMs: 200, capMs: 2000, random: () => random });
  assert.deepEqual([0, 1, 2, 3, 4, 40].map(at(1)), [200, 400, 800, 1600, 2000, 2000]);
  assert.deepEqual([0, 1, 2, 3, 4, 40].map(at(0)), [100, 200, 400, 800, 1000, 1000]);
});
