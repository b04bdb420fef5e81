/**
 * Prometheus text exposition of the latest result of every (check, monitor)
 * and of netmon's own health.
 *
 * Check metrics keep blackbox_exporter's names and meanings (each result's
 * `metrics` already uses them), so dashboards and alert rules written for
 * blackbox_exporter work; each sample gains the labels `target`,
 * `check_type` and `monitor` beside its own (such as `phase`), and
 * `instance`: the probe's target as blackbox users relabel it from
 * `__param_target` (the URL, or host:port), so that a scrape with
 * `honor_labels: true` fills blackbox dashboards' `$instance`. netmon's own
 * series (monitors, store) carry no `instance`, so Prometheus gives them the
 * manager's address.
 *
 * @example
 * ```ts
 * import { renderMetrics } from "./metrics.ts";
 * const text = renderMetrics({ latest: [], monitors: [], version: "1.0.0" });
 * console.assert(text.includes("netmon_build_info"));
 * ```
 *
 * @module
 */
import type { CheckResult, CheckSpec } from "../shared/checks.ts";
import { labelText, parseMetricKey } from "../shared/prom.ts";
import type { LinkState } from "./link.ts";
import type { RemoteWriteStats } from "./remote_write.ts";

/** What {@linkcode renderMetrics} exposes. */
export interface MetricsInput {
  /** The newest result of each (check, monitor), with the monitor's name. */
  latest: (CheckResult & { monitorName: string })[];
  monitors: LinkState[];
  version: string;
  /** Size of the result store in bytes, when known. */
  storeBytes?: number;
  /** Whether the result store's disk is full, when known. */
  storeDiskFull?: boolean;
  /** Checks in the configuration, and how many of them are paused. */
  checksConfigured?: number;
  checksPaused?: number;
  /** Open Server-Sent Events streams. */
  sseClients?: number;
  /**
   * Whether a result of `latest` still holds (see `freshness.ts`): a check's
   * series from a monitor that is offline or stale are left out, as
   * blackbox_exporter has no answer for a failed scrape.
   */
  isCurrent?: (r: CheckResult & { monitorName: string }) => boolean;
  /** The configured checks, for each result's `instance` label (see {@linkcode probeInstance}). */
  checks?: CheckSpec[];
  /** Open alert incidents. */
  incidents?: { target: string; type: string; condition: string; openedAt: number }[];
  /** Each `remote_write:` endpoint's counters. */
  remoteWrite?: RemoteWriteStats[];
  /** With several managers (`--cluster`): how many are live, and whether this one leads. */
  cluster?: { managers: number; leader: boolean };
}

/**
 * Help text of every metric a check reports: blackbox_exporter's in its
 * words, netmon's own in ours. A check that adds a metric adds its line here
 * (`metrics_e2e_test.ts` fails on a family without one).
 */
