import assert from "node:assert/strict";
import { parseConfig } from "../config.ts";
import type { UncheckedSpec } from "../checks.ts";
import { CHECK_TYPES, type CheckType, ParamError } from "./types.ts";
import {
  checkSpec,
  InvalidCheckError,
  PARAM_PARSERS,
  PARAM_SHAPES,
  paramsOf,
  validateCheck,
  validChecks,
} from "./mod.ts";
import { checkShape } from "./shape.ts";

/** Inputs as people write them, several per type, covering the optional keys. */
const SAMPLES: { [K in CheckType]: Record<string, unknown>[] } = {
  HTTP: [
    { url: "http://127.0.0.1/" },
    {
      url: "http://127.0.0.1:8/x?token=1",
      method: "post",
      headers: { "X-A": "1", Accept: 2 },
      body: "b",
      follow_redirects: false,
      max_redirects: 0,
      valid_status_codes: [404, "200-299", "5xx"],
      body_contains: "ok",
      body_not_contains: ["error"],
      body_regex: ["^a", "b$"],
      tls_verify: false,
      ca_file: "/etc/ca.pem",
      cert_expiry_days: 14.5,
      http_version: [1.1, "HTTP/2"],
      ip_protocol: "ip6",
      secret_params: ["sig"],
    },
  ],
  HTTPS: [{ url: "https://127.0.0.1/", cert_expiry_days: 14 }],
  ICMP: [{}, { server_address: "::1", count: 5, interval_ms: 10, ttl: 3, max_loss_percent: 40 }],
  DNS: [
    {},
    {
      server_address: "127.0.0.1",
      port: 5353,
      query_name: "example.com",
      query_type: "mx",
      transport: "tcp",
      recursion_desired: false,
      valid_rcodes: ["noerror", "NXDOMAIN"],
      expect_answers: ["10 mail.example.com."],
    },
  ],
  NTP: [{}, { server_address: "127.0.0.1", port: 1123, max_offset_ms: 0.5 }],
  TCP: [
    { port: 80 },
    { host: "[::1]", port: 22, send: "hex:0a", expect: "^SSH-", tls: true, ca_file: "/ca" },
  ],
  UDP: [{ port: 53 }, { server_address: "127.0.0.1", port: 7, payload: "ping", expect: "^pong" }],
};

/** Parses `raw`, sends it through JSON and checks it against the shape: unchanged. */
function roundTrip<K extends CheckType>(type: K, raw: Record<string, unknown>): void {
  const parsed = PARAM_PARSERS[type](raw, "target.test");
  const wire: unknown = JSON.parse(JSON.stringify(parsed));
  assert.deepEqual(checkShape(PARAM_SHAPES[type], wire), parsed, `${type} ${JSON.stringify(raw)}`);
}

Deno.test("every parser's output, sent as JSON, fits its type's shape unchanged", () => {
  for (const type of CHECK_TYPES) for (const raw of SAMPLES[type]) roundTrip(type, raw);
});

Deno.test("every check of the shipped tasks.yaml passes validateCheck() as it arrives", async () => {
  const text = await Deno.readTextFile(new URL("../../tasks.yaml", import.meta.url));
  const config = parseConfig(text, "tasks.yaml");
  assert.ok(config.checks.length >= CHECK_TYPES.length);
  for (const { spec } of config.checks) {
    const arrived: UncheckedSpec = JSON.parse(JSON.stringify(spec));
    assert.deepEqual(validateCheck(arrived), spec, spec.id);
  }
});

const AT = { id: "x/T", target: "x", intervalMs: 1000, timeoutMs: 500 };

/** The field named by the refusal of `params` for a `type` check. */
function refusedField(type: CheckType, params: Record<string, unknown>): string {
  try {
    validateCheck({ ...AT, type, params: JSON.parse(JSON.stringify(params)) });
  } catch (e) {
    assert.ok(e instanceof InvalidCheckError, String(e));
    assert.equal(e.checkId, "x/T");
    assert.ok(e.message.startsWith(`check "x/T": params.${e.field}: `), e.message);
    return e.field;
  }
  assert.fail(`${type} ${JSON.stringify(params)} was accepted`);
}

