import assert from "node:assert/strict";
import { checkUdp } from "./udp.ts";
import { parseUdpParams } from "../../shared/params/udp.ts";
import { makeNetns } from "../../tests/helpers/netns.ts";
import { udpPeer } from "../../tests/fixtures/udp_peer.ts";
import { freeUdpPort } from "../../tests/helpers/ports.ts";
import { libc } from "../net/libc.ts";

// libc stays open for the life of the process: open it before the first test, so that the
// resource sanitizer does not count it against that test
libc();

function run(raw: Record<string, unknown>, timeoutMs = 1500, signal?: AbortSignal) {
  return checkUdp(parseUdpParams(raw, "target.test"), {
    signal: signal ?? AbortSignal.timeout(timeoutMs),
    timeoutMs,
    target: "target.test",
  });
}

for (const host of ["127.0.0.1", "::1"]) {
  Deno.test(`checkUdp() finds a UDP peer on ${host} open and matches expect`, async () => {
    await using peer = await udpPeer({ reply: "pong 42", host });
    const open = await run({
      server_address: host,
      port: peer.port,
      payload: "ping",
      expect: "^pong \\d+$",
    });
    assert.equal(open.up, true, open.summary);
    assert.equal(
      open.summary,
      `UDP Port: ${host} - Port ${peer.port} - Open, Description: Port ${peer.port} on ${host} ` +
        `answered with 7 bytes., Address: ${host}`,
    );
    assert.equal(open.metrics.netmon_udp_state, 1);
    assert.equal(open.metrics.netmon_udp_reply_bytes, 7);
    assert.ok(open.latencyMs !== null);

    const mismatch = await run({ server_address: host, port: peer.port, expect: "^nope" });
    assert.equal(mismatch.up, false);
    assert.equal(mismatch.details?.state, "Open");
    assert.equal(mismatch.error, "reply does not match expect /^nope/");
  });

  Deno.test(`checkUdp() finds a free port on ${host} closed`, async () => {
    const port = await freeUdpPort(host);
    const closed = await run({ server_address: host, port });
    assert.equal(closed.up, false);
    assert.equal(closed.metrics.netmon_udp_state, 0);
    assert.equal(closed.metrics.probe_success, 0);
    assert.equal(
      closed.summary,
      `UDP Port: ${host} - Port ${port} - Closed, Description: Port ${port} on ${host} is closed ` +
        `(ICMP port unreachable)., Address: ${host}, Error: Connection refused`,
    );
  });
}

Deno.test("checkUdp() echoes the payload through a UDP echo peer byte for byte", async () => {
  await using peer = await udpPeer();
  const o = await run({
    server_address: "127.0.0.1",
    port: peer.port,
    payload: "hex:00ff10",
    expect: "^\\x00\\ufffd\\x10$",
  });
  assert.equal(o.up, true, o.summary);
  assert.equal(o.metrics.netmon_udp_reply_bytes, 3);
});

Deno.test("checkUdp() calls a silent namespace host open|filtered", async () => {
  await using ns = await makeNetns();
  await using peer = await udpPeer({ reply: "here" }); // keeps the fixture honest: loopback answers
  await ns.down();
  for (const host of [ns.nsAddr, ns.nsAddr6]) {
    const o = await run({ server_address: host, port: peer.port }, 1000);
    assert.equal(o.up, true, o.summary);
    assert.equal(o.metrics.netmon_udp_state, 2);
    assert.equal(
      o.summary,
      `UDP Port: ${host} - Port ${peer.port} - Open|Filtered, Description: Port ${peer.port} on ` +
        `${host} is open or no response received., Address: ${host}`,
    );
  }
  const strict = await run({ server_address: ns.nsAddr, port: peer.port, expect: "." }, 1000);
  assert.equal(strict.up, false);
});

Deno.test("checkUdp() resolves at once when aborted", async () => {
  await using ns = await makeNetns();
  await ns.down();
  const controller = new AbortController();
  const start = performance.now();
  const pending = run({ server_address: ns.nsAddr, port: 9 }, 10_000, controller.signal);
  setTimeout(() => controller.abort(), 100);
  const o = await pending;
  console.log(
    `aborted UDP check resolved ${(performance.now() - start - 100).toFixed(1)} ms after abort`,
  );
  assert.equal(o.details?.state, "Open|Filtered");
});
