/**
 * `GET /api/v1/incidents` and `netmon ctl incidents` (issue 16): a real
 * monitor sees a closed port, the alert engine opens incidents, and the API
 * answers them (checked against `docs/openapi.yaml`) with what the monitor
 * saw, the one under a maintenance window marked silenced; paging and
 * filters over many stored incidents; bad parameters answered 400.
 */
import assert from "node:assert/strict";
import { attachAlerts } from "../manager/alerts/mod.ts";
import type { Incident } from "../manager/alerts/engine.ts";
import { startHttp } from "../manager/http/server.ts";
import { ctlText } from "../manager/ctl.ts";
import { loadOpenApi } from "./helpers/openapi.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { tempDir } from "./helpers/proc.ts";
import { startQuietManager } from "./helpers/manager.ts";
import { startMonitor } from "./helpers/netmon.ts";

const TOKEN = "incidents-e2e-token";
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function waitFor<T>(
  fn: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

interface Page {
  incidents: {
    id: string;
    checkId: string;
    closedAt: number | null;
    silenced: boolean;
    monitors: { name: string; up: boolean | null; error?: string; lastAt: number | null }[];
  }[];
  next: string | null;
}

Deno.test("incidents a real monitor caused are listed with what it saw, silenced ones marked", async () => {
  const spec = await loadOpenApi();
  await using tmp = await tempDir();
  await using monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, extra: ["--name", "m1"] });
  const hour = 3_600_000;
  await using m = await startQuietManager(
    `monitors:
  - {address: "127.0.0.1:${monitor.port}", name: m1}
alerts: {down_after: 1, up_after: 1}
maintenance:
  - name: quiet-time
    targets: [quiet]
    start: "${new Date(Date.now() - hour).toISOString()}"
    end: "${new Date(Date.now() + hour).toISOString()}"
targets:
  closed:
    TCP: {host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.5}
  quiet:
    TCP: {host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.5}
`,
    { onDisk: true },
  );
  // the links have no token; the API's is the HTTP server's own
  const manager = m.manager;
  const alerts = await attachAlerts(manager);
  const http = await startHttp(manager, { hostname: "127.0.0.1", port: 0, token: TOKEN });
  try {
    const get = async (q: string) => {
      const res = await fetch(`${http.url}/api/v1/incidents${q}`, { headers: AUTH });
      const body = await res.json();
      assert.deepEqual(spec.check("/api/v1/incidents", "get", res.status, body), [], q);
      return { status: res.status, body };
    };
    const page = await waitFor(async () => {
      const { body } = await get("?state=open");
      const p = body as Page;
      return p.incidents.length === 2 ? p : undefined;
    }, "both closed ports have an open incident");
    const closed = page.incidents.find((i) => i.checkId === "closed/TCP")!;
    const quiet = page.incidents.find((i) => i.checkId === "quiet/TCP")!;
    assert.equal(closed.closedAt, null);
    assert.equal(closed.silenced, false);
    assert.equal(quiet.silenced, true, "the maintenance window covered its opening");
    assert.equal(closed.monitors.length, 1);
    assert.equal(closed.monitors[0]!.name, "m1");
    assert.equal(closed.monitors[0]!.up, false);
    assert.match(closed.monitors[0]!.error ?? "", /refused/i);
    assert.ok((closed.monitors[0]!.lastAt ?? 0) > Date.now() - 60_000);

    // filters
    const byCheck = (await get("?check=closed%2FTCP")).body as Page;
    assert.deepEqual(byCheck.incidents.map((i) => i.checkId), ["closed/TCP"]);
    const byTarget = (await get("?target=quiet&state=all")).body as Page;
    assert.deepEqual(byTarget.incidents.map((i) => i.checkId), ["quiet/TCP"]);
    assert.equal(((await get("?state=closed")).body as Page).incidents.length, 0);

    // the token guards it like the rest of the API
    const anon = await fetch(`${http.url}/api/v1/incidents`);
    assert.equal(anon.status, 401);
    await anon.body?.cancel();

    // netmon ctl incidents, through the same server
    const text = await ctlText(["incidents", "--url", http.url, "--token", TOKEN]);
    assert.match(text, /closed\/TCP\s+down\s+m1 DOWN \(.*refused/i);
    assert.match(text, /quiet\/TCP\s+down \(silenced\)/);
    const json = JSON.parse(
      await ctlText([
        "incidents",
        "--url",
        http.url,
        "--token",
        TOKEN,
        "--json",
        "--state",
        "closed",
      ]),
    );
    assert.deepEqual(json, { incidents: [], next: null });
  } finally {
    await http.close();
    await alerts.stop();
  }
});

Deno.test("incidents page by before without gaps or repeats; bad parameters get 400", async () => {
  const spec = await loadOpenApi();
  await using q = await startQuietManager(`monitors:
  - { address: 127.0.0.1:${freeTcpPort()}, name: far }
targets:
  web:
    TCP: { host: 127.0.0.1, port: 1, frequency: 60 }
`);
  const store = q.manager.store;
  const base = Date.now() - 86_400_000;
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const id = `inc-${i}`;
    ids.push(id);
    // two share an opening time: the page order must still be total
    const openedAt = base + Math.min(i, 5) * 60_000;
    const incident: Incident = {
      id,
      checkId: i % 2 ? "web/TCP" : "db/TCP",
      target: i % 2 ? "web" : "db",
      type: "TCP",
      condition: "down",
      openedAt,
      resolvedAt: null,
      quorum: 1,
      running: 1,
      vantage: [{
        monitor: "far",
        state: "unknown",
        why: "offline",
        summary: "",
        latencyMs: null,
        at: 0,
      }],
      detail: "test",
    };
    await store.incidentOpened(incident);
    if (i < 3) await store.incidentResolved({ ...incident, resolvedAt: openedAt + 1000 });
  }
  const http = await startHttp(q.manager, { hostname: "127.0.0.1", port: 0, token: "" });
  try {
    const seen: string[] = [];
    let before: string | null = "";
    let pages = 0;
    while (before !== null) {
      const res: Response = await fetch(
        `${http.url}/api/v1/incidents?limit=2${before ? `&before=${before}` : ""}`,
      );
      const body = await res.json() as Page;
      assert.deepEqual(spec.check("/api/v1/incidents", "get", res.status, body), []);
      seen.push(...body.incidents.map((i) => i.id));
      before = body.next;
      pages++;
    }
    assert.equal(pages, 4);
    assert.deepEqual(seen, [...ids].reverse(), "newest first, each once");
    const unknownView = await (await fetch(`${http.url}/api/v1/incidents?limit=1`)).json() as Page;
    assert.deepEqual(unknownView.incidents[0]!.monitors, [{ name: "far", up: null, lastAt: null }]);

    const closed = await (await fetch(`${http.url}/api/v1/incidents?state=closed`)).json() as Page;
    assert.deepEqual(closed.incidents.map((i) => i.id), ["inc-2", "inc-1", "inc-0"]);
    assert.ok(closed.incidents.every((i) => i.closedAt !== null));

    for (const bad of ["state=maybe", "limit=0", "limit=1001", "limit=x", "before=%%%"]) {
      const res = await fetch(`${http.url}/api/v1/incidents?${bad}`);
      const body = await res.json();
      assert.equal(res.status, 400, bad);
      assert.deepEqual(spec.check("/api/v1/incidents", "get", 400, body), [], bad);
    }
  } finally {
    await http.close();
  }
});
