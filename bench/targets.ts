/**
 * The system benchmark's TCP targets: one listener per target, each on its
 * own loopback address (127.1.0.0 onwards, all on one port), in a process of
 * its own so that its work is counted for neither system. Distinct addresses
 * keep every target a distinct socket and spread TIME_WAIT over many
 * address pairs. Prints `{"port":P,"count":N}` once all listen; a connection
 * is accepted and closed at once, as a port scanner's target would.
 *
 * ```sh
 * ./netmon --deno run -A bench/targets.ts 2000
 * ```
 *
 * @module
 */

/**
 * The loopback address of target `i` (0-based): 127.1.0.1, 127.1.0.2, …,
 * skipping the .0 and .255 of each /24.
 *
 * @example
 * ```ts
 * import { targetHost } from "./targets.ts";
 * console.assert(targetHost(0) === "127.1.0.1");
 * ```
 */
export function targetHost(i: number): string {
  const n = Math.floor(i / 254), host = (i % 254) + 1;
  return `127.${1 + (n >> 8)}.${n & 255}.${host}`;
}

/** Listens on `targetHost(0..count-1)` at one port that is free on all of them. */
function listenAll(count: number): { port: number; listeners: Deno.TcpListener[] } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = Deno.listen({ hostname: targetHost(0), port: 0 });
    const port = first.addr.port;
    const listeners = [first];
    try {
      for (let i = 1; i < count; i++) {
        listeners.push(Deno.listen({ hostname: targetHost(i), port }));
      }
      return { port, listeners };
    } catch (e) {
      for (const l of listeners) l.close();
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  throw new Error(`no port was free on all of ${count} loopback addresses in 20 attempts`);
}

async function serve(listener: Deno.TcpListener) {
  for await (const conn of listener) conn.close();
}

if (import.meta.main) {
  const count = Number(Deno.args[0] ?? "2000");
  const { port, listeners } = listenAll(count);
  console.log(JSON.stringify({ port, count }));
  await Promise.all(listeners.map(serve));
}
