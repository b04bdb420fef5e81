/**
 * End-to-end tests of who may command a monitor (issue 6): the shared token's
 * challenge–response, TLS with a pinned fingerprint or a CA, the token never
 * on the wire nor in the logs, and the safe default beyond loopback.
 */
import assert from "node:assert/strict";
import { makeCerts, openssl } from "./fixtures/certs.ts";
import { Proc, tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";
import { makeNetns } from "./helpers/netns.ts";

const TOKEN = "s3cret-token-for-the-test-7f2a9c";

async function config(
  dir: string,
  address: string,
  extra = "",
  name = "tasks.yaml",
): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(
    path,
    `monitors:
  - address: ${address}
${extra}
targets:
  self:
    TCP: { host: 127.0.0.1, port: 9, frequency: 0.5 }
`,
  );
  return path;
}

Deno.test("a manager with a wrong or no token is refused and one with the right token connects", async () => {
  await using tmp = await tempDir();
  const port = freeTcpPort();
  await using monitor = await startMonitor({
    dataDir: `${tmp.path}/mon`,
    port,
    extra: ["--token", TOKEN],
  });
  const cfg = await config(tmp.path, `127.0.0.1:${port}`);

  await using none = startManager(cfg, { db: `${tmp.path}/none.db` });
  await none.waitFor(/refused us: .*authentication failed/);
  await none.stop();
  await monitor.proc.waitFor(/Authentication failed for manager at 127\.0\.0\.1:\d+/);

  await using wrong = startManager(cfg, { db: `${tmp.path}/wrong.db`, extra: ["--token", "nope"] });
  await wrong.waitFor(/refused us: .*authentication failed/);
  // the wrong manager keeps retrying; the monitor counts its failures and slows it down
  await monitor.proc.waitFor(/wrong or missing token \([3-9] in the last minute\)/, 30_000);
  await wrong.stop();

  await using right = startManager(cfg, { db: `${tmp.path}/right.db`, extra: ["--token", TOKEN] });
  await right.waitFor(/Connected to monitoring service/);
  await right.waitFor(/TCP Port: 127\.0\.0\.1 - Port 9/);
  await right.stop();
  assert.equal(right.matching(/refused us/).length, 0);
});

Deno.test("the token never crosses the wire and never reaches the logs", async () => {
  await using tmp = await tempDir();
  const port = freeTcpPort();
  const pcap = `${tmp.path}/handshake.pcap`;
  await using dump = Proc.start(
    [
      "tcpdump",
      "--immediate-mode",
      "-Z",
      "root",
      "-i",
      "lo",
      "-U",
      "-w",
      pcap,
      "tcp",
      "port",
      String(port),
    ],
    { name: "tcpdump" },
  );
  await dump.waitFor(/listening on lo/);
  await using monitor = await startMonitor({
    dataDir: `${tmp.path}/mon`,
    port,
    extra: ["--token", TOKEN, "--log-level", "debug"],
  });
  const cfg = await config(tmp.path, `127.0.0.1:${port}`);
  await using manager = startManager(cfg, {
    db: `${tmp.path}/m.db`,
    extra: ["--token", TOKEN, "--log-level", "debug"],
  });
  await manager.waitFor(/TCP Port: 127\.0\.0\.1 - Port 9/);
  await manager.stop();
  await monitor.proc.stop();
  await dump.stop("SIGINT");
  const captured = await Deno.readFile(pcap);
  const text = new TextDecoder("latin1").decode(captured);
  assert.ok(text.includes('"t":"auth"'), "the capture holds the manager's side of the handshake");
  assert.ok(
    text.includes('"t":"welcome"'),
    "the capture holds the monitor's side of the handshake",
  );
  assert.ok(!text.includes(TOKEN), "the token is not in the packets");
  for (const line of [...manager.lines, ...monitor.proc.lines]) {
    assert.ok(!line.includes(TOKEN), `the token leaked into a log line: ${line}`);
  }
});

