/**
 * Free loopback ports for tests: one helper for TCP, one for UDP, and one for
 * a port free for both on one or more addresses (a server that listens on
 * TCP and UDP, or on 127.0.0.1 and ::1 at once).
 *
 * UDP goes through node:dgram, because `Deno.listenDatagram` needs
 * `--unstable-net`, which a plain `deno test -A` lacks.
 *
 * @example
 * ```ts
 * import { freeTcpPort } from "./ports.ts";
 * const port = freeTcpPort();
 * console.assert(port > 0);
 * ```
 *
 * @module
 */
import dgram from "node:dgram";

/**
 * Ports this process has handed out. The kernel can give the same ephemeral
 * port to two binds in a row once the first is closed, and a fixture that
 * asks for several ports before it starts its server (nginx with a plain and
 * two TLS servers) would then get one port twice.
 */
const handedOut = new Set<number>();

/** Records `port` as handed out, or returns false when it already was. */
function claim(port: number): boolean {
  if (handedOut.has(port)) return false;
  handedOut.add(port);
  return true;
}

/**
 * A TCP port on `hostname` that was free a moment ago.
 *
 * @example
 * ```ts
 * import { freeTcpPort } from "./ports.ts";
 * console.assert(freeTcpPort("127.0.0.1") > 0);
 * ```
 */
export function freeTcpPort(hostname = "127.0.0.1"): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = anyTcpPort(hostname);
    if (claim(port)) return port;
  }
  throw new Error(`No TCP port on ${hostname} that this process has not handed out already`);
}

function anyTcpPort(hostname: string): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Binds a UDP socket to `hostname:port` (0: any port) and returns the port it got, or null. */
function bindUdp(hostname: string, port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(hostname.includes(":") ? "udp6" : "udp4");
    socket.once("error", () => {
      socket.close();
      resolve(null);
    });
    socket.bind(port, hostname, () => {
      const got = socket.address().port;
      socket.close(() => resolve(got));
    });
  });
}

/**
 * A UDP port on `hostname` that was free a moment ago.
 *
 * @example
 * ```ts
 * import { freeUdpPort } from "./ports.ts";
 * console.assert(await freeUdpPort("127.0.0.1") > 0);
 * ```
 */
export async function freeUdpPort(hostname = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindUdp(hostname, 0);
    if (port === null) throw new Error(`Cannot bind a UDP socket on ${hostname}`);
    if (claim(port)) return port;
  }
  throw new Error(`No UDP port on ${hostname} that this process has not handed out already`);
}

function tcpFree(hostname: string, port: number): boolean {
  try {
    Deno.listen({ hostname, port }).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * A port that was free a moment ago for TCP on every one of `hosts`, and
 * for UDP too unless `udp` is false: for a server that listens on several
 * addresses (`["127.0.0.1", "::1"]`) or speaks both TCP and UDP (DNS, NTP).
 *
 * @example
 * ```ts
 * import { freeDualPort } from "./ports.ts";
 * const port = await freeDualPort(["127.0.0.1", "::1"], { udp: false });
 * console.assert(port > 0);
 * ```
 */
export async function freeDualPort(
  hosts: string | string[] = "127.0.0.1",
  options: { udp?: boolean } = {},
): Promise<number> {
  const all = typeof hosts === "string" ? [hosts] : hosts;
  const udp = options.udp ?? true;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = anyTcpPort(all[0]!);
    if (handedOut.has(port)) continue;
    let free = all.slice(1).every((h) => tcpFree(h, port));
    for (const h of all) {
      if (free && udp) free = await bindUdp(h, port) !== null;
    }
    if (free && claim(port)) return port;
  }
  throw new Error(
    `No port free for TCP${udp ? " and UDP" : ""} on ${all.join(" and ")} after 50 attempts`,
  );
}

/**
 * Waits until a TCP connect to `hostname:port` succeeds, up to `timeoutMs`.
 *
 * @example
 * ```ts ignore
 * import { waitForTcp } from "./ports.ts";
 * await waitForTcp(8080);
 * ```
 */
export async function waitForTcp(port: number, hostname = "127.0.0.1", timeoutMs = 10_000) {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  while (performance.now() < deadline) {
    try {
      const c = await Deno.connect({ hostname, port });
      c.close();
      return;
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`Nothing listens on ${hostname}:${port} after ${timeoutMs} ms: ${lastError}`);
}

/**
 * Polls `url` with GET until it answers 2xx, up to `timeoutMs`; false when it
 * never did (the caller says why, with what the server printed).
 *
 * @example
 * ```ts ignore
 * import { waitForHttpOk } from "./ports.ts";
 * if (!await waitForHttpOk("http://127.0.0.1:9090/-/ready")) throw new Error("not ready");
 * ```
 */
export async function waitForHttpOk(url: string, timeoutMs = 30_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const ok = await fetch(url).then((r) => {
      r.body?.cancel();
      return r.ok;
    }, () => false);
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
