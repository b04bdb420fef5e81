import assert from "node:assert/strict";
import { checkHttp } from "./http.ts";
import { checkHttps } from "./https.ts";
import { parseHttpParams } from "../../shared/params/http.ts";
import { parseHttpsParams } from "../../shared/params/https.ts";
import type { CheckOutcome } from "../../shared/checks.ts";
import { BIG_SIZE, HAS_ECHO, OK_BODY, startNginx } from "../../tests/fixtures/nginx.ts";
import { makeCerts, opensslEndDate } from "../../tests/fixtures/certs.ts";
import { freeTcpPort } from "../../tests/helpers/ports.ts";

const DAY_MS = 86_400_000;

function run(raw: Record<string, unknown>, timeoutMs = 5000): Promise<CheckOutcome> {
  return checkHttp(parseHttpParams(raw, "test"), {
    signal: AbortSignal.timeout(timeoutMs),
    timeoutMs,
    target: "test",
  });
}

function runHttps(raw: Record<string, unknown>, timeoutMs = 5000): Promise<CheckOutcome> {
  return checkHttps(parseHttpsParams(raw, "test"), {
    signal: AbortSignal.timeout(timeoutMs),
    timeoutMs,
    target: "test",
  });
}

/** curl's view of a URL: status, bytes, redirects followed (with -L), HTTP version. */
async function curl(url: string, ...args: string[]) {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{size_download} %{num_redirects} %{http_version}",
      ...args,
      url,
    ],
    stdout: "piped",
  }).output();
  const [status, size, redirects, version] = new TextDecoder().decode(out.stdout).split(" ");
  return {
    status: Number(status),
    size: Number(size),
    redirects: Number(redirects),
    version: Number(version),
  };
}

Deno.test("checkHttp() reports a 200 from nginx as up, with curl's status, size and version", async () => {
  await using nginx = await startNginx();
  const url = `http://127.0.0.1:${nginx.port}/ok`;
  const o = await run({ url });
  const c = await curl(url);
  assert.ok(
    o.summary.startsWith(`HTTP URL: ${url}, HTTP server status: True, Status Code: 200`),
    o.summary,
  );
  assert.equal(o.up, true);
  assert.equal(o.error, undefined);
  assert.equal(o.metrics.probe_success, 1);
  assert.equal(o.metrics.probe_http_status_code, c.status);
  assert.equal(o.metrics.probe_http_content_length, c.size);
  assert.equal(o.metrics.probe_http_uncompressed_body_length, OK_BODY.length);
  assert.equal(o.metrics.probe_http_version, c.version);
  assert.equal(o.metrics.probe_http_ssl, 0);
  assert.equal(o.metrics.probe_http_redirects, 0);
  assert.equal(o.metrics.probe_ip_protocol, 4);
  assert.equal(o.details?.resolved_address, "127.0.0.1");
  assert.equal(o.details?.http_version, "HTTP/1.1");
  assert.ok(o.latencyMs !== null && o.latencyMs > 0);
  assert.ok(o.metrics['probe_http_duration_seconds{phase="connect"}']! > 0);
  assert.ok(o.metrics['probe_http_duration_seconds{phase="processing"}']! > 0);
});

Deno.test("checkHttp() reports 404 as down by default and up when valid_status_codes has it", async () => {
  await using nginx = await startNginx();
  const url = `http://127.0.0.1:${nginx.port}/notfound`;
  const down = await run({ url });
  assert.equal((await curl(url)).status, 404);
  assert.equal(down.up, false);
  assert.equal(down.metrics.probe_http_status_code, 404);
  assert.ok(
    down.summary.startsWith(`HTTP URL: ${url}, HTTP server status: False, Status Code: 404`),
    down.summary,
  );
  assert.match(down.error!, /unexpected status code 404/);
  const up = await run({ url, valid_status_codes: ["200-299", 404] });
  assert.equal(up.up, true);
  assert.equal(up.metrics.probe_http_status_code, 404);
});

Deno.test("checkHttp() reports 500 as down", async () => {
  await using nginx = await startNginx();
  const o = await run({ url: `http://127.0.0.1:${nginx.port}/error` });
  assert.equal(o.up, false);
  assert.equal(o.metrics.probe_http_status_code, 500);
  assert.equal(o.metrics.probe_success, 0);
});

