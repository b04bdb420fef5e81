/**
 * The NTP check: one SNTP v4 exchange over UDP (RFC 4330). Up when the server
 * answers our request, is synchronised (stratum 1–15, no alarm, no
 * kiss-of-death) and its clock is within `max_offset_ms` of ours.
 *
 * @example
 * ```ts ignore
 * import { checkNtp } from "./ntp.ts";
 * import { parseNtpParams } from "../../shared/params/ntp.ts";
 * const params = parseNtpParams({ server_address: "127.0.0.1" }, "x");
 * const out = await checkNtp(params, { signal: AbortSignal.timeout(2000), timeoutMs: 2000, target: "x" });
 * console.log(out.summary); // NTP: Server 127.0.0.1 - is up, Time: Wed May 15 11:26:19 2024, ...
 * ```
 *
 * @module
 */
import type { CheckFn, CheckOutcome, DetailValue } from "../../shared/checks.ts";
import type { NtpParams } from "../../shared/params/ntp.ts";
import {
  decodePacket,
  formatReferenceId,
  makeRequest,
  measure,
  ntpToUnixMs,
  SntpError,
  type SntpPacket,
  validateReply,
} from "../../shared/sntp.ts";
import { wallNowMs } from "../net/clock.ts";
import { ResolveError, resolveHost } from "../net/resolve.ts";
import { udpRequest, UdpRequestError, type UdpServer } from "../net/udp_request.ts";

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * A time in the local time zone as Python's `time.ctime()` prints it, the
 * seed's format: `Wed May 15 11:26:19 2024`, the day padded with a space.
 *
 * @example
 * ```ts
 * import { ctime } from "./ntp.ts";
 * console.assert(/^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/.test(ctime(new Date())));
 * ```
 */
export function ctime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${
    String(date.getDate()).padStart(2)
  } ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ` +
    `${date.getFullYear()}`;
}

/** A reply datagram and the monotonic time it arrived. */
interface Received {
  bytes: Uint8Array;
  monoMs: number;
}

function signedMs(ms: number): string {
  return `${ms < 0 ? "-" : "+"}${Math.abs(ms).toFixed(3)} ms`;
}

function packetMetrics(p: SntpPacket): Record<string, number> {
  return {
    netmon_ntp_stratum: p.stratum,
    netmon_ntp_leap: p.leap,
    netmon_ntp_root_delay_seconds: p.rootDelay,
    netmon_ntp_root_dispersion_seconds: p.rootDispersion,
  };
}

function packetDetails(p: SntpPacket): Record<string, DetailValue> {
  return {
    stratum: p.stratum,
    reference_id: formatReferenceId(p.stratum, p.referenceId),
    leap: p.leap,
    version: p.version,
    precision: p.precision,
    root_delay_ms: p.rootDelay * 1000,
    root_dispersion_ms: p.rootDispersion * 1000,
  };
}

/**
 * Runs one NTP check.
 *
 * @example
 * ```ts ignore
 * import { checkNtp } from "./ntp.ts";
 * import { parseNtpParams } from "../../shared/params/ntp.ts";
 * const params = parseNtpParams({ server_address: "127.0.0.1", port: 11123 }, "x");
 * const out = await checkNtp(params, { signal: AbortSignal.timeout(1000), timeoutMs: 1000, target: "x" });
 * console.log(out.up, out.metrics.netmon_ntp_offset_seconds);
 * ```
 */
export const checkNtp: CheckFn<NtpParams> = async (params, options) => {
  const start = performance.now();
  const { signal, timeoutMs } = options;
  const name = params.server_address;
  const metrics: Record<string, number> = {};
  const details: Record<string, DetailValue> = { server: name, port: params.port };
  const fail = (reason: string, extra: Record<string, DetailValue> = {}): CheckOutcome => ({
    up: false,
    summary: `NTP: Server ${name} - is down, Error: ${reason}`,
    latencyMs: null,
    metrics: {
      ...metrics,
      probe_success: 0,
      probe_duration_seconds: (performance.now() - start) / 1000,
    },
    details: { ...details, ...extra },
    error: reason,
  });

  let server: UdpServer;
  try {
    const resolved = await resolveHost(name, params.ip_protocol, signal);
    server = { address: resolved.address, family: resolved.family, port: params.port };
    metrics.probe_ip_protocol = resolved.family;
    details.server_ip = resolved.address;
  } catch (e) {
    if (signal.aborted) return fail(`timeout after ${timeoutMs} ms`);
    if (e instanceof ResolveError) return fail(e.message);
    throw e;
  }

  let sentMono = 0;
  let request!: ReturnType<typeof makeRequest>;
  let received: Received;
  try {
    received = await udpRequest(
      server,
      () => {
        const t1 = wallNowMs();
        sentMono = performance.now();
        request = makeRequest(t1);
        return request.bytes;
      },
      (bytes, monoMs) => ({ bytes: bytes.slice(), monoMs }),
      signal,
    );
  } catch (e) {
    if (signal.aborted) return fail(`timeout after ${timeoutMs} ms`);
    if (e instanceof UdpRequestError) return fail(e.message);
    throw e;
  }

  let reply: SntpPacket;
  try {
    reply = decodePacket(received.bytes);
    Object.assign(metrics, packetMetrics(reply));
    Object.assign(details, packetDetails(reply));
    validateReply(reply, request.transmit);
  } catch (e) {
    if (e instanceof SntpError) {
      return fail(e.message, e.kissCode ? { kiss_code: e.kissCode } : {});
    }
    throw e;
  }

  // t4 is t1 plus the monotonic round trip rather than a second wall reading:
  // another check may recalibrate the shared anchor while this one waits
  const { offsetMs, delayMs } = measure(request.transmit, reply, received.monoMs - sentMono);
  const serverTime = new Date(ntpToUnixMs(reply.transmitTime));
  metrics.netmon_ntp_offset_seconds = offsetMs / 1000;
  metrics.netmon_ntp_rtt_seconds = delayMs / 1000;
  Object.assign(details, {
    offset_ms: offsetMs,
    delay_ms: delayMs,
    server_time: serverTime.toISOString(),
  });
  if (Math.abs(offsetMs) > params.max_offset_ms) {
    return fail(
      `clock offset ${signedMs(offsetMs)} exceeds max_offset_ms ${params.max_offset_ms}`,
    );
  }
  return {
    up: true,
    summary: `NTP: Server ${name} - is up, Time: ${ctime(serverTime)}, ` +
      `Offset: ${signedMs(offsetMs)}, Delay: ${delayMs.toFixed(3)} ms, ` +
      `Stratum: ${reply.stratum}, Ref ID: ${details.reference_id}, Leap: ${reply.leap}`,
    latencyMs: delayMs,
    metrics: {
      ...metrics,
      probe_success: 1,
      probe_duration_seconds: (performance.now() - start) / 1000,
    },
    details,
  };
};
