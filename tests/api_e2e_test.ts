/**
 * End-to-end tests of the manager's HTTP API (issue 5): a real monitor and
 * manager through `./netmon`, every answer checked against
 * `docs/openapi.yaml`, the Server-Sent Events stream, `netmon ctl`, and
 * `/metrics` piped into `promtool check metrics`.
 */
import assert from "node:assert/strict";
import { startNginx } from "./fixtures/nginx.ts";
import { loadOpenApi } from "./helpers/openapi.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { Proc, tempDir } from "./helpers/proc.ts";
import { NETMON, startManager, startMonitor } from "./helpers/netmon.ts";

const PROMTOOL = "/usr/bin/promtool";
const hasPromtool = await Deno.stat(PROMTOOL).then(() => true, () => false);

async function writeConfig(dir: string, monitorPort: number, nginxPort: number): Promise<string> {
  const path = `${dir}/tasks.yaml`;
  await Deno.writeTextFile(
    path,
    `monitors:
  - address: 127.0.0.1:${monitorPort}
    name: local
targets:
  web:
    HTTP: { url: "http://127.0.0.1:${nginxPort}/ok", frequency: 1 }
    TCP: { host: 127.0.0.1, port: ${nginxPort}, frequency: 1 }
  slow:
    TCP: { host: 127.0.0.1, port: ${nginxPort}, frequency: 3600 }
  closed:
    TCP: { host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 1 }
`,
  );
  return path;
}

/** The manager's API base URL, from the line it prints at start. */
async function apiUrl(manager: Proc): Promise<string> {
  const line = await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 30_000);
  return line.match(/(http:\/\/\S+)\/$/)![1]!;
}

/** State-changing requests must say they carry JSON (a cross-origin form cannot). */
const JSON_BODY = { "content-type": "application/json" };

async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, init);
  const body = await res.json();
  return { status: res.status, body };
}

/** Reads Server-Sent Events from `url` and resolves with the first event `pick` accepts. */
function nextEvent(
  url: string,
  pick: (event: string, data: Record<string, unknown>) => boolean,
  timeoutMs = 15_000,
): { ready: Promise<void>; event: Promise<Record<string, unknown>>; close: () => void } {
  const ac = new AbortController();
  const timer = setTimeout(
    () => ac.abort(new Error(`no matching event within ${timeoutMs} ms`)),
    timeoutMs,
  );
  const { promise: ready, resolve: onReady } = Promise.withResolvers<void>();
  const event = (async () => {
    const res = await fetch(url, { signal: ac.signal });
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    let buf = "";
    for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const name = block.match(/^event: (.*)$/m)?.[1];
        const data = block.match(/^data: (.*)$/m)?.[1];
        if (name === "hello") onReady();
        if (name && data && pick(name, JSON.parse(data))) {
          ac.abort();
          return JSON.parse(data);
        }
      }
    }
    throw new Error("the event stream ended");
  })().finally(() => clearTimeout(timer));
  return { ready, event, close: () => ac.abort() };
}

