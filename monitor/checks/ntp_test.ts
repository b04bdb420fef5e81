import assert from "node:assert/strict";
import { checkNtp, ctime } from "./ntp.ts";
import { parseNtpParams } from "../../shared/params/ntp.ts";
import type { CheckOutcome } from "../../shared/checks.ts";
import { chronyNtpData, startChrony } from "../../tests/fixtures/chrony.ts";
import { freeDualPort } from "../../tests/helpers/ports.ts";
import { canMakeNetns, makeNetns } from "../../tests/helpers/netns.ts";
import { libc } from "../net/libc.ts";

// libc stays open for the life of the process: open it before the first test, so that the
// resource sanitizer does not count it against that test
libc();

function run(raw: Record<string, unknown>, timeoutMs = 2000): Promise<CheckOutcome> {
  return checkNtp(parseNtpParams(raw, "ntp.example"), {
    signal: AbortSignal.timeout(timeoutMs),
    timeoutMs,
    target: "ntp.example",
  });
}

Deno.test("checkNtp() reports the stratum and offset chrony's own client sees", async () => {
  await using ntp = await startChrony({ stratum: 8 });
  const out = await run({ server_address: ntp.host, port: ntp.port });
  const seen = await chronyNtpData(ntp.host, ntp.port);
  console.log(
    `netmon: stratum ${out.metrics.netmon_ntp_stratum}, offset ` +
      `${out.metrics.netmon_ntp_offset_seconds} s, delay ${out.metrics.netmon_ntp_rtt_seconds} s; ` +
      `chronyc ntpdata: stratum ${seen.stratum}, offset ${seen.offsetSeconds} s, ref ${seen.referenceIdHex}`,
  );
  assert.equal(out.up, true, out.summary);
  assert.equal(seen.stratum, 8);
  assert.equal(out.metrics.netmon_ntp_stratum, seen.stratum);
  assert.equal(out.details?.reference_id, "127.127.1.1");
  assert.equal(seen.referenceIdHex, "7F7F0101");
  assert.equal(seen.leapStatus, "Normal");
  assert.equal(out.metrics.netmon_ntp_leap, 0);
  assert.ok(Math.abs(out.metrics.netmon_ntp_offset_seconds!) < 1);
  assert.ok(Math.abs(seen.offsetSeconds) < 1);
  assert.ok(out.metrics.netmon_ntp_rtt_seconds! >= 0);
  assert.equal(out.metrics.probe_success, 1);
  // the metric is the latency divided by 1000; multiplying back may differ in the last bit
  assert.equal(out.metrics.netmon_ntp_rtt_seconds, out.latencyMs! / 1000);
  assert.match(
    out.summary,
    /^NTP: Server 127\.0\.0\.1 - is up, Time: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}, Offset: [+-]\d+\.\d{3} ms, Delay: \d+\.\d{3} ms, Stratum: 8, Ref ID: 127\.127\.1\.1/,
  );
});

Deno.test("checkNtp() reports the server's time in the summary", async () => {
  await using ntp = await startChrony({ stratum: 3 });
  const out = await run({ server_address: ntp.host, port: ntp.port });
  assert.equal(out.up, true, out.summary);
  assert.equal(out.metrics.netmon_ntp_stratum, 3);
  const serverTime = new Date(out.details!.server_time as string);
  assert.ok(out.summary.includes(`Time: ${ctime(serverTime)},`), out.summary);
});

Deno.test("checkNtp() asks a server on [::1] over IPv6 with ip_protocol ip6", async () => {
  await using ntp = await startChrony({ stratum: 5 });
  const out = await run({ server_address: "[::1]", port: ntp.port, ip_protocol: "ip6" });
  assert.equal(out.up, true, out.summary);
  assert.equal(out.metrics.netmon_ntp_stratum, 5);
  assert.equal(out.metrics.probe_ip_protocol, 6);
  assert.equal(out.details?.server_ip, "::1");
  assert.match(out.summary, /^NTP: Server \[::1\] - is up, Time: /);
});

Deno.test("checkNtp() is down when the offset exceeds max_offset_ms", async () => {
  await using ntp = await startChrony();
  const out = await run({ server_address: ntp.host, port: ntp.port, max_offset_ms: 0 });
  assert.equal(out.up, false);
  assert.match(out.error!, /^clock offset [+-]\d+\.\d{3} ms exceeds max_offset_ms 0$/);
  assert.ok(out.summary.startsWith("NTP: Server 127.0.0.1 - is down, Error: clock offset"));
  assert.equal(out.metrics.probe_success, 0);
  assert.equal(out.metrics.netmon_ntp_stratum, 8);
});

Deno.test("checkNtp() is down when chronyd serves no synchronised time", async () => {
  // a bare chronyd with no sources and no `local` answers unsynchronised
  await using ntp = await startChrony({ stratum: null });
  const out = await run({ server_address: ntp.host, port: ntp.port });
  assert.equal(out.up, false);
  assert.match(out.error!, /^server is unsynchronised/);
  assert.equal(out.metrics.netmon_ntp_leap, 3);
});

for (const host of ["127.0.0.1", "::1"]) {
  Deno.test(`checkNtp() says refused at once when nothing listens on the port of ${host}`, async () => {
    const port = await freeDualPort(host);
    const timeoutMs = 5000;
    const started = performance.now();
    const out = await run({ server_address: host, port }, timeoutMs);
    const tookMs = performance.now() - started;
    assert.equal(out.up, false);
    assert.equal(out.error, "refused (ICMP port unreachable)");
    assert.notEqual(out.error, `timeout after ${timeoutMs} ms`);
    // the ICMP port unreachable ends it, not the deadline
    assert.ok(tookMs < timeoutMs, `took ${tookMs} ms`);
    assert.equal(
      out.summary,
      `NTP: Server ${host} - is down, Error: refused (ICMP port unreachable)`,
    );
    assert.equal(out.latencyMs, null);
    assert.equal(out.metrics.probe_success, 0);
  });
}

Deno.test({
  name: "checkNtp() is down with a timeout when the server's link is down",
  ignore: !(await canMakeNetns()),
  async fn() {
    await using ns = await makeNetns();
    await ns.down();
    const out = await run({ server_address: ns.nsAddr }, 300);
    assert.equal(out.up, false);
    assert.equal(out.error, "timeout after 300 ms");
  },
});

Deno.test("ctime() pads the day of the month with a space like Python's time.ctime()", () => {
  assert.equal(ctime(new Date(2024, 4, 5, 9, 3, 7)), "Sun May  5 09:03:07 2024");
  assert.equal(ctime(new Date(2024, 4, 15, 11, 26, 19)), "Wed May 15 11:26:19 2024");
});
