import assert from "node:assert/strict";
import { checkTcp } from "./tcp.ts";
import { parseTcpParams } from "../../shared/params/tcp.ts";
import { socatTcp } from "../../tests/fixtures/socat.ts";
import { Proc, tempDir } from "../../tests/helpers/proc.ts";
import { freeTcpPort, waitForTcp } from "../../tests/helpers/ports.ts";
import { canMakeNetns, makeNetns } from "../../tests/helpers/netns.ts";

function run(raw: Record<string, unknown>, target = "127.0.0.1", timeoutMs = 2000) {
  return checkTcp(parseTcpParams(raw, target), {
    signal: AbortSignal.timeout(timeoutMs),
    timeoutMs,
    target,
  });
}

/** Whether socat, as a client, can connect: the trusted tool's verdict. */
async function socatConnects(host: string, port: number): Promise<boolean> {
  const out = await new Deno.Command("socat", {
    args: ["-u", "/dev/null", `TCP:${host}:${port},connect-timeout=2`],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

async function sh(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** A CA (valid 30 days) and a leaf for localhost/127.0.0.1/::1 it signed (valid 2 days). */
async function makeCerts(dir: string) {
  const p = (f: string) => `${dir}/${f}`;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await sh(["openssl", "req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.pem")]
    .concat(["-days", "30", "-subj", "/CN=netmon test CA"]));
  await sh(["openssl", "req", ...ec, "-keyout", p("leaf.key"), "-out", p("leaf.csr")]
    .concat(["-subj", "/CN=localhost"]));
  await Deno.writeTextFile(
    p("ext.cnf"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n",
  );
  await sh(
    ["openssl", "x509", "-req", "-in", p("leaf.csr"), "-CA", p("ca.pem")]
      .concat(["-CAkey", p("ca.key"), "-CAcreateserial", "-out", p("leaf.pem"), "-days", "2"])
      .concat(["-extfile", p("ext.cnf")]),
  );
  const endDate = await sh(["openssl", "x509", "-enddate", "-noout", "-in", p("leaf.pem")]);
  return {
    ca: p("ca.pem"),
    cert: p("leaf.pem"),
    key: p("leaf.key"),
    leafExpiry: Date.parse(endDate.trim().replace(/^notAfter=/, "")) / 1000,
  };
}

Deno.test("checkTcp() reports an open port with its connect time, as socat sees it", async () => {
  await using peer = await socatTcp();
  assert.equal(await socatConnects(peer.host, peer.port), true);
  const out = await run({ port: peer.port });
  assert.equal(out.up, true, out.summary);
  assert.match(
    out.summary,
    new RegExp(
      `^TCP Port: 127\\.0\\.0\\.1 - Port ${peer.port} - Open, Description: Port ${peer.port} ` +
        `on 127\\.0\\.0\\.1 is open\\., Connect: \\d+\\.\\d\\d ms$`,
    ),
  );
  assert.equal(out.error, undefined);
  assert.equal(out.metrics.probe_success, 1);
  assert.equal(out.metrics.probe_ip_protocol, 4);
  assert.ok(out.metrics.netmon_tcp_connect_seconds! > 0);
  assert.equal(out.latencyMs, out.metrics.netmon_tcp_connect_seconds! * 1000);
  assert.ok(out.metrics.probe_duration_seconds! >= out.metrics.netmon_tcp_connect_seconds!);
  assert.equal(out.details?.state, "open");
});

Deno.test("checkTcp() is up when the banner matches expect", async () => {
  const banner = "SSH-2.0-OpenSSH_9.2p1 Debian-2, netmon: test\r\n";
  await using peer = await socatTcp({ banner });
  const out = await run({ port: peer.port, expect: "^SSH-2\\.0-OpenSSH_\\S+ " });
  assert.equal(out.up, true, out.summary);
  assert.ok(out.summary.endsWith(", Reply matched: /^SSH-2\\.0-OpenSSH_\\S+ /"), out.summary);
  assert.equal(out.metrics.probe_failed_due_to_regex, 0);
  assert.equal(typeof out.details?.reply, "string");
  assert.ok(banner.startsWith(out.details!.reply as string));
});

Deno.test("checkTcp() is down with the reply when the banner does not match before the deadline", async () => {
  await using peer = await socatTcp({ banner: "220 mail.example ESMTP\r\n" });
  const out = await run({ port: peer.port, expect: "^SSH-" }, "127.0.0.1", 400);
  assert.equal(out.up, false);
  assert.equal(
    out.error,
    'reply did not match /^SSH-/ within 400 ms: "220 mail.example ESMTP\\r\\n"',
  );
  assert.ok(out.summary.includes(" - Open, Description: "), out.summary);
  assert.ok(out.summary.endsWith(`, Error: ${out.error}`));
  assert.equal(out.metrics.probe_success, 0);
  assert.equal(out.metrics.probe_failed_due_to_regex, 1);
});

Deno.test("checkTcp() stops reading for expect when the peer closes", async () => {
  const port = freeTcpPort();
  await using _peer = Proc.start([
    "socat",
    `TCP4-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`,
    "EXEC:echo 220 closing now",
  ]);
  await waitForTcp(port);
  const out = await run({ port, expect: "^SSH-" });
  assert.equal(out.up, false);
  assert.equal(out.error, 'reply did not match /^SSH-/: "220 closing now\\n"');
  assert.match(out.summary, / - Open, Description: .*, Error: reply did not match/);
});

Deno.test("checkTcp() sends a hex payload and matches the echo", async () => {
  await using peer = await socatTcp();
  const hex = Array.from(
    new TextEncoder().encode("PING netmon\n"),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  const ok = await run({ port: peer.port, send: `hex:${hex}`, expect: "^PING netmon\\n" });
  assert.equal(ok.up, true, ok.summary);
  assert.equal(ok.details?.reply, "PING netmon\n");
});

Deno.test("checkTcp() reports a port nobody listens on as closed, as socat sees it", async () => {
  const port = freeTcpPort();
  assert.equal(await socatConnects("127.0.0.1", port), false);
  const out = await run({ port });
  assert.equal(out.up, false);
  assert.equal(
    out.summary,
    `TCP Port: 127.0.0.1 - Port ${port} - Closed, Description: Port ${port} on 127.0.0.1 ` +
      "refused the connection., Error: connection refused",
  );
  assert.equal(out.error, "connection refused");
  assert.equal(out.latencyMs, null);
  assert.equal(out.metrics.probe_success, 0);
  assert.equal(out.details?.state, "closed");
});

Deno.test({
  name: "checkTcp() reports a host behind a downed link as filtered and leaves no connect behind",
  ignore: !(await canMakeNetns()),
  fn: async () => {
    await using ns = await makeNetns();
    await ns.down();
    for (const host of [ns.nsAddr, ns.nsAddr6]) {
      const out = await run({ host, port: 7 }, "ns", 500);
      assert.equal(out.up, false);
      assert.equal(
        out.summary,
        `TCP Port: ${host} - Port 7 - Filtered, Description: No answer from port 7 on ${host} ` +
          "within 500 ms., Error: timeout after 500 ms",
      );
      assert.equal(out.details?.state, "filtered");
      const pending = await sh([
        "ss",
        "-Htn",
        "state",
        "syn-sent",
        "dst",
        host.includes(":") ? `[${host}]` : host,
      ]);
      assert.equal(pending.trim(), "", "the aborted connect must be closed");
    }
  },
});

Deno.test("checkTcp() connects over IPv6 to [::1] and to localhost with ip_protocol ip6", async () => {
  await using peer = await socatTcp({ host: "::1" });
  const out = await run({ host: "[::1]", port: peer.port });
  assert.equal(out.up, true, out.summary);
  assert.ok(out.summary.startsWith(`TCP Port: [::1] - Port ${peer.port} - Open`));
  assert.equal(out.metrics.probe_ip_protocol, 6);
  assert.equal(out.details?.address, "::1");
  const named = await run({ host: "localhost", port: peer.port, ip_protocol: "ip6" });
  assert.equal(named.up, true, named.summary);
  assert.equal(named.details?.address, "::1");
});

Deno.test("checkTcp() explains an address of the wrong family without asking DNS", async () => {
  const out = await run({ port: 80, ip_protocol: "ip6" });
  assert.equal(out.up, false);
  assert.equal(out.details?.state, "unreachable");
  assert.ok(out.summary.startsWith("TCP Port: 127.0.0.1 - Port 80 - Unreachable"), out.summary);
  assert.match(out.error!, /127\.0\.0\.1 is not IPv6/);
});

Deno.test("checkTcp() speaks TLS, verifying with ca_file and reporting version and expiry", async () => {
  await using dir = await tempDir();
  const certs = await makeCerts(dir.path);
  await using peer = await socatTcp({ tls: { cert: certs.cert, key: certs.key } });
  const base = { port: peer.port, tls: true };

  const unverified = await run({ ...base, tls_verify: false });
  assert.equal(unverified.up, true, unverified.summary);
  assert.equal(unverified.details?.tls_verified, false);
  assert.equal(unverified.metrics.probe_ssl_earliest_cert_expiry, certs.leafExpiry);
  assert.equal(unverified.metrics['probe_tls_version_info{version="TLS 1.3"}'], 1);
  assert.ok(unverified.summary.includes(", TLS: TLS 1.3"), unverified.summary);

  const verified = await run({ ...base, ca_file: certs.ca, server_name: "localhost" });
  assert.equal(verified.up, true, verified.summary);
  assert.equal(verified.details?.tls_verified, true);
  assert.equal(verified.details?.tls_subject, "localhost");

  const echoed = await run({ ...base, ca_file: certs.ca, send: "hello\n", expect: "^hello" });
  assert.equal(echoed.up, true, echoed.summary);

  const unknownCa = await run(base);
  assert.equal(unknownCa.up, false);
  assert.ok(unknownCa.summary.includes(" - Open, Description: "), unknownCa.summary);
  assert.match(unknownCa.error!, /^TLS handshake failed: /);

  const wrongName = await run({ ...base, ca_file: certs.ca, server_name: "other.example" });
  assert.equal(wrongName.up, false);
  assert.match(wrongName.error!, /^TLS handshake failed: .*other\.example/);

  const missingCa = await run({ ...base, ca_file: `${dir.path}/nope.pem` });
  assert.equal(missingCa.up, false);
  assert.match(missingCa.error!, /^cannot read ca_file ".*nope\.pem": /);
});

Deno.test("checkTcp() reports a refused TLS port as closed", async () => {
  // an address of its own: on 127.0.0.1 a port free a moment ago was once taken by a listener of a
  // test running beside it (the handshake then failed instead: a clean-clone CI run here)
  const host = "127.0.0.83";
  const port = freeTcpPort(host);
  const out = await run({ port, tls: true }, host);
  assert.equal(out.up, false);
  assert.equal(out.error, "connection refused");
  assert.equal(out.details?.state, "closed");
});