export const HELP: Record<string, string> = {
  probe_success: "Displays whether or not the probe was a success",
  probe_duration_seconds: "Returns how long the probe took to complete in seconds",
  probe_ip_protocol: "Specifies whether probe ip protocol is IP4 or IP6",
  probe_ip_addr_hash:
    "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
  probe_http_status_code: "Response HTTP status code",
  probe_http_duration_seconds: "Duration of http request by phase, summed over all redirects",
  probe_http_content_length: "Length of http content response",
  probe_http_uncompressed_body_length: "Length of uncompressed response body",
  probe_http_redirects: "The number of redirects",
  probe_http_ssl: "Indicates if SSL was used for the final redirect",
  probe_http_version: "Returns the version of HTTP of the probe response",
  probe_http_last_modified_timestamp_seconds:
    "Returns the Last-Modified HTTP response header in unixtime",
  probe_failed_due_to_regex: "Indicates if probe failed due to regex",
  probe_expect_info: "Explicit content matched",
  probe_ssl_earliest_cert_expiry: "Returns last SSL chain expiry in unixtime",
  probe_ssl_last_chain_expiry_timestamp_seconds: "Returns last SSL chain expiry in timestamp",
  probe_ssl_last_chain_info: "Contains SSL leaf certificate information",
  probe_tls_version_info: "Returns the TLS version used or NaN when unknown",
  probe_tls_cipher_info: "Returns the TLS cipher negotiated during handshake",
  probe_icmp_duration_seconds: "Duration of icmp request by phase",
  probe_icmp_reply_hop_limit: "Replied packet hop limit (TTL for ipv4)",
  probe_dns_lookup_time_seconds: "Returns the time taken for probe dns lookup in seconds",
  probe_dns_duration_seconds: "Duration of DNS request by phase",
  probe_dns_answer_rrs: "Returns number of entries in the answer resource record list",
  probe_dns_authority_rrs: "Returns number of entries in the authority resource record list",
  probe_dns_additional_rrs: "Returns number of entries in the additional resource record list",
  probe_dns_query_succeeded: "Displays whether or not the query was executed successfully",
  probe_dns_serial: "Returns the serial number of the zone",
  netmon_ssl_chain_verified:
    "Whether the server's certificate chain verified against the trusted CAs and matched the host name",
  netmon_dns_rcode: "Response code of the DNS answer (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ...)",
  netmon_icmp_packet_loss_ratio: "Share of echo requests of the run that got no reply, from 0 to 1",
  netmon_icmp_requests_sent: "Echo requests sent in the run",
  netmon_icmp_replies_received: "Echo replies received in the run",
  netmon_icmp_rtt_min_seconds: "Shortest round-trip time of the run's echo replies",
  netmon_icmp_rtt_max_seconds: "Longest round-trip time of the run's echo replies",
  netmon_icmp_rtt_stddev_seconds:
    "Standard deviation of the round-trip times of the run's echo replies",
  netmon_ntp_stratum: "Stratum the NTP server reports (1 primary, 16 unsynchronised)",
  netmon_ntp_leap:
    "Leap indicator the NTP server reports (0 none, 1 or 2 leap second, 3 unsynchronised)",
  netmon_ntp_root_delay_seconds: "Round-trip delay from the NTP server to its reference clock",
  netmon_ntp_root_dispersion_seconds:
    "Dispersion the NTP server reports relative to its reference clock",
  netmon_ntp_offset_seconds: "Offset of the NTP server's clock from the monitor's clock",
  netmon_ntp_rtt_seconds:
    "Round-trip delay of the NTP exchange, minus the server's processing time",
  netmon_tcp_connect_seconds: "Time to establish the TCP connection",
  netmon_tls_handshake_seconds: "Time of the TLS handshake after the TCP connection",
  netmon_udp_state: "UDP port state: 1 Open, 0 Closed, 2 Open|Filtered, 3 Unreachable",
  netmon_udp_reply_bytes: "Size of the reply datagram",
  netmon_udp_reply_duration_seconds: "Time from sending the datagram to its reply",
};

/**
 * Reported by checks but not exposed: days is not a base unit (promtool
 * refuses it), and `probe_ssl_earliest_cert_expiry - time()` says the same,
 * always current.
 */
const NOT_EXPOSED = new Set(["netmon_ssl_cert_days_left"]);