Deno.test("validateCheck() refuses params of the wrong kind, naming the check and the field", () => {
  const tcp = PARAM_PARSERS.TCP({ port: 80 }, "x");
  assert.equal(refusedField("TCP", { ...tcp, port: "80" }), "port");
  assert.equal(refusedField("TCP", { ...tcp, port: 0 }), "port");
  assert.equal(refusedField("TCP", { ...tcp, expect: "(" }), "expect");
  assert.equal(refusedField("TCP", { ...tcp, tls: "yes" }), "tls");
  assert.equal(refusedField("TCP", { port: 80 }), "host");
  assert.equal(refusedField("TCP", { ...tcp, frequency: 2 }), "frequency");
  const http = PARAM_PARSERS.HTTP({ url: "http://x/" }, "x");
  assert.equal(
    refusedField("HTTP", { ...http, valid_status_codes: [[99, 200]] }),
    "valid_status_codes[0][0]",
  );
  assert.equal(refusedField("HTTP", { ...http, headers: { A: 1 } }), "headers.A");
  assert.equal(refusedField("HTTP", { ...http, http_version: ["3"] }), "http_version[0]");
  assert.equal(refusedField("HTTPS", http), "url");
  const dns = PARAM_PARSERS.DNS({}, "x");
  assert.equal(refusedField("DNS", { ...dns, query_type: "mx" }), "query_type");
  assert.equal(refusedField("DNS", { ...dns, valid_rcodes: ["OK"] }), "valid_rcodes[0]");
  const icmp = PARAM_PARSERS.ICMP({}, "x");
  assert.equal(refusedField("ICMP", { ...icmp, count: 1.5 }), "count");
  // the params of another type
  assert.equal(refusedField("UDP", tcp), "server_address");
  assert.equal(
    refusedField("NTP", { ...PARAM_PARSERS.NTP({}, "x"), ip_protocol: "ip5" }),
    "ip_protocol",
  );
});

Deno.test("validChecks() leaves out only the checks that do not fit and reports each", () => {
  const good = checkSpec("TCP", { port: 22 }, { target: "a", intervalMs: 1000, timeoutMs: 500 });
  const bad: UncheckedSpec = {
    ...good,
    id: "b/TCP",
    target: "b",
    params: { ...good.params, port: -1 },
  };
  const worse: UncheckedSpec = { ...good, id: "c/ICMP", type: "ICMP", params: {} };
  const refused: InvalidCheckError[] = [];
  const kept = validChecks([bad, good, worse], (e) => refused.push(e));
  assert.deepEqual(kept, [good]);
  assert.deepEqual(refused.map((e) => [e.checkId, e.field]), [["b/TCP", "port"], [
    "c/ICMP",
    "server_address",
  ]]);
});

Deno.test("paramsOf() gives the params of the type asked for, and refuses another", () => {
  const spec = checkSpec("UDP", { port: 9 }, { target: "h", intervalMs: 1000, timeoutMs: 500 });
  assert.equal(paramsOf(spec, "UDP").port, 9);
  assert.throws(() => paramsOf(spec, "TCP"), (e) => e instanceof ParamError && e.field === "type");
});

Deno.test("validateCheck() accepts or throws InvalidCheckError for 5000 mutated params", () => {
  let seed = 13;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const values: unknown[] = [null, 0, -1, 1.5, 65536, "", "x", "(", true, [], [1], ["a"], {}, {
    a: 1,
  }];
  let accepted = 0;
  for (let i = 0; i < 5000; i++) {
    const type = CHECK_TYPES[rand(CHECK_TYPES.length)]!;
    const samples = SAMPLES[type];
    const params: Record<string, unknown> = {
      ...PARAM_PARSERS[type](samples[rand(samples.length)]!, "t"),
    };
    const keys = Object.keys(params);
    const key = rand(4) === 0 ? `extra${i}` : keys[rand(keys.length)]!;
    if (rand(5) === 0) delete params[key];
    else params[key] = values[rand(values.length)];
    try {
      validateCheck({ ...AT, type, params: JSON.parse(JSON.stringify(params)) });
      accepted++;
    } catch (e) {
      assert.ok(e instanceof InvalidCheckError, `${type} ${JSON.stringify(params)}: ${e}`);
    }
  }
  // some mutations keep a valid value (an optional key dropped, "x" for a text field)
  assert.ok(accepted > 0 && accepted < 5000, `${accepted} accepted`);
});
