/**
 * Free loopback ports for tests.
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

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freeTcpPort(hostname = "127.0.0.1"): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A UDP port on 127.0.0.1 that was free a moment ago. */
export function freeUdpPort(hostname = "127.0.0.1"): number {
  const l = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Waits until a TCP connect to `hostname:port` succeeds, up to `timeoutMs`. */
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
