/**
 * Prometheus text exposition of the latest result of every (check, monitor)
 * and of netmon's own health.
 *
 * Check metrics keep blackbox_exporter's names and meanings (each result's
 * `metrics` already uses them), so dashboards and alert rules written for
 * blackbox_exporter work; each sample gains the labels `target`,
 * `check_type` and `monitor` beside its own (such as `phase`).
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
import type { CheckResult } from "../shared/checks.ts";
import type { LinkState } from "./link.ts";

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
}

/** Help text of the metrics blackbox_exporter defines, in its words. */
const HELP: Record<string, string> = {
  probe_success: "Displays whether or not the probe was a success",
  probe_duration_seconds: "Returns how long the probe took to complete in seconds",
  probe_ip_protocol: "Specifies whether probe ip protocol is IP4 or IP6",
  probe_http_status_code: "Response HTTP status code",
  probe_http_duration_seconds: "Duration of http request by phase, summed over all redirects",
  probe_http_content_length: "Length of http content response",
  probe_http_uncompressed_body_length: "Length of uncompressed response body",
  probe_http_redirects: "The number of redirects",
  probe_http_ssl: "Indicates if SSL was used for the final redirect",
  probe_http_version: "Returns the version of HTTP of the probe response",
  probe_failed_due_to_regex: "Indicates if probe failed due to regex",
  probe_ssl_earliest_cert_expiry: "Returns last SSL chain expiry in unixtime",
  probe_tls_version_info: "Returns the TLS version used or NaN when unknown",
  probe_icmp_duration_seconds: "Duration of icmp request by phase",
  probe_icmp_reply_hop_limit: "Replied packet hop limit (TTL for ipv4)",
  probe_dns_lookup_time_seconds: "Returns the time taken for probe dns lookup in seconds",
  probe_dns_duration_seconds: "Duration of DNS request by phase",
  probe_dns_answer_rrs: "Returns number of entries in the answer resource record list",
  probe_dns_authority_rrs: "Returns number of entries in the authority resource record list",
  probe_dns_additional_rrs: "Returns number of entries in the additional resource record list",
};

/** Renders the whole `/metrics` page (content type {@linkcode METRICS_CONTENT_TYPE}). */
export function renderMetrics(input: MetricsInput): string {
  const families = new Map<string, { help: string; type: string; samples: string[] }>();
  const add = (name: string, labels: string, value: number, help: string, type = "gauge") => {
    let f = families.get(name);
    if (!f) families.set(name, f = { help, type, samples: [] });
    f.samples.push(`${name}${labels ? `{${labels}}` : ""} ${formatValue(value)}`);
  };

  for (const r of input.latest) {
    const own = labelText({ target: r.target, check_type: r.type, monitor: r.monitorName });
    const metrics = { probe_success: r.up ? 1 : 0, ...r.metrics };
    for (const [key, value] of Object.entries(metrics)) {
      const m = key.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/);
      if (!m) continue;
      const name = m[1]!;
      add(
        name,
        m[2] ? `${own},${m[2]}` : own,
        value,
        HELP[name] ?? `netmon check metric ${name}`,
      );
    }
    add(
      "netmon_check_last_result_timestamp_seconds",
      own,
      r.startedAt / 1000,
      "When the newest stored result of the check on the monitor started, in unixtime",
    );
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

/** The content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) =>
      `${k}="${v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"')}"`
    )
    .join(",");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
