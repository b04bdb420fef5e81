/**
 * Fuzz tests (issue 6): every parser of outside input gets thousands of
 * random and mutated inputs from a fixed seed. A parser may only accept the
 * input or throw its own typed error (never a TypeError, RangeError or
 * anything else), and every case finishes: inputs are bounded in size.
 *
 * A failing case prints its seed and input, so it can be replayed.
 */
import { mulberry32 } from "./helpers/prng.ts";
import assert from "node:assert/strict";
import { encode as encodeDns, type Packet } from "dns-packet";
import {
  encodeFrame,
  type Message,
  parseMessage,
  ProtocolError,
  readFrames,
} from "../shared/protocol.ts";
import { ConfigError, parseConfig } from "../shared/config.ts";
import { FrameAuthError, FrameOpener, FrameSealer } from "../shared/frame_auth.ts";
import {
  decodePacket,
  formatReferenceId,
  makeRequest,
  measure,
  ntpToUnixMs,
  SntpError,
  validateReply,
} from "../shared/sntp.ts";
import { decodeDnsReply, formatAnswer } from "../monitor/checks/dns.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Random choices drawn from one seeded stream. */
class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }
}

const HUGE_NUMBERS = [
  "1e309",
  "-1e309",
  "99999999999999999999999",
  "9007199254740993",
  "-0",
  "0x7fffffff",
  "1e-400",
  "NaN",
  ".inf",
  "-.inf",
  "4294967296",
  "65536",
  "-1",
];

/** Mutates bytes: flips, truncation, random insertions, deletions and repeated slices. */
function mutateBytes(rng: Rng, input: Uint8Array, maxLength: number): Uint8Array {
  let out = Array.from(input);
  for (let round = 1 + rng.int(4); round > 0; round--) {
    const at = rng.int(out.length + 1);
    switch (rng.int(6)) {
      case 0:
        if (out.length > 0) out[Math.min(at, out.length - 1)]! ^= 1 << rng.int(8);
        break;
      case 1:
        out = out.slice(0, at);
        break;
      case 2:
        out.splice(at, 0, ...rng.bytes(1 + rng.int(8)));
        break;
      case 3:
        out.splice(at, 1 + rng.int(8));
        break;
      case 4: {
        const from = rng.int(out.length + 1);
        out.splice(at, 0, ...out.slice(from, from + 1 + rng.int(32)));
        break;
      }
      default:
        if (out.length > 0) out[Math.min(at, out.length - 1)] = rng.pick([0, 0xff, 0x80, 0x7f]);
    }
  }
  return Uint8Array.from(out.slice(0, maxLength));
}

/** Mutates text: the byte mutations plus YAML/JSON punctuation and huge numbers. */
function mutateText(rng: Rng, input: string, maxLength: number): string {
  if (rng.int(3) === 0) {
    return new TextDecoder().decode(
      mutateBytes(rng, new TextEncoder().encode(input), maxLength),
    );
  }
  let out = input;
  for (let round = 1 + rng.int(4); round > 0; round--) {
    const at = rng.int(out.length + 1);
    const insert = rng.int(3) === 0 ? rng.pick(HUGE_NUMBERS) : rng.pick(PUNCTUATION);
    if (rng.int(4) === 0) {
      // replace a number in place, so that keys stay and only the value goes wild
      const digits = /-?\d+(\.\d+)?/g;
      const all = [...out.matchAll(digits)];
      if (all.length > 0) {
        const m = rng.pick(all);
        out = out.slice(0, m.index) + rng.pick(HUGE_NUMBERS) + out.slice(m.index! + m[0].length);
        continue;
      }
    }
    out = out.slice(0, at) + insert + out.slice(at);
  }
  return out.slice(0, maxLength);
}

const PUNCTUATION = [
  ":",
  ": ",
  "-",
  "- ",
  "{",
  "}",
  "[",
  "]",
  ",",
  "'",
  '"',
  "#",
  "&a ",
  "*a",
  "!!str ",
  "!!binary ",
  "? ",
  "|",
  ">",
  "\n",
  "\n  ",
  "\t",
  "%YAML 1.2\n",
  "---\n",
  "...\n",
  "<<: *a\n",
  "\\",
  "\u0000",
  "\ufeff",
  "null",
  "~",
  "true",
  "__proto__",
  "constructor",
];

