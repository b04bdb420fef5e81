import assert from "node:assert/strict";
import { timingSafeEqual } from "./timing_safe.ts";

Deno.test("timingSafeEqual() is true only for the same bytes, whatever the lengths", () => {
  assert.equal(timingSafeEqual("abc", "abc"), true);
  assert.equal(timingSafeEqual("", ""), true);
  assert.equal(timingSafeEqual("abd", "abc"), false);
  assert.equal(timingSafeEqual("ab", "abc"), false);
  assert.equal(timingSafeEqual("abcd", "abc"), false);
  assert.equal(timingSafeEqual("abc\0", "abc"), false, "a longer value with a zero byte");
  assert.equal(timingSafeEqual("", "abc"), false);
  assert.equal(timingSafeEqual("é", new Uint8Array([0xc3, 0xa9])), true, "strings as UTF-8");
});
