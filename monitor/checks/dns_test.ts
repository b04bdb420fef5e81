import assert from "node:assert/strict";
import dgram from "node:dgram";
import { decode, encode } from "dns-packet";
import { checkDns } from "./dns.ts";
import { parseDnsParams } from "../../shared/params/dns.ts";
import type { CheckOutcome } from "../../shared/checks.ts";
import { freeDualPort } from "../../tests/helpers/ports.ts";
import { startUnbound, type UnboundServer } from "../../tests/fixtures/unbound.ts";
import { canMakeNetns, makeNetns } from "../../tests/helpers/netns.ts";
import { libc } from "../net/libc.ts";

// libc stays open for the life of the process: open it before the first test, so that the
// resource sanitizer does not count it against that test
libc();

const ZONE = "netmon.test.";
/** Twelve 200-byte strings: about 2.5 kB, more than any UDP reply without fragmentation. */
const BIG_TXT = Array.from(
  { length: 12 },
  (_, i) => `big IN TXT "${String(i).padStart(2, "0")}${"x".repeat(200)}"`,
);
const RECORDS = [
  "www IN A 192.0.2.1",
  "www IN A 192.0.2.2",
  "www IN AAAA 2001:db8::1",
  "www IN AAAA 2001:db8::2",
  "mail IN MX 10 mx1",
  "mail IN MX 20 mx2.example.org.",
  'txt IN TXT "v=spf1 -all"',
  'txt IN TXT "hello world" "second chunk"',
  ...BIG_TXT,
];

function startZone(): Promise<UnboundServer> {
  return startUnbound(ZONE, RECORDS);
}

function run(raw: Record<string, unknown>, timeoutMs = 2000): Promise<CheckOutcome> {
  return checkDns(parseDnsParams(raw, "dns.example"), {
    signal: AbortSignal.timeout(timeoutMs),
    timeoutMs,
    target: "dns.example",
  });
}

