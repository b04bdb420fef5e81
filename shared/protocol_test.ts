import assert from "node:assert/strict";
import type { CheckResult, UncheckedSpec } from "./checks.ts";
import {
  encodeFrame,
  MAX_RESULTS_PER_FRAME,
  type Message,
  parseMessage,
  ProtocolError,
  readFrames,
} from "./protocol.ts";

const enc = new TextEncoder();

async function framesOf(chunks: (string | Uint8Array)[], maxBytes?: number): Promise<string[]> {
  const stream = ReadableStream.from(chunks.map((c) => typeof c === "string" ? enc.encode(c) : c));
  const out: string[] = [];
  for await (const f of readFrames(stream, maxBytes)) out.push(f);
  return out;
}

/** Every way of cutting `bytes` into two chunks, and into single bytes. */
function cuts(bytes: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let i = 0; i <= bytes.length; i++) out.push([bytes.slice(0, i), bytes.slice(i)]);
  out.push(Array.from(bytes, (b) => Uint8Array.of(b)));
  return out;
}

Deno.test("readFrames joins frames split across chunks at any byte, multi-byte characters included", async () => {
  const text = '{"t":"hb"}\n{"t":"bye","reason":"café ☕ 🛰"}\n{"t":"ack","from":1,"to":7}\n';
  const expected = text.split("\n").slice(0, 3);
  for (const chunks of cuts(enc.encode(text))) assert.deepEqual(await framesOf(chunks), expected);
});

Deno.test("readFrames copies a partial frame: a reader that reuses its buffer does not corrupt it", async () => {
  const bytes = enc.encode('{"t":"run","checkId":"a/TCP"}\n{"t":"hb"}\n');
  const buffer = new Uint8Array(4);
  let at = 0;
  // like a socket reader: every chunk is the same buffer, overwritten with the next bytes
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const n = Math.min(buffer.length, bytes.length - at);
      buffer.set(bytes.subarray(at, at + n));
      at += n;
      controller.enqueue(buffer.subarray(0, n));
    },
  }, { highWaterMark: 0 });
  const out: string[] = [];
  for await (const f of readFrames(stream)) out.push(f);
  assert.deepEqual(out, ['{"t":"run","checkId":"a/TCP"}', '{"t":"hb"}']);
});

Deno.test("readFrames accepts a frame of exactly maxBytes and rejects one byte more, in one chunk or many", async () => {
  const ok = "x".repeat(10);
  assert.deepEqual(await framesOf([`${ok}\n`], 10), [ok]);
  for (const chunks of [[`${ok}y\n`], [ok, "y\n"], ["xxxxx", "xxxxx", "y"]]) {
    await assert.rejects(() => framesOf(chunks, 10), (e: unknown) => {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.message, "frame exceeds 10 bytes");
      return true;
    });
  }
});

Deno.test("readFrames rejects an oversized frame as it arrives, without waiting for its newline", async () => {
  let pulls = 0;
  // a peer that streams one endless line and never closes
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(enc.encode("a".repeat(1000)));
    },
  }, { highWaterMark: 0 });
  const frames = readFrames(endless, 4096);
  await assert.rejects(() => frames.next(), ProtocolError);
  assert.ok(pulls <= 6, `stopped after ${pulls} chunks of 1000 bytes`);
  await endless.cancel();
});

Deno.test("readFrames drops a partial frame at the end of the stream", async () => {
  assert.deepEqual(await framesOf(['{"t":"hb"}\n{"t":"ack","fr']), ['{"t":"hb"}']);
  assert.deepEqual(await framesOf(['{"t":"hb"}']), []);
  assert.deepEqual(await framesOf([]), []);
});

Deno.test("readFrames skips blank lines; a CRLF frame keeps its CR and still parses", async () => {
  const frames = await framesOf([
    "\n\n  \n",
    '{"t":"hb"}\r\n',
    "\r\n",
    "\t\n",
    '{"t":"ack","from":1,"to":1}\n',
  ]);
  assert.deepEqual(frames, ['{"t":"hb"}\r', '{"t":"ack","from":1,"to":1}']);
  assert.deepEqual(frames.map((f) => parseMessage(f).t), ["hb", "ack"]);
});