/** Runs `fn`, and on an unexpected error says which case it was and what the input was. */
function expectOnly(
  name: string,
  i: number,
  input: unknown,
  allowed: (new (...args: never[]) => Error)[],
  fn: () => void,
): void {
  try {
    fn();
  } catch (e) {
    if (allowed.some((cls) => e instanceof cls)) return;
    const shown = input instanceof Uint8Array
      ? Array.from(input, (b) => b.toString(16).padStart(2, "0")).join("")
      : JSON.stringify(input);
    assert.fail(`${name} case ${i}: ${e instanceof Error ? e.stack : e}\ninput: ${shown}`);
  }
}

const SPEC = {
  id: "google.com/HTTP",
  target: "google.com",
  type: "HTTP",
  intervalMs: 2000,
  timeoutMs: 1600,
  params: { url: "http://www.google.com", frequency: 2 },
};
const RESULT = {
  seq: 7,
  taskId: "6f1c1a7e-4c6b-4b7a-9a43-2f64d1e9a0b1",
  monitorId: "m-1",
  checkId: "google.com/HTTP",
  target: "google.com",
  type: "HTTP",
  startedAt: 1_715_772_379_000,
  durationMs: 12.5,
  up: true,
  summary: "HTTP URL: http://www.google.com, HTTP server status: True, Status Code: 200",
  latencyMs: 12.5,
  metrics: { probe_success: 1, 'probe_http_duration_seconds{phase="connect"}': 0.001 },
  details: { address: "127.0.0.1", answers: ["a", "b"], ok: true, none: null },
};

/** One valid frame of every message type, the corpus the protocol fuzz mutates. */
const MESSAGES = [
  {
    t: "hello",
    v: 3,
    version: "0.1.0",
    nonce: "ab".repeat(16),
    vmin: 3,
    role: "monitor",
    caps: ["frame-mac", "stats"],
    monitorId: "m-1",
    name: "local",
    epoch: "0b6f9c0e-5a4c-4d8e-9f1a-3c2b1a0d9e8f",
    lastSeq: 9,
  },
  {
    t: "hello",
    v: 3,
    version: "0.1.0",
    nonce: "cd".repeat(16),
    vmin: 3,
    role: "manager",
    caps: [],
    managerId: "g-1",
    takeover: true,
  },
  { t: "auth", mac: "ef".repeat(32) },
  { t: "welcome" },
  { t: "assign", rev: 2, checks: [SPEC, { ...SPEC, id: "x/TCP", type: "TCP", params: {} }] },
  { t: "ack", from: 3, to: 4 },
  { t: "run", checkId: "google.com/HTTP" },
  { t: "results", results: [RESULT, { ...RESULT, seq: 8, up: false, error: "refused" }] },
  { t: "stats", pending: 12, dropped: 0, diskFull: "disk full at /var/lib/netmon/spool.db" },
  { t: "hb" },
  { t: "bye", reason: "shutting down", code: "shutdown" },
] as Message[];

/** Sets an own property, even `__proto__`, as JSON.parse does for a hostile frame. */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A random JSON value, nested at most `depth` deep, as a hostile peer might send. */
function randomJson(rng: Rng, depth: number): unknown {
  switch (rng.int(depth > 0 ? 9 : 6)) {
    case 0:
      return null;
    case 1:
      return rng.int(2) === 0;
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 53, -(2 ** 60), 1e308, 65536, 4294967295]);
    case 3:
      return rng.pick(["", "hb", "hello", "HTTP", "x".repeat(5000), "\u0000", "__proto__"]);
    case 4:
      return rng.int(1000);
    case 5:
      return String.fromCharCode(...rng.bytes(rng.int(20)));
    case 6:
      return Array.from({ length: rng.int(4) }, () => randomJson(rng, depth - 1));
    default: {
      const keys = ["t", "v", "seq", "results", "checks", "params", "reason", "code", "__proto__"];
      const o: Record<string, unknown> = {};
      for (let n = rng.int(5); n > 0; n--) setOwn(o, rng.pick(keys), randomJson(rng, depth - 1));
      return o;
    }
  }
}

