/**
 * Fault test (issue 10, slow links): a monitor in its own network namespace
 * sends through a 256 kbit/s token bucket (`tc tbf`). After the manager was
 * away long enough for the backlog to fill frames that take seconds to cross
 * the link, the replay finishes without the link dropping: liveness counts
 * bytes, not whole frames, and frames are bounded in bytes.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { tempDir } from "./helpers/proc.ts";
import { canMakeNetns, makeNetns } from "./helpers/netns.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";
import { assertStoredOrDropped, readMonitorLedger, readStored } from "./helpers/ledger.ts";

const TOKEN = "slow-link-test-token";
const CHECKS = 20;
const OUTAGE_MS = 20_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lowest sequence number a running monitor's spool still holds (null: none). */
function oldestHeld(dataDir: string): number | null {
  const db = new DatabaseSync(`${dataDir}/spool.db`, { readOnly: true });
  try {
    const row = db.prepare("SELECT min(seq) AS m FROM spool").get() as { m: number | null };
    return row.m === null ? null : Number(row.m);
  } finally {
    db.close();
  }
}

Deno.test({
  name: "a backlog replayed over a 256 kbit/s link drains without the link dropping",
  ignore: !(await canMakeNetns()),
  fn: async () => {
    await using tmp = await tempDir();
    await using ns = await makeNetns();
    await ns.limitRate("256kbit");
    const mon = await startMonitor({
      dataDir: `${tmp.path}/mon`,
      listen: ns.nsAddr,
      wrap: ns.wrap,
      extra: ["--name", "slow", "--token", TOKEN],
    });
    const address = `${ns.nsAddr}:${mon.port}`;
    const config = `${tmp.path}/tasks.yaml`;
    // ports nobody listens on in the namespace's own loopback: results, up or down, either way
    await Deno.writeTextFile(
      config,
      `monitors:\n  - { address: "${address}", name: slow }\ntargets:\n` +
        Array.from(
          { length: CHECKS },
          (_, i) => `  t${i}:\n    TCP: { host: 127.0.0.1, port: ${9 + i}, frequency: 1 }\n`,
        ).join(""),
    );
    const db = `${tmp.path}/netmon.db`;
    const opts = { db, extra: ["--token", TOKEN, "--log-level", "info"] };
    let manager = startManager(config, opts);
    try {
      await manager.waitFor(/Monitor: slow$/, 20_000);
      assert.equal((await manager.stop("SIGTERM")).code, 0);
      await sleep(OUTAGE_MS);
      const backlogTo = maxSeq(mon.dataDir);
      const held = backlogTo - (oldestHeld(mon.dataDir) ?? backlogTo + 1) + 1;
      manager = startManager(config, opts);
      await manager.waitFor(/^Connected to monitoring service/, 20_000);
      const t0 = performance.now();
      let drained = false;
      for (let i = 0; i < 450 && !drained; i++) {
        await sleep(200);
        const oldest = oldestHeld(mon.dataDir);
        drained = oldest === null || oldest > backlogTo;
      }
      const drainMs = performance.now() - t0;
      const drops = manager.lines.filter((l) => /^Disconnected from/.test(l));
      assert.ok(drained, `the backlog drained (${drops.length} disconnects)`);
      assert.deepEqual(drops, [], "the link never dropped");
      await sleep(1_000);
      await mon.proc.stop("SIGTERM");
      await sleep(500);
      assert.equal((await manager.stop("SIGTERM")).code, 0);
      const rows = readStored(db);
      const ledger = readMonitorLedger(mon.dataDir);
      // results measured in the last moments before the monitor stopped may still be held in its
      // spool (not lost: they go out on the next connection); the whole backlog must be stored
      const stored = assertStoredOrDropped(rows, ledger);
      const backlogStored = new Set(rows.filter((r) => r.seq <= backlogTo).map((r) => r.seq));
      assert.equal(backlogStored.size, backlogTo, "every result of the backlog is stored");
      console.log(
        `256 kbit/s: a backlog of ${held} results (${OUTAGE_MS / 1000} s of ${CHECKS} checks/s) ` +
          `drained in ${Math.round(drainMs)} ms with no disconnect; ${stored} results stored once`,
      );
    } finally {
      await manager.stop("SIGKILL");
      await mon.proc.stop("SIGKILL");
    }
  },
});

/** Highest sequence number a running monitor's spool gave out. */
function maxSeq(dataDir: string): number {
  const db = new DatabaseSync(`${dataDir}/spool.db`, { readOnly: true });
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'lastSeq'").get() as {
      value: number;
    };
    return Number(row.value);
  } finally {
    db.close();
  }
}
