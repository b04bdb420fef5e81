import assert from "node:assert/strict";
import { freeTcpPort } from "../../tests/helpers/ports.ts";
import { startQuietManager } from "../../tests/helpers/manager.ts";
import { attachAlerts, listIncidents } from "./mod.ts";
import { AlertStore } from "./store.ts";

Deno.test("attachAlerts() resolves at start an incident of a check removed while the manager was down", async () => {
  await using q = await startQuietManager(
    `monitors:\n  - { address: 127.0.0.1:${freeTcpPort()}, name: far }\ntargets:\n  kept:\n    TCP: { host: 127.0.0.1, port: 1, frequency: 5 }\n`,
    { onDisk: true },
  );
  const manager = q.manager;
  // an incident left open by an earlier run, for a check no longer in tasks.yaml
  new AlertStore(manager.store.db).opened({
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
  assert.equal(listIncidents(manager.store.db, { open: true }).length, 1);
  const alerts = attachAlerts(manager);
  try {
    const open = listIncidents(manager.store.db, { open: true });
    assert.equal(open.length, 0, "the removed check's incident is resolved");
    const all = listIncidents(manager.store.db);
    assert.equal(all.length, 1);
    assert.notEqual(all[0]!.resolvedAt, null);
  } finally {
    await alerts.stop();
  }
});