/** Renders the whole `/metrics` page (content type {@linkcode METRICS_CONTENT_TYPE}). */
export function renderMetrics(input: MetricsInput): string {
  const families = new Map<string, { help: string; type: string; samples: string[] }>();
  const add = (name: string, labels: string, value: number, help: string, type = "gauge") => {
    let f = families.get(name);
    if (!f) families.set(name, f = { help, type, samples: [] });
    f.samples.push(`${name}${labels ? `{${labels}}` : ""} ${formatValue(value)}`);
  };

  const specs = new Map((input.checks ?? []).map((c) => [c.id, c]));
  for (const r of input.latest) {
    if (input.isCurrent && !input.isCurrent(r)) continue;
    for (const s of resultSamples(r, specs.get(r.checkId))) {
      add(s.name, labelText(s.labels), s.value, s.help);
    }
  }

  for (const s of input.monitors) {
    const l = labelText({ monitor: s.name, address: s.address });
    add(
      "netmon_monitor_up",
      l,
      s.status === "Online" ? 1 : 0,
      "Whether the manager's link to the monitor is connected and authenticated",
    );
    for (const status of ["Online", "Reconnecting", "Offline"]) {
      add(
        "netmon_monitor_status",
        `${l},${labelText({ status })}`,
        s.status === status ? 1 : 0,
        "The link's status, one series per possible status set to 1 for the current one",
      );
    }
    add(
      "netmon_monitor_held_back_results",
      l,
      s.heldBack,
      "Results the monitor holds that the manager has not stored yet",
    );
    add(
      "netmon_monitor_results_received_total",
      l,
      s.received,
      "Results stored from the monitor since the manager started",
      "counter",
    );
    addSpoolMetrics(add, s);
    for (const [reason, n] of Object.entries(s.rejected ?? {})) {
      add(
        "netmon_results_rejected_total",
        labelText({ monitor: s.name, reason }),
        n,
        "Results from the monitor acknowledged but not stored, by reason (see result_guard.ts)",
        "counter",
      );
    }
    if (s.lastSeen !== null) {
      add(
        "netmon_monitor_last_seen_timestamp_seconds",
        l,
        s.lastSeen / 1000,
        "When the last frame from the monitor arrived, in unixtime",
      );
    }
  }
  if (input.storeBytes !== undefined) {
    add("netmon_store_size_bytes", "", input.storeBytes, "Size of the manager's result store");
  }
  if (input.storeDiskFull !== undefined) {
    add(
      "netmon_store_disk_full",
      "",
      input.storeDiskFull ? 1 : 0,
      "Whether the manager's store found its disk full; results then wait at the monitors",
    );
  }
  if (input.checksConfigured !== undefined) {
    add("netmon_checks_configured", "", input.checksConfigured, "Checks in the configuration");
  }
  if (input.checksPaused !== undefined) {
    add("netmon_checks_paused", "", input.checksPaused, "Checks paused through the API");
  }
  if (input.sseClients !== undefined) {
    add("netmon_http_sse_clients", "", input.sseClients, "Open Server-Sent Events streams");
  }
  for (const i of input.incidents ?? []) {
    add(
      "netmon_incident_opened_timestamp_seconds",
      labelText({ target: i.target, check_type: i.type, condition: i.condition }),
      i.openedAt / 1000,
      "When each open alert incident opened, in unixtime; the series ends when it resolves",
    );
  }
  for (const w of input.remoteWrite ?? []) {
    const l = labelText({ url: w.url });
    const counters = [
      ["samples_sent", w.sent, "Samples the remote-write endpoint accepted"],
      ["requests_failed", w.failedRequests, "Remote-write requests that failed, retried or not"],
      [
        "samples_dropped",
        w.dropped,
        "Samples dropped from the full remote-write queue, oldest first",
      ],
      ["samples_rejected", w.rejected, "Samples the endpoint refused with a 4xx, not retried"],
    ] as const;
    for (const [name, value, help] of counters) {
      add(`netmon_remote_write_${name}_total`, l, value, help, "counter");
    }
    add("netmon_remote_write_queue_samples", l, w.queued, "Samples waiting for the endpoint");
  }
  if (input.cluster) {
    add(
      "netmon_cluster_managers",
      "",
      input.cluster.managers,
      "Live managers in the cluster, this one included while its heartbeat holds",
    );
    add(
      "netmon_cluster_leader",
      "",
      input.cluster.leader ? 1 : 0,
      "Whether this manager holds the lease: it evaluates alerts and sends notifications",
    );
  }
  add("netmon_build_info", labelText({ version: input.version }), 1, "netmon's version");

  const out: string[] = [];
  for (const [name, f] of families) {
    out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.samples);
  }
  return out.join("\n") + "\n";
}

/**
 * The monitor's own report of its spool (issue 10): its backlog, what it
 * dropped for space, and whether its disk is full. Labelled by monitor
 * name alone, as the issue names them; absent until the monitor reports.
 */
function addSpoolMetrics(
  add: (name: string, labels: string, value: number, help: string, type?: string) => void,
  s: LinkState,
) {
  if (!s.spool) return;
  const l = labelText({ monitor: s.name });
  add(
    "netmon_monitor_spool_pending",
    l,
    s.spool.pending,
    "Results in the monitor's spool not yet acknowledged by a manager, as the monitor reports",
  );
  add(
    "netmon_monitor_spool_dropped_total",
    l,
    s.spool.dropped,
    "Results the monitor dropped for want of spool space, as the monitor reports",
    "counter",
  );
  add(
    "netmon_monitor_spool_disk_full",
    l,
    s.spool.diskFull ? 1 : 0,
    "Whether the monitor's spool found its disk full, as the monitor reports",
  );
}

/**
 * One sample of a result as `/metrics` names and labels it (and remote-write
 * sends it, see `remote_write.ts`).
 *
 * @example
 * ```ts
 * import type { ResultSample } from "./metrics.ts";
 * const s: ResultSample = { name: "probe_success", labels: { target: "web" }, value: 1, help: "" };
 * ```
 */
export interface ResultSample {
  name: string;
  /** The result's own labels (`target`, `check_type`, `monitor`, `instance`) first, then the metric's. */
  labels: Record<string, string>;
  value: number;
  help: string;
}