Deno.test("checkHttp() follows a redirect chain and counts the hops as curl does", async () => {
  await using nginx = await startNginx();
  const url = `http://127.0.0.1:${nginx.port}/r3`;
  const o = await run({ url });
  const c = await curl(url, "-L");
  assert.equal(o.up, true);
  assert.equal(o.metrics.probe_http_redirects, c.redirects);
  assert.equal(o.metrics.probe_http_redirects, 3);
  assert.equal(o.metrics.probe_http_status_code, 200);
  assert.equal(o.details?.final_url, `http://127.0.0.1:${nginx.port}/ok`);
  assert.match(o.summary, /, Redirects: 3, Final URL: http:\/\/127\.0\.0\.1:\d+\/ok/);
});

Deno.test("checkHttp() stops at the first redirect when follow_redirects is false", async () => {
  await using nginx = await startNginx();
  const url = `http://127.0.0.1:${nginx.port}/r3`;
  const o = await run({ url, follow_redirects: false });
  assert.equal(o.up, true); // 302 < 400, as the seed counts it
  assert.equal(o.metrics.probe_http_status_code, (await curl(url)).status);
  assert.equal(o.metrics.probe_http_status_code, 302);
  assert.equal(o.metrics.probe_http_redirects, 0);
  const strict = await run({ url, follow_redirects: false, valid_status_codes: "2xx" });
  assert.equal(strict.up, false);
});

Deno.test("checkHttp() fails when redirects exceed max_redirects", async () => {
  await using nginx = await startNginx();
  const loop = await run({ url: `http://127.0.0.1:${nginx.port}/loop`, max_redirects: 4 });
  assert.equal(loop.up, false);
  assert.equal(loop.error, "too many redirects (more than 4)");
  assert.equal(loop.metrics.probe_http_redirects, 4);
  const chain = await run({ url: `http://127.0.0.1:${nginx.port}/r3`, max_redirects: 2 });
  assert.equal(chain.up, false);
  assert.equal(chain.metrics.probe_http_status_code, 302);
});

Deno.test({
  name: "checkHttp() sends the method, headers and body, and a 303 continues as GET",
  ignore: !HAS_ECHO, // nginx shows the request body only through the echo module
}, async () => {
  await using nginx = await startNginx();
  const post = await run({
    url: `http://127.0.0.1:${nginx.port}/echo`,
    method: "post",
    headers: { "X-Netmon": "hi" },
    body: "xyz",
    body_contains: "method=POST header=hi host=127.0.0.1 body=xyz",
  });
  assert.equal(post.up, true, post.error ?? "");
  const seeOther = await run({
    url: `http://127.0.0.1:${nginx.port}/see-other`,
    method: "POST",
    body: "xyz",
    body_regex: "^method=GET ",
  });
  assert.equal(seeOther.up, true, seeOther.error ?? "");
  assert.equal(seeOther.metrics.probe_http_redirects, 1);
});

Deno.test("checkHttp() checks the body with body_regex, body_contains and body_not_contains", async () => {
  await using nginx = await startNginx();
  const url = `http://127.0.0.1:${nginx.port}/ok`;
  const match = await run({ url, body_regex: "hello world \\d+", body_contains: "fixture-body" });
  assert.equal(match.up, true);
  assert.equal(match.metrics.probe_failed_due_to_regex, 0);
  const mismatch = await run({ url, body_regex: "goodbye \\d+" });
  assert.equal(mismatch.up, false);
  assert.equal(mismatch.error, "body does not match /goodbye \\d+/");
  assert.equal(mismatch.metrics.probe_failed_due_to_regex, 1);
  assert.ok(mismatch.summary.includes("Status Code: 200"), mismatch.summary);
  const forbidden = await run({ url, body_not_contains: "hello" });
  assert.equal(forbidden.up, false);
  assert.equal(forbidden.error, 'body contains "hello"');
});

Deno.test("checkHttp() reads at most 1 MiB of a large body", async () => {
  await using nginx = await startNginx();
  const o = await run({ url: `http://127.0.0.1:${nginx.port}/big` });
  assert.equal(o.up, true);
  assert.equal(o.metrics.probe_http_content_length, BIG_SIZE);
  assert.equal(o.metrics.probe_http_uncompressed_body_length, 1 << 20);
  assert.equal(o.details?.body_truncated, true);
});

