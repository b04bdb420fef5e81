/**
 * A monitor and a manager started through `./netmon`, running all seven
 * check types against real peers on loopback (nginx over HTTP and HTTPS,
 * unbound, chronyd, socat for TCP, a UDP peer, ICMP to 127.0.0.1), a TCP check
 * over TLS, and one TCP check on a closed port that opens an alert incident, for tests of what the
 * manager exposes (`/metrics`, the Grafana dashboard).
 *
 * @example
 * ```ts ignore
 * import { startFullStack } from "./full_stack.ts";
 * await using stack = await startFullStack();
 * console.log(await (await fetch(`${stack.base}/metrics`)).text());
 * ```
 *
 * @module
 */
import { makeCerts } from "../fixtures/certs.ts";
import { startNginx } from "../fixtures/nginx.ts";
import { startUnbound } from "../fixtures/unbound.ts";
import { startChrony } from "../fixtures/chrony.ts";
import { socatTcp } from "../fixtures/socat.ts";
import { udpPeer } from "../fixtures/udp_peer.ts";
import { type Proc, tempDir } from "./proc.ts";
import { freeTcpPort } from "./ports.ts";
import { startManager, startMonitor } from "./netmon.ts";

/** The running stack; disposing stops every process and removes its files. */
export interface FullStack extends AsyncDisposable {
  /** The manager's API, e.g. `http://127.0.0.1:40123`. */
  base: string;
  manager: Proc;
  /** The TCP check's port, whose peer answers `hello`. */
  tcpPort: number;
  /** The SOA serial of the DNS check's zone. */
  dnsSerial: number;
}

/** The zone serial the unbound fixture writes. */
const SERIAL = 2024051501;

/** Starts the peers, a monitor named `local` and a manager with its API on a free port. */
export async function startFullStack(): Promise<FullStack> {
  const tmp = await tempDir();
  const stack: AsyncDisposable[] = [tmp];
  const dispose = async () => {
    for (const d of stack.reverse()) await d[Symbol.asyncDispose]();
  };
  try {
    const certs = await makeCerts();
    stack.push(certs);
    const nginx = await startNginx({ tls: { main: certs.server } });
    stack.push(nginx);
    const dns = await startUnbound("netmon.test.", ["www IN A 192.0.2.7"]);
    stack.push(dns);
    const ntp = await startChrony({ stratum: 4 });
    stack.push(ntp);
    const tcp = await socatTcp({ banner: "hello\n" });
    stack.push(tcp);
    const udp = await udpPeer({ reply: "pong" });
    stack.push(udp);
    const tcpTls = await socatTcp({ tls: certs.server });
    stack.push(tcpTls);
    const port = freeTcpPort();
    const monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
    stack.push(monitor);
    const h = "127.0.0.1";
    const config = `${tmp.path}/tasks.yaml`;
    // /big is a static file: nginx sends Last-Modified for it
    await Deno.writeTextFile(
      config,
      `monitors:
  - { address: "${h}:${port}", name: local }
alerts: { down_after: 1, up_after: 1 }
targets:
  web:
    HTTP: { url: "http://${h}:${nginx.port}/big", frequency: 1 }
    HTTPS: { url: "https://${h}:${nginx.tlsPorts.main}/", ca_file: "${certs.ca.cert}", frequency: 1 }
    ICMP: { server_address: ${h}, frequency: 1 }
    DNS: { server_address: ${h}, port: ${dns.port}, query_name: netmon.test, query_type: SOA, frequency: 1 }
    NTP: { server_address: ${h}, port: ${ntp.port}, frequency: 1 }
    TCP: { host: ${h}, port: ${tcp.port}, expect: hello, frequency: 1 }
    UDP: { server_address: ${h}, port: ${udp.port}, frequency: 1 }
  tls:
    TCP: { host: ${h}, port: ${tcpTls.port}, tls: true, ca_file: "${certs.ca.cert}", frequency: 1 }
  closed:
    TCP: { host: ${h}, port: ${freeTcpPort()}, frequency: 1 }
`,
    );
    const manager = startManager(config, { db: `${tmp.path}/netmon.db` });
    stack.push(manager);
    const line = await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 60_000);
    return {
      base: line.match(/(http:\/\/\S+)\/$/)![1]!,
      manager,
      tcpPort: tcp.port,
      dnsSerial: SERIAL,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/**
 * Polls `url` until `ready(text)` holds, at most `timeoutMs`; returns the last body.
 *
 * @example
 * ```ts ignore
 * const text = await pollText(`${base}/metrics`, (t) => t.includes("probe_success"));
 * ```
 */
export async function pollText(
  url: string,
  ready: (text: string) => boolean,
  timeoutMs = 60_000,
): Promise<string> {
  const until = performance.now() + timeoutMs;
  let text = "";
  while (performance.now() < until) {
    text = await (await fetch(url)).text();
    if (ready(text)) return text;
    await new Promise((r) => setTimeout(r, 250));
  }
  return text;
}
