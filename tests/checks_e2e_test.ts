/**
 * End-to-end tests of the seven check types (issue 3): a `tasks.yaml` in the
 * seed's shape pointing at real peers on loopback (nginx over HTTP and
 * HTTPS, unbound, chronyd, socat and a UDP peer, ICMP to 127.0.0.1), run by a monitor and a
 * manager through `./netmon`; the manager's output must carry every check
 * type's seed-format line. Also: the shipped `tasks.yaml` parses, and
 * `--log-format json` writes one JSON object per line.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../shared/config.ts";
import { CHECK_TYPES } from "../shared/checks.ts";
import { paramsOf } from "../shared/params/mod.ts";
import { makeCerts } from "./fixtures/certs.ts";
import { startNginx } from "./fixtures/nginx.ts";
import { startUnbound } from "./fixtures/unbound.ts";
import { startChrony } from "./fixtures/chrony.ts";
import { socatTcp } from "./fixtures/socat.ts";
import { udpPeer } from "./fixtures/udp_peer.ts";
import { Proc, tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { NETMON, RESULT_PREFIX, startManager, startMonitor } from "./helpers/netmon.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const HOST = "127.0.0.1";
const HOST_RE = "127\\.0\\.0\\.1";
const CTIME = "\\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4}";

/** Every peer the seven checks talk to, all on loopback. */
async function startPeers() {
  const certs = await makeCerts();
  const nginx = await startNginx({ tls: { main: certs.server } });
  const dns = await startUnbound("netmon.test.", ["www IN A 192.0.2.7"]);
  const ntp = await startChrony({ stratum: 4 });
  const tcp = await socatTcp({ banner: "hello\n" });
  const udp = await udpPeer({ reply: "pong" });
  return {
    certs,
    nginx,
    dns,
    ntp,
    tcp,
    udp,
    async [Symbol.asyncDispose]() {
      for (const d of [udp, tcp, ntp, dns, nginx, certs]) await d[Symbol.asyncDispose]();
    },
  };
}

type Peers = Awaited<ReturnType<typeof startPeers>>;

/**
 * The seed's example in shape (target → TYPE → params with its keys url,
 * server_address, port and frequency), with peers on loopback; the target's
 * name is the TCP check's host, as in the seed.
 */
function seedShapedConfig(monitorPort: number, p: Peers): string {
  return `monitors:
  - address: ${HOST}:${monitorPort}
    name: local

targets:
  ${HOST}:
    HTTP: { url: "http://${HOST}:${p.nginx.port}/", frequency: 1 }
    HTTPS: { url: "https://${HOST}:${p.nginx.tlsPorts.main}/", ca_file: "${p.certs.ca.cert}", frequency: 1 }
    ICMP: { server_address: ${HOST}, frequency: 1 }
    DNS: { server_address: ${HOST}, port: ${p.dns.port}, query_name: www.netmon.test, frequency: 1 }
    NTP: { server_address: ${HOST}, port: ${p.ntp.port}, frequency: 1 }
    TCP: { port: ${p.tcp.port}, frequency: 1 }
    UDP: { server_address: ${HOST}, port: ${p.udp.port}, frequency: 1 }
`;
}

/** The seed-format line each check type must produce against the peers. */
function expectedLines(p: Peers): Record<string, RegExp> {
  return {
    HTTP: new RegExp(
      `HTTP URL: http://${HOST_RE}:${p.nginx.port}/, HTTP server status: True, Status Code: 200`,
    ),
    HTTPS: new RegExp(
      `HTTPS URL: https://${HOST_RE}:${p.nginx.tlsPorts.main}/, HTTPS server status: True, ` +
        `Status Code: 200, Description: Server is up`,
    ),
    ICMP: new RegExp(`Ping: ${HOST_RE} - \\d+\\.\\d\\d ms, Loss: 0%`),
    DNS: new RegExp(
      `DNS Server: ${HOST_RE} - Query: www\\.netmon\\.test, Type: A, Query Results: \\['192\\.0\\.2\\.7'\\]`,
    ),
    NTP: new RegExp(`NTP: Server ${HOST_RE} - is up, Time: ${CTIME}, `),
    TCP: new RegExp(
      `TCP Port: ${HOST_RE} - Port ${p.tcp.port} - Open, Description: Port ${p.tcp.port} on ${HOST_RE} is open\\.`,
    ),
    UDP: new RegExp(
      `UDP Port: ${HOST_RE} - Port ${p.udp.port} - Open, Description: Port ${p.udp.port} on ${HOST_RE} answered with 4 bytes\\.`,
    ),
  };
}