Deno.test("checkHttp() reports connection refused on a closed port", async () => {
  const url = `http://127.0.0.1:${freeTcpPort()}/`;
  const o = await run({ url });
  assert.equal(o.up, false);
  assert.equal(o.error, "connection refused");
  assert.equal(
    o.summary,
    `HTTP URL: ${url}, HTTP server status: False, Status Code: N/A, Error: connection refused`,
  );
  assert.equal(o.latencyMs, null);
  assert.equal(o.metrics.probe_success, 0);
  assert.equal(o.metrics.probe_http_status_code, 0);
});

Deno.test({
  name: "checkHttp() reports a timeout when nginx answers too late",
  ignore: !HAS_ECHO, // /slow needs the echo module
}, async () => {
  await using nginx = await startNginx();
  const o = await run({ url: `http://127.0.0.1:${nginx.port}/slow` }, 500);
  assert.equal(o.up, false);
  assert.equal(o.error, "timeout after 500 ms");
  assert.match(o.summary, /Status Code: N\/A, Error: timeout after 500 ms$/);
});

Deno.test("checkHttps() reports a timeout when the server never completes the handshake", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const url = `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
  const o = await runHttps({ url }, 400);
  listener.close();
  await accepting.catch(() => {});
  for (const c of held) c.close();
  assert.equal(o.up, false);
  assert.equal(o.error, "timeout after 400 ms");
  assert.match(o.summary, /Description: Server did not answer in time/);
});

Deno.test("checkHttp() works over IPv6 with [::1]", async () => {
  await using nginx = await startNginx();
  const url = `http://[::1]:${nginx.port}/ok`;
  const o = await run({ url });
  assert.equal(o.up, true, o.error ?? "");
  assert.equal(o.metrics.probe_http_status_code, (await curl(url)).status);
  assert.equal(o.details?.resolved_address, "::1");
  assert.equal(o.metrics.probe_ip_protocol, 6);
  const v6 = await run({ url: `http://localhost:${nginx.port}/ok`, ip_protocol: "ip6" });
  assert.equal(v6.details?.resolved_address, "::1");
});

Deno.test("checkHttps() trusts the test CA from ca_file and reports the certificate as openssl does", async () => {
  await using certs = await makeCerts();
  await using nginx = await startNginx({ tls: { good: certs.server } });
  const url = `https://127.0.0.1:${nginx.tlsPorts.good}/ok`;
  const o = await runHttps({ url, ca_file: certs.ca.cert, body_contains: "hello world" });
  const end = await opensslEndDate(certs.server.cert);
  const days = Math.floor((end - Date.now()) / DAY_MS);
  const date = new Date(end).toISOString().slice(0, 10);
  assert.equal(o.up, true, o.error ?? "");
  assert.ok(
    o.summary.startsWith(
      `HTTPS URL: ${url}, HTTPS server status: True, Status Code: 200, Description: Server is up` +
        `, Certificate Expires: ${date} (${days} days), TLS Version: TLSv1.3`,
    ),
    o.summary,
  );
  assert.equal(o.metrics.probe_ssl_earliest_cert_expiry, end / 1000);
  assert.equal(o.metrics.netmon_ssl_cert_days_left, days);
  assert.equal(o.metrics.probe_http_ssl, 1);
  assert.equal(o.metrics['probe_tls_version_info{version="TLS 1.3"}'], 1);
  assert.ok(o.metrics['probe_http_duration_seconds{phase="tls"}']! > 0);
  assert.equal(o.details?.chain_verified, true);
  assert.equal(o.details?.chain_error, null);
  assert.equal(o.details?.cert_subject, "O=netmon test, CN=localhost");
  assert.equal(o.details?.cert_issuer, "O=netmon test, CN=netmon test CA");
  assert.equal(o.details?.cert_expiry, new Date(end).toISOString());

  const byName = await runHttps({
    url: `https://localhost:${nginx.tlsPorts.good}/`,
    ca_file: certs.ca.cert,
  });
  assert.equal(byName.up, true, byName.error ?? "");
  const v6 = await runHttps({
    url: `https://[::1]:${nginx.tlsPorts.good}/`,
    ca_file: certs.ca.cert,
  });
  assert.equal(v6.up, true, v6.error ?? "");
  assert.equal(v6.details?.resolved_address, "::1");
});

