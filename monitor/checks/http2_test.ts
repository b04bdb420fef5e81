/**
 * HTTP/2 in the HTTP(S) check: spoken when the server offers it by ALPN
 * (nginx with `http2` on its TLS listener), reported as
 * `probe_http_version` 2 as curl reports it, and the `http_version`
 * condition.
 */
import assert from "node:assert/strict";
import { checkHttps } from "./https.ts";
import { checkHttp } from "./http.ts";
import { parseHttpsParams } from "../../shared/params/https.ts";
import { parseHttpParams } from "../../shared/params/http.ts";
import type { CheckOutcome } from "../../shared/checks.ts";
import { makeCerts } from "../../tests/fixtures/certs.ts";
import { BIG_SIZE, HAS_ECHO, OK_BODY, startNginx } from "../../tests/fixtures/nginx.ts";
import { configErrorOf } from "../../tests/helpers/config_error.ts";

function https(raw: Record<string, unknown>, timeoutMs = 5000): Promise<CheckOutcome> {
  return checkHttps(parseHttpsParams(raw, "t"), {
    signal: AbortSignal.timeout(timeoutMs),
    timeoutMs,
    target: "t",
  });
}

/** The HTTP version curl negotiates with `url`, as its `%{http_version}` prints it. */
async function curlVersion(url: string, ca: string): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_version}", url],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("checkHttps() speaks HTTP/2 when nginx offers it, as curl does", async () => {
  await using certs = await makeCerts();
  await using nginx = await startNginx({ tls: { good: certs.server }, http2: true });
  const base = `https://127.0.0.1:${nginx.tlsPorts.good}`;
  assert.equal(await curlVersion(`${base}/ok`, certs.ca.cert), "2");

  const o = await https({ url: `${base}/ok`, ca_file: certs.ca.cert, body_contains: OK_BODY });
  assert.equal(o.up, true, o.summary);
  assert.equal(o.metrics.probe_http_version, 2);
  assert.equal(o.details?.http_version, "HTTP/2");
  assert.equal(o.metrics.probe_http_content_length, OK_BODY.length);
  assert.equal(o.metrics.probe_http_uncompressed_body_length, OK_BODY.length);
  for (const phase of ["connect", "tls", "processing", "transfer"]) {
    assert.ok(o.metrics[`probe_http_duration_seconds{phase="${phase}"}`]! > 0, phase);
  }

  // each hop of a redirect chain is a request of its own, each over HTTP/2
  const chain = await https({ url: `${base}/r3`, ca_file: certs.ca.cert });
  assert.equal(chain.up, true, chain.summary);
  assert.equal(chain.metrics.probe_http_redirects, 3);
  assert.equal(chain.metrics.probe_http_version, 2);

  const missing = await https({ url: `${base}/notfound`, ca_file: certs.ca.cert });
  assert.equal(missing.up, false);
  assert.equal(missing.metrics.probe_http_status_code, 404);

  // more than a check reads: it stops at 1 MiB and closes the stream
  const big = await https({ url: `${base}/big`, ca_file: certs.ca.cert });
  assert.equal(big.up, true, big.summary);
  assert.equal(big.metrics.probe_http_content_length, BIG_SIZE);
  assert.equal(big.metrics.probe_http_uncompressed_body_length, 1 << 20);
  assert.equal(big.details?.body_truncated, true);

  // plain HTTP stays HTTP/1.1: no h2c upgrade is offered
  const plain = await checkHttp(
    parseHttpParams({ url: `http://127.0.0.1:${nginx.port}/ok` }, "t"),
    {
      signal: AbortSignal.timeout(5000),
      timeoutMs: 5000,
      target: "t",
    },
  );
  assert.equal(plain.metrics.probe_http_version, 1.1);
});

Deno.test({
  name: "checkHttps() sends the method, headers and body over HTTP/2",
  ignore: !HAS_ECHO, // nginx shows the request body only through the echo module
}, async () => {
  await using certs = await makeCerts();
  await using nginx = await startNginx({ tls: { good: certs.server }, http2: true });
  const o = await https({
    url: `https://127.0.0.1:${nginx.tlsPorts.good}/echo`,
    ca_file: certs.ca.cert,
    method: "POST",
    headers: { "X-Netmon": "hi", Connection: "keep-alive" },
    body: "xyz",
    body_contains: "method=POST header=hi host=127.0.0.1 body=xyz",
  });
  assert.equal(o.up, true, o.summary);
  assert.equal(o.metrics.probe_http_version, 2);
});

Deno.test({
  name: "checkHttps() times out on an HTTP/2 server that answers too late",
  ignore: !HAS_ECHO, // /slow needs the echo module
}, async () => {
  await using certs = await makeCerts();
  await using nginx = await startNginx({ tls: { good: certs.server }, http2: true });
  const o = await https(
    { url: `https://127.0.0.1:${nginx.tlsPorts.good}/slow`, ca_file: certs.ca.cert },
    500,
  );
  assert.equal(o.up, false);
  assert.equal(o.error, "timeout after 500 ms");
});

Deno.test("checkHttps() fails the http_version condition when the server speaks another version", async () => {
  await using certs = await makeCerts();
  await using h1 = await startNginx({ tls: { good: certs.server } });
  await using h2 = await startNginx({ tls: { good: certs.server }, http2: true });
  const on1 = `https://127.0.0.1:${h1.tlsPorts.good}/ok`;
  const on2 = `https://127.0.0.1:${h2.tlsPorts.good}/ok`;
  assert.equal(await curlVersion(on1, certs.ca.cert), "1.1");

  const wants2 = await https({ url: on1, ca_file: certs.ca.cert, http_version: "2" });
  assert.equal(wants2.up, false);
  assert.equal(wants2.metrics.probe_http_version, 1.1);
  assert.equal(wants2.error, "server answered in HTTP/1.1, not HTTP/2 (http_version)");
  assert.match(wants2.summary, /Description: Unexpected HTTP version, /);

  const got2 = await https({ url: on2, ca_file: certs.ca.cert, http_version: [2] });
  assert.equal(got2.up, true, got2.summary);

  const wants11 = await https({ url: on2, ca_file: certs.ca.cert, http_version: [1.1] });
  assert.equal(wants11.up, false);
  assert.equal(wants11.error, "server answered in HTTP/2, not HTTP/1.1 (http_version)");

  const either = await https({ url: on1, ca_file: certs.ca.cert, http_version: ["1.1", "2"] });
  assert.equal(either.up, true, either.summary);
});

Deno.test("a bad http_version in tasks.yaml is a config error at its file, line and field", () => {
  const e = configErrorOf(
    [
      "monitors:",
      "  - address: 127.0.0.1:54322",
      "targets:",
      "  web:",
      "    HTTPS:",
      "      url: https://example.com/",
      "      http_version: [2, 3]",
      "",
    ].join("\n"),
  );
  assert.equal(e.file, "tasks.yaml");
  assert.equal(e.line, 7);
  assert.equal(e.field, "targets.web.HTTPS.http_version");
  assert.match(e.reason, /"3" is not an HTTP version netmon speaks: use 1\.0, 1\.1, 2/);
});