/** Sets a random field somewhere in a copy of `msg` to a random JSON value. */
function mutateField(rng: Rng, msg: Message): unknown {
  const copy = JSON.parse(JSON.stringify(msg));
  let target: Record<string, unknown> = copy;
  for (let depth = 0; depth < 3; depth++) {
    const inner = Object.values(target).filter((v) => typeof v === "object" && v !== null);
    if (inner.length === 0 || rng.int(2) === 0) break;
    target = rng.pick(inner) as Record<string, unknown>;
  }
  const keys = Object.keys(target);
  const key = keys.length > 0 && rng.int(4) !== 0 ? rng.pick(keys) : rng.pick(["t", "extra"]);
  if (rng.int(5) === 0) delete target[key];
  else setOwn(target, key, randomJson(rng, 2));
  return copy;
}

Deno.test("parseMessage() accepts or throws ProtocolError for 5000 random and mutated frames", () => {
  const rng = new Rng(0x5eed_0001);
  const frames = MESSAGES.map((m) => new TextDecoder().decode(encodeFrame(m)).trimEnd());
  for (const frame of frames) assert.equal(parseMessage(frame).t, JSON.parse(frame).t);
  let accepted = 0;
  for (let i = 0; i < 5000; i++) {
    let input: string;
    switch (i % 3) {
      case 0:
        input = JSON.stringify(mutateField(rng, rng.pick(MESSAGES)));
        break;
      case 1:
        input = mutateText(rng, rng.pick(frames), 8192);
        break;
      default:
        input = JSON.stringify(randomJson(rng, 4));
    }
    expectOnly("parseMessage", i, input, [ProtocolError], () => {
      const msg = parseMessage(input);
      assert.equal(typeof msg.t, "string");
      accepted++;
    });
  }
  console.log(`parseMessage: ${accepted} of 5000 fuzzed frames accepted`);
  // some mutations leave a valid message (a changed string): the fuzz reaches past validation
  assert.ok(accepted > 0);
});

Deno.test("FrameOpener refuses 5000 random and mutated sealed frames with FrameAuthError only", () => {
  const rng = new Rng(0x5eed_0005);
  const key = rng.bytes(32);
  const frames = MESSAGES.map((m) => JSON.stringify(m));
  for (let i = 0; i < 5000; i++) {
    // a sealed frame with one character changed, or random bytes, always at counter 0
    const sealed = new FrameSealer(key).seal(rng.pick(frames));
    const line = i % 2 === 0
      ? (() => {
        const at = rng.int(sealed.length);
        const c = String.fromCharCode((sealed.charCodeAt(at) + 1 + rng.int(200)) % 0x10000);
        return sealed.slice(0, at) + c + sealed.slice(at + 1);
      })()
      : new TextDecoder().decode(rng.bytes(rng.int(80)));
    assert.throws(() => new FrameOpener(key).open(line), FrameAuthError);
  }
  // and the unaltered frames all open, in order
  const sealer = new FrameSealer(key), opener = new FrameOpener(key);
  for (const f of frames) assert.equal(opener.open(sealer.seal(f)), f);
});

Deno.test("parseMessage() rejects a bye with an unknown code", () => {
  assert.throws(() => parseMessage('{"t":"bye","reason":"x","code":"nope"}'), ProtocolError);
  assert.equal(parseMessage('{"t":"bye","reason":"x","code":"auth"}').t, "bye");
});

