/**
 * The monitor's spool report and the store's full disk as the manager shows
 * them: the status block, `/metrics` and `ctl monitors`/`ctl status`.
 */
import assert from "node:assert/strict";
import type { LinkState } from "./link.ts";
import { renderMetrics } from "./metrics.ts";
import { statusLine, storeLine, TextOutput } from "./output.ts";
import { ctlText } from "./ctl.ts";
import { loadOpenApi } from "../tests/helpers/openapi.ts";

const link = (over: Partial<LinkState> = {}): LinkState => ({
  name: "fra-1",
  address: "127.0.0.1:54322",
  direction: "dialed",
  remoteAddress: "127.0.0.1:54322",
  status: "Online",
  monitorId: "0b34d89e-0000-4000-8000-000000000001",
  reportedName: "fra",
  lastError: null,
  since: Date.now() - 5_000,
  lastSeen: Date.now(),
  heldBack: 7,
  received: 100,
  spool: null,
  ...over,
});

const full = link({
  spool: { pending: 1234, dropped: 3394, diskFull: "/var/lib/netmon/spool.db" },
});

Deno.test("status line: the monitor's spool backlog, drops and full disk", () => {
  assert.doesNotMatch(statusLine(link()), /spool/, "no report, nothing said");
  assert.match(
    statusLine(link({ spool: { pending: 12, dropped: 0, diskFull: null } })),
    /, 7 held back, spool 12 pending\)$/,
  );
  assert.match(
    statusLine(full),
    /spool 1234 pending, 3394 dropped, monitor disk full at \/var\/lib\/netmon\/spool\.db\)$/,
  );
  // an offline monitor keeps its last report
  assert.match(
    statusLine({ ...full, status: "Reconnecting", lastError: "connection refused" }),
    /connection refused, .*3394 dropped/,
  );
});

Deno.test("status block: the store's full disk gets its own line", () => {
  assert.equal(storeLine({ diskFull: null }), null);
  const chunks: Uint8Array[] = [];
  const out = new TextOutput({ writeSync: (p) => (chunks.push(p.slice()), p.length) });
  out.status([full], { diskFull: "/data/netmon.db" });
  out.flush();
  const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  const lines = text.split("\n");
  const at = lines.indexOf("Real-time status of monitoring services:");
  assert.ok(at >= 0);
  assert.match(lines[at + 1]!, /^127\.0\.0\.1:54322: Online .*3394 dropped/);
  assert.equal(
    lines[at + 2],
    "Store: disk full at /data/netmon.db (results wait at the monitors until there is room)",
  );
});

Deno.test("metrics: spool pending, dropped and disk full per monitor; the store's disk", async () => {
  const text = renderMetrics({
    latest: [],
    monitors: [full, link({ name: "quiet" })],
    version: "1",
    storeDiskFull: true,
  });
  assert.match(text, /^netmon_monitor_spool_pending\{monitor="fra-1"\} 1234$/m);
  assert.match(text, /^netmon_monitor_spool_dropped_total\{monitor="fra-1"\} 3394$/m);
  assert.match(text, /^# TYPE netmon_monitor_spool_dropped_total counter$/m);
  assert.match(text, /^netmon_monitor_spool_disk_full\{monitor="fra-1"\} 1$/m);
  assert.doesNotMatch(text, /spool.*monitor="quiet"/, "no report, no sample");
  assert.match(text, /^netmon_store_disk_full 1$/m);
  assert.match(
    renderMetrics({ latest: [], monitors: [], version: "1", storeDiskFull: false }),
    /^netmon_store_disk_full 0$/m,
  );
  // and the whole page is valid exposition format
  const check = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = check.stdin.getWriter();
  w.write(new TextEncoder().encode(text)).then(() => w.close());
  const res = await check.output();
  const said = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
  assert.ok(res.success, `promtool check metrics: ${said}`);
});

Deno.test("ctl monitors and status: spooled, dropped, and both disks", async () => {
  const states = [full, link({ name: "quiet" })];
  const transport = (req: Request) => {
    const path = new URL(req.url).pathname;
    const body = path === "/api/v1/monitors" ? states : {
      manager: { id: "x", version: "1", startedAt: Date.now() },
      monitors: { total: 2, online: 2, reconnecting: 0, offline: 0 },
      checks: { configured: 1, paused: [] },
      storeBytes: 1048576,
      store: { path: "/data/netmon.db", diskFull: "/data/netmon.db" },
    };
    return Promise.resolve(new Response(JSON.stringify(body)));
  };
  const table = (await ctlText(["monitors"], transport)).split("\n");
  assert.match(table[0]!, /HELD BACK\s+RECEIVED\s+SPOOLED\s+DROPPED\s+LAST ERROR$/);
  assert.match(
    table[1]!,
    /^fra-1 .* 7 +100 +1234 +3394 +monitor disk full at \/var\/lib\/netmon\/spool\.db$/,
  );
  assert.match(table[2]!, /^quiet .* 7 +100 +- +- *$/);
  const status = await ctlText(["status"], transport);
  assert.match(status, /^Store: 1\.0 MiB, disk full at \/data\/netmon\.db$/m);
});

Deno.test("the API's monitor schema takes a spool report, and null before one", async () => {
  const spec = await loadOpenApi();
  const states = JSON.parse(JSON.stringify([full, link()]));
  assert.deepEqual(spec.check("/api/v1/monitors", "get", 200, states), []);
  const wrong = [{ ...states[0], spool: { pending: "12", dropped: 0 } }];
  assert.deepEqual(spec.check("/api/v1/monitors", "get", 200, wrong), [
    "$[0].spool.diskFull: missing",
    "$[0].spool.pending: 12 is not an integer",
  ]);
});
