import assert from "node:assert/strict";
import { parseConfig } from "./config.ts";
import { paramsOf } from "./params/mod.ts";
import {
  isSecretName,
  maskOutcome,
  maskSecrets,
  secretRulesOf,
  secretRulesOfConfig,
} from "./secrets.ts";

Deno.test("credential-looking parameters are masked in URLs, free text and JSON", () => {
  const cases: [string, string][] = [
    ["http://h/?api_key=abc&page=2", "http://h/?api_key=***&page=2"],
    ["http://h/?page=2&apikey=abc", "http://h/?page=2&apikey=***"],
    [
      "https://h/p?X-Amz-Signature=ff&X-Amz-Credential=c%2Fd&x=1",
      "https://h/p?X-Amz-Signature=***&X-Amz-Credential=***&x=1",
    ],
    ["GET /cb#access_token=eyJ&state=1 failed", "GET /cb#access_token=***&state=1 failed"],
    ["http://h/?sig=1;password=2", "http://h/?sig=***;password=***"],
    ["http://h/?%74oken=abc", "http://h/?%74oken=***"],
    ['{"url":"http://h/?token=abc","x":"?key=v"}', '{"url":"http://h/?token=***","x":"?key=***"}'],
    ["http://user:pa%40ss@h:8080/", "http://user:***@h:8080/"],
    ["see http://a:b@h/ and ftp://c:d@i/", "see http://a:***@h/ and ftp://c:***@i/"],
    ["http://h/?monkey=1&keyword=2&sort=key", "http://h/?monkey=1&keyword=2&sort=key"],
    ["http://h/?empty=&token=", "http://h/?empty=&token="],
    [
      "URL: http://h/?ids=1,2&token=a,b, Status: 200",
      "URL: http://h/?ids=1,2&token=***, Status: 200",
    ],
    ["Error: authToken=1 via ?authToken=2", "Error: authToken=1 via ?authToken=***"],
  ];
  for (const [text, want] of cases) assert.equal(maskSecrets(text), want, text);
  assert.equal(maskSecrets(maskSecrets("http://h/?token=a")), "http://h/?token=***", "idempotent");
  assert.equal(maskSecrets("?lot=7&Lot=8", { params: ["LOT"] }), "?lot=***&Lot=***");
  assert.equal(maskSecrets("abc hunter22 abc", { values: ["hunter22", "ab"] }), "abc *** abc");
  for (const n of ["session", "SessionId", "client_secret", "passwd", "pwd", "credential"]) {
    assert.ok(isSecretName(n), n);
  }
});

Deno.test("a check's secrets: URL password, secret parameter values, secret header values", () => {
  const rules = secretRulesOf({
    url: "http://u:p%20w@h/?api_key=a%2Fbc&lot=xyzw&page=2#sig=frag1",
    headers: { Authorization: "Bearer zzzz", Accept: "text/html" },
    secret_params: ["lot"],
  });
  assert.deepEqual(rules.params, ["lot"]);
  for (const v of ["p%20w", "p w", "a/bc", "a%2Fbc", "xyzw", "frag1", "Bearer zzzz"]) {
    assert.ok(rules.values!.includes(v), v);
  }
  assert.ok(!rules.values!.includes("text/html") && !rules.values!.includes("2"));
  const o = maskOutcome({
    up: false,
    summary: "HTTP URL: http://h/?lot=xyzw, Error: 401 for a/bc",
    latencyMs: null,
    metrics: { probe_success: 0 },
    error: "401 for a/bc",
    details: { final_url: "http://h/next?lot=xyzw", answers: ["Bearer zzzz"], code: 401 },
  }, rules);
  assert.equal(o.summary, "HTTP URL: http://h/?lot=***, Error: 401 for ***");
  assert.equal(o.error, "401 for ***");
  assert.deepEqual(o.details, { final_url: "http://h/next?lot=***", answers: ["***"], code: 401 });
});

Deno.test("defaults.secret_params reaches every HTTP and HTTPS check, merged with its own", () => {
  const config = parseConfig(
    `monitors: [{address: '127.0.0.1:1'}]
defaults: { secret_params: [lot, Batch] }
targets:
  a:
    HTTP: { url: "http://127.0.0.1/?lot=1", secret_params: [mine] }
    HTTPS: { url: "https://127.0.0.1/" }
    TCP: { port: 80 }
`,
    "tasks.yaml",
  );
  const [http, https, tcp] = config.checks.map((c) => c.spec);
  assert.deepEqual(paramsOf(http!, "HTTP").secret_params, ["lot", "Batch", "mine"]);
  assert.deepEqual(paramsOf(https!, "HTTPS").secret_params, ["lot", "Batch"]);
  assert.ok(!("secret_params" in tcp!.params));
  assert.deepEqual(secretRulesOfConfig(config).params, ["lot", "Batch", "mine"]);
  const plain = parseConfig(
    "monitors: [{address: '127.0.0.1:1'}]\ntargets: {a: {HTTP: {url: 'http://127.0.0.1/'}}}\n",
    "tasks.yaml",
  );
  assert.ok(!("secret_params" in plain.checks[0]!.spec.params), "absent when none");
  assert.throws(
    () =>
      parseConfig(
        "monitors: [{address: '127.0.0.1:1'}]\ntargets: {a: {HTTP: {url: 'http://127.0.0.1/', secret_params: ['a=b']}}}\n",
        "tasks.yaml",
      ),
    /targets\.a\.HTTP\.secret_params: names must be/,
  );
  assert.throws(
    () =>
      parseConfig(
        "monitors: [{address: '127.0.0.1:1'}]\ndefaults: {secret_params: {a: 1}}\ntargets: {a: {TCP: {port: 1}}}\n",
        "tasks.yaml",
      ),
    /defaults\.secret_params/,
  );
});