const SPEC: UncheckedSpec = {
  id: "x/TCP",
  target: "x",
  type: "TCP",
  intervalMs: 1000,
  timeoutMs: 500,
  params: { port: 80 },
};

const RESULT: CheckResult = {
  seq: 1,
  taskId: "00000000-0000-4000-8000-000000000000",
  monitorId: "11111111-1111-4111-8111-111111111111",
  checkId: "x/TCP",
  target: "x",
  type: "TCP",
  startedAt: 1_700_000_000_000,
  durationMs: 1.5,
  up: false,
  summary: "TCP Port: x - Port 80 - Closed",
  latencyMs: null,
  metrics: { probe_success: 0 },
  details: { address: "127.0.0.1", answers: ["a", "b"] },
  error: "connection refused",
};

const VALID: Message[] = [
  {
    t: "hello",
    v: 3,
    version: "1.0.0",
    nonce: "ab",
    vmin: 3,
    role: "monitor",
    caps: ["frame-mac"],
    monitorId: "m",
    name: "vm",
    epoch: "e1",
    lastSeq: 9,
  },
  {
    t: "hello",
    v: 3,
    version: "1.0.0",
    nonce: "cd",
    role: "manager",
    managerId: "g",
    takeover: false,
  },
  { t: "auth", mac: "ef" },
  { t: "welcome" },
  { t: "assign", rev: 2, checks: [SPEC], more: true },
  { t: "assign", rev: 3, checks: [] },
  { t: "ack", from: 3, to: 5 },
  { t: "run", checkId: "x/TCP" },
  { t: "results", results: [RESULT] },
  { t: "hb" },
  { t: "bye", reason: "shutting down", code: "shutdown" },
  { t: "bye", reason: "no code" },
];

Deno.test("every message type survives encodeFrame and parseMessage unchanged", () => {
  for (const msg of VALID) {
    const bytes = encodeFrame(msg);
    assert.equal(bytes.at(-1), 10, "a frame ends in a newline");
    const line = new TextDecoder().decode(bytes.subarray(0, -1));
    assert.deepEqual(parseMessage(line), msg);
  }
});

/** Replaces (or with `undefined`, deletes) fields of a valid message and returns the frame text. */
function variant(base: Message, changes: Record<string, unknown>): string {
  const o: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(changes)) v === undefined ? delete o[k] : (o[k] = v);
  return JSON.stringify(o);
}

const byType = (t: Message["t"]) => VALID.find((m) => m.t === t)!;

