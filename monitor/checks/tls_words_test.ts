/**
 * The HTTPS and TCP checks' words for certificates whose dates are wrong,
 * against real nginx serving certificates made here with openssl (under
 * faketime for dates in the past and future). Deno's node:tls calls all of
 * them "unable to verify the first certificate" (code 21); openssl and curl
 * say expired / not yet valid, and so must we.
 */
import assert from "node:assert/strict";
import { checkHttps } from "./https.ts";
import { checkTcp } from "./tcp.ts";
import { parseHttpsParams } from "../../shared/params/https.ts";
import { parseTcpParams } from "../../shared/params/tcp.ts";
import type { CheckOutcome } from "../../shared/checks.ts";
import {
  makeCerts,
  makeDatedCerts,
  opensslEndDate,
  opensslStartDate,
} from "../../tests/fixtures/certs.ts";
import { startNginx } from "../../tests/fixtures/nginx.ts";

const DAY_MS = 86_400_000;

function https(raw: Record<string, unknown>): Promise<CheckOutcome> {
  return checkHttps(parseHttpsParams(raw, "t"), {
    signal: AbortSignal.timeout(5000),
    timeoutMs: 5000,
    target: "t",
  });
}

function tcp(raw: Record<string, unknown>): Promise<CheckOutcome> {
  return checkTcp(parseTcpParams(raw, "127.0.0.1"), {
    signal: AbortSignal.timeout(5000),
    timeoutMs: 5000,
    target: "127.0.0.1",
  });
}

/** `2026-12-02 07:35:18 UTC`. */
function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 10)} ${
    new Date(ms).toISOString().slice(11, 19)
  } UTC`;
}

/** What openssl itself says when verifying `cert` against `ca` (untrusted intermediates in `chain`). */
async function opensslVerify(ca: string, cert: string): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args: ["verify", "-CAfile", ca, cert],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

Deno.test("checkHttps() and checkTcp() call an expired certificate expired, with its date", async () => {
  await using certs = await makeCerts();
  const dated = await makeDatedCerts(certs);
  assert.match(await opensslVerify(certs.ca.cert, dated.expired.cert), /certificate has expired/);
  await using nginx = await startNginx({ tls: { expired: dated.expired } });
  const port = nginx.tlsPorts.expired!;
  const end = await opensslEndDate(dated.expired.cert);

  const o = await https({ url: `https://127.0.0.1:${port}/ok`, ca_file: certs.ca.cert });
  assert.equal(o.up, false);
  assert.equal(o.error, `certificate expired on ${utc(end)}`);
  assert.match(o.summary, /Description: Certificate expired, /);
  assert.ok(!o.summary.includes("UNABLE_TO_VERIFY"), o.summary);

  const t = await tcp({ port, tls: true, ca_file: certs.ca.cert, server_name: "localhost" });
  assert.equal(t.up, false);
  assert.equal(t.error, `certificate expired on ${utc(end)}`);

  // not verified: up, and cert_expiry_days names it expired rather than "expires in -670 days"
  const lax = await https({ url: `https://127.0.0.1:${port}/ok`, tls_verify: false });
  assert.equal(lax.up, true, lax.summary);
  const ago = Math.floor((Date.now() - end) / DAY_MS);
  assert.equal(ago, 670); // and the seconds since openssl signed it
  assert.ok(
    lax.summary.includes(
      `, Certificate Expired: ${new Date(end).toISOString().slice(0, 10)} (${ago} days ago), `,
    ),
    lax.summary,
  );
  const watched = await https({
    url: `https://127.0.0.1:${port}/ok`,
    tls_verify: false,
    cert_expiry_days: 14,
  });
  assert.equal(watched.up, false);
  assert.equal(watched.error, `certificate expired on ${utc(end)}`);
  assert.match(watched.summary, /Description: Certificate expired, Certificate Expired: /);
  assert.ok(!watched.summary.includes("-6"), watched.summary);
});

Deno.test("checkHttps() and checkTcp() call a certificate not valid yet so, with its start date", async () => {
  await using certs = await makeCerts();
  const dated = await makeDatedCerts(certs);
  assert.match(
    await opensslVerify(certs.ca.cert, dated.notYetValid.cert),
    /certificate is not yet valid/,
  );
  await using nginx = await startNginx({ tls: { future: dated.notYetValid } });
  const port = nginx.tlsPorts.future!;
  const start = await opensslStartDate(dated.notYetValid.cert);

  const o = await https({ url: `https://127.0.0.1:${port}/ok`, ca_file: certs.ca.cert });
  assert.equal(o.up, false);
  assert.equal(o.error, `certificate not valid until ${utc(start)}`);
  assert.match(o.summary, /Description: Certificate not yet valid, /);

  const t = await tcp({ port, tls: true, ca_file: certs.ca.cert, server_name: "localhost" });
  assert.equal(t.up, false);
  assert.equal(t.error, `certificate not valid until ${utc(start)}`);
});

Deno.test("checkHttps() says which certificate expires first when it is an intermediate", async () => {
  await using certs = await makeCerts();
  const dated = await makeDatedCerts(certs);
  await using nginx = await startNginx({ tls: { chain: dated.intermediateFirst } });
  const url = `https://127.0.0.1:${nginx.tlsPorts.chain}/ok`;
  const end = await opensslEndDate(dated.intermediate.cert);
  const days = Math.floor((end - Date.now()) / DAY_MS);
  assert.equal(days, 4);
  const date = new Date(end).toISOString().slice(0, 10);

  const o = await https({ url, ca_file: certs.ca.cert });
  assert.equal(o.up, true, o.summary);
  assert.equal(o.metrics.probe_ssl_earliest_cert_expiry, end / 1000);
  assert.ok(
    o.summary.includes(
      `, Certificate Expires: ${date} (${days} days, certificate "netmon test intermediate" in the chain), `,
    ),
    o.summary,
  );
  // the leaf is still the subject shown
  assert.equal(o.details?.cert_subject, "O=netmon test, CN=localhost");

  const soon = await https({ url, ca_file: certs.ca.cert, cert_expiry_days: 7 });
  assert.equal(soon.up, false);
  assert.equal(
    soon.error,
    `certificate expires in ${days} days (${date}, certificate "netmon test intermediate" in the chain), within cert_expiry_days 7`,
  );

  const t = await tcp({
    port: nginx.tlsPorts.chain,
    tls: true,
    ca_file: certs.ca.cert,
    server_name: "localhost",
  });
  assert.equal(t.up, true, t.summary);
  assert.equal(t.metrics.probe_ssl_earliest_cert_expiry, end / 1000);
});

Deno.test("checkHttps() shows the certificate's subject in its own RDN order", async () => {
  await using certs = await makeCerts();
  const dated = await makeDatedCerts(certs);
  const subject = await new Deno.Command("openssl", {
    args: ["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", dated.cnFirst.cert],
    stdout: "piped",
  }).output();
  // RFC 2253 prints the RDNs last first
  assert.equal(
    new TextDecoder().decode(subject.stdout).trim(),
    "subject=OU=rdn test,O=netmon order,CN=localhost",
  );
  await using nginx = await startNginx({ tls: { cn: dated.cnFirst } });
  const o = await https({
    url: `https://127.0.0.1:${nginx.tlsPorts.cn}/ok`,
    ca_file: certs.ca.cert,
  });
  assert.equal(o.up, true, o.summary);
  assert.equal(o.details?.cert_subject, "CN=localhost, O=netmon order, OU=rdn test");
  assert.equal(o.details?.cert_issuer, "O=netmon test, CN=netmon test CA");
});
