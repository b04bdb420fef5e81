/**
 * The ICMP check: `count` echo requests through the shared per-family socket
 * of `../net/icmp_socket.ts`, reporting RTT min/avg/max/stddev and loss like
 * fping.
 *
 * @example
 * ```ts ignore
 * import { checkIcmp } from "./icmp.ts";
 * import { parseIcmpParams } from "../../shared/params/icmp.ts";
 * const outcome = await checkIcmp(parseIcmpParams({}, "127.0.0.1"), {
 *   signal: AbortSignal.timeout(2000),
 *   timeoutMs: 2000,
 *   target: "127.0.0.1",
 * });
 * console.log(outcome.summary); // Ping: 127.0.0.1 - 0.03 ms, Loss: 0%, ...
 * ```
 *
 * @module
 */
import type { CheckFn, CheckOutcome } from "../../shared/checks.ts";
import type { IcmpParams } from "../../shared/params/icmp.ts";
import { type Echo, type EchoReply, IcmpPermissionError, icmpSocket } from "../net/icmp_socket.ts";
import { FfiUnavailableError, SysError } from "../net/libc.ts";
import { ResolveError, resolveHost } from "../net/resolve.ts";

interface Stats {
  min: number;
  avg: number;
  max: number;
  stddev: number;
  median: number;
}