async function ctl(
  base: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(NETMON, { args: ["ctl", "--url", base, ...args], stdin: "null" })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

Deno.test("the real manager's API answers as docs/openapi.yaml says, and ctl drives it", async (t) => {
  const spec = await loadOpenApi();
  await using tmp = await tempDir();
  await using nginx = await startNginx();
  const port = freeTcpPort();
  await using _monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
  const config = await writeConfig(tmp.path, port, nginx.port);
  await using manager = startManager(config, { db: `${tmp.path}/netmon.db` });
  const base = await apiUrl(manager);
  // two results of each: enough for a second page
  for (const re of [/HTTP URL: .*Status Code: 200/, /Port \d+ - Closed/]) {
    const first = await manager.waitFor(re);
    await manager.waitFor(re, 15_000, manager.lines.indexOf(first) + 1);
  }

  const check = async (path: string, query = "", status = 200) => {
    const { status: got, body } = await getJson(`${base}${path}${query}`);
    assert.equal(got, status, `${path}${query}: ${JSON.stringify(body)}`);
    assert.deepEqual(spec.check(path, "get", got, body), [], `${path}${query}`);
    return body as Record<string, unknown>;
  };

  await t.step("state endpoints", async () => {
    const status = await check("/api/v1/status");
    assert.equal((status.monitors as { online: number }).online, 1);
    const monitors = await check("/api/v1/monitors") as unknown as { status: string }[];
    assert.equal(monitors[0]!.status, "Online");
    const config = await check("/api/v1/config");
    assert.equal((config.checks as unknown[]).length, 4);
    const targets = await check("/api/v1/targets") as unknown as {
      checkId: string;
      state: string;
    }[];
    const byCheck = new Map(targets.map((r) => [r.checkId, r.state]));
    assert.equal(byCheck.get("web/HTTP"), "up");
    assert.equal(byCheck.get("closed/TCP"), "down");
  });

  await t.step("history endpoints page, filter and refuse bad queries", async () => {
    const first = await check("/api/v1/results", "?check=web/HTTP&limit=1");
    const items = first.items as { checkId: string; taskId: string }[];
    assert.equal(items.length, 1);
    assert.equal(items[0]!.checkId, "web/HTTP");
    const second = await check("/api/v1/results", `?check=web/HTTP&limit=1&cursor=${first.next}`);
    assert.notEqual((second.items as { taskId: string }[])[0]?.taskId, items[0]!.taskId);
    await check("/api/v1/results", "?type=TCP&monitor=local&from=2020-01-01T00:00:00Z");
    await check("/api/v1/rollups", "?resolution=hour&target=web");
    await check("/api/v1/rollups", "?resolution=minute");
    const chart = await check("/api/v1/chart", "?check=web/HTTP");
    assert.equal(chart.resolution, "minute");
    const raw = await check("/api/v1/chart", `?check=web/HTTP&from=${Date.now() - 600_000}`);
    assert.equal(raw.resolution, "raw");
    assert.ok((raw.series as { points: unknown[] }[])[0]!.points.length >= 1);
    await check("/api/v1/results", "?limit=0", 400);
    await check("/api/v1/results", "?cursor=nonsense", 400);
    await check("/api/v1/chart", "", 400);
    await check("/api/v1/rollups", "?resolution=week", 400);
  });

  await t.step("netmon ctl prints tables and JSON", async () => {
    const status = await ctl(base, "status");
    assert.equal(status.code, 0, status.err);
    assert.match(status.out, /Monitors: 1\/1 online/);
    assert.match(status.out, /^local\s+127\.0\.0\.1:\d+\s+Online/m);
    const targets = await ctl(base, "targets");
    assert.match(targets.out, /^TARGET\s+TYPE\s+MONITOR\s+STATE/);
    assert.match(targets.out, /^web\s+HTTP\s+local\s+up\s+[\d.]+ ms/m);
    assert.match(targets.out, /^closed\s+TCP\s+local\s+down/m);
    const monitors = JSON.parse((await ctl(base, "monitors", "--json")).out);
    assert.equal(monitors[0].status, "Online");
    const results = await ctl(base, "results", "--target", "closed", "--limit", "1");
    assert.match(results.out, /^TIME\s+TARGET/);
    assert.match(results.out, /closed\s+TCP\s+local\s+DOWN/);
    assert.match(results.out, /\(more: --cursor \S+\)/);
    const bad = await ctl(base, "frobnicate");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown command "frobnicate"/);
    const none = await ctl(`http://127.0.0.1:${freeTcpPort()}`, "status");
    assert.equal(none.code, 1);
    assert.match(none.err, /no manager answers at/);
  });

  await t.step("run, pause, resume and reload through ctl and the API", async () => {
    const count = async () =>
      ((await getJson(`${base}/api/v1/results?check=slow/TCP`)).body as { items: unknown[] }).items
        .length;
    const before = await count();
    const run = await ctl(base, "run", "slow/tcp");
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /Ran slow\/TCP on local/);
    for (let i = 0; i < 100 && await count() === before; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await count(), before + 1);

    const paused = await ctl(base, "pause", "web", "--json");
    assert.deepEqual(JSON.parse(paused.out).paused.sort(), ["web/HTTP", "web/TCP"]);
    const targets = (await getJson(`${base}/api/v1/targets`)).body as {
      checkId: string;
      paused: boolean;
      assigned: boolean;
    }[];
    const web = targets.find((r) => r.checkId === "web/HTTP")!;
    assert.deepEqual([web.paused, web.assigned], [true, false]);
    const refused = await getJson(`${base}/api/v1/run`, {
      method: "POST",
      headers: JSON_BODY,
      body: JSON.stringify({ check: "web/HTTP" }),
    });
    assert.equal(refused.status, 409);
    assert.deepEqual(spec.check("/api/v1/run", "post", 409, refused.body), []);
    const resumed = await getJson(`${base}/api/v1/resume`, {
      method: "POST",
      headers: JSON_BODY,
      body: JSON.stringify({ target: "web" }),
    });
    assert.deepEqual(spec.check("/api/v1/resume", "post", 200, resumed.body), []);
    assert.deepEqual((resumed.body as { paused: string[] }).paused, []);
    const unknown = await getJson(`${base}/api/v1/pause`, {
      method: "POST",
      headers: JSON_BODY,
      body: JSON.stringify({ target: "nope" }),
    });
    assert.equal(unknown.status, 404);
    assert.deepEqual(spec.check("/api/v1/pause", "post", 404, unknown.body), []);

    const reload = await ctl(base, "reload");
    assert.equal(reload.code, 0, reload.err);
    await Deno.writeTextFile(config, "targets: [");
    const broken = await getJson(`${base}/api/v1/reload`, {
      method: "POST",
      headers: JSON_BODY,
    });
    assert.equal(broken.status, 422);
    assert.deepEqual(spec.check("/api/v1/reload", "post", 422, broken.body), []);
  });

  await t.step({
    name: "promtool check metrics accepts /metrics",
    ignore: !hasPromtool,
    fn: async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      assert.match(
        text,
        /^probe_http_duration_seconds\{target="web",check_type="HTTP",monitor="local",instance="http:\/\/127\.0\.0\.1:\d+\/ok",phase="connect"\} /m,
      );
      assert.match(
        text,
        /^probe_success\{target="closed",check_type="TCP",monitor="local",instance="127\.0\.0\.1:\d+"\} 0$/m,
      );
      assert.match(text, /^netmon_monitor_up\{monitor="local",/m);
      const p = new Deno.Command(PROMTOOL, {
        args: ["check", "metrics"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode(text));
      await w.close();
      const out = await p.output();
      const dec = new TextDecoder();
      assert.equal(out.code, 0, dec.decode(out.stdout) + dec.decode(out.stderr));
    },
  });

  await t.step("the dashboard and its chart library are served", async () => {
    for (
      const path of [
        "/",
        "/dashboard/app.js",
        "/dashboard/style.css",
        "/vendor/uplot.js",
        "/vendor/uplot.css",
      ]
    ) {
      const res = await fetch(`${base}${path}`);
      await res.body?.cancel();
      assert.equal(res.status, 200, path);
    }
    const missing = await getJson(`${base}/api/v1/nothing`);
    assert.equal(missing.status, 404);
  });
});

Deno.test("the event stream carries new results and the monitor going from Online to Reconnecting", async () => {
  await using tmp = await tempDir();
  await using nginx = await startNginx();
  const port = freeTcpPort();
  const monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
  try {
    const config = await writeConfig(tmp.path, port, nginx.port);
    await using manager = startManager(config, { db: `${tmp.path}/netmon.db` });
    const base = await apiUrl(manager);
    await manager.waitFor(/HTTP URL: /);
    const results = nextEvent(
      `${base}/api/v1/events`,
      (e, d) => e === "result" && d.checkId === "web/HTTP",
    );
    const result = await results.event;
    assert.equal(result.monitorName, "local");
    assert.equal(typeof result.taskId, "string");
    const stored = (await getJson(`${base}/api/v1/results?check=web/HTTP&limit=50`)).body as {
      items: { taskId: string }[];
    };
    assert.ok(stored.items.some((r) => r.taskId === result.taskId), "a streamed result is stored");

    const status = nextEvent(
      `${base}/api/v1/events`,
      (e, d) => e === "status" && d.status === "Reconnecting",
    );
    await status.ready;
    await monitor.proc.stop("SIGKILL");
    const change = await status.event;
    assert.equal(change.name, "local");
    assert.equal(change.previous, "Online");
  } finally {
    await monitor.proc.stop("SIGKILL");
  }
});

Deno.test("the API needs a token beyond loopback and checks it when set", async () => {
  await using tmp = await tempDir();
  const config = await writeConfig(tmp.path, freeTcpPort(), freeTcpPort());
  await using open = startManager(config, {
    db: `${tmp.path}/a.db`,
    extra: ["--http", "0.0.0.0:0"],
  });
  const status = await open.exited();
  assert.equal(status.code, 2);
  assert.ok(
    open.matching(/is not a loopback address: .*needs --http-token/).length === 1,
    open.lines.join("\n"),
  );

  await using guarded = startManager(config, {
    db: `${tmp.path}/b.db`,
    extra: ["--http-token", "s3cret"],
  });
  const base = await apiUrl(guarded);
  const denied = await fetch(`${base}/api/v1/status`);
  await denied.body?.cancel();
  assert.equal(denied.status, 401);
  const metrics = await fetch(`${base}/metrics`);
  await metrics.body?.cancel();
  assert.equal(metrics.status, 401);
  const ok = await getJson(`${base}/api/v1/status`, {
    headers: { authorization: "Bearer s3cret" },
  });
  assert.equal(ok.status, 200);
  const viaCtl = await ctl(base, "status", "--token", "s3cret");
  assert.equal(viaCtl.code, 0, viaCtl.err);
  const withoutToken = await ctl(base, "status");
  assert.equal(withoutToken.code, 1);
  assert.match(withoutToken.err, /bearer token is required: pass --token/);
});
