/**
 * The HTTP(S) check's phase timings against curl's `-w` figures for the same
 * URL on the same nginx: two measurements of the same thing must agree (each
 * phase's median of 10 within 2 ms), whatever the machine's speed.
 */
import assert from "node:assert/strict";
import { checkHttp } from "./http.ts";
import { parseHttpParams } from "../../shared/params/http.ts";
import { makeCerts } from "../../tests/fixtures/certs.ts";
import { startNginx } from "../../tests/fixtures/nginx.ts";

const PHASES = ["connect", "tls", "processing", "transfer"] as const;
type Phases = Record<(typeof PHASES)[number], number>;
const RUNS = 10;
const AGREEMENT_MS = 2;

async function netmonPhases(raw: Record<string, unknown>): Promise<Phases> {
  const o = await checkHttp(parseHttpParams(raw, "timings"), {
    signal: AbortSignal.timeout(5000),
    timeoutMs: 5000,
    target: "timings",
  });
  assert.equal(o.up, true, o.summary);
  const ms = (p: string) => o.metrics[`probe_http_duration_seconds{phase="${p}"}`]! * 1000;
  return {
    connect: ms("connect"),
    tls: ms("tls"),
    processing: ms("processing"),
    transfer: ms("transfer"),
  };
}

/**
 * curl's phases for `url`, from the second of two fresh connections in one
 * curl process: the first also pays for loading OpenSSL's configuration and
 * trust store (5–9 ms in the handshake here), which netmon pays once per
 * context, before its clock starts.
 */
async function curlPhases(url: string, args: string[]): Promise<Phases> {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      ...args,
      "-H",
      "Connection: close",
      "-w",
      "%{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}\\n",
      "-o",
      "/dev/null",
      "-o",
      "/dev/null",
      url,
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.equal(lines.length, 2, lines.join("\n"));
  const [connect, app, first, total] = lines[1]!.split(" ").map((s) => Number(s) * 1000) as [
    number,
    number,
    number,
    number,
  ];
  assert.ok(connect > 0, "curl reused the connection"); // a reused one reports 0
  const secured = app > 0 ? app : connect;
  return { connect, tls: secured - connect, processing: first - secured, transfer: total - first };
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return (v[(v.length - 1) >> 1]! + v[v.length >> 1]!) / 2;
}

async function compare(raw: Record<string, unknown>, curlArgs: string[]): Promise<void> {
  const url = String(raw.url);
  // the first run in a process compiles and loads code that no later run does
  await netmonPhases(raw);
  const ours: Phases[] = [], theirs: Phases[] = [];
  // interleaved, so that a burst of load on the machine hits both alike
  for (let i = 0; i < RUNS; i++) {
    ours.push(await netmonPhases(raw));
    theirs.push(await curlPhases(url, curlArgs));
  }
  const rows = PHASES.map((p) => ({
    phase: p,
    netmon: median(ours.map((r) => r[p])),
    curl: median(theirs.map((r) => r[p])),
  }));
  console.log(
    `${url} ${curlArgs.join(" ")}: ` +
      rows.map((r) => `${r.phase} netmon ${r.netmon.toFixed(2)} curl ${r.curl.toFixed(2)} ms`)
        .join(", "),
  );
  for (const r of rows) {
    assert.ok(
      Math.abs(r.netmon - r.curl) <= AGREEMENT_MS,
      `${r.phase}: netmon ${r.netmon.toFixed(2)} ms, curl ${
        r.curl.toFixed(2)
      } ms (median of ${RUNS})`,
    );
  }
}

Deno.test("HTTP and HTTPS phase timings agree with curl's within 2 ms (median of 10)", async (t) => {
  await using certs = await makeCerts();
  await using nginx = await startNginx({ tls: { good: certs.server } });
  const https = `https://127.0.0.1:${nginx.tlsPorts.good}/ok`;
  await t.step("HTTP", () => compare({ url: `http://127.0.0.1:${nginx.port}/ok` }, []));
  await t.step(
    "HTTPS with ca_file",
    () => compare({ url: https, ca_file: certs.ca.cert }, ["--cacert", certs.ca.cert]),
  );
  // no ca_file: the case whose certificate reading once took 25–57 ms of "processing"
  await t.step(
    "HTTPS with the system store, tls_verify false",
    () => compare({ url: https, tls_verify: false }, ["-k"]),
  );
});
