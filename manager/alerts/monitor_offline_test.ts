import assert from "node:assert/strict";
import { isMonitorIncident, type LinkView, OfflineWatch } from "./monitor_offline.ts";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const up = (name: string): LinkView => ({ name, online: true, status: "Online", lastError: null });
const down = (name: string, lastError = "connection refused"): LinkView => ({
  name,
  online: false,
  status: "Reconnecting",
  lastError,
});

Deno.test("OfflineWatch opens once a monitor is offline for monitor_offline_after, once", () => {
  const w = new OfflineWatch([], T0);
  assert.deepEqual(w.sweep([up("a"), up("b")], 60_000, T0), []);
  w.noteStatus("b", false, T0 + 1_000);
  assert.deepEqual(w.sweep([up("a"), down("b")], 60_000, T0 + 60_999), []);
  const events = w.sweep([up("a"), down("b")], 60_000, T0 + 61_000);
  assert.deepEqual(events.map((e) => e.kind), ["opened"]);
  const i = events[0]!.incident;
  assert.ok(isMonitorIncident(i));
  assert.deepEqual([i.checkId, i.target, i.type, i.condition], [
    "monitor:b",
    "b",
    "monitor",
    "offline",
  ]);
  assert.equal(i.openedAt, T0 + 1_000, "the incident starts when the monitor went away");
  assert.equal(
    i.detail,
    "monitor b offline since 2026-01-01T12:00:01.000Z (Reconnecting: connection refused)",
  );
  assert.deepEqual(w.sweep([up("a"), down("b")], 60_000, T0 + 120_000), [], "no second opening");
  assert.equal(w.open.length, 1);
});

Deno.test("OfflineWatch resolves when the monitor is back, and a short outage is no incident", () => {
  const w = new OfflineWatch([], T0);
  w.noteStatus("a", false, T0);
  assert.deepEqual(w.sweep([down("a")], 3_000, T0 + 2_000), []);
  w.noteStatus("a", true, T0 + 2_500);
  assert.deepEqual(w.sweep([up("a")], 3_000, T0 + 2_500), []);
  w.noteStatus("a", false, T0 + 10_000);
  // a changing reason while still down does not restart the clock
  w.noteStatus("a", false, T0 + 11_000);
  const opened = w.sweep([down("a", "no answer within 1000 ms")], 3_000, T0 + 13_000);
  assert.deepEqual(opened.map((e) => e.kind), ["opened"]);
  const resolved = w.sweep([up("a")], 3_000, T0 + 20_000);
  assert.deepEqual(resolved.map((e) => e.kind), ["resolved"]);
  const i = resolved[0]!.incident;
  assert.equal(i.id, opened[0]!.incident.id);
  assert.deepEqual([i.openedAt, i.resolvedAt], [T0 + 10_000, T0 + 20_000]);
  assert.equal(i.detail, "monitor a is back online");
  assert.deepEqual(i.vantage.map((v) => [v.monitor, v.state]), [["a", "good"]]);
  assert.deepEqual(w.open, []);
});

Deno.test("OfflineWatch counts a monitor never online from the start, keeps a stored incident", () => {
  const w = new OfflineWatch([], T0);
  assert.deepEqual(w.sweep([down("a")], 60_000, T0 + 59_000), []);
  const [opened] = w.sweep([down("a")], 60_000, T0 + 60_000);
  assert.equal(opened?.incident.openedAt, T0);
  // after a restart: the stored incident stays open, not opened twice, and resolves on return
  const again = new OfflineWatch([opened!.incident], T0 + 90_000);
  assert.deepEqual(again.sweep([down("a")], 60_000, T0 + 200_000), []);
  const [resolved] = again.sweep([up("a")], 60_000, T0 + 210_000);
  assert.equal(resolved?.kind, "resolved");
  assert.equal(resolved?.incident.id, opened!.incident.id);
});

Deno.test("OfflineWatch resolves the incident of a monitor removed from the configuration", () => {
  const w = new OfflineWatch([], T0);
  w.sweep([down("a"), up("b")], 1_000, T0 + 1_000);
  const [e] = w.sweep([up("b")], 1_000, T0 + 2_000);
  assert.equal(e?.kind, "resolved");
  assert.equal(e?.incident.detail, "the monitor was removed from the configuration");
});