Deno.test("checkHttps() is down when the CA is unknown, and says why", async () => {
  await using certs = await makeCerts();
  await using nginx = await startNginx({ tls: { good: certs.server } });
  const o = await runHttps({ url: `https://127.0.0.1:${nginx.tlsPorts.good}/` });
  assert.equal(o.up, false);
  assert.match(o.error!, /^certificate not trusted: issuer unknown/);
  assert.match(o.summary, /Status Code: N\/A, Description: Certificate not trusted/);
  assert.equal(o.details?.chain_verified, false);
});

Deno.test("checkHttps() accepts a self-signed certificate only when tls_verify is false", async () => {
  await using certs = await makeCerts();
  await using nginx = await startNginx({ tls: { self: certs.selfSigned } });
  const url = `https://127.0.0.1:${nginx.tlsPorts.self}/ok`;
  const lax = await runHttps({ url, tls_verify: false });
  assert.equal(lax.up, true, lax.error ?? "");
  assert.equal(lax.details?.chain_verified, false);
  assert.equal(lax.details?.chain_error, "DEPTH_ZERO_SELF_SIGNED_CERT");
  assert.equal(lax.details?.cert_issuer, "O=netmon self-signed, CN=localhost");

  const strict = await runHttps({ url, tls_verify: true, ca_file: certs.ca.cert });
  assert.equal(strict.up, false);
  assert.equal(
    strict.error,
    "certificate not trusted: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)",
  );
  assert.equal(
    strict.metrics.probe_ssl_earliest_cert_expiry,
    (await opensslEndDate(certs.selfSigned.cert)) / 1000,
  );
});

Deno.test("checkHttps() is down when the certificate expires within cert_expiry_days", async () => {
  await using certs = await makeCerts();
  await using nginx = await startNginx({ tls: { expiring: certs.expiring } });
  const url = `https://127.0.0.1:${nginx.tlsPorts.expiring}/`;
  const o = await runHttps({ url, ca_file: certs.ca.cert, cert_expiry_days: 7 });
  const end = await opensslEndDate(certs.expiring.cert);
  const days = Math.floor((end - Date.now()) / DAY_MS);
  assert.equal(days, 1); // two days minus the seconds since openssl signed it
  assert.equal(o.up, false);
  assert.equal(o.metrics.probe_http_status_code, 200);
  assert.equal(o.metrics.probe_ssl_earliest_cert_expiry, end / 1000);
  assert.equal(o.metrics.netmon_ssl_cert_days_left, days);
  assert.equal(o.details?.cert_days_left, days);
  const date = new Date(end).toISOString().slice(0, 10);
  assert.equal(
    o.error,
    `certificate expires in ${days} days (${date}), within cert_expiry_days 7`,
  );
  assert.match(o.summary, /Description: Certificate expires soon, Certificate Expires: /);

  const relaxed = await runHttps({ url, ca_file: certs.ca.cert, cert_expiry_days: 1 });
  assert.equal(relaxed.up, true, relaxed.error ?? "");
});

Deno.test("checkHttp() follows a redirect from HTTP to HTTPS and reports probe_http_ssl", async () => {
  await using certs = await makeCerts();
  await using nginx = await startNginx({ tls: { good: certs.server } });
  const o = await run({ url: `http://127.0.0.1:${nginx.port}/to-tls`, ca_file: certs.ca.cert });
  assert.equal(o.up, true, o.error ?? "");
  assert.equal(o.metrics.probe_http_redirects, 1);
  assert.equal(o.metrics.probe_http_ssl, 1);
  assert.equal(o.details?.final_url, `https://127.0.0.1:${nginx.tlsPorts.good}/ok`);
});

Deno.test("checkHttps() reports an unreadable ca_file as the reason", async () => {
  const o = await runHttps({ url: "https://127.0.0.1:1/", ca_file: "/nonexistent/ca.pem" });
  assert.equal(o.up, false);
  assert.match(o.error!, /^cannot read ca_file "\/nonexistent\/ca.pem"/);
  assert.match(o.summary, /Description: Configuration problem/);
});
