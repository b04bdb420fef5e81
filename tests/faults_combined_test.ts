/**
 * Ledger test (issue 10, "done when"): one monitor goes through a full disk,
 * a changed `monitor-id` and a slow link in one run, and every sequence
 * number of its spool's epoch is stored exactly once or counted as dropped
 * (or still held for the next manager), never both, never neither.
 *
 * The monitor runs in a network namespace behind a 256 kbit/s token bucket,
 * with `--data` on a 3 MB tmpfs. With the manager away its disk fills up
 * (results held in memory), space returns, it restarts under a new ID, and
 * the manager comes back to a backlog it must drain over the slow link.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { tempDir } from "./helpers/proc.ts";
import { smallDisk } from "./helpers/full_disk.ts";
import { canMakeNetns, makeNetns } from "./helpers/netns.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";
import { assertStoredOrDropped, readMonitorLedger, readStored } from "./helpers/ledger.ts";

const TOKEN = "combined-fault-token";
const CHECKS = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads one value from a running monitor's spool. */
function spoolValue(dataDir: string, sql: string): number | null {
  const db = new DatabaseSync(`${dataDir}/spool.db`, { readOnly: true });
  try {
    const row = db.prepare(sql).get() as { v: number | null } | undefined;
    return row?.v == null ? null : Number(row.v);
  } finally {
    db.close();
  }
}

Deno.test({
  name:
    "full disk, changed monitor-id and a 256 kbit/s link in one run: every result stored once or counted",
  ignore: Deno.uid() !== 0 || !(await canMakeNetns()),
  fn: async () => {
    await using tmp = await tempDir();
    await using ns = await makeNetns();
    await ns.limitRate("256kbit");
    await using disk = await smallDisk(3072);
    const data = disk.path;
    const extra = ["--name", "far", "--token", TOKEN, "--spool-max-mb", "1"];
    let mon = await startMonitor({ dataDir: data, listen: ns.nsAddr, wrap: ns.wrap, extra });
    const port = mon.port;
    const config = `${tmp.path}/tasks.yaml`;
    await Deno.writeTextFile(
      config,
      `monitors:\n  - { address: "${ns.nsAddr}:${port}", name: far }\ntargets:\n` +
        Array.from(
          { length: CHECKS },
          (_, i) => `  t${i}:\n    TCP: { host: 127.0.0.1, port: ${9 + i}, frequency: 1 }\n`,
        ).join(""),
    );
    const db = `${tmp.path}/netmon.db`;
    const opts = { db, extra: ["--token", TOKEN, "--log-level", "info"] };
    let manager = startManager(config, opts);
    try {
      await manager.waitFor(/Monitor: far$/, 20_000);
      assert.equal((await manager.stop("SIGTERM")).code, 0);

      // 1. the disk fills up while no manager listens, and frees again
      await disk.fill();
      await mon.proc.waitFor(/Spool: disk full at /, 20_000);
      await sleep(4_000);
      await disk.free();
      await mon.proc.waitFor(/Spool: space returned/, 20_000);

      // 2. the monitor restarts under another ID, holding what it measured
      await sleep(2_000);
      assert.equal((await mon.proc.stop("SIGTERM")).code, 0);
      const oldId = mon.id;
      await Deno.writeTextFile(`${data}/monitor-id`, crypto.randomUUID() + "\n");
      mon = await startMonitor({ dataDir: data, port, listen: ns.nsAddr, wrap: ns.wrap, extra });
      await sleep(8_000);

      // 3. the manager returns to a backlog behind a slow link
      const backlogTo = spoolValue(data, "SELECT value AS v FROM meta WHERE key = 'lastSeq'")!;
      manager = startManager(config, opts);
      await manager.waitFor(/^Connected to monitoring service/, 20_000);
      const t0 = performance.now();
      let drained = false;
      for (let i = 0; i < 450 && !drained; i++) {
        await sleep(200);
        const oldest = spoolValue(data, "SELECT min(seq) AS v FROM spool");
        drained = oldest === null || oldest > backlogTo;
      }
      const drainMs = performance.now() - t0;
      const drops = manager.lines.filter((l) => /^Disconnected from/.test(l));
      assert.ok(drained, `the backlog drained (${drops.length} disconnects)`);
      assert.deepEqual(drops, [], "the link never dropped");
      await sleep(1_000);
      assert.equal((await mon.proc.stop("SIGTERM")).code, 0);
      await sleep(500);
      assert.equal((await manager.stop("SIGTERM")).code, 0);

      const rows = readStored(db);
      const ledger = readMonitorLedger(data);
      const stored = assertStoredOrDropped(rows, ledger);
      const underOld = rows.filter((r) => r.monitorId === oldId).length;
      assert.ok(underOld > 0 && underOld < stored, "stored under the old ID and the new");
      console.log(
        `combined faults: ${ledger.lastSeq} numbered in one epoch, ${stored} stored once ` +
          `(${underOld} under the old ID), ${ledger.dropped} dropped and counted, ` +
          `${ledger.lastSeq - stored - ledger.dropped} held; backlog of ${backlogTo} ` +
          `drained over 256 kbit/s in ${Math.round(drainMs)} ms with no disconnect`,
      );
    } finally {
      await manager.stop("SIGKILL");
      await mon.proc.stop("SIGKILL");
    }
  },
});
