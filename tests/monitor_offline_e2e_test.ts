/**
 * Issue 12: a monitor offline for `alerts.monitor_offline_after` seconds is
 * an incident of its own. Two real monitors, a manager with alerting, and a
 * real HTTP receiver for the webhook: one monitor is killed with SIGKILL,
 * the receiver gets one "opened" for it, and one "resolved" once it runs
 * again; its checks' incidents are not raised (the other monitor still sees
 * the target up).
 */
import assert from "node:assert/strict";
import { Manager } from "../manager/manager.ts";
import { attachAlerts, listIncidents } from "../manager/alerts/mod.ts";
import type { AlertMessage } from "../manager/alerts/message.ts";
import { quietOutput } from "./helpers/quiet_output.ts";
import { tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { startMonitor } from "./helpers/netmon.ts";

/** Polls `fn` every 100 ms until it returns true, for at most `timeoutMs`. */
async function waitUntil(fn: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

Deno.test("a monitor offline for monitor_offline_after opens one incident and resolves it on return", async () => {
  await using tmp = await tempDir();
  const hooks: AlertMessage[] = [];
  const hookPort = freeTcpPort();
  await using _receiver = Deno.serve(
    { hostname: "127.0.0.1", port: hookPort, onListen: () => {} },
    async (req) => {
      hooks.push(await req.json() as AlertMessage);
      return new Response("ok");
    },
  );
  const ports = [freeTcpPort(), freeTcpPort()];
  const monitors = await Promise.all(
    ports.map((port, i) => startMonitor({ dataDir: `${tmp.path}/mon${i}`, port })),
  );
  try {
    const config = `${tmp.path}/tasks.yaml`;
    await Deno.writeTextFile(
      config,
      `monitors:
  - {address: "127.0.0.1:${ports[0]}", name: m0}
  - {address: "127.0.0.1:${ports[1]}", name: m1}
alerts: {down_after: 2, up_after: 1, monitor_offline_after: 3}
notifiers:
  - {name: hook, type: webhook, url: "http://127.0.0.1:${hookPort}/hook", retries: 3, backoff: 0.2}
targets:
  hook:
    TCP: {host: 127.0.0.1, port: ${hookPort}, frequency: 0.5}
`,
    );
    const manager = await Manager.start({
      configPath: config,
      dbPath: `${tmp.path}/netmon.db`,
      token: "",
      output: quietOutput,
      statusEveryMs: 60_000,
      watch: false,
    });
    const alerts = await attachAlerts(manager);
    try {
      let results = 0;
      manager.onResult((_r, monitor) => monitor === "m1" && results++);
      await waitUntil(() => results >= 2, "m1 reports");
      assert.equal(hooks.length, 0, "nothing to say while both run");

      await monitors[1]!.proc.stop("SIGKILL");
      await waitUntil(() => manager.links.get("m1")?.online === false, "the link notices");
      const goneAt = performance.now();
      // well inside the 3 s: an outage this short is no incident yet (a busy machine only delays it)
      await new Promise((r) => setTimeout(r, 1500));
      if (performance.now() - goneAt < 2900) assert.equal(hooks.length, 0, "not before 3 s");
      await waitUntil(() => hooks.length >= 1, "the offline webhook arrives", 15_000);
      const opened = hooks[0]!;
      assert.equal(opened.event, "opened");
      assert.equal(opened.incident.condition, "offline");
      assert.equal(opened.incident.target, "m1");
      assert.match(opened.title, /^MONITOR OFFLINE: m1 \(since \d{4}-\d\d-\d\dT/);
      assert.match(opened.text, /monitor m1 offline since .*\(Reconnecting: /);
      assert.equal(alerts.openIncidents.filter((i) => i.condition === "offline").length, 1);

      // it stays down a while: still one message
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(hooks.length, 1);

      monitors[1] = await startMonitor({ dataDir: `${tmp.path}/mon1`, port: ports[1] });
      await waitUntil(() => hooks.length >= 2, "the resolved webhook arrives", 15_000);
      const resolved = hooks[1]!;
      assert.equal(resolved.event, "resolved");
      assert.equal(resolved.incident.id, opened.incident.id);
      assert.match(resolved.title, /^RESOLVED: monitor m1 is back online after \d/);
      assert.ok(resolved.incident.durationSeconds! >= 3);

      // results flow again and nothing more is said; no check incident was ever raised
      results = 0;
      await waitUntil(() => results >= 3, "m1 reports again");
      assert.deepEqual(hooks.map((h) => [h.event, h.incident.condition, h.incident.target]), [
        ["opened", "offline", "m1"],
        ["resolved", "offline", "m1"],
      ]);
      const stored = await listIncidents(manager.store);
      assert.deepEqual(stored.map((i) => [i.checkId, i.resolvedAt !== null]), [[
        "monitor:m1",
        true,
      ]]);
    } finally {
      await alerts.stop();
      await manager.stop();
    }
  } finally {
    for (const m of monitors) await m.proc.stop("SIGKILL");
  }
});
