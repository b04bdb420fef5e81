import assert from "node:assert/strict";
import { answer, LineEditor, startPrompt } from "./prompt.ts";

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

Deno.test("LineEditor edits the typed line and turns navigation keys into actions", () => {
  const ed = new LineEditor();
  assert.deepEqual(ed.feed("reslts"), []);
  ed.feed("\x1b[D\x1b[D\x1b[Du"); // ← ×3, then insert
  assert.equal(ed.text, "results");
  ed.feed("\x1b[F --limit 5");
  assert.equal(ed.text, "results --limit 5");
  ed.feed("\x17"); // Ctrl-W deletes the word before the cursor
  assert.equal(ed.text, "results --limit ");
  // an escape sequence split across two reads is still one key
  assert.deepEqual(ed.feed("\x1b["), []);
  assert.deepEqual(ed.feed("6~"), [{ kind: "page", pages: 1 }]);
  assert.deepEqual(ed.feed("\x1b[A\x1b[B\x1b[5~\x0c"), [
    { kind: "scroll", lines: -1 },
    { kind: "scroll", lines: 1 },
    { kind: "page", pages: -1 },
    { kind: "redraw" },
  ]);
  assert.deepEqual(ed.feed("\x1b"), [{ kind: "close" }]);
  assert.deepEqual(ed.feed("9\r\n"), [{ kind: "submit", line: "results --limit 9" }]);
  assert.equal(ed.text, "");
  assert.equal(ed.cursor, 0);
  ed.feed("東x\x7f\x7fé\x1b[H\x1b[3~");
  assert.equal(ed.text, "");
  ed.feed("status\x15");
  assert.equal(ed.text, "");
});

Deno.test("answer() runs one typed line as netmon ctl would, errors as text", async () => {
  const transport = () => Promise.resolve(Response.json({ error: "nope" }, { status: 500 }));
  assert.equal(await answer("   ", transport), null);
  assert.match((await answer("ctl bogus", transport))!, /^unknown command "bogus"/);
  assert.match((await answer("reload", transport))!, /nope/);
});
