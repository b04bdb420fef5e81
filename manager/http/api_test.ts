import assert from "node:assert/strict";
import type { CheckResult } from "../../shared/checks.ts";
import { freeTcpPort } from "../../tests/helpers/ports.ts";
import type { Manager } from "../manager.ts";
import { startQuietManager } from "../../tests/helpers/manager.ts";
import { createApi } from "./api.ts";
import { loadOpenApi } from "../../tests/helpers/openapi.ts";

async function withApi(
  token: string,
  fn: (api: ReturnType<typeof createApi>, m: Manager) => Promise<void>,
) {
  await using q = await startQuietManager(`monitors:
  - { address: 127.0.0.1:${freeTcpPort()}, name: far }
targets:
  web:
    HTTP: { url: "http://127.0.0.1:1/", frequency: 5 }
    TCP: { host: 127.0.0.1, port: 1, frequency: 5 }
`);
  const api = createApi(q.manager, { token });
  try {
    await fn(api, q.manager);
  } finally {
    api.close();
  }
}

function result(checkId: string, startedAt: number): CheckResult {
  const [target, type] = checkId.split("/") as [string, CheckResult["type"]];
  return {
    seq: 1,
    taskId: crypto.randomUUID(),
    monitorId: "mon-1",
    checkId,
    target,
    type,
    startedAt,
    durationMs: 3,
    up: true,
    latencyMs: 3,
    summary: "ok",
    metrics: { probe_success: 1 },
  };
}

const get = (api: ReturnType<typeof createApi>, path: string, init?: RequestInit) =>
  api.handle(new Request(`http://netmon${path}`, init));

Deno.test("handlers answer without a server: state, history and errors", async () => {
  await withApi("", async (api, m) => {
    await m.ingest(
      [result("web/HTTP", Date.now() - 1000), result("web/TCP", Date.now())],
      "far",
      0,
    );
    const monitors = await (await get(api, "/api/v1/monitors")).json();
    assert.equal(monitors[0].name, "far");
    assert.notEqual(monitors[0].status, "Online");
    const page = await (await get(api, "/api/v1/results?target=web&limit=1")).json();
    assert.equal(page.items.length, 1);
    assert.equal(page.items[0].checkId, "web/TCP");
    const next = await (await get(api, `/api/v1/results?target=web&cursor=${page.next}`)).json();
    assert.deepEqual(next.items.map((r: CheckResult) => r.checkId), ["web/HTTP"]);
    const targets = await (await get(api, "/api/v1/targets")).json();
    assert.deepEqual(targets.map((r: { checkId: string }) => r.checkId).sort(), [
      "web/HTTP",
      "web/TCP",
    ]);
    assert.equal((await get(api, "/api/v1/results?from=yesterday")).status, 400);
    assert.equal((await get(api, "/api/v1/nowhere")).status, 404);
    assert.equal((await get(api, "/api/v1/status", { method: "DELETE" })).status, 405);
    const bad = await get(api, "/api/v1/pause", { method: "POST", body: "[1]" });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /JSON object/);
  });
});

Deno.test("pause leaves a check out of the monitor's assignment until resumed", async () => {
  await withApi("", async (api, m) => {
    const post = (path: string, body: unknown) =>
      get(api, path, { method: "POST", body: JSON.stringify(body) });
    assert.equal(m.assignedTo("far").length, 2);
    const paused = await (await post("/api/v1/pause", { check: "web/HTTP" })).json();
    assert.deepEqual(paused.paused, ["web/HTTP"]);
    assert.deepEqual(m.assignedTo("far").map((c) => c.id), ["web/TCP"]);
    await post("/api/v1/resume", { target: "web", type: "HTTP" });
    assert.equal(m.assignedTo("far").length, 2);
    const run = await post("/api/v1/run", { target: "web" });
    assert.equal(run.status, 409, "the monitor is offline");
  });
});

Deno.test("with a token, /api and /metrics need it and the dashboard does not", async () => {
  await withApi("tok", async (api) => {
    assert.equal((await get(api, "/api/v1/status")).status, 401);
    assert.equal((await get(api, "/metrics")).status, 401);
    const bearer = { headers: { authorization: "Bearer tok" } };
    assert.equal((await get(api, "/api/v1/status", bearer)).status, 200);
    const wrong = { headers: { authorization: "Bearer tok2" } };
    assert.equal((await get(api, "/api/v1/status", wrong)).status, 401);
    const page = await get(api, "/");
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>netmon<\/title>/);
  });
});

Deno.test("an offline monitor's checks are unknown in /api/v1/targets and absent from /metrics", async () => {
  const spec = await loadOpenApi();
  await using q = await startQuietManager(`monitors:
  - { address: 127.0.0.1:${freeTcpPort()}, name: far }
targets:
  web:
    TCP: { host: 127.0.0.1, port: 1, frequency: 5 }
`);
  // a result from just now, from a monitor that is not connected
  await q.manager.ingest([result("web/TCP", Date.now())], "far", 0);
  const api = createApi(q.manager, { token: "" });
  try {
    const targets = await (await get(api, "/api/v1/targets")).json();
    assert.deepEqual(spec.check("/api/v1/targets", "get", 200, targets), []);
    assert.deepEqual(targets.map((r: { state: string }) => r.state), ["unknown"]);
    assert.equal(targets[0].lastResultAt !== null, true, "the last result is still shown");
    const metrics = await (await get(api, "/metrics")).text();
    assert.doesNotMatch(metrics, /^probe_success\{/m);
    assert.match(metrics, /^netmon_monitor_up\{monitor="far",[^}]*\} 0$/m);
  } finally {
    api.close();
  }
});
