/**
 * `/metrics` of a real manager running all seven check types against real
 * peers (issue 18): promtool accepts it, every family has a real HELP text,
 * check series carry `instance` = the probe's target, and the metrics
 * blackbox_exporter has beside netmon's are there with plausible values.
 */
import assert from "node:assert/strict";
import { CHECK_TYPES } from "../shared/checks.ts";
import { HELP } from "../manager/metrics.ts";
import { pollText, startFullStack } from "./helpers/full_stack.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition; label values unescaped. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const NEW_METRICS = [
  "probe_ssl_last_chain_expiry_timestamp_seconds",
  "probe_ssl_last_chain_info",
  "probe_tls_cipher_info",
  "probe_dns_query_succeeded",
  "probe_dns_serial",
  "probe_ip_addr_hash",
  "probe_http_last_modified_timestamp_seconds",
  "probe_expect_info",
];

function ready(text: string): boolean {
  const samples = parse(text);
  const up = (type: string) =>
    samples.some((s) =>
      s.name === "probe_success" && s.labels.target === "web" && s.labels.check_type === type &&
      s.value === 1
    );
  const tlsUp = samples.some((s) =>
    s.name === "probe_success" && s.labels.target === "tls" && s.value === 1
  );
  return CHECK_TYPES.every(up) && tlsUp &&
    NEW_METRICS.every((n) => samples.some((s) => s.name === n)) &&
    samples.some((s) => s.name === "netmon_incident_opened_timestamp_seconds");
}

Deno.test("/metrics with all seven check types passes promtool and has blackbox's metrics with instance", async () => {
  await using stack = await startFullStack();
  const text = await pollText(`${stack.base}/metrics`, ready, 90_000);
  assert.ok(ready(text), `not every check type is up with every metric:\n${text}`);

  const promtool = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = promtool.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await promtool.output();
  const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `promtool check metrics: ${said}`);
  assert.equal(said.trim(), "");

  // a real HELP for every family: a check's metric is in the table, the manager's are its own
  for (const [, name, help] of text.matchAll(/^# HELP (\S+) (.*)$/gm)) {
    assert.ok(name!.startsWith("netmon_") || HELP[name!] === help, `${name}: ${help}`);
    assert.doesNotMatch(help!, /as the \w+ check reports it|check metric/, name!);
  }

  const samples = parse(text);
  const one = (name: string, type: string) => {
    const found = samples.filter((s) =>
      s.name === name && s.labels.target === "web" && s.labels.check_type === type
    );
    assert.ok(found.length >= 1, `${name} for ${type}`);
    return found[0]!;
  };
  const now = Date.now() / 1000;
  const h = "127.0.0.1";

  // instance is the probe's target, as blackbox users relabel it
  assert.match(one("probe_success", "HTTP").labels.instance!, /^http:\/\/127\.0\.0\.1:\d+\/big$/);
  assert.match(one("probe_success", "HTTPS").labels.instance!, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal(one("probe_success", "ICMP").labels.instance, h);
  assert.equal(one("probe_success", "TCP").labels.instance, `${h}:${stack.tcpPort}`);
  for (const type of ["DNS", "NTP", "UDP"]) {
    assert.match(one("probe_success", type).labels.instance!, /^127\.0\.0\.1:\d+$/, type);
  }
  // netmon's own series leave instance to Prometheus (the manager's address)
  assert.ok(
    samples.filter((s) => s.name.startsWith("netmon_monitor_")).every((s) => !s.labels.instance),
  );

  const chain = one("probe_ssl_last_chain_expiry_timestamp_seconds", "HTTPS").value;
  assert.ok(chain > now && chain < now + 20 * 365 * 86400, `chain expiry ${chain}`);
  assert.ok(chain >= one("probe_ssl_earliest_cert_expiry", "HTTPS").value);
  const info = one("probe_ssl_last_chain_info", "HTTPS");
  assert.equal(info.value, 1);
  assert.match(info.labels.fingerprint_sha256!, /^[0-9a-f]{64}$/);
  assert.match(info.labels.serialnumber!, /^[0-9a-f]+$/);
  assert.match(info.labels.subject!, /CN=/);
  assert.match(one("probe_tls_cipher_info", "HTTPS").labels.cipher!, /^TLS_[A-Z0-9_]+$/);

  assert.equal(one("probe_dns_query_succeeded", "DNS").value, 1);
  assert.equal(one("probe_dns_serial", "DNS").value, stack.dnsSerial);

  // FNV-1a over 127.0.0.1's four bytes, as blackbox_exporter computes it
  for (const type of ["HTTP", "ICMP", "TCP", "UDP", "NTP", "DNS"]) {
    assert.equal(one("probe_ip_addr_hash", type).value, 3668918509, type);
  }
  const modified = one("probe_http_last_modified_timestamp_seconds", "HTTP").value;
  assert.ok(modified <= now + 5 && modified > now - 3600, `Last-Modified ${modified}`);

  // a TCP check over TLS reports its chain and cipher too
  const tlsTcp = samples.filter((s) => s.labels.target === "tls" && s.labels.check_type === "TCP");
  const chainTcp = tlsTcp.find((s) => s.name === "probe_ssl_last_chain_expiry_timestamp_seconds");
  assert.ok(chainTcp && chainTcp.value > now, `TCP over TLS chain expiry ${chainTcp?.value}`);
  assert.match(
    tlsTcp.find((s) => s.name === "probe_tls_cipher_info")?.labels.cipher ?? "",
    /^TLS_[A-Z0-9_]+$/,
  );

  const expect = one("probe_expect_info", "TCP");
  assert.deepEqual([expect.labels.expect, expect.labels.match, expect.value], [
    "hello",
    "hello",
    1,
  ]);

  for (const phase of ["resolve", "setup", "rtt"]) {
    const s = samples.find((s) =>
      s.name === "probe_icmp_duration_seconds" && s.labels.phase === phase
    );
    assert.ok(s && s.value >= 0 && s.value < 5, `ICMP ${phase}: ${s?.value}`);
  }

  const incident = samples.find((s) => s.name === "netmon_incident_opened_timestamp_seconds")!;
  assert.deepEqual([incident.labels.target, incident.labels.check_type], ["closed", "TCP"]);
  assert.ok(incident.value <= now + 1 && incident.value > now - 600);
});
