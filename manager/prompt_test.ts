import assert from "node:assert/strict";
import { startPrompt } from "./prompt.ts";

Deno.test("commands typed at the prompt go to the API and their answers are written", async () => {
  const seen: string[] = [];
  const input = ReadableStream.from(["sta", "tus\n\nctl reload\nbogus\n"])
    .pipeThrough(new TextEncoderStream());
  await startPrompt(
    input,
    (req) => {
      seen.push(`${req.method} ${new URL(req.url).pathname}`);
      const body = req.method === "POST"
        ? { ok: true }
        : new URL(req.url).pathname.endsWith("status")
        ? {
          manager: { id: "m1", version: "9", startedAt: 0 },
          monitors: { total: 0, online: 0, reconnecting: 0, offline: 0 },
          checks: { configured: 0, paused: [] },
          storeBytes: 0,
        }
        : [];
      return Promise.resolve(Response.json(body));
    },
    (text) => seen.push(text),
  );
  assert.deepEqual(seen.slice(0, 2), ["GET /api/v1/status", "GET /api/v1/monitors"]);
  assert.match(seen[2]!, /^Manager m1 \(netmon 9\)/);
  assert.deepEqual(seen.slice(3, 5), ["POST /api/v1/reload", "Configuration reloaded"]);
  assert.match(seen[5]!, /^unknown command "bogus"/);
  assert.equal(seen.length, 6);
});
