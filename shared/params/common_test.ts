import assert from "node:assert/strict";
import { ParamError } from "./types.ts";
import { ConfigError, parseConfig } from "../config.ts";
import { PARAM_PARSERS, paramsOf } from "./mod.ts";
import { MAX_LIST_ITEMS, MAX_TEXT_LENGTH, rejectSpecialAddress } from "./common.ts";

const SPECIAL = [
  "0.0.0.0",
  "0.1.2.3",
  "255.255.255.255",
  "224.0.0.1",
  "239.255.255.250",
  "::",
  "[::]",
  "0:0:0:0:0:0:0:0",
  "ff02::1",
  "FF05::1:3",
  "::ffff:0.0.0.0",
  "::ffff:255.255.255.255",
];
const ORDINARY = [
  "127.0.0.1",
  "192.0.2.1",
  "10.0.0.255",
  "223.255.255.255",
  "240.0.0.1",
  "::1",
  "[::1]",
  "ff::1",
  "2001:db8::1",
  "example.com",
];

Deno.test("rejectSpecialAddress() rejects unspecified, broadcast and multicast addresses", () => {
  for (const host of SPECIAL) {
    assert.throws(
      () => rejectSpecialAddress({}, "server_address", host),
      (e) =>
        e instanceof ParamError && e.field === "server_address" &&
        e.message.includes("allow_special: true"),
      host,
    );
    rejectSpecialAddress({ allow_special: true }, "server_address", host);
  }
  for (const host of ORDINARY) rejectSpecialAddress({}, "server_address", host);
});

Deno.test("every check type refuses a special target unless allow_special is set", () => {
  const cases: [keyof typeof PARAM_PARSERS, Record<string, unknown>, string][] = [
    ["HTTP", { url: "http://255.255.255.255/" }, "url"],
    ["HTTPS", { url: "https://[ff02::1]/" }, "url"],
    ["HTTP", { url: "http://0/" }, "url"],
    ["ICMP", { server_address: "224.0.0.1" }, "server_address"],
    ["DNS", { server_address: "224.0.0.251", port: 5353 }, "server_address"],
    ["NTP", { server_address: "::" }, "server_address"],
    ["TCP", { host: "0.0.0.0", port: 80 }, "host"],
    ["UDP", { server_address: "255.255.255.255", port: 9 }, "server_address"],
  ];
  for (const [type, raw, field] of cases) {
    assert.throws(
      () => PARAM_PARSERS[type](raw, "x"),
      (e) => e instanceof ParamError && e.field === field,
      `${type} ${JSON.stringify(raw)}`,
    );
    PARAM_PARSERS[type]({ ...raw, allow_special: true }, "x");
  }
  // the target's name is the default host
  assert.throws(() => PARAM_PARSERS.TCP({ port: 80 }, "0.0.0.0"), ParamError);
});

Deno.test("parseConfig() points at a special address and names allow_special", () => {
  const text = "monitors: [{address: '127.0.0.1:1'}]\n" +
    "targets:\n  lan:\n    UDP: {server_address: 255.255.255.255, port: 9}\n";
  assert.throws(
    () => parseConfig(text, "tasks.yaml"),
    (e) =>
      e instanceof ConfigError && e.line === 4 && e.field === "targets.lan.UDP.server_address" &&
      /broadcast address.*allow_special: true/.test(e.reason),
  );
  const allowed = parseConfig(
    text.replace("port: 9}", "port: 9, allow_special: true}"),
    "tasks.yaml",
  );
  assert.equal(paramsOf(allowed.checks[0]!.spec, "UDP").server_address, "255.255.255.255");
});

Deno.test("check parameters are bounded in length, count and size", () => {
  const long = "a".repeat(MAX_TEXT_LENGTH + 1);
  const tooMany = Array.from({ length: MAX_LIST_ITEMS + 1 }, (_, i) => `x${i}`);
  const bad: [keyof typeof PARAM_PARSERS, Record<string, unknown>, string][] = [
    ["HTTP", { url: "http://127.0.0.1/", body_contains: tooMany }, "body_contains"],
    ["HTTP", { url: "http://127.0.0.1/", body_contains: [long] }, "body_contains"],
    ["HTTP", { url: "http://127.0.0.1/", body: "b".repeat(70_000) }, "body"],
    ["HTTP", { url: "http://127.0.0.1/", cert_expiry_days: 1e9 }, "cert_expiry_days"],
    ["DNS", { server_address: long }, "server_address"],
    ["NTP", { max_offset_ms: 1e12 }, "max_offset_ms"],
    ["ICMP", { count: 1000 }, "count"],
    ["ICMP", { payload_size: 70_000 }, "payload_size"],
    ["TCP", { port: 80, send: "s".repeat(70_000) }, "send"],
    ["UDP", { port: 9, payload: `hex:${"00".repeat(65_508)}` }, "payload"],
    ["UDP", { port: 9, payload: "p".repeat(140_000) }, "payload"],
  ];
  for (const [type, raw, field] of bad) {
    assert.throws(
      () => PARAM_PARSERS[type](raw, "127.0.0.1"),
      (e) => e instanceof ParamError && e.field === field,
      `${type} ${field}`,
    );
  }
  // the largest UDP payload still fits
  PARAM_PARSERS.UDP({ port: 9, payload: `hex:${"00".repeat(65_507)}` }, "127.0.0.1");
});

Deno.test("parseConfig() refuses a frequency longer than a day, which no timer could wait for", () => {
  const text = (f: string) =>
    `monitors: [{address: '127.0.0.1:1'}]\ntargets:\n  t:\n    TCP: {port: 80, frequency: ${f}}\n`;
  assert.throws(
    () => parseConfig(text("99999999999999999999999"), "tasks.yaml"),
    (e) => e instanceof ConfigError && e.field === "targets.t.TCP.frequency",
  );
  assert.equal(parseConfig(text("86400"), "tasks.yaml").checks[0]!.spec.intervalMs, 86_400_000);
});
