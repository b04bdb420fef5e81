import assert from "node:assert/strict";
import { Slots } from "./dial_slots.ts";

Deno.test("Slots hands out at most its size, then one per release, first come first served", async () => {
  const slots = new Slots(2);
  const a = await slots.acquire();
  const b = await slots.acquire();
  const order: string[] = [];
  const c = slots.acquire().then((r) => (order.push("c"), r));
  const d = slots.acquire().then((r) => (order.push("d"), r));
  await Promise.resolve();
  assert.deepEqual(order, [], "both slots are held");
  assert.equal(slots.waiting, 2);
  a();
  a(); // a second call releases nothing more
  const releaseC = await c;
  await Promise.resolve();
  assert.deepEqual(order, ["c"]);
  b();
  (await d)();
  releaseC();
  // every slot is free again: two at once, the third waits
  const e = await slots.acquire();
  const f = await slots.acquire();
  assert.equal(slots.waiting, 0);
  let third = false;
  const g = slots.acquire().then((r) => (third = true, r));
  await Promise.resolve();
  assert.equal(third, false);
  e();
  (await g)();
  f();
});

Deno.test("Slots: a waiter whose signal aborts leaves the queue and is rejected with its reason", async () => {
  const slots = new Slots(1);
  const held = await slots.acquire();
  const abort = new AbortController();
  const waiting = slots.acquire(abort.signal);
  const next = slots.acquire();
  abort.abort(new Error("stopped"));
  await assert.rejects(waiting, /stopped/);
  assert.equal(slots.waiting, 1);
  held();
  (await next)();
  await assert.rejects(
    slots.acquire(abort.signal),
    /stopped/,
    "an aborted signal waits for nothing",
  );
});