/**
 * Every sample of one result, with the names and labels `/metrics` gives
 * them: `probe_success`, the check's metrics (those not exposed left out),
 * `probe_ip_addr_hash` and `netmon_check_last_result_timestamp_seconds`.
 * `spec` is the check's configuration, for the `instance` label.
 *
 * @example
 * ```ts
 * import { resultSamples } from "./metrics.ts";
 * const samples = resultSamples({
 *   seq: 1, taskId: "t", monitorId: "m", monitorName: "eu", checkId: "web/TCP", target: "web",
 *   type: "TCP", startedAt: 0, durationMs: 1, up: true, latencyMs: 1, summary: "", metrics: {},
 * });
 * console.assert(samples[0]!.name === "probe_success" && samples[0]!.labels.monitor === "eu");
 * ```
 */
export function resultSamples(
  r: CheckResult & { monitorName: string },
  spec?: CheckSpec,
): ResultSample[] {
  const own = {
    target: r.target,
    check_type: r.type,
    monitor: r.monitorName,
    ...(spec ? { instance: probeInstance(spec) } : {}),
  };
  const metrics: Record<string, number> = { probe_success: r.up ? 1 : 0, ...r.metrics };
  const ip = resolvedAddress(r);
  if (ip !== null) metrics.probe_ip_addr_hash = ipHash(ip);
  const out: ResultSample[] = [];
  for (const [key, value] of Object.entries(metrics)) {
    const k = parseMetricKey(key);
    if (!k || NOT_EXPOSED.has(k.name)) continue;
    out.push({
      name: k.name,
      labels: { ...own, ...k.labels },
      value,
      help: HELP[k.name] ?? `${k.name} as the ${r.type} check reports it`,
    });
  }
  out.push({
    name: "netmon_check_last_result_timestamp_seconds",
    labels: own,
    value: r.startedAt / 1000,
    help: "When the newest stored result of the check on the monitor started, in unixtime",
  });
  return out;
}

/** The content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * The probe's target as blackbox_exporter users pass it in `target=`: the
 * URL (without a password) for HTTP and HTTPS, the address for ICMP,
 * host:port for the others; the DNS check on the system resolver has none
 * and gets its target's name.
 *
 * @example
 * ```ts
 * import { probeInstance } from "./metrics.ts";
 * import { parseTcpParams } from "../shared/params/tcp.ts";
 * const spec = { id: "w/TCP", target: "w", type: "TCP" as const, intervalMs: 1000, timeoutMs: 800,
 *   params: parseTcpParams({ host: "::1", port: 22 }, "w") };
 * console.assert(probeInstance(spec) === "[::1]:22");
 * ```
 */
export function probeInstance(spec: CheckSpec): string {
  const hostPort = (host: string, port: number) =>
    `${host.includes(":") ? `[${host}]` : host}:${port}`;
  switch (spec.type) {
    case "HTTP":
    case "HTTPS": {
      try {
        const url = new URL(spec.params.url);
        url.username = "";
        url.password = "";
        return url.href;
      } catch {
        return spec.params.url;
      }
    }
    case "ICMP":
      return spec.params.server_address;
    case "TCP":
      return hostPort(spec.params.host, spec.params.port);
    case "DNS":
      return spec.params.server_address == null
        ? spec.target
        : hostPort(spec.params.server_address, spec.params.port);
    case "NTP":
    case "UDP":
      return hostPort(spec.params.server_address, spec.params.port);
  }
}

/** The address the check talked to, from the name each check gives it in its details. */
function resolvedAddress(r: CheckResult): string | null {
  for (const key of ["resolved_address", "address", "server_ip"]) {
    const v = r.details?.[key];
    if (typeof v === "string" && v !== "") return v;
  }
  return null;
}

/**
 * blackbox_exporter's `probe_ip_addr_hash`: FNV-1a (32 bit) over the
 * address's 4 or 16 bytes, so the same address gives the same number in both.
 *
 * @example
 * ```ts
 * import { ipHash } from "./metrics.ts";
 * console.assert(ipHash("127.0.0.1") === ipHash("127.0.0.1") && ipHash("127.0.0.1") !== ipHash("::1"));
 * ```
 */
export function ipHash(address: string): number {
  let h = 0x811c9dc5;
  for (const b of ipBytes(address)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

function ipBytes(address: string): number[] {
  const v4 = address.match(/^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i);
  if (v4) return v4.slice(1).map(Number);
  const [head = "", tail] = address.replace(/%.*$/, "").split("::");
  const words = (s: string) => s ? s.split(":").map((w) => parseInt(w, 16) || 0) : [];
  const left = words(head), right = words(tail ?? "");
  const all = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill(0), ...right];
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
