/**
 * One set of limits: every check the configuration parser accepts is one a
 * monitor accepts on the wire, and whatever a monitor would refuse the
 * parser refuses first, with file, line and field (issue 10: a 1,022-character
 * target name was accepted by the manager and refused by the monitor, which
 * then reconnected 62 times in 10 s and ran none of its checks).
 */
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.ts";
import type { CheckSpec, UncheckedSpec } from "./checks.ts";
import { encodeFrame, parseMessage, ProtocolError, readFrames } from "./protocol.ts";
import { MAX_CHECK_ID_CHARS, MAX_TARGET_CHARS } from "./limits.ts";

const HEAD = "monitors: [{address: '127.0.0.1:54322'}]\ntargets:\n";

/** Parses `targets` (YAML lines under `targets:`); the ConfigError, or the checks. */
function parse(targets: string): ConfigError | CheckSpec[] {
  try {
    return parseConfig(HEAD + targets, "tasks.yaml").checks.map((c) => c.spec);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
}

/** What a monitor says of an assignment with `spec`: null when it takes it. */
async function monitorRefusal(spec: UncheckedSpec): Promise<string | null> {
  const frame = encodeFrame({ t: "assign", rev: 1, checks: [spec] });
  try {
    for await (const text of readFrames(ReadableStream.from([frame]))) parseMessage(text);
    return null;
  } catch (e) {
    if (e instanceof ProtocolError) return e.message;
    throw e;
  }
}

/** Asserts that `targets` is refused at `line` (1-based, in the whole file) and `field`. */
function assertRefused(targets: string, line: number, field: string, reason: RegExp) {
  const e = parse(targets);
  assert.ok(e instanceof ConfigError, `accepted: ${JSON.stringify(e).slice(0, 200)}`);
  assert.equal(e.file, "tasks.yaml");
  assert.equal(e.field, field);
  assert.equal(e.line, line, e.message.slice(0, 300));
  assert.match(e.reason, reason);
  assert.ok(e.message.startsWith(`tasks.yaml:${line}:${e.column}: ${field}: `));
}

Deno.test("the issue's 1,022-character target: refused at its check with the longest name that fits", async () => {
  const name = "a".repeat(1022);
  // what the monitor says of the check the parser used to accept
  const spec: UncheckedSpec = {
    id: `${name}/HTTP`,
    target: name,
    type: "HTTP",
    intervalMs: 60_000,
    timeoutMs: 10_000,
    params: {},
  };
  assert.match(String(await monitorRefusal(spec)), /field "id" is longer than 1024/);
  assertRefused(
    `  ${name}:\n    HTTP: { url: "http://127.0.0.1/" }\n`,
    4,
    `targets.${name}.HTTP`,
    /check ID .* is 1027 characters, and a monitor takes at most 1024: shorten the target name to at most 1019/,
  );
  // ICMP is shorter than HTTPS: the same name fits one and not the other
  const fits = "b".repeat(MAX_CHECK_ID_CHARS - "/ICMP".length);
  const ok = parse(`  ${fits}:\n    ICMP: { server_address: 127.0.0.1 }\n`);
  assert.ok(Array.isArray(ok));
  assert.equal(await monitorRefusal(ok[0]!), null);
  assertRefused(
    `  ${fits}:\n    ICMP: { server_address: 127.0.0.1 }\n    HTTPS: { url: "https://127.0.0.1/" }\n`,
    5,
    `targets.${fits}.HTTPS`,
    /shorten the target name to at most 1018 characters/,
  );
});

Deno.test("a target name longer than a monitor takes is refused at its key", () => {
  const name = "c".repeat(MAX_TARGET_CHARS + 1);
  // YAML itself ends a plain key at 1024 characters; an explicit key (`? name`) goes on
  const plain = parse(
    `  ok:\n    TCP: { host: 127.0.0.1, port: 1 }\n  ${name}:\n    TCP: { port: 1 }\n`,
  );
  assert.ok(plain instanceof ConfigError);
  assert.equal(plain.line, 5);
  assertRefused(
    `  ok:\n    TCP: { host: 127.0.0.1, port: 1 }\n  ? ${name}\n  : TCP: { host: 127.0.0.1, port: 1 }\n`,
    5,
    `targets.${name}`,
    /is 1025 characters, and a monitor takes at most 1024/,
  );
});

Deno.test("intervals and timeouts: refused by the parser where a monitor would refuse them", async () => {
  assertRefused(
    "  x:\n    TCP: { port: 1, frequency: 0.009 }\n",
    4,
    "targets.x.TCP.frequency",
    /at least 0.01 seconds/,
  );
  assertRefused(
    "  x:\n    TCP: { port: 1, frequency: 86400.5 }\n",
    4,
    "targets.x.TCP.frequency",
    /at most 86400 seconds/,
  );
  // below the frequency as written, equal to it in the whole milliseconds that are sent
  assertRefused(
    "  x:\n    TCP:\n      port: 1\n      frequency: 0.0104\n      timeout: 0.0101\n",
    7,
    "targets.x.TCP.timeout",
    /10 ms is not below 10 ms/,
  );
  // and whatever it accepts near the edges, a monitor takes
  const edges = [0.01, 0.0104, 0.0105, 0.011, 0.02, 1, 86_399.9995, 86_400];
  const timeouts = [null, 0.01, 0.0101, 0.0104, 0.0149, 0.015, 10, 86_399.999];
  let accepted = 0;
  for (const f of edges) {
    for (const t of timeouts) {
      const got = parse(
        `  x:\n    TCP: { port: 1, frequency: ${f}${t === null ? "" : `, timeout: ${t}`} }\n`,
      );
      if (got instanceof ConfigError) continue;
      accepted++;
      assert.equal(await monitorRefusal(got[0]!), null, `frequency ${f}, timeout ${t}`);
    }
  }
  assert.ok(accepted > 20, `only ${accepted} combinations accepted`);
});

Deno.test("parameters too large for one frame are refused at the check", async () => {
  const list = (ch: string) =>
    `[${Array.from({ length: 100 }, (_, i) => `"${ch.repeat(4090)}${i}"`).join(", ")}]`;
  const headers = `{ ${
    Array.from({ length: 100 }, (_, i) => `X-H${i}: "${"h".repeat(4090)}"`).join(", ")
  } }`;
  const big = `  web:\n    HTTP:\n      url: "http://127.0.0.1/"\n      headers: ${headers}\n` +
    `      body_contains: ${list("a")}\n      body_not_contains: ${list("b")}\n`;
  // each parameter within its own limit, together more than a frame holds
  const spec: UncheckedSpec = {
    id: "web/HTTP",
    target: "web",
    type: "HTTP",
    intervalMs: 60_000,
    timeoutMs: 10_000,
    params: {
      headers: Object.fromEntries(
        Array.from({ length: 100 }, (_, i) => [`X-H${i}`, "h".repeat(4090)]),
      ),
      body_contains: Array.from({ length: 100 }, (_, i) => `${"a".repeat(4090)}${i}`),
      body_not_contains: Array.from({ length: 100 }, (_, i) => `${"b".repeat(4090)}${i}`),
    },
  };
  assert.match(String(await monitorRefusal(spec)), /frame exceeds 1048576 bytes/);
  assertRefused(big, 4, "targets.web.HTTP", /parameters take \d+ bytes, .* at most 1047552 bytes/);
  // two of the three fit
  const two = `  web:\n    HTTP:\n      url: "http://127.0.0.1/"\n      headers: ${headers}\n` +
    `      body_contains: ${list("a")}\n`;
  const ok = parse(two);
  assert.ok(Array.isArray(ok), String(ok));
  assert.equal(await monitorRefusal(ok[0]!), null);
});
