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

/** Wall minus monotonic from one tightly bracketed step of Date.now(), as the test sees it. */
function bracketedOffset(): { offset: number; width: number } {
  let best = { offset: 0, width: Infinity };
  for (let i = 0; i < 20_000 && best.width > 0.05; i++) {
    // the step comes after the Date.now() call before the one that sees it
    let prior = performance.now();
    const last = Date.now();
    let wall = last;
    while (wall === last) {
      const p = performance.now();
      wall = Date.now();
      if (wall === last) prior = p;
    }
    const after = performance.now();
    if (after - prior < best.width) {
      best = { offset: wall - (prior + after) / 2, width: after - prior };
    }
  }
  return best;
}

Deno.test("wallMinusMonoMs() agrees with Date.now() steps bracketed around it", () => {
  // performance.timeOrigin is no reference, and neither is one reading: on
  // this loaded VM, Date.now() and performance.now() part by up to 74 ms
  // (measured, in steps), so a round counts only if a bracket before and one
  // after it agree with each other, i.e. nothing stepped during the round
  let clean = 0;
  for (let round = 0; round < 20 && clean < 5; round++) {
    const before = bracketedOffset();
    const offset = wallMinusMonoMs();
    const after = bracketedOffset();
    if (Math.abs(before.offset - after.offset) > 0.5) continue;
    clean++;
    const reference = (before.offset + after.offset) / 2;
    assert.ok(
      Math.abs(offset - reference) < 1,
      `timed ${offset}, bracketed ${before.offset} before and ${after.offset} after`,
    );
  }
  assert.ok(clean > 0, "the wall clock stepped during every one of 20 rounds");
});
