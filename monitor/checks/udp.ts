/**
 * The UDP check: a datagram to `server_address:port` through a connected
 * socket (libc over FFI, because Deno's UDP sockets do not report ICMP port
 * unreachable). A reply means `Open`, an ICMP port unreachable (ECONNREFUSED)
 * `Closed`, silence until the timeout `Open|Filtered` — like nmap's UDP scan.
 *
 * `netmon_udp_state` is 1 for Open, 0 for Closed, 2 for Open|Filtered and 3
 * for Unreachable (another ICMP error, e.g. no route to host).
 *
 * @example
 * ```ts ignore
 * import { checkUdp } from "./udp.ts";
 * import { parseUdpParams } from "../../shared/params/udp.ts";
 * const outcome = await checkUdp(parseUdpParams({ port: 53 }, "127.0.0.1"), {
 *   signal: AbortSignal.timeout(2000),
 *   timeoutMs: 2000,
 *   target: "127.0.0.1",
 * });
 * ```
 *
 * @module
 */
import type { CheckFn, CheckOutcome } from "../../shared/checks.ts";
import { parsePayload } from "../../shared/params/common.ts";
import type { UdpParams } from "../../shared/params/udp.ts";
import {
  AF_INET,
  AF_INET6,
  close,
  connect,
  ECONNREFUSED,
  FfiUnavailableError,
  IPPROTO_UDP,
  RecvBuffers,
  recvmsg,
  sendto,
  SOCK_DGRAM,
  sockaddr,
  socket,
  SysError,
  waitReadable,
  Waker,
} from "../net/libc.ts";
import { ResolveError, resolveHost } from "../net/resolve.ts";

type State = "Open" | "Closed" | "Open|Filtered" | "Unreachable";

const STATE_METRIC: Record<State, number> = {
  "Open": 1,
  "Closed": 0,
  "Open|Filtered": 2,
  "Unreachable": 3,
};

/** Sends per run: a port unreachable or a reply can be lost, so the probe is repeated. */
const SENDS = 3;

/** What one exchange with the port found. */
type Exchange =
  | { state: "Open"; reply: Uint8Array; rttMs: number }
  | { state: "Closed" | "Unreachable"; reason: string }
  | { state: "Open|Filtered" };

/**
 * Sends `payload` up to {@linkcode SENDS} times, evenly over `budgetMs`, until
 * a reply or an ICMP error arrives. `waker` interrupts the wait on abort.
 */
async function exchange(
  fd: number,
  payload: Uint8Array,
  budgetMs: number,
  waker: Waker,
  signal: AbortSignal,
): Promise<Exchange> {
  const start = performance.now();
  const bufs = new RecvBuffers();
  const icmpError = (e: SysError): Exchange => ({
    state: e.errno === ECONNREFUSED ? "Closed" : "Unreachable",
    reason: e.reason,
  });
  for (let i = 0; i < SENDS && !signal.aborted; i++) {
    const sentAt = performance.now();
    try {
      sendto(fd, payload, null);
    } catch (e) {
      // an ICMP error to an earlier send surfaces here as well
      if (e instanceof SysError) return icmpError(e);
      throw e;
    }
    const until = start + (budgetMs * (i + 1)) / SENDS;
    while (!signal.aborted) {
      const left = until - performance.now();
      if (left <= 0) break;
      if (await waitReadable(fd, waker, left) !== "readable") continue;
      try {
        const msg = recvmsg(fd, bufs);
        if (msg) {
          return { state: "Open", reply: msg.data.slice(), rttMs: performance.now() - sentAt };
        }
      } catch (e) {
        if (e instanceof SysError) return icmpError(e);
        throw e;
      }
    }
  }
  return { state: "Open|Filtered" };
}

function describe(host: string, port: number, found: Exchange): string {
  switch (found.state) {
    case "Open":
      return `Port ${port} on ${host} answered with ${found.reply.byteLength} bytes.`;
    case "Closed":
      return `Port ${port} on ${host} is closed (ICMP port unreachable).`;
    case "Unreachable":
      return `Port ${port} on ${host} could not be reached (${found.reason}).`;
    case "Open|Filtered":
      return `Port ${port} on ${host} is open or no response received.`;
  }
}