Deno.test("over TLS the manager connects to a pinned or CA-verified monitor and refuses a wrong fingerprint", async () => {
  await using tmp = await tempDir();
  await using certs = await makeCerts();
  const port = freeTcpPort();
  await using monitor = await startMonitor({
    dataDir: `${tmp.path}/mon`,
    port,
    extra: ["--token", TOKEN, "--tls-cert", certs.server.cert, "--tls-key", certs.server.key],
  });
  const printed = await monitor.proc.waitFor(/TLS certificate SHA-256 fingerprint/);
  const fp = printed.split(": ").pop()!;
  const expected =
    (await openssl(["x509", "-in", certs.server.cert, "-noout", "-fingerprint", "-sha256"]))
      .trim().split("=").pop()!;
  assert.equal(fp, expected, "the printed fingerprint is the one openssl computes");

  const pinned = await config(
    tmp.path,
    `127.0.0.1:${port}`,
    `    fingerprint: "${fp}"`,
    "pinned.yaml",
  );
  await using good = startManager(pinned, { db: `${tmp.path}/a.db`, extra: ["--token", TOKEN] });
  await good.waitFor(/Connected to monitoring service/);
  await good.waitFor(/TCP Port: 127\.0\.0\.1 - Port 9/);
  await good.stop();

  const viaCa = await config(tmp.path, `127.0.0.1:${port}`, `    ca: ${certs.ca.cert}`, "ca.yaml");
  await using ca = startManager(viaCa, { db: `${tmp.path}/b.db`, extra: ["--token", TOKEN] });
  await ca.waitFor(/Connected to monitoring service/);
  await ca.stop();

  const wrongFp = "AB:".repeat(31) + "AB";
  const bad = await config(
    tmp.path,
    `127.0.0.1:${port}`,
    `    fingerprint: "${wrongFp}"`,
    "bad.yaml",
  );
  await using refused = startManager(bad, { db: `${tmp.path}/c.db`, extra: ["--token", TOKEN] });
  await refused.waitFor(/refused us: certificate fingerprint .* does not match the pinned/);
  await refused.stop();
  assert.equal(refused.matching(/Connected to monitoring service/).length, 0);

  // a plain-TCP manager gets nowhere with a TLS monitor
  const plain = await config(tmp.path, `127.0.0.1:${port}`, "", "plain.yaml");
  await using clear = startManager(plain, { db: `${tmp.path}/d.db`, extra: ["--token", TOKEN] });
  await clear.waitFor(/^127\.0\.0\.1:\d+: (Reconnecting|Offline)/);
  await new Promise((r) => setTimeout(r, 1500));
  await clear.stop();
  assert.equal(clear.matching(/Connected to monitoring service/).length, 0);
});

Deno.test("a monitor listening beyond loopback without a token makes one, mode 0600, and demands it", async () => {
  await using tmp = await tempDir();
  await using ns = await makeNetns();
  const port = freeTcpPort();
  // the host side of the test link is a non-loopback address of this machine
  await using monitor = await startMonitor({
    dataDir: `${tmp.path}/mon`,
    port,
    listen: ns.hostAddr,
  });
  await monitor.proc.waitFor(/Created the token in .*\/token \(mode 0600\)/);
  const st = await Deno.stat(`${tmp.path}/mon/token`);
  assert.equal(st.mode! & 0o777, 0o600);
  const token = (await Deno.readTextFile(`${tmp.path}/mon/token`)).trim();
  assert.ok(token.length >= 32);
  assert.ok(!monitor.proc.lines.some((l) => l.includes(token)), "the token is not printed");

  const cfg = await config(tmp.path, `${ns.hostAddr}:${port}`);
  await using open = startManager(cfg, { db: `${tmp.path}/a.db` });
  await open.waitFor(/refused us: .*authentication failed/);
  await open.stop();
  await using withFile = startManager(cfg, {
    db: `${tmp.path}/b.db`,
    extra: ["--token-file", `${tmp.path}/mon/token`],
  });
  await withFile.waitFor(/Connected to monitoring service/);
  await withFile.stop();
});

Deno.test("a monitor that requires client certificates accepts only a manager presenting one from its CA", async () => {
  await using tmp = await tempDir();
  await using certs = await makeCerts();
  const port = freeTcpPort();
  await using _monitor = await startMonitor({
    dataDir: `${tmp.path}/mon`,
    port,
    extra: [
      "--token",
      TOKEN,
      "--tls-cert",
      certs.server.cert,
      "--tls-key",
      certs.server.key,
      "--tls-client-ca",
      certs.ca.cert,
    ],
  });
  const without = await config(tmp.path, `127.0.0.1:${port}`, `    ca: ${certs.ca.cert}`, "a.yaml");
  await using refused = startManager(without, {
    db: `${tmp.path}/a.db`,
    extra: ["--token", TOKEN],
  });
  await refused.waitFor(/^127\.0\.0\.1:\d+: Reconnecting .*set client_cert and client_key/);
  await new Promise((r) => setTimeout(r, 1500));
  await refused.stop();
  assert.equal(refused.matching(/Connected to monitoring service/).length, 0);

  const foreign = await config(
    tmp.path,
    `127.0.0.1:${port}`,
    `    ca: ${certs.ca.cert}\n    client_cert: ${certs.selfSigned.cert}\n    client_key: ${certs.selfSigned.key}`,
    "b.yaml",
  );
  await using wrongCa = startManager(foreign, {
    db: `${tmp.path}/b.db`,
    extra: ["--token", TOKEN],
  });
  await wrongCa.waitFor(/^127\.0\.0\.1:\d+: Reconnecting/);
  await new Promise((r) => setTimeout(r, 1500));
  await wrongCa.stop();
  assert.equal(wrongCa.matching(/Connected to monitoring service/).length, 0);

  const withCert = await config(
    tmp.path,
    `127.0.0.1:${port}`,
    `    ca: ${certs.ca.cert}\n    client_cert: ${certs.client.cert}\n    client_key: ${certs.client.key}`,
    "c.yaml",
  );
  await using good = startManager(withCert, { db: `${tmp.path}/c.db`, extra: ["--token", TOKEN] });
  await good.waitFor(/Connected to monitoring service/);
  await good.waitFor(/TCP Port: 127\.0\.0\.1 - Port 9/);
  await good.stop();
});