Deno.test("readFrames() yields bounded frames or throws ProtocolError for 2000 random streams", async () => {
  const rng = new Rng(0x5eed_0002);
  const maxBytes = 64;
  const encoder = new TextEncoder();
  let frames = 0, oversized = 0;
  for (let i = 0; i < 2000; i++) {
    // mostly small lines with newlines, sometimes one that runs past maxBytes
    const parts: Uint8Array[] = [];
    for (let n = 1 + rng.int(6); n > 0; n--) {
      const line = rng.int(4) === 0 ? rng.bytes(rng.int(200)) : encoder.encode(
        rng.pick(['{"t":"hb"}', "", " ", "\r", "x".repeat(rng.int(80)), "\u00e9\u4e2d"]),
      );
      parts.push(line, encoder.encode(rng.int(5) === 0 ? "" : "\n"));
    }
    const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    // cut the stream into random chunks, as TCP does
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < all.length;) {
      const size = 1 + rng.int(40);
      chunks.push(all.slice(at, at + size));
      at += size;
    }
    try {
      for await (const frame of readFrames(ReadableStream.from(chunks), maxBytes)) {
        assert.ok(!frame.includes("\n"), `case ${i}: a frame holds a newline`);
        assert.ok(frame.trim() !== "", `case ${i}: an empty frame was yielded`);
        // U+FFFD for an invalid byte takes 3 bytes, so count the input's bytes, not the text's
        assert.ok(frame.length <= maxBytes, `case ${i}: a frame of ${frame.length} characters`);
        frames++;
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) {
        assert.fail(`readFrames case ${i}: ${e instanceof Error ? e.stack : e}`);
      }
      oversized++;
    }
  }
  console.log(`readFrames: ${frames} frames, ${oversized} oversized streams rejected`);
  assert.ok(frames > 0 && oversized > 0);
});

Deno.test("parseConfig() accepts or throws ConfigError for 3000 mutations of the seed's tasks.yaml", async () => {
  const seed = await Deno.readTextFile(`${ROOT}tasks.yaml`);
  assert.equal(parseConfig(seed, "tasks.yaml").checks.length, 14);
  const rng = new Rng(0x5eed_0003);
  const extras = [
    "a: &a [1, 2]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
    "defaults: {frequency: 1e309, timeout: -1}\n",
    "monitors: !!set {x}\n",
    `targets:\n  ${"x".repeat(3000)}:\n    TCP: {port: 80}\n`,
  ];
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const base = rng.int(10) === 0 ? seed + rng.pick(extras) : seed;
    const input = mutateText(rng, base, 16_384);
    expectOnly("parseConfig", i, input, [ConfigError], () => {
      const config = parseConfig(input, "tasks.yaml");
      for (const c of config.checks) {
        assert.ok(Number.isFinite(c.spec.intervalMs) && c.spec.intervalMs > 0);
        assert.ok(c.spec.timeoutMs > 0 && c.spec.timeoutMs < c.spec.intervalMs);
      }
      accepted++;
    });
  }
  console.log(`parseConfig: ${accepted} of 3000 mutated files accepted`);
  assert.ok(accepted > 0);
});

Deno.test("parseConfig() turns an alias bomb into a ConfigError instead of expanding it", () => {
  // eight levels of ten aliases each: 10^8 strings if expanded
  const names = "abcdefgh".split("");
  const levels = names.map((n, i) =>
    `      x${n}: &${n} [${Array(10).fill(i === 0 ? "x" : `*${names[i - 1]}`).join(", ")}]`
  );
  const text = "monitors: [{address: '127.0.0.1:1'}]\ntargets:\n  t:\n    TCP:\n      port: 80\n" +
    levels.join("\n") + "\n";
  assert.throws(() => parseConfig(text, "tasks.yaml"), ConfigError);
});

Deno.test("SNTP decodePacket() and validateReply() throw only SntpError for 5000 random replies", () => {
  const rng = new Rng(0x5eed_0004);
  const { bytes: request, transmit } = makeRequest(Date.now());
  // a plausible server reply: mode 4, stratum 2, our transmit time as origin
  const reply = request.slice();
  reply[0] = 0x24;
  reply[1] = 2;
  reply.set(request.subarray(40, 48), 24);
  reply.set(request.subarray(40, 48), 32);
  reply.set(request.subarray(40, 48), 40);
  let valid = 0;
  for (let i = 0; i < 5000; i++) {
    const input = i % 4 === 0
      ? rng.bytes(rng.pick([0, 12, 47, 48, 52, 60, 68, 1024, 1028]))
      : mutateBytes(rng, rng.int(3) === 0 ? request : reply, 1100);
    expectOnly("sntp", i, input, [SntpError], () => {
      const packet = decodePacket(input);
      formatReferenceId(packet.stratum, packet.referenceId);
      assert.ok(Number.isFinite(ntpToUnixMs(packet.transmitTime)));
      validateReply(packet, transmit);
      const m = measure(transmit, packet, rng.next() * 100);
      assert.ok(Number.isFinite(m.offsetMs) && Number.isFinite(m.delayMs));
      valid++;
    });
  }
  console.log(`sntp: ${valid} of 5000 fuzzed replies passed validation`);
  assert.ok(valid > 0);
});