/** [frame, what the error must say] */
const INVALID: [string, RegExp][] = [
  ["not json", /^frame is not JSON: "not json"$/],
  ["[1,2]", /^frame is not a JSON object$/],
  ["null", /^frame is not a JSON object$/],
  ["42", /^frame is not a JSON object$/],
  ['{"v":1}', /^unknown message type undefined$/],
  ['{"t":"nope"}', /^unknown message type "nope"$/],
  [variant(byType("hello"), { v: "1" }), /field "v" must be a finite number/],
  [variant(byType("hello"), { v: -1 }), /field "v" must be a non-negative integer/],
  [variant(byType("hello"), { monitorId: 7 }), /field "monitorId" must be a string/],
  [variant(byType("hello"), { caps: "x" }), /field "caps" must be a list/],
  [variant(byType("hello"), { name: "n".repeat(257) }), /field "name" is longer than 256/],
  [variant(byType("hello"), { nonce: 7 }), /field "nonce" must be a string/],
  [variant(VALID[1]!, { takeover: "no" }), /field "takeover" must be true or false/],
  [variant(byType("hello"), { epoch: 3 }), /field "epoch" must be a string/],
  [variant(byType("auth"), { mac: "m".repeat(129) }), /field "mac" is longer than 128/],
  [variant(byType("hello"), { lastSeq: null }), /field "lastSeq" must be a finite number/],
  [variant(byType("auth"), { mac: undefined }), /field "mac" must be a string/],
  [variant(byType("assign"), { checks: {} }), /field "checks" must be a list/],
  [variant(byType("assign"), { rev: undefined }), /field "rev" must be a finite number/],
  [variant(byType("assign"), { more: 1 }), /field "more" must be true or false/],
  [variant(byType("assign"), { checks: [1] }), /a check must be an object/],
  [variant(byType("assign"), { checks: [{ ...SPEC, params: [] }] }), /"params" must be an object/],
  [variant(byType("assign"), { checks: [{ ...SPEC, type: "SMTP" }] }), /"type" must be one of/],
  [variant(byType("assign"), { checks: [{ ...SPEC, id: 5 }] }), /field "id" must be a string/],
  [
    variant(byType("assign"), { checks: [{ ...SPEC, intervalMs: 5, timeoutMs: 1 }] }),
    /check "x\/TCP": interval must be from 10 ms to one day/,
  ],
  [
    variant(byType("assign"), { checks: [{ ...SPEC, timeoutMs: 1000 }] }),
    /check "x\/TCP": timeout must be positive and below the interval/,
  ],
  [
    variant(byType("assign"), { checks: [{ ...SPEC, timeoutMs: 0 }] }),
    /timeout must be positive and below the interval/,
  ],
  [variant(byType("ack"), { from: -1 }), /field "from" must be a non-negative integer/],
  [variant(byType("ack"), { to: "1" }), /field "to" must be a finite number/],
  [variant(byType("ack"), { from: 9 }), /field "from" is above "to"/],
  [variant(byType("run"), { checkId: undefined }), /field "checkId" must be a string/],
  [variant(byType("results"), { results: "x" }), /field "results" must be a list/],
  [
    variant(byType("results"), { results: new Array(MAX_RESULTS_PER_FRAME + 1).fill(RESULT) }),
    new RegExp(`more than ${MAX_RESULTS_PER_FRAME} results in one frame`),
  ],
  [variant(byType("results"), { results: [null] }), /a result must be an object/],
  [
    variant(byType("results"), { results: [{ ...RESULT, latencyMs: "1" }] }),
    /field "latencyMs" must be a number or null/,
  ],
  [
    variant(byType("results"), { results: [{ ...RESULT, seq: 1.5 }] }),
    /field "seq" must be a non-negative integer/,
  ],
  [
    variant(byType("results"), { results: [{ ...RESULT, up: 1 }] }),
    /field "up" must be true or false/,
  ],
  [
    variant(byType("results"), { results: [{ ...RESULT, metrics: { a: "1" } }] }),
    /field "metrics.a" has a value of the wrong type/,
  ],
  [
    variant(byType("results"), { results: [{ ...RESULT, metrics: [] }] }),
    /field "metrics" must be an object/,
  ],
  [
    variant(byType("results"), { results: [{ ...RESULT, details: { d: { nested: 1 } } }] }),
    /field "details.d" has a value of the wrong type/,
  ],
  [
    variant(byType("results"), { results: [{ ...RESULT, details: { d: [1] } }] }),
    /field "details.d" has a value of the wrong type/,
  ],
  [
    variant(byType("results"), { results: [{ ...RESULT, error: 3 }] }),
    /field "error" must be a string/,
  ],
  [
    variant(byType("results"), { results: [{ ...RESULT, type: "tcp" }] }),
    /field "type" must be one of HTTP, HTTPS, ICMP, DNS, NTP, TCP, UDP/,
  ],
  [variant(byType("bye"), { reason: undefined }), /field "reason" must be a string/],
  [variant(byType("bye"), { code: "nope" }), /field "code" must be one of auth, busy/],
];

Deno.test("parseMessage rejects each malformed message with a ProtocolError naming what is wrong", () => {
  for (const [frame, expected] of INVALID) {
    assert.throws(() => parseMessage(frame), (e: unknown) => {
      assert.ok(e instanceof ProtocolError, `${frame.slice(0, 80)}: ${e}`);
      assert.match(e.message, expected, frame.slice(0, 80));
      return true;
    });
  }
});

Deno.test("parseMessage accepts optional fields left out, and drops fields it does not know", () => {
  const minimal = { ...RESULT, details: undefined, error: undefined, extra: "x" };
  const msg = parseMessage(JSON.stringify({ t: "results", results: [minimal], junk: 1 }));
  assert.ok(msg.t === "results");
  const r = msg.results[0]!;
  assert.deepEqual(r.details, {});
  assert.equal("error" in r, false);
  assert.equal("extra" in r, false);
  assert.equal("junk" in msg, false);
});