/**
 * Runs one UDP check. Up when the port answers (and the reply matches
 * `expect`, if set) or stays silent (`Open|Filtered`, as the seed did); down
 * when it is closed or unreachable, or when `expect` is set and not matched.
 *
 * @example
 * ```ts ignore
 * import { checkUdp } from "./udp.ts";
 * const o = await checkUdp(
 *   { server_address: "127.0.0.1", port: 9, payload: "", expect: null, ip_protocol: "auto" },
 *   { signal: AbortSignal.timeout(1000), timeoutMs: 1000, target: "127.0.0.1" },
 * );
 * ```
 */
export const checkUdp: CheckFn<UdpParams> = async (params, options) => {
  const start = performance.now();
  const { signal } = options;
  const host = params.server_address;
  const prefix = `UDP Port: ${host} - Port ${params.port}`;
  const elapsed = () => (performance.now() - start) / 1e3;
  const failure = (error: string): CheckOutcome => ({
    up: false,
    summary: `${prefix} - Error, Error: ${error}`,
    latencyMs: null,
    metrics: { probe_success: 0, probe_duration_seconds: elapsed() },
    error,
  });

  let address: string, family: 4 | 6, lookupMs: number;
  try {
    ({ address, family, lookupMs } = await resolveHost(host, params.ip_protocol, signal));
  } catch (e) {
    if (e instanceof ResolveError) return failure(e.message);
    if (signal.aborted) return failure(`timeout after ${options.timeoutMs} ms`);
    throw e;
  }

  let found: Exchange;
  let fd = -1, waker: Waker | undefined;
  const wake = () => waker?.wake();
  try {
    waker = new Waker();
    fd = socket(family === 4 ? AF_INET : AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    connect(fd, sockaddr(address, family, params.port));
    signal.addEventListener("abort", wake, { once: true });
    // a little under the deadline, so the outcome beats the abort
    const budget = options.timeoutMs - Math.min(100, options.timeoutMs * 0.1) -
      (performance.now() - start);
    found = await exchange(fd, parsePayload("payload", params.payload), budget, waker, signal);
  } catch (e) {
    if (e instanceof FfiUnavailableError) return failure(e.message);
    if (e instanceof SysError) found = { state: "Unreachable", reason: e.reason };
    else throw e;
  } finally {
    signal.removeEventListener("abort", wake);
    if (fd >= 0) close(fd);
    waker?.close();
  }

  const metrics: Record<string, number> = {
    probe_success: 0,
    probe_duration_seconds: elapsed(),
    probe_dns_lookup_time_seconds: lookupMs / 1e3,
    probe_ip_protocol: family,
    netmon_udp_state: STATE_METRIC[found.state],
  };
  let error: string | undefined;
  let latencyMs: number | null = null;
  if (found.state === "Open") {
    latencyMs = found.rttMs;
    metrics.netmon_udp_reply_bytes = found.reply.byteLength;
    metrics.netmon_udp_reply_duration_seconds = found.rttMs / 1e3;
    if (params.expect !== null) {
      const text = new TextDecoder().decode(found.reply);
      if (!new RegExp(params.expect).test(text)) {
        error = `reply does not match expect /${params.expect}/`;
      }
    }
  } else if (found.state === "Open|Filtered") {
    if (params.expect !== null) error = `no reply within ${options.timeoutMs} ms to match expect`;
  } else {
    error = found.reason;
  }
  const up = error === undefined;
  metrics.probe_success = up ? 1 : 0;
  return {
    up,
    summary: `${prefix} - ${found.state}, Description: ${describe(host, params.port, found)}` +
      `, Address: ${address}` + (error ? `, Error: ${error}` : ""),
    latencyMs,
    metrics,
    details: { address, state: found.state },
    ...(error ? { error } : {}),
  };
};
