/**
 * The manager's store on a full disk (issue 10), with real processes through
 * `./netmon`: the store's `--db` on a small tmpfs that a junk file fills
 * while a monitor sends results, and a check added meanwhile (its first
 * results arrive on the full disk). The link must stay up, nothing may be
 * acknowledged that was not stored, the manager must say "disk full at
 * PATH" in its log, status block, API and metrics, and once space returns
 * every sequence number the monitor produced is stored exactly once.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";
import { assertStoredOnce, readMonitorLedger, readStored } from "./helpers/ledger.ts";
import { smallDisk } from "./helpers/full_disk.ts";
import { loadOpenApi } from "./helpers/openapi.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 200 ms until it returns true, at most `timeoutMs`. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(200);
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}`);
}

Deno.test("manager disk full: the link stays up, nothing is acknowledged unstored, all is stored once space returns", async () => {
  await using tmp = await tempDir();
  await using disk = await smallDisk(4096);
  const spec = await loadOpenApi();
  const dataDir = `${tmp.path}/mon`;
  const mon = await startMonitor({ dataDir, extra: ["--name", "m"] });
  const config = `${tmp.path}/tasks.yaml`;
  const target = (i: number) =>
    `  t${i}:\n    TCP: { host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.2 }\n`;
  const head = `monitors:\n  - { address: "127.0.0.1:${mon.port}", name: m }\ntargets:\n`;
  const first = Array.from({ length: 8 }, (_, i) => target(i)).join("");
  await Deno.writeTextFile(config, head + first);
  const db = `${disk.path}/netmon.db`;
  const manager = startManager(config, { db, extra: ["--status-every", "1"] });
  try {
    const api = (await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 30_000))
      .match(/(http:\/\/\S+)\//)![1]!;
    const get = async (path: string) => {
      const res = await fetch(`${api}${path}`);
      return path === "/metrics" ? await res.text() : await res.json();
    };
    await manager.waitFor(/Monitor: m$/, 30_000);
    await sleep(1_000);

    const fullAtMs = Date.now();
    await disk.fill();
    const fullAt = manager.mark;
    await manager.waitFor(new RegExp(`^Disk full at ${db}: `), 30_000, fullAt);
    await manager.waitFor(new RegExp(`^Store: disk full at ${db} `), 10_000, fullAt);
    // a new (check, monitor) series whose first results arrive on the full disk
    await Deno.writeTextFile(config, head + first + target(8));
    await manager.waitFor(/Configuration reloaded: 9 checks/, 10_000, fullAt);
    await mon.proc.waitFor(/Assignment \d+: 9 checks/, 10_000);

    // a pause on the full disk is in force at once and saved once there is room
    const paused = await fetch(`${api}/api/v1/pause`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ check: "t0/TCP" }),
    });
    assert.equal(paused.status, 200);
    assert.deepEqual((await paused.json()).paused, ["t0/TCP"]);
    const status = await get("/api/v1/status");
    assert.deepEqual(spec.check("/api/v1/status", "get", 200, status), []);
    assert.equal(status.store.diskFull, db);
    assert.match(await get("/metrics"), /^netmon_store_disk_full 1$/m);
    const storedWhileFull = manager.matching(/Monitor: m$/, fullAt).length;
    await sleep(8_000);
    // not one result line in 8 s (they are printed once stored), and the link held
    assert.ok(
      manager.matching(/Monitor: m$/, fullAt).length - storedWhileFull === 0,
      "results were reported stored while the disk was full",
    );
    assert.deepEqual(manager.matching(/Disconnected from|cannot rollback|FOREIGN KEY/), []);
    const [monitor] = await get("/api/v1/monitors");
    assert.equal(monitor.status, "Online");

    const freedAtMs = Date.now();
    await disk.free();
    const freedAt = manager.mark;
    await manager.waitFor(/has room again/, 15_000, freedAt);
    await manager.waitFor(/Monitor: m$/, 15_000, freedAt);
    await until(
      "the metrics say the disk has room",
      async () => /^netmon_store_disk_full 0$/m.test(await get("/metrics")),
    );
    assert.equal((await get("/api/v1/status")).store.diskFull, null);
    // the held backlog drains: results measured after the refill keep arriving
    const now = Date.now();
    await until(
      "results measured after space returned are stored",
      async () => (await get(`/api/v1/results?from=${now}&limit=1`)).items.length > 0,
    );
    assert.deepEqual(manager.matching(/Disconnected from|cannot rollback|FOREIGN KEY/), []);

    assert.equal((await mon.proc.stop("SIGTERM")).code, 0);
    await sleep(500);
    assert.equal((await manager.stop("SIGTERM")).code, 0, "SIGTERM stops the manager cleanly");
    assert.deepEqual(manager.matching(/cannot rollback|FOREIGN KEY/), []);
    const saved = new DatabaseSync(db, { readOnly: true });
    try {
      assert.deepEqual(
        saved.prepare("SELECT check_id FROM paused_checks").all().map((r) => r.check_id),
        ["t0/TCP"],
        "the pause made on the full disk was saved",
      );
    } finally {
      saved.close();
    }
    const rows = readStored(db);
    const ledger = readMonitorLedger(dataDir);
    const counts = assertStoredOnce(rows, [ledger]);
    assert.ok(rows.some((r) => r.checkId === "t8/TCP"), "the check added on the full disk stored");
    console.log(
      `disk full for ${Math.round((freedAtMs - fullAtMs) / 1000)} s: ` +
        `${counts.get(ledger.id)} results stored, 1..${ledger.lastSeq} each once`,
    );
  } finally {
    await manager.stop("SIGKILL");
    await mon.proc.stop("SIGKILL");
  }
});

Deno.test("a manager whose new store finds the disk full says so and exits 1", async () => {
  await using tmp = await tempDir();
  await using disk = await smallDisk(1024);
  await disk.fill();
  const config = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    config,
    `monitors: [{address: "127.0.0.1:1"}]\ntargets: {x: {TCP: {port: 1}}}\n`,
  );
  const db = `${disk.path}/netmon.db`;
  const manager = startManager(config, { db });
  const status = await manager.exited();
  assert.equal(status.code, 1);
  assert.deepEqual(manager.lines.filter((l) => l.trim() !== ""), [
    `netmon: cannot open the store: disk full at ${db}; free space there or pick another --db`,
  ]);
});
