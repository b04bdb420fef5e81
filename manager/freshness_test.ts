import assert from "node:assert/strict";
import { parseConfig } from "../shared/config.ts";
import { freshness, freshnessOf, staleAfterMs, stateOf } from "./freshness.ts";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

Deno.test("freshness: fresh up to two intervals plus the timeout, stale one millisecond later", () => {
  const base = { online: true, intervalMs: 10_000, timeoutMs: 5_000, lastResultAt: T0 };
  assert.equal(staleAfterMs(10_000, 5_000), 25_000);
  assert.equal(freshness({ ...base, now: T0 }), "fresh");
  assert.equal(freshness({ ...base, now: T0 + 25_000 }), "fresh");
  assert.equal(freshness({ ...base, now: T0 + 25_001 }), "stale");
  // a monitor whose clock runs ahead is not stale for it
  assert.equal(freshness({ ...base, now: T0 - 60_000 }), "fresh");
});

Deno.test("freshness: an offline monitor's result is never fresh, however new", () => {
  const base = { intervalMs: 10_000, timeoutMs: 5_000, now: T0 };
  assert.equal(freshness({ ...base, online: false, lastResultAt: T0 }), "offline");
  assert.equal(freshness({ ...base, online: false, lastResultAt: null }), "offline");
  assert.equal(freshness({ ...base, online: true, lastResultAt: null }), "none");
});

Deno.test("stateOf: up and down only from fresh results, unknown for offline or stale", () => {
  assert.deepEqual(
    (["fresh", "stale", "offline", "none"] as const).flatMap((f) =>
      [true, false, undefined].map((up) => `${f}/${up}=${stateOf(f, up)}`)
    ),
    [
      "fresh/true=up",
      "fresh/false=down",
      "fresh/undefined=pending",
      "stale/true=unknown",
      "stale/false=unknown",
      "stale/undefined=unknown",
      "offline/true=unknown",
      "offline/false=unknown",
      "offline/undefined=unknown",
      "none/true=pending",
      "none/false=pending",
      "none/undefined=pending",
    ],
  );
});

Deno.test("freshnessOf: each check's own interval and timeout, links by name, reloads followed", () => {
  const yaml = (freq: number) =>
    `monitors: [{address: 'h:1', name: a}, {address: 'h:2', name: b}]
targets:
  x: {TCP: {port: 80, frequency: ${freq}, timeout: 1}}
  y: {TCP: {port: 81, frequency: 60, timeout: 10}}
`;
  const links = new Map([["a", { online: true }], ["b", { online: false }]]);
  const source = { config: parseConfig(yaml(2), "tasks.yaml"), links };
  const judge = freshnessOf(source);
  // x: 2 s interval, 1 s timeout -> 5 s; y: 60 s, 10 s -> 130 s
  assert.equal(judge("x/TCP", "a", T0, T0 + 5_000), "fresh");
  assert.equal(judge("x/TCP", "a", T0, T0 + 5_001), "stale");
  assert.equal(judge("y/TCP", "a", T0, T0 + 130_000), "fresh");
  assert.equal(judge("y/TCP", "a", T0, T0 + 130_001), "stale");
  assert.equal(judge("x/TCP", "b", T0, T0), "offline");
  assert.equal(judge("x/TCP", "nobody", T0, T0), "offline");
  assert.equal(judge("gone/TCP", "a", T0, T0), "stale", "a check no longer configured");
  source.config = parseConfig(yaml(20), "tasks.yaml");
  assert.equal(judge("x/TCP", "a", T0, T0 + 5_001), "fresh", "the reloaded interval counts");
  links.set("b", { online: true });
  assert.equal(judge("x/TCP", "b", T0, T0), "fresh");
});
