import assert from "node:assert/strict";
import { FakeClock, realClock } from "./clock.ts";

Deno.test("FakeClock runs due timers in order of due time, ties in the order set, with now() at each", async () => {
  const clock = new FakeClock({ now: 10, wall: 5_000 });
  const seen: string[] = [];
  clock.setTimeout(() => seen.push(`c@${clock.now()}`), 30);
  clock.setTimeout(() => seen.push(`a@${clock.now()}`), 5);
  clock.setTimeout(() => seen.push(`b@${clock.now()}`), 5);
  clock.setTimeout(() => seen.push("late"), 31);
  assert.equal(clock.nextAt, 15);
  await clock.advance(30);
  assert.deepEqual(seen, ["a@15", "b@15", "c@40"]);
  assert.equal(clock.now(), 40);
  assert.equal(clock.wallNow(), 5_030);
  assert.equal(clock.pending, 1);
});

Deno.test("FakeClock runs timers set by timers within the same advance, and not cleared ones", async () => {
  const clock = new FakeClock();
  const seen: number[] = [];
  const tick = () => {
    seen.push(clock.now());
    if (seen.length < 5) clock.setTimeout(tick, 100);
  };
  clock.setTimeout(tick, 100);
  const cleared = clock.setTimeout(() => seen.push(-1), 250);
  clock.clearTimeout(cleared);
  clock.clearTimeout(undefined);
  await clock.advance(350);
  assert.deepEqual(seen, [100, 200, 300]);
  await clock.advance(1000);
  assert.deepEqual(seen, [100, 200, 300, 400, 500]);
  assert.equal(clock.pending, 0);
});

Deno.test("FakeClock lets promise chains settle between timers", async () => {
  const clock = new FakeClock();
  const seen: string[] = [];
  clock.setTimeout(() => {
    Promise.resolve().then(() => Promise.resolve()).then(() => {
      seen.push(`chain@${clock.now()}`);
      clock.setTimeout(() => seen.push(`next@${clock.now()}`), 1);
    });
  }, 10);
  await clock.advance(11);
  assert.deepEqual(seen, ["chain@10", "next@11"]);
});

Deno.test("FakeClock treats a negative delay as zero and refuses to go back", async () => {
  const clock = new FakeClock({ now: 50 });
  let at = -1;
  clock.setTimeout(() => at = clock.now(), -5);
  await clock.advance(0);
  assert.equal(at, 50);
  await assert.rejects(() => clock.advance(-1), RangeError);
});

Deno.test("realClock is the runtime's clock", () => {
  const before = performance.now();
  assert.ok(realClock.now() >= before);
  assert.ok(Math.abs(realClock.wallNow() - Date.now()) < 1000);
  const t = realClock.setTimeout(() => assert.fail("cleared"), 0);
  realClock.clearTimeout(t);
});

Deno.test("FakeClock.stall moves time without running timers; they run late on the next advance", async () => {
  const clock = new FakeClock();
  const seen: number[] = [];
  clock.setTimeout(() => seen.push(clock.now()), 10);
  clock.setTimeout(() => seen.push(clock.now()), 20);
  clock.stall(100);
  assert.deepEqual(seen, []);
  await clock.advance(0);
  assert.deepEqual(seen, [100, 100], "overdue timers run at once, at the time it is now");
  assert.throws(() => clock.stall(-1), RangeError);
});
