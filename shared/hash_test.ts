import assert from "node:assert/strict";
import { fnv1a32, mix32 } from "./hash.ts";

Deno.test("fnv1a32 gives the published 32-bit FNV-1a values", () => {
  // test vectors from the FNV reference (Noll): "", "a", "foobar"
  assert.equal(fnv1a32(""), 0x811c9dc5);
  assert.equal(fnv1a32("a"), 0xe40c292c);
  assert.equal(fnv1a32("foobar"), 0xbf9cf968);
});

Deno.test("mix32 is unsigned and separates keys that differ in one trailing character", () => {
  const a = mix32(fnv1a32("x/TCP\0a"));
  const b = mix32(fnv1a32("x/TCP\0b"));
  assert.ok(a >= 0 && a < 2 ** 32 && b >= 0 && b < 2 ** 32);
  // differing bits: plain FNV-1a differs in few high bits for such keys, the mix in many
  const bits = (x: number) => x.toString(2).replace(/0/g, "").length;
  assert.ok(bits((a ^ b) >>> 0) >= 8, `${a.toString(16)} vs ${b.toString(16)}`);
});
