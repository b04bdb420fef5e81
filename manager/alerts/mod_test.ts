import assert from "node:assert/strict";
import { freeTcpPort } from "../../tests/helpers/ports.ts";
import { startQuietManager } from "../../tests/helpers/manager.ts";
import { attachAlerts, listIncidents, listNotifications } from "./mod.ts";

Deno.test("attachAlerts() resolves at start an incident of a check removed while the manager was down", async () => {
  await using q = await startQuietManager(
    `monitors:\n  - { address: 127.0.0.1:${freeTcpPort()}, name: far }\ntargets:\n  kept:\n    TCP: { host: 127.0.0.1, port: 1, frequency: 5 }\n`,
    { onDisk: true },
  );
  const manager = q.manager;
  // an incident left open by an earlier run, for a check no longer in tasks.yaml
  await manager.store.incidentOpened({
    id: crypto.randomUUID(),
    checkId: "gone/TCP",
    target: "gone",
    type: "TCP",
    condition: "down",
    openedAt: Date.now() - 60_000,
    resolvedAt: null,
    quorum: 1,
    running: 1,
    vantage: [],
    detail: "1 of 1 monitors see it down (quorum 1)",
  });
  assert.equal((await listIncidents(manager.store, { open: true })).length, 1);
  const alerts = await attachAlerts(manager);
  try {
    await alerts.store.flush();
    const open = await listIncidents(manager.store, { open: true });
    assert.equal(open.length, 0, "the removed check's incident is resolved");
    const all = await listIncidents(manager.store);
    assert.equal(all.length, 1);
    assert.notEqual(all[0]!.resolvedAt, null);
  } finally {
    await alerts.stop();
  }
});

Deno.test("attachAlerts() records an unreachable monitor's offline incident; a window over all targets silences it", async () => {
  const hour = 3_600_000;
  await using q = await startQuietManager(
    `monitors:
  - { address: 127.0.0.1:${freeTcpPort()}, name: far }
alerts: { monitor_offline_after: 0.3 }
notifiers:
  - { name: hook, type: webhook, url: "http://127.0.0.1:${freeTcpPort()}/", retries: 0 }
maintenance:
  - { name: all-day, targets: all, start: "${new Date(Date.now() - hour).toISOString()}",
      end: "${new Date(Date.now() + hour).toISOString()}" }
targets:
  kept:
    TCP: { host: 127.0.0.1, port: 1, frequency: 5 }
`,
  );
  const db = q.manager.store;
  const alerts = await attachAlerts(q.manager);
  try {
    const deadline = performance.now() + 10_000;
    while ((await listIncidents(db)).length === 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const [i] = await listIncidents(db);
    assert.ok(i, "the incident opened");
    assert.deepEqual([i.checkId, i.condition, i.target, i.notified], [
      "monitor:far",
      "offline",
      "far",
      false,
    ]);
    assert.match(i.detail, /^monitor far offline since \d{4}-.*\((Offline|Reconnecting)/);
    await alerts.store.flush();
    const notes = await listNotifications(db, { incidentId: i.id });
    assert.deepEqual(notes.map((n) => [n.notifier, n.status]), [["hook", "silenced"]]);
    assert.match(notes[0]!.error ?? "", /maintenance window all-day/);
    assert.equal(alerts.openIncidents.length, 1);
  } finally {
    await alerts.stop();
  }
});
