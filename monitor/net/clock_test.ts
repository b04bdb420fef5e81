import assert from "node:assert/strict";
import { wallMinusMonoMs, wallNowMs } from "./clock.ts";

Deno.test("wallNowMs() stays within 2 ms of Date.now() over many calls", async () => {
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 200; i++) {
      const before = Date.now();
      const wall = wallNowMs();
      const after = Date.now();
      // Date.now() floors, so the true time lies in [before, after + 1)
      assert.ok(
        wall >= before - 2 && wall <= after + 1 + 2,
        `wallNowMs() ${wall} vs Date.now() ${before}..${after}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
});

Deno.test("wallNowMs() resolves time within a millisecond", () => {
  const readings = Array.from({ length: 2000 }, () => wallNowMs());
  const millis = new Set(readings.map(Math.floor));
  assert.ok(
    new Set(readings).size > millis.size,
    `${new Set(readings).size} distinct readings in ${millis.size} distinct milliseconds`,
  );
});

Deno.test("wallMinusMonoMs() timed from Date.now() agrees with performance.timeOrigin", () => {
  // timeOrigin is the start-up anchor; the re-timing that replaces it after a
  // minute or a clock step must land on the same offset when nothing stepped
  for (let i = 0; i < 5; i++) {
    const offset = wallMinusMonoMs();
    assert.ok(
      Math.abs(offset - performance.timeOrigin) < 1,
      `timed ${offset}, timeOrigin ${performance.timeOrigin}`,
    );
  }
});
