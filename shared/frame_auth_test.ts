import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { FrameAuthError, FrameOpener, FrameSealer } from "./frame_auth.ts";

/** The MAC as the protocol defines it, computed with a plain HMAC. */
function reference(key: Uint8Array, counter: number, json: string): string {
  const c = new Uint8Array(8);
  new DataView(c.buffer).setBigUint64(0, BigInt(counter));
  return createHmac("sha256", key).update(c).update(json).digest("hex").slice(0, 32);
}

Deno.test("frame MACs are the first 16 bytes of HMAC-SHA-256 over the counter and the JSON", () => {
  for (const key of [new Uint8Array(32), crypto.getRandomValues(new Uint8Array(32))]) {
    const sealer = new FrameSealer(key);
    const opener = new FrameOpener(key);
    const frames = [
      '{"t":"hb"}',
      '{"t":"run","checkId":"é/TCP"}',
      JSON.stringify({ x: "y".repeat(70_000) }),
    ];
    frames.forEach((json, i) => {
      const line = sealer.seal(json);
      assert.equal(line, `${reference(key, i, json)} ${json}`);
      assert.equal(opener.open(line), json);
    });
  }
});

Deno.test("a frame opened out of order, or under another key, is refused", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const sealer = new FrameSealer(key);
  const first = sealer.seal('{"t":"hb"}');
  const second = sealer.seal('{"t":"hb"}');
  assert.throws(() => new FrameOpener(key).open(second), FrameAuthError);
  assert.throws(() => new FrameOpener(new Uint8Array(32)).open(first), FrameAuthError);
});
