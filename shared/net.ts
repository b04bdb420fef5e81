/**
 * Small facts about addresses, shared by the monitor and the manager.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./net.ts";
 * console.assert(isLoopback("127.0.0.1") && !isLoopback("10.0.0.1"));
 * ```
 *
 * @module
 */

/**
 * Whether `host` is a loopback address or name: `localhost`, `::1` or an
 * address in 127.0.0.0/8 (a name that merely starts with `127.` is not).
 *
 * @example
 * ```ts
 * import { isLoopback } from "./net.ts";
 * console.assert(isLoopback("::1") && !isLoopback("127.example.com"));
 * ```
 */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Connects whose caller gave up, still pending: each closes its connection when it completes. */
const orphans = new Map<Promise<unknown>, AbortController>();

/** How long an abandoned connect may stay pending before Deno is asked to cancel it. */
const ORPHAN_CANCEL_MS = 10_000;

/**
 * `Deno.connect`, given up when `signal` aborts, without a leak in Deno
 * 2.9.6: a connect handed the signal itself and completing as it aborts
 * loses its socket (7 of 3,000 connects aborted at once, measured; the test
 * sanitizer's "A TCP connection was opened … but not closed"), an fd that
 * nothing can close. Here the abort rejects at once and the connection is
 * closed when it completes; only a connect still pending
 * {@linkcode ORPHAN_CANCEL_MS} later (a silent host) is cancelled by Deno.
 *
 * @example
 * ```ts ignore
 * import { connectTcp } from "./net.ts";
 * const conn = await connectTcp({ hostname: "127.0.0.1", port: 80 }, AbortSignal.timeout(5000));
 * conn.close();
 * ```
 */
export function connectTcp(opts: Deno.ConnectOptions, signal: AbortSignal): Promise<Deno.TcpConn> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const cancel = new AbortController();
  const pending = Deno.connect({ ...opts, signal: cancel.signal });
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      const timer = setTimeout(() => cancel.abort(), ORPHAN_CANCEL_MS);
      const settled = pending.then((c) => c.close(), () => {}).finally(() => {
        clearTimeout(timer);
        orphans.delete(settled);
      });
      orphans.set(settled, cancel);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    pending.then((conn) => {
      signal.removeEventListener("abort", onAbort);
      resolve(conn);
    }, (e) => {
      signal.removeEventListener("abort", onAbort);
      reject(e);
    });
  });
}

/**
 * Waits up to `graceMs` for the connects {@linkcode connectTcp} gave up on
 * to complete (and close), then cancels the rest and waits for them: for a
 * process or test that stops and must leave no socket behind.
 */
export async function settleAbandonedConnects(graceMs = 1000): Promise<void> {
  if (orphans.size === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(orphans.keys()),
    new Promise((r) => timer = setTimeout(r, graceMs)),
  ]);
  clearTimeout(timer);
  for (const cancel of orphans.values()) cancel.abort();
  await Promise.all(orphans.keys());
}