/** Replies the DNS check could get: answers of every type it formats. */
function dnsReplies(id: number): Uint8Array[] {
  const question = { type: "A" as const, name: "www.netmon.test", class: "IN" as const };
  const base = { type: "response" as const, id, flags: 0x8180, questions: [question] };
  const answers: Packet["answers"][] = [
    [{ type: "A", name: "www.netmon.test", ttl: 60, data: "192.0.2.1" }],
    [{ type: "AAAA", name: "www.netmon.test", ttl: 60, data: "2001:db8::1" }],
    [{ type: "MX", name: "www.netmon.test", data: { preference: 10, exchange: "mx.netmon.test" } }],
    [{ type: "TXT", name: "www.netmon.test", data: ["v=spf1 -all", "two"] }],
    [{ type: "CNAME", name: "www.netmon.test", data: "a.netmon.test" }],
    [{
      type: "SOA",
      name: "netmon.test",
      data: {
        mname: "ns1.netmon.test",
        rname: "hostmaster.netmon.test",
        serial: 1,
        refresh: 2,
        retry: 3,
        expire: 4,
        minimum: 5,
      },
    }],
    [{
      type: "SRV",
      name: "_x._tcp.netmon.test",
      data: { priority: 1, weight: 2, port: 3, target: "t.netmon.test" },
    }],
    [{ type: "CAA", name: "netmon.test", data: { flags: 0, tag: "issue", value: "ca.test" } }],
    [{ type: "PTR", name: "1.2.0.192.in-addr.arpa", data: "www.netmon.test" }],
    [{ type: "NS", name: "netmon.test", data: "ns1.netmon.test" }],
  ];
  return answers.map((a) => new Uint8Array(encodeDns({ ...base, answers: a })));
}

Deno.test("decodeDnsReply() never throws and its answers always format, for 5000 fuzzed replies", () => {
  const rng = new Rng(0x5eed_0005);
  const id = 0x6e6d;
  const query = { id, name: "www.netmon.test", type: "A" };
  const corpus = dnsReplies(id);
  const first = decodeDnsReply(corpus[0]!, query);
  assert.equal(first?.kind, "reply");
  let replies = 0;
  for (let i = 0; i < 5000; i++) {
    let input: Uint8Array;
    if (i % 5 === 0) {
      // random bytes behind our ID and a response flag, so they reach the decoder
      input = rng.bytes(12 + rng.int(300));
      input.set([id >> 8, id & 0xff, 0x81, rng.pick([0x80, 0x83, 0x81])]);
    } else {
      input = mutateBytes(rng, rng.pick(corpus), 1232);
      // keep the header's ID and flags most of the time, to fuzz the body
      if (input.length >= 4 && rng.int(4) !== 0) input.set([id >> 8, id & 0xff, 0x81, 0x80]);
    }
    expectOnly("decodeDnsReply", i, input, [], () => {
      // the question the check would look for: the packet's own one, to get past the match
      const match = decodeDnsReply(input, query) ??
        decodeDnsReply(input, { ...query, type: rng.pick(["AAAA", "MX", "TXT", "SOA"]) });
      if (match?.kind !== "reply") return;
      replies++;
      for (const a of match.packet.answers ?? []) {
        assert.equal(typeof formatAnswer(a), "string");
      }
    });
  }
  console.log(`decodeDnsReply: ${replies} of 5000 fuzzed messages matched the query`);
  assert.ok(replies > 0);
});
