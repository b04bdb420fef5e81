/**
 * Remote-write out (issue 14) against a real Prometheus with its
 * remote-write receiver: a manager and a monitor run a TCP check, and the
 * series arrive in Prometheus with `/metrics`' names and labels and with the
 * stored results' own timestamps; while Prometheus is down the queue holds
 * the samples and delivers them once it is back.
 */
import assert from "node:assert/strict";
import { startPrometheus } from "./fixtures/prometheus.ts";
import { startQuietManager } from "./helpers/manager.ts";
import { startMonitor } from "./helpers/netmon.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { tempDir } from "./helpers/proc.ts";
import type { Manager } from "../manager/manager.ts";

/** Every sample of the series `expr` selects over the last 10 minutes, as Unix ms, per series. */
async function samplesOf(
  promUrl: string,
  expr: string,
): Promise<{ metric: Record<string, string>; times: number[] }[]> {
  const res = await fetch(
    `${promUrl}/api/v1/query?${new URLSearchParams({ query: `${expr}[10m]` })}`,
  );
  const body = await res.json() as {
    status: string;
    error?: string;
    data: { result: { metric: Record<string, string>; values: [number, string][] }[] };
  };
  assert.equal(body.status, "success", body.error ?? "");
  return body.data.result.map((r) => ({
    metric: r.metric,
    times: r.values.map(([t]) => Math.round(t * 1000)),
  }));
}

/** Polls `probe` every 250 ms until it returns a value, or fails the test after `ms`. */
async function eventually<T>(what: string, ms: number, probe: () => Promise<T | null>): Promise<T> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const v = await probe();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function tasksYaml(monitorPort: number, targetPort: number, writeUrl: string): string {
  return `monitors: [{address: "127.0.0.1:${monitorPort}", name: edge}]
targets:
  127.0.0.1:
    TCP: {port: ${targetPort}, frequency: 1}
remote_write:
  - url: ${writeUrl}
    headers: {X-Scope-OrgID: netmon}
`;
}

/** The startedAt of every stored result of the TCP check, oldest first. */
async function storedStarts(manager: Manager): Promise<number[]> {
  const page = await manager.store.results({ checkId: "127.0.0.1/TCP", limit: 10_000 });
  return page.items.map((r) => r.startedAt).sort((a, b) => a - b);
}

Deno.test("remote-write delivers every result's series to Prometheus with the results' own timestamps", async () => {
  await using tmp = await tempDir();
  await using prom = await startPrometheus([], { remoteWriteReceiver: true });
  using target = Deno.listen({ hostname: "127.0.0.1", port: freeTcpPort() });
  const targetPort = target.addr.port;
  // accept and close: the check only needs the connection
  void (async () => {
    for await (const c of target) c.close();
  })().catch(() => {});
  const monitorPort = freeTcpPort();
  await using _monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port: monitorPort });
  await using m = await startQuietManager(
    tasksYaml(monitorPort, targetPort, `${prom.url}/api/v1/write`),
  );

  const series = await eventually("probe_success of 3 results in Prometheus", 60_000, async () => {
    const s = await samplesOf(prom.url, 'probe_success{check_type="TCP"}');
    return s.length === 1 && s[0]!.times.length >= 3 ? s[0]! : null;
  });
  assert.deepEqual(series.metric, {
    __name__: "probe_success",
    target: "127.0.0.1",
    check_type: "TCP",
    monitor: "edge",
    instance: `127.0.0.1:${targetPort}`,
  });
  // every sample Prometheus holds carries the startedAt of a stored result
  const stored = await storedStarts(m.manager);
  for (const t of series.times) assert.ok(stored.includes(t), `${t} is no stored startedAt`);
  // and every result stored before those arrived is there (none lost, none re-stamped)
  const last = series.times.at(-1)!;
  assert.deepEqual(series.times, stored.filter((t) => t <= last));

  // the check's own metrics and the result's timestamp gauge come along with /metrics' names
  const connect = await samplesOf(prom.url, "netmon_tcp_connect_seconds");
  assert.equal(connect[0]?.metric.monitor, "edge");
  const stamp = await samplesOf(prom.url, "netmon_check_last_result_timestamp_seconds");
  assert.equal(stamp.length, 1);

  const stats = m.manager.remoteWrite.stats();
  assert.equal(stats.length, 1);
  assert.ok(stats[0]!.sent > 0);
  assert.equal(stats[0]!.dropped + stats[0]!.rejected, 0);
});

Deno.test("remote-write queues while Prometheus is down and delivers the held samples once it is up", async () => {
  await using tmp = await tempDir();
  using target = Deno.listen({ hostname: "127.0.0.1", port: freeTcpPort() });
  void (async () => {
    for await (const c of target) c.close();
  })().catch(() => {});
  const promPort = freeTcpPort();
  const monitorPort = freeTcpPort();
  await using _monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port: monitorPort });
  await using m = await startQuietManager(
    tasksYaml(monitorPort, target.addr.port, `http://127.0.0.1:${promPort}/api/v1/write`),
  );

  // nothing listens yet: tries fail and the samples wait
  const whileDown = await eventually("3 results stored and 2 failed tries", 60_000, async () => {
    const s = m.manager.remoteWrite.stats()[0]!;
    const stored = await storedStarts(m.manager);
    return s.failedRequests >= 2 && stored.length >= 3 && s.queued > 0 ? stored : null;
  });
  assert.equal(m.manager.remoteWrite.stats()[0]!.sent, 0);

  await using prom = await startPrometheus([], { remoteWriteReceiver: true, port: promPort });
  const series = await eventually("the results held while down", 60_000, async () => {
    const s = await samplesOf(prom.url, 'probe_success{check_type="TCP"}');
    const times = s[0]?.times ?? [];
    return whileDown.every((t) => times.includes(t)) ? s[0]! : null;
  });
  assert.equal(series.metric.monitor, "edge");
  const stats = m.manager.remoteWrite.stats()[0]!;
  assert.ok(stats.sent > 0);
  assert.equal(stats.dropped, 0);
});
