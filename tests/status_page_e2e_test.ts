/**
 * The public side of the manager (issue 16): `/status` and badges answer
 * without the API's token and show only the targets `status_page:` lists,
 * while every other path (each one `docs/openapi.yaml` documents, and
 * look-alikes) still needs the token; `/healthz` turns 503 with a reason
 * when the store's disk is full and 200 again once there is room. A real
 * monitor checks a real nginx.
 */
import assert from "node:assert/strict";
import { Manager } from "../manager/manager.ts";
import { startHttp } from "../manager/http/server.ts";
import { attachAlerts } from "../manager/alerts/mod.ts";
import { listIncidents } from "../manager/alerts/store.ts";
import { startNginx } from "./fixtures/nginx.ts";
import { smallDisk } from "./helpers/full_disk.ts";
import { loadOpenApi } from "./helpers/openapi.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { tempDir } from "./helpers/proc.ts";
import { quietOutput } from "./helpers/quiet_output.ts";
import { startMonitor } from "./helpers/netmon.ts";
import { startQuietManager } from "./helpers/manager.ts";

const TOKEN = "status-page-e2e-token";

async function waitUntil(
  fn: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

Deno.test("/status and badges are public for listed targets only; nothing else is without the token", async () => {
  await using tmp = await tempDir();
  await using nginx = await startNginx();
  await using monitor = await startMonitor({ dataDir: `${tmp.path}/mon` });
  await using m = await startQuietManager(
    `monitors:
  - {address: "127.0.0.1:${monitor.port}", name: m1}
status_page:
  title: Acme <b>status</b>
  groups:
    - name: Website
      targets: [web]
    - name: Backend
      targets: broken
alerts: {down_after: 1}
targets:
  web:
    TCP: {host: 127.0.0.1, port: ${nginx.port}, frequency: 0.5}
  broken:
    TCP: {host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.5}
  secret-db:
    TCP: {host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.5}
`,
    { onDisk: true },
  );
  const manager = m.manager;
  const alerts = await attachAlerts(manager);
  const http = await startHttp(manager, { hostname: "127.0.0.1", port: 0, token: TOKEN });
  try {
    const stored = new Set<string>();
    manager.onResult((r) => void stored.add(r.checkId));
    await waitUntil(
      () => ["web/TCP", "broken/TCP", "secret-db/TCP"].every((c) => stored.has(c)),
      "every check has a result",
    );
    let open: string[] = [];
    await waitUntil(
      async () => {
        open = (await listIncidents(manager.store, { open: true })).map((i) => i.checkId);
        return open.includes("broken/TCP") && open.includes("secret-db/TCP");
      },
      "both closed ports have an open incident",
    );
    await manager.history.rollup();

    const page = await fetch(`${http.url}/status`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    const html = await page.text();
    assert.match(html, /<h1>Acme &#60;b&#62;status&#60;\/b&#62;<\/h1>/, "the title, escaped");
    assert.match(html, /<h2>Website<\/h2>/);
    assert.match(html, /data-target="web" data-state="up"/);
    assert.match(html, /data-target="broken" data-state="down"/);
    assert.match(html, /Some systems are down/);
    // the listed target's open incident, not the unlisted one's
    assert.match(
      html,
      /<li data-check="broken\/TCP"><span class="state down">down<\/span> <b>broken\/TCP<\/b> since/,
    );
    assert.equal(html.match(/class="bar /g)?.length, 2 * 90, "90 daily bars per target");
    assert.match(html, /class="bar up" title="\d{4}-\d\d-\d\d: 100\.00% up"><\/i><\/div>/);
    assert.doesNotMatch(
      html,
      /secret-db|m1|<script|\/api\//,
      "nothing unlisted, no script, no API",
    );

    // a badge of a listed target, cacheable
    const badge = await fetch(`${http.url}/badge/web/tcp.svg`);
    assert.equal(badge.status, 200);
    assert.equal(badge.headers.get("content-type"), "image/svg+xml; charset=utf-8");
    assert.equal(badge.headers.get("cache-control"), "public, max-age=60");
    assert.equal(badge.headers.get("cross-origin-resource-policy"), "cross-origin");
    const etag = badge.headers.get("etag")!;
    const svg = await badge.text();
    assert.match(svg, /^<svg .*>web\/TCP<\/text>.*>up<\/text><\/g><\/svg>$/);
    const again = await fetch(`${http.url}/badge/web/TCP.svg`, {
      headers: { "if-none-match": etag },
    });
    assert.equal(again.status, 304);
    await again.body?.cancel();
    const uptime = await (await fetch(`${http.url}/badge/web/TCP.svg?uptime=24h`)).text();
    assert.match(uptime, />uptime 24h<\/text>.*>100%<\/text>/);
    const wrong = await fetch(`${http.url}/badge/web/TCP.svg?uptime=1y`);
    assert.equal(wrong.status, 400);
    await wrong.body?.cancel();

    // an unlisted target's badge: not without the token, yes with it (down: its port is closed)
    const hidden = await fetch(`${http.url}/badge/secret-db/TCP.svg`);
    assert.equal(hidden.status, 404);
    await hidden.body?.cancel();
    const shown = await fetch(`${http.url}/badge/secret-db/TCP.svg`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.match(await shown.text(), />down<\/text>/);

    // every documented path but the public ones needs the token, and so do look-alikes
    const spec = await loadOpenApi();
    const publicPaths = ["/", "/healthz", "/status", "/badge/{target}/{check}.svg", "/favicon.svg"];
    const guarded = Object.keys(spec.doc.paths).filter((p) => !publicPaths.includes(p));
    assert.ok(guarded.includes("/api/v1/incidents") && guarded.includes("/metrics"));
    for (
      const path of [
        ...guarded,
        "/status/api/v1/config",
        "/status/../api/v1/config",
        "/api/v1/status",
        "/statusx",
        "/badge/../api/v1/targets",
        "/no/such/path",
      ]
    ) {
      for (const method of ["GET", "POST"]) {
        const res = await fetch(`${http.url}${path}`, {
          method,
          headers: method === "POST" ? { "content-type": "application/json" } : {},
          body: method === "POST" ? "{}" : undefined,
        });
        await res.body?.cancel();
        assert.equal(res.status, 401, `${method} ${path} without the token`);
      }
    }
    const icon = await fetch(`${http.url}/favicon.ico`);
    assert.equal(icon.headers.get("content-type"), "image/svg+xml; charset=utf-8");
    assert.match(await icon.text(), /^<svg/);
  } finally {
    await http.close();
    await alerts.stop();
  }
});

Deno.test({
  name: "/healthz answers 503 with a reason while the store's disk is full, 200 once freed",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await using disk = await smallDisk(4096);
    await using tmp = await tempDir();
    const config = `${tmp.path}/tasks.yaml`;
    await Deno.writeTextFile(
      config,
      `monitors:\n  - {address: "127.0.0.1:${freeTcpPort()}", name: far}\n` +
        `targets:\n  web:\n    TCP: {host: 127.0.0.1, port: 1, frequency: 60}\n`,
    );
    const manager = await Manager.start({
      configPath: config,
      dbPath: `${disk.path}/netmon.db`,
      token: "",
      output: quietOutput,
      statusEveryMs: 60_000,
      watch: false,
    });
    const http = await startHttp(manager, { hostname: "127.0.0.1", port: 0, token: TOKEN });
    const spec = await loadOpenApi();
    const probe = async () => {
      // public: no token sent
      const res = await fetch(`${http.url}/healthz`);
      const body = await res.json();
      assert.deepEqual(spec.check("/healthz", "get", res.status, body), []);
      return { status: res.status, body };
    };
    try {
      assert.deepEqual(await probe(), { status: 200, body: { ok: true, store: "writable" } });
      await disk.fill();
      const full = await probe();
      assert.equal(full.status, 503);
      assert.equal(full.body.ok, false);
      // the database write or the page beside it finds no room, whichever comes first
      assert.match(
        full.body.reason,
        new RegExp(`disk full at ${disk.path}/netmon\\.db|${disk.path}.*No space left`),
      );
      await disk.free();
      assert.deepEqual(await probe(), { status: 200, body: { ok: true, store: "writable" } });
    } finally {
      await http.close();
      await manager.stop();
    }
  },
});