function stats(rtts: number[]): Stats | null {
  if (rtts.length === 0) return null;
  const sorted = rtts.toSorted((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  const variance = rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / rtts.length;
  return { min: sorted[0]!, avg, max: sorted.at(-1)!, stddev: Math.sqrt(variance), median };
}

/** Time to wait for replies: a little under the run's deadline, so the outcome beats the abort. */
function waitBudgetMs(timeoutMs: number): number {
  return timeoutMs - Math.min(100, timeoutMs * 0.1);
}

function failure(host: string, error: string, start: number): CheckOutcome {
  return {
    up: false,
    summary: `Ping: ${host} - timeout, Loss: 100%, Error: ${error}`,
    latencyMs: null,
    metrics: { probe_success: 0, probe_duration_seconds: (performance.now() - start) / 1e3 },
    error,
  };
}

/**
 * Runs one ICMP check. Down when every request is lost (or more than
 * `max_loss_percent`), when the name does not resolve, or when this process
 * may not send ICMP (the error says which command allows it).
 *
 * @example
 * ```ts ignore
 * import { checkIcmp } from "./icmp.ts";
 * const o = await checkIcmp(
 *   { server_address: "::1", count: 3, interval_ms: 200, payload_size: 56, ttl: 64,
 *     max_loss_percent: 100, ip_protocol: "auto" },
 *   { signal: AbortSignal.timeout(2000), timeoutMs: 2000, target: "localhost" },
 * );
 * ```
 */
export const checkIcmp: CheckFn<IcmpParams> = async (params, options) => {
  const start = performance.now();
  const host = params.server_address;
  const { signal } = options;
  const budget = waitBudgetMs(options.timeoutMs);

  let address: string, family: 4 | 6, lookupMs: number;
  try {
    ({ address, family, lookupMs } = await resolveHost(host, params.ip_protocol, signal));
  } catch (e) {
    if (e instanceof ResolveError) return failure(host, e.message, start);
    if (signal.aborted) return failure(host, `timeout after ${options.timeoutMs} ms`, start);
    throw e;
  }
  const setupStart = performance.now();
  let sock;
  try {
    sock = icmpSocket(family);
  } catch (e) {
    if (e instanceof IcmpPermissionError || e instanceof FfiUnavailableError) {
      return failure(host, e.message, start);
    }
    throw e;
  }
  const setupMs = performance.now() - setupStart;

  // the last request must leave time for its reply
  const interval = params.count > 1
    ? Math.min(params.interval_ms, Math.floor(budget / 2 / (params.count - 1)))
    : 0;
  let isStopped = false;
  const { promise: stopped, resolve } = Promise.withResolvers<void>();
  const stop = () => {
    isStopped = true;
    resolve();
  };
  const deadline = setTimeout(stop, Math.max(0, budget - (performance.now() - start)));
  signal.addEventListener("abort", stop, { once: true });
  if (signal.aborted) stop();

  const echoes: Echo[] = [];
  const replies: EchoReply[] = [];
  let sendError: string | undefined;
  let sent = 0;
  for (let i = 0; i < params.count && !isStopped; i++) {
    if (i > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([stopped, new Promise((r) => timer = setTimeout(r, interval))]);
      clearTimeout(timer);
      if (isStopped) break;
    }
    try {
      const echo = sock.echo(address, { ttl: params.ttl, payloadSize: params.payload_size });
      sent++;
      echo.reply.then((r) => r && replies.push(r));
      echoes.push(echo);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      sent++; // a request the kernel refused is lost like any other
      sendError = `cannot send echo request: ${e.reason}`;
    }
  }
  await Promise.race([stopped, Promise.all(echoes.map((e) => e.reply))]);
  clearTimeout(deadline);
  signal.removeEventListener("abort", stop);
  for (const echo of echoes) echo.cancel();
  await Promise.all(echoes.map((e) => e.reply)); // settles the `.then` above
  await sock.idle();

  const s = stats(replies.map((r) => r.rttMs));
  const loss = sent === 0 ? 1 : 1 - replies.length / sent;
  const lossPercent = Math.round(loss * 100);
  const hopLimit = replies.find((r) => r.hopLimit !== null)?.hopLimit ?? null;
  const metrics: Record<string, number> = {
    probe_success: 0,
    probe_duration_seconds: (performance.now() - start) / 1e3,
    probe_dns_lookup_time_seconds: lookupMs / 1e3,
    probe_ip_protocol: family,
    netmon_icmp_packet_loss_ratio: loss,
    netmon_icmp_requests_sent: sent,
    netmon_icmp_replies_received: replies.length,
    'probe_icmp_duration_seconds{phase="resolve"}': lookupMs / 1e3,
    'probe_icmp_duration_seconds{phase="setup"}': setupMs / 1e3,
  };
  if (s) {
    metrics['probe_icmp_duration_seconds{phase="rtt"}'] = s.avg / 1e3;
    metrics.netmon_icmp_rtt_min_seconds = s.min / 1e3;
    metrics.netmon_icmp_rtt_max_seconds = s.max / 1e3;
    metrics.netmon_icmp_rtt_stddev_seconds = s.stddev / 1e3;
  }
  if (hopLimit !== null) metrics.probe_icmp_reply_hop_limit = hopLimit;

  let error: string | undefined;
  if (!s) {
    error = sendError ??
      `no reply to ${sent} echo request${sent === 1 ? "" : "s"} within ${options.timeoutMs} ms`;
  } else if (loss * 100 > params.max_loss_percent) {
    error = `packet loss ${lossPercent}% is above max_loss_percent ${params.max_loss_percent}%`;
  }
  const up = error === undefined;
  metrics.probe_success = up ? 1 : 0;
  const f = (ms: number) => ms.toFixed(2);
  const summary = (s ? `Ping: ${host} - ${f(s.avg)} ms` : `Ping: ${host} - timeout`) +
    `, Loss: ${lossPercent}%` +
    (s ? `, Min/Avg/Max/Stddev: ${f(s.min)}/${f(s.avg)}/${f(s.max)}/${f(s.stddev)} ms` : "") +
    `, Replies: ${replies.length}/${sent}, Address: ${address}` +
    (error ? `, Error: ${error}` : "");
  return {
    up,
    summary,
    latencyMs: s ? s.avg : null,
    metrics,
    details: {
      address,
      socket: sock.kind,
      replies: replies.length,
      requests: sent,
      loss_percent: loss * 100,
      rtt_min_ms: s?.min ?? null,
      rtt_avg_ms: s?.avg ?? null,
      rtt_max_ms: s?.max ?? null,
      rtt_stddev_ms: s?.stddev ?? null,
      rtt_median_ms: s?.median ?? null,
      reply_hop_limit: hopLimit,
      interval_ms: interval,
    },
    ...(error ? { error } : {}),
  };
};