/** `dig +short` answers, TXT strings unquoted and joined as the check shows them. */
async function dig(port: number, name: string, type: string): Promise<string[]> {
  const out = await new Deno.Command("dig", {
    args: ["@127.0.0.1", "-p", String(port), "+short", "+tries=1", "+time=2", name, type],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").map((line) =>
    type === "TXT" ? [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join("") : line
  );
}

function sorted(list: unknown): string[] {
  assert.ok(Array.isArray(list), `not a list: ${list}`);
  return [...list].map(String).sort();
}

for (
  const [label, type] of [["www", "A"], ["www", "AAAA"], ["mail", "MX"], ["txt", "TXT"]] as const
) {
  Deno.test(`checkDns() returns the same ${type} answers as dig`, async () => {
    await using dns = await startZone();
    const name = `${label}.${ZONE}`;
    const out = await run({
      server_address: "127.0.0.1",
      port: dns.port,
      query_name: name,
      query_type: type,
    });
    const expected = await dig(dns.port, name, type);
    console.log(
      `${type}: netmon ${JSON.stringify(out.details?.answers)}, dig ${JSON.stringify(expected)}`,
    );
    assert.equal(out.up, true, out.summary);
    assert.equal(expected.length, 2);
    assert.deepEqual(sorted(out.details?.answers), expected.sort());
    assert.equal(out.details?.rcode, "NOERROR");
    assert.equal(out.details?.authoritative, true);
    assert.equal(out.details?.transport, "udp");
    assert.equal(out.metrics.probe_dns_answer_rrs, 2);
    assert.equal(out.metrics.netmon_dns_rcode, 0);
    assert.equal(out.metrics.probe_success, 1);
    assert.ok(out.latencyMs !== null && out.latencyMs > 0);
    assert.equal(out.metrics.probe_dns_lookup_time_seconds, out.latencyMs / 1000);
  });
}

Deno.test("checkDns() writes the seed's summary with a Python list of answers", async () => {
  await using dns = await startZone();
  const out = await run({
    server_address: "127.0.0.1",
    port: dns.port,
    query_name: "www.netmon.test",
  });
  const answers = sorted(out.details?.answers);
  assert.deepEqual(answers, ["192.0.2.1", "192.0.2.2"]);
  const list = `['${(out.details?.answers as string[]).join("', '")}']`;
  assert.ok(
    out.summary.startsWith(
      `DNS Server: 127.0.0.1 - Query: www.netmon.test, Type: A, Query Results: ${list}, ` +
        "Rcode: NOERROR, Transport: udp, RTT: ",
    ),
    out.summary,
  );
  assert.match(out.summary, /RTT: \d+\.\d\d ms/);
  assert.doesNotMatch(out.summary, /Error:/);
});

Deno.test("checkDns() asks a server on [::1] over IPv6 with ip_protocol ip6", async () => {
  await using dns = await startZone();
  for (const transport of ["udp", "tcp"]) {
    const out = await run({
      server_address: "[::1]",
      port: dns.port,
      query_name: "www.netmon.test",
      query_type: "AAAA",
      transport,
      ip_protocol: "ip6",
    });
    assert.equal(out.up, true, out.summary);
    assert.equal(out.metrics.probe_ip_protocol, 6);
    assert.equal(out.details?.server_ip, "::1");
    assert.equal(out.details?.transport, transport);
    assert.deepEqual(sorted(out.details?.answers), ["2001:db8::1", "2001:db8::2"]);
    assert.match(out.summary, /^DNS Server: \[::1\] - Query: www\.netmon\.test, Type: AAAA, /);
  }
});

Deno.test("checkDns() formats an SOA answer like dig", async () => {
  await using dns = await startZone();
  const out = await run({
    server_address: "127.0.0.1",
    port: dns.port,
    query_name: ZONE,
    query_type: "SOA",
  });
  assert.deepEqual(out.details?.answers, await dig(dns.port, ZONE, "SOA"));
  assert.deepEqual(out.details?.answers, [
    "ns1.netmon.test. hostmaster.netmon.test. 2024051501 3600 600 86400 300",
  ]);
});

Deno.test("checkDns() is down on NXDOMAIN unless valid_rcodes allows it", async () => {
  await using dns = await startZone();
  const query = { server_address: "127.0.0.1", port: dns.port, query_name: "nope.netmon.test" };
  const down = await run(query);
  assert.deepEqual(await dig(dns.port, "nope.netmon.test", "A"), []);
  assert.equal(down.up, false);
  assert.equal(down.error, "rcode NXDOMAIN is not one of NOERROR");
  assert.ok(
    down.summary.startsWith(
      "DNS Server: 127.0.0.1 - Query: nope.netmon.test, Type: A, Query Results: NXDOMAIN, Rcode: NXDOMAIN",
    ),
    down.summary,
  );
  assert.ok(down.summary.endsWith(", Error: rcode NXDOMAIN is not one of NOERROR"));
  assert.equal(down.metrics.netmon_dns_rcode, 3);
  assert.equal(down.metrics.probe_dns_authority_rrs, 1);

  const up = await run({ ...query, valid_rcodes: ["NOERROR", "NXDOMAIN"] });
  assert.equal(up.up, true, up.summary);
  assert.equal(up.details?.rcode, "NXDOMAIN");
});

Deno.test("checkDns() retries a truncated UDP answer over TCP and says so", async () => {
  await using dns = await startZone();
  const out = await run({
    server_address: "127.0.0.1",
    port: dns.port,
    query_name: "big.netmon.test",
    query_type: "TXT",
  });
  const expected = await dig(dns.port, "big.netmon.test", "TXT");
  assert.equal(out.up, true, out.summary);
  assert.equal(expected.length, 12);
  assert.deepEqual(sorted(out.details?.answers), expected.sort());
  assert.equal(out.details?.truncated, true);
  assert.equal(out.details?.transport, "tcp");
  assert.match(out.summary, /Transport: tcp, /);
  assert.match(out.summary, /Truncated: True \(retried over TCP\)/);
  assert.equal(out.metrics.probe_dns_answer_rrs, 12);
});

Deno.test("checkDns() uses TCP only when transport is tcp", async () => {
  await using dns = await startZone();
  const out = await run({
    server_address: "127.0.0.1",
    port: dns.port,
    query_name: "www.netmon.test",
    transport: "tcp",
  });
  assert.equal(out.up, true, out.summary);
  assert.equal(out.details?.transport, "tcp");
  assert.equal(out.details?.truncated, false);
  assert.deepEqual(
    sorted(out.details?.answers),
    (await dig(dns.port, "www.netmon.test", "A")).sort(),
  );
  assert.match(out.summary, /Transport: tcp, /);
});

Deno.test("checkDns() is up only when every expect_answers entry is present", async () => {
  await using dns = await startZone();
  const base = {
    server_address: "127.0.0.1",
    port: dns.port,
    query_name: "mail.netmon.test",
    query_type: "MX",
  };
  const present = await run({
    ...base,
    expect_answers: ["10 mx1.netmon.test.", "20 MX2.example.org"],
  });
  assert.equal(present.up, true, present.summary);

  const missing = await run({
    ...base,
    expect_answers: ["10 mx1.netmon.test.", "30 mx3.netmon.test."],
  });
  assert.equal(missing.up, false);
  assert.equal(missing.error, "expected answer not found: ['30 mx3.netmon.test.']");
  assert.match(
    missing.summary,
    /Query Results: \['.*'\], Rcode: NOERROR, .*, Error: expected answer/,
  );
});

/**
 * A misbehaving DNS server on loopback: to every query it first sends a reply
 * with the wrong ID, then one for another question, then (when `honest`) the
 * right answer, 192.0.2.1.
 */
async function strayReplyServer(honest: boolean): Promise<AsyncDisposable & { port: number }> {
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, peer) => {
    const query = decode(msg);
    const q = query.questions![0]!;
    const reply = (id: number, name: string, address: string) =>
      encode({
        type: "response",
        id,
        flags: 0x0400,
        questions: [{ ...q, name }],
        answers: [{ type: "A", name, ttl: 60, data: address }],
      });
    const replies = [
      reply((query.id! + 1) & 0xffff, q.name, "198.51.100.1"),
      reply(query.id!, `other.${q.name}`, "198.51.100.2"),
      ...(honest ? [reply(query.id!, q.name, "192.0.2.1")] : []),
    ];
    for (const r of replies) socket.send(r, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: socket.address().port,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

Deno.test("checkDns() ignores replies with the wrong ID or question and waits for ours", async () => {
  await using server = await strayReplyServer(true);
  const out = await run({
    server_address: "127.0.0.1",
    port: server.port,
    query_name: "www.netmon.test",
  });
  assert.equal(out.up, true, out.summary);
  assert.deepEqual(out.details?.answers, ["192.0.2.1"]);
});

Deno.test("checkDns() times out when only replies for other queries arrive", async () => {
  await using server = await strayReplyServer(false);
  const out = await run(
    { server_address: "127.0.0.1", port: server.port, query_name: "www.netmon.test" },
    300,
  );
  assert.equal(out.up, false);
  assert.equal(out.error, "timeout after 300 ms");
});

for (const host of ["127.0.0.1", "::1"]) {
  Deno.test(`checkDns() says refused at once when nothing listens on the port of ${host}`, async () => {
    const port = await freeDualPort(host);
    const timeoutMs = 5000;
    const started = performance.now();
    const out = await run(
      { server_address: host, port, query_name: "www.netmon.test", ip_protocol: "auto" },
      timeoutMs,
    );
    const tookMs = performance.now() - started;
    assert.equal(out.up, false);
    assert.equal(out.error, "refused (ICMP port unreachable)");
    assert.notEqual(out.error, `timeout after ${timeoutMs} ms`);
    // the ICMP port unreachable ends it, not the deadline
    assert.ok(tookMs < timeoutMs, `took ${tookMs} ms`);
    assert.equal(
      out.summary,
      `DNS Server: ${host} - Query: www.netmon.test, Type: A, Query Results: refused (ICMP port unreachable), ` +
        `Transport: udp, Port: ${port}, Error: refused (ICMP port unreachable)`,
    );
    assert.equal(out.latencyMs, null);
    assert.equal(out.metrics.probe_success, 0);
  });
}

Deno.test("checkDns() reports a refused TCP connection when forced to TCP on a closed port", async () => {
  const port = await freeDualPort("127.0.0.1");
  const out = await run({ server_address: "127.0.0.1", port, transport: "tcp" }, 1000);
  assert.equal(out.up, false);
  assert.equal(out.error, "TCP connect failed: connection refused");
});

Deno.test({
  name: "checkDns() is down with a timeout when the server's link is down",
  ignore: !(await canMakeNetns()),
  async fn() {
    await using ns = await makeNetns();
    await ns.down();
    const out = await run({ server_address: ns.nsAddr, query_name: "www.netmon.test" }, 300);
    assert.equal(out.up, false);
    assert.equal(out.error, "timeout after 300 ms");
  },
});