/** The peers, a monitor, and a seed-shaped `tasks.yaml` for it in a temporary directory. */
async function startStack() {
  const tmp = await tempDir();
  const peers = await startPeers();
  const port = freeTcpPort();
  const monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
  const config = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(config, seedShapedConfig(port, peers));
  return {
    dir: tmp.path,
    peers,
    config,
    async [Symbol.asyncDispose]() {
      for (const d of [monitor, peers, tmp]) await d[Symbol.asyncDispose]();
    },
  };
}

Deno.test("manage runs all seven check types from a seed-shaped tasks.yaml against loopback peers", async () => {
  await using stack = await startStack();
  const { peers } = stack;
  await using manager = startManager(stack.config, { db: `${stack.dir}/netmon.db` });

  await manager.waitFor(new RegExp(`^-----Distributing tasks for server: ${HOST_RE}-----$`));
  for (const [type, re] of Object.entries(expectedLines(peers))) {
    const line = await manager.waitFor(re, 20_000);
    assert.match(line, RESULT_PREFIX, `${type}: ${line}`);
    assert.doesNotMatch(line, /Error:/, `${type} is down: ${line}`);
  }
  // every run is logged with the monitor that ran it
  const results = manager.matching(RESULT_PREFIX);
  assert.ok(results.every((l) => l.endsWith(", Monitor: local")), results.join("\n"));
});

Deno.test("manage --log-format json writes one result object per line with the seed line inside", async () => {
  await using stack = await startStack();
  const { peers, dir } = stack;
  // stdout alone: diagnostics go to a file, so every line seen here is the result log
  await using manager = Proc.start([
    "sh",
    "-c",
    'exec "$0" "$@" 2>"$NETMON_TEST_STDERR"',
    NETMON,
    "manage",
    stack.config,
    "--db",
    `${dir}/netmon.db`,
    "--no-live",
    // a free port for the API: tests run in parallel
    "--http",
    "127.0.0.1:0",
    "--log-format",
    "json",
  ], { name: "manager-json", env: { NETMON_TEST_STDERR: `${dir}/stderr.log` } });

  const seen = new Set<string>();
  try {
    for (const type of CHECK_TYPES) {
      await manager.waitFor(new RegExp(`"checkType":"${type}"`), 20_000);
      seen.add(type);
    }
  } catch (e) {
    const stderr = await Deno.readTextFile(`${dir}/stderr.log`).catch(() => "");
    throw new Error(`${e}\nmanager's stderr:\n${stderr.split("\n").slice(-30).join("\n")}`);
  }
  assert.equal(seen.size, CHECK_TYPES.length);
  const expected = expectedLines(peers);
  for (const line of manager.lines) {
    const obj = JSON.parse(line) as Record<string, unknown>;
    assert.equal(typeof obj.type, "string", line);
    if (obj.type !== "result") continue;
    assert.ok(CHECK_TYPES.includes(obj.checkType as typeof CHECK_TYPES[number]), line);
    assert.equal(obj.monitorName, "local");
    assert.equal(obj.up, true, line);
    assert.match(obj.line as string, RESULT_PREFIX);
    assert.match(obj.summary as string, expected[obj.checkType as string]!);
    assert.ok((obj.line as string).includes(obj.summary as string));
    assert.ok(!Number.isNaN(Date.parse(obj.time as string)), line);
  }
});

Deno.test("the shipped tasks.yaml (the seed's example) parses into 14 checks", async () => {
  const text = await Deno.readTextFile(`${ROOT}tasks.yaml`);
  const config = parseConfig(text, "tasks.yaml");
  assert.equal(config.checks.length, 14);
  assert.deepEqual(config.targets, ["google.com", "oregonstate.edu"]);
  assert.deepEqual(config.monitors.map((m) => m.address), ["127.0.0.1:54322"]);
  for (const target of config.targets) {
    assert.deepEqual(
      config.checks.filter((c) => c.spec.target === target).map((c) => c.spec.type),
      [...CHECK_TYPES],
    );
  }
  const byId = new Map(config.checks.map((c) => [c.spec.id, c.spec]));
  assert.equal(byId.get("google.com/DNS")!.intervalMs, 1000);
  assert.equal(paramsOf(byId.get("google.com/TCP")!, "TCP").host, "google.com");
  assert.equal(paramsOf(byId.get("oregonstate.edu/UDP")!, "UDP").port, 53);
  assert.equal(paramsOf(byId.get("oregonstate.edu/NTP")!, "NTP").server_address, "pool.ntp.org");
});
