import assert from "node:assert/strict";
import type { CheckResult, CheckType } from "../shared/checks.ts";
import { checkSpec } from "../shared/params/mod.ts";
import { ipHash, probeInstance, renderMetrics } from "./metrics.ts";

const base: CheckResult & { monitorName: string } = {
  seq: 1,
  taskId: "t",
  monitorId: "m",
  monitorName: 'eu "west"',
  checkId: "web/HTTP",
  target: "web",
  type: "HTTP",
  startedAt: 1_700_000_000_000,
  durationMs: 12,
  up: true,
  latencyMs: 12,
  summary: "x",
  metrics: {
    probe_success: 1,
    probe_http_status_code: 200,
    'probe_http_duration_seconds{phase="connect"}': 0.001,
    'probe_http_duration_seconds{phase="transfer"}': 0.002,
  },
};

Deno.test("check metrics keep their names and gain target, check_type and monitor labels", () => {
  const text = renderMetrics({ latest: [base], monitors: [], version: "1.2.3" });
  const labels = 'target="web",check_type="HTTP",monitor="eu \\"west\\""';
  assert.match(text, new RegExp(`^probe_http_status_code\\{${escape(labels)}\\} 200$`, "m"));
  assert.match(
    text,
    new RegExp(`^probe_http_duration_seconds\\{${escape(labels)},phase="connect"\\} 0.001$`, "m"),
  );
  // one HELP and TYPE per family, with all of its samples right after it
  assert.equal(text.match(/^# TYPE probe_http_duration_seconds gauge$/gm)?.length, 1);
  const lines = text.split("\n");
  const at = lines.indexOf("# TYPE probe_http_duration_seconds gauge");
  assert.match(lines[at + 1]!, /phase="connect"/);
  assert.match(lines[at + 2]!, /phase="transfer"/);
  assert.match(text, /^netmon_build_info\{version="1.2.3"\} 1$/m);
});

Deno.test("probe_success follows up when a check did not report it, and monitors report health", () => {
  const text = renderMetrics({
    latest: [{ ...base, up: false, metrics: {} }],
    monitors: [{
      name: "m1",
      address: "127.0.0.1:1",
      direction: "dialed",
      remoteAddress: "127.0.0.1:1",
      status: "Reconnecting",
      monitorId: null,
      reportedName: null,
      lastError: "refused",
      since: 0,
      lastSeen: null,
      heldBack: 3,
      received: 7,
      spool: null,
    }],
    version: "1",
  });
  assert.match(text, /^probe_success\{[^}]*\} 0$/m);
  assert.match(text, /^netmon_monitor_up\{monitor="m1",address="127.0.0.1:1"\} 0$/m);
  assert.match(text, /^netmon_monitor_status\{[^}]*status="Reconnecting"\} 1$/m);
  assert.match(text, /^# TYPE netmon_monitor_results_received_total counter$/m);
  assert.match(text, /^netmon_monitor_held_back_results\{[^}]*\} 3$/m);
});

Deno.test("series whose result is not current (monitor offline or stale) are left out", () => {
  const other = { ...base, monitorName: "b", monitorId: "mb" };
  const text = renderMetrics({
    latest: [base, other],
    monitors: [],
    version: "1",
    isCurrent: (r) => r.monitorName === "b",
  });
  assert.doesNotMatch(text, /monitor="eu/);
  assert.match(text, /^probe_success\{target="web",check_type="HTTP",monitor="b"\} 1$/m);
  assert.match(text, /^netmon_check_last_result_timestamp_seconds\{[^}]*monitor="b"\} /m);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("instance is the probe's target; ip hash is blackbox's FNV-1a over the address bytes", () => {
  const spec = (type: CheckType, raw: Record<string, unknown>) =>
    checkSpec(type, raw, { target: "t", intervalMs: 1000, timeoutMs: 800 });
  assert.equal(probeInstance(spec("HTTP", { url: "http://u:pw@h:8/x?q" })), "http://h:8/x?q");
  assert.equal(probeInstance(spec("ICMP", { server_address: "10.0.0.1" })), "10.0.0.1");
  assert.equal(probeInstance(spec("TCP", { host: "::1", port: 22 })), "[::1]:22");
  assert.equal(probeInstance(spec("DNS", {})), "t");
  assert.equal(probeInstance(spec("UDP", { server_address: "h", port: 53 })), "h:53");
  const text = renderMetrics({
    latest: [{ ...base, details: { resolved_address: "::1" } }],
    monitors: [],
    version: "1",
    checks: [spec("HTTP", { url: "http://web/" })].map((s) => ({ ...s, id: "web/HTTP" })),
  });
  assert.match(text, /^probe_success\{[^}]*instance="http:\/\/web\/"\} 1$/m);
  // FNV-1a 32 over 15 zero bytes and a 1 (Go's hash/fnv gives the same)
  assert.match(text, /^probe_ip_addr_hash\{[^}]*\} 1751717746$/m);
  assert.equal(ipHash("0:0:0:0:0:0:0:1"), 1751717746);
  assert.equal(ipHash("127.0.0.1"), 3668918509);
  assert.equal(ipHash("::ffff:127.0.0.1"), 3668918509);
});

Deno.test("renderMetrics() counts each remote-write endpoint's samples, failures and queue", () => {
  const text = renderMetrics({
    latest: [],
    monitors: [],
    version: "1",
    remoteWrite: [{
      url: "http://p:9090/api/v1/write",
      sent: 10,
      failedRequests: 2,
      dropped: 3,
      rejected: 1,
      queued: 4,
    }],
  });
  const l = '{url="http://p:9090/api/v1/write"}';
  assert.match(text, new RegExp(`^netmon_remote_write_samples_sent_total${escape(l)} 10$`, "m"));
  assert.match(text, /^# TYPE netmon_remote_write_samples_dropped_total counter$/m);
  assert.match(text, new RegExp(`^netmon_remote_write_queue_samples${escape(l)} 4$`, "m"));
});
