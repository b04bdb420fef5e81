import assert from "node:assert/strict";
import { DEFAULT_RULE } from "./rules.ts";
import type { Incident } from "./engine.ts";
import { buildMessage } from "./message.ts";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const base: Incident = {
  id: "i1",
  checkId: "web/TCP",
  target: "web",
  type: "TCP",
  condition: "down",
  openedAt: T0,
  resolvedAt: null,
  quorum: 2,
  running: 3,
  vantage: [
    { monitor: "a", state: "bad", summary: "Closed", latencyMs: null, at: T0 },
    { monitor: "b", state: "bad", summary: "Closed", latencyMs: null, at: T0 },
    { monitor: "c", state: "unknown", why: "offline", summary: "Open", latencyMs: 1, at: T0 },
  ],
  detail: "down from 2 of 2 monitors with fresh results; 1 unknown (quorum 2)",
};

Deno.test("buildMessage() says the quorum was taken over the monitors with fresh results", () => {
  const m = buildMessage({ kind: "opened", incident: base, rule: DEFAULT_RULE });
  assert.equal(m.title, "DOWN: web/TCP (2 of 2 monitors with fresh results; 1 unknown)");
  assert.match(m.text, /^- c: unknown \(offline\) — Open$/m);
  assert.deepEqual(m.monitors.map((v) => [v.name, v.state, v.why]), [
    ["a", "bad", null],
    ["b", "bad", null],
    ["c", "unknown", "offline"],
  ]);
  const all = { ...base, vantage: base.vantage.map((v) => ({ ...v, state: "bad" as const })) };
  delete all.vantage[2]!.why;
  assert.equal(
    buildMessage({ kind: "opened", incident: all, rule: DEFAULT_RULE }).title,
    "DOWN: web/TCP (3 of 3 monitors)",
  );
});

Deno.test("buildMessage() names an offline monitor and how long it was gone", () => {
  const i: Incident = {
    ...base,
    checkId: "monitor:edge-b",
    target: "edge-b",
    type: "monitor",
    condition: "offline",
    quorum: 1,
    running: 1,
    vantage: [{
      monitor: "edge-b",
      state: "bad",
      summary: "Reconnecting",
      latencyMs: null,
      at: T0,
    }],
    detail: "monitor edge-b offline since 2026-01-01T12:00:00.000Z (Reconnecting)",
  };
  const opened = buildMessage({ kind: "opened", incident: i, rule: DEFAULT_RULE });
  assert.equal(opened.title, "MONITOR OFFLINE: edge-b (since 2026-01-01T12:00:00.000Z)");
  assert.equal(opened.incident.condition, "offline");
  const resolved = buildMessage({
    kind: "resolved",
    incident: { ...i, resolvedAt: T0 + 125_000, detail: "monitor edge-b is back online" },
    rule: DEFAULT_RULE,
  });
  assert.equal(resolved.title, "RESOLVED: monitor edge-b is back online after 2m 5s");
  assert.equal(resolved.incident.durationSeconds, 125);
});
