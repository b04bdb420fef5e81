/**
 * Fault test (issue 4, case 3): a monitor runs in its own network namespace
 * and its link goes down for 20 s, silently (no FIN, no RST). The manager
 * shows `Reconnecting` within 3 s and `Online` within 2 s of the link's
 * return, and the results measured meanwhile are replayed and stored once.
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { canMakeNetns, makeNetns } from "./helpers/netns.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";
import { assertStoredOnce, readMonitorLedger, readStored } from "./helpers/ledger.ts";

const OUTAGE_MS = 20_000;
/** The requirements, not measurements of this machine. */
const RECONNECTING_WITHIN_MS = 3_000;
const ONLINE_WITHIN_MS = 2_000;

const TOKEN = "partition-test-token";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name:
    "a partitioned monitor shows Reconnecting within 3 s, Online within 2 s of the link's return, and replays",
  ignore: !(await canMakeNetns()),
  fn: async () => {
    await using tmp = await tempDir();
    await using ns = await makeNetns();
    const mon = await startMonitor({
      dataDir: `${tmp.path}/mon`,
      listen: ns.nsAddr,
      wrap: ns.wrap,
      // beyond loopback a monitor needs a token
      extra: ["--name", "far", "--token", TOKEN],
    });
    const address = `${ns.nsAddr}:${mon.port}`;
    const config = `${tmp.path}/tasks.yaml`;
    // the namespace's own loopback: one port nobody listens on, checked from inside
    await Deno.writeTextFile(
      config,
      `monitors:
  - { address: "${address}", name: far }
targets:
  inside:
    TCP: { host: 127.0.0.1, port: 9, frequency: 0.5 }
`,
    );
    const db = `${tmp.path}/netmon.db`;
    const manager = startManager(config, {
      db,
      extra: ["--status-every", "1", "--token", TOKEN],
    });
    const statusRe = (s: string) => new RegExp(`^${address.replaceAll(".", "\\.")}: ${s}`);
    try {
      await manager.waitFor(statusRe("Online"));
      await manager.waitFor(/Monitor: far$/);
      await sleep(1_000);

      let mark = manager.mark;
      const downAt = Date.now();
      let t0 = performance.now();
      await ns.down();
      const reconnecting = await manager.waitFor(statusRe("Reconnecting"), 10_000, mark);
      const detectMs = performance.now() - t0;
      // the last error, for how long, and when the monitor was last heard
      assert.match(reconnecting, /\(name far, no frame from .+, for \d+ s, last seen .+\)$/);
      await sleep(OUTAGE_MS - (performance.now() - t0));

      mark = manager.mark;
      const upAt = Date.now();
      t0 = performance.now();
      await ns.up();
      const online = await manager.waitFor(statusRe("Online"), 10_000, mark);
      const recoverMs = performance.now() - t0;
      assert.match(online, /last seen .+, \d+ held back(, [^)]+)?\)$/);
      mark = manager.mark;
      await manager.waitFor(/Monitor: far$/, 15_000, mark);
      await sleep(1_000);

      const monStatus = await mon.proc.stop("SIGTERM");
      assert.equal(monStatus.code, 0, "SIGTERM stops the monitor cleanly");
      const status = await manager.stop("SIGTERM");
      assert.equal(status.code, 0, "SIGTERM stops the manager cleanly");

      const rows = readStored(db);
      const ledger = readMonitorLedger(mon.dataDir);
      const counts = assertStoredOnce(rows, [ledger]);
      const during = rows.filter((r) => r.startedAt > downAt + 3_000 && r.startedAt < upAt).length;
      console.log(
        `partition ${OUTAGE_MS} ms: Reconnecting after ${Math.round(detectMs)} ms ` +
          `(required ${RECONNECTING_WITHIN_MS}), Online ${
            Math.round(recoverMs)
          } ms after the link ` +
          `returned (required ${ONLINE_WITHIN_MS}); stored ${counts.get(ledger.id)} results ` +
          `(1..lastSeq, none missing or doubled), ${during} measured while cut off`,
      );
      assert.ok(during > 0, "results measured while cut off are replayed with their start times");
      assert.ok(
        detectMs <= RECONNECTING_WITHIN_MS,
        `Reconnecting shown ${Math.round(detectMs)} ms after the partition`,
      );
      assert.ok(
        recoverMs <= ONLINE_WITHIN_MS,
        `Online shown ${Math.round(recoverMs)} ms after the link returned`,
      );
    } finally {
      await manager.stop("SIGKILL");
      await mon.proc.stop("SIGKILL");
    }
  },
});
