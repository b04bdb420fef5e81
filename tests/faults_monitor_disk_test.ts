/**
 * Fault test (issue 10, monitor disk full): the monitor's `--data` is a
 * 3 MB tmpfs (`smallDisk`), filled while the manager is away and the monitor checks.
 * The spool says "disk full at PATH", keeps numbering and holds results in
 * memory; the manager, back, hears the monitor's spool report (pending,
 * dropped, diskFull) and stores what it is sent; once space returns the
 * spool writes again. Every sequence number is stored once or counted as
 * dropped.
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { smallDisk } from "./helpers/full_disk.ts";
import { startMonitor } from "./helpers/netmon.ts";
import { assertStoredOrDropped, readMonitorLedger, readStored } from "./helpers/ledger.ts";
import { Manager } from "../manager/manager.ts";
import { quietOutput } from "./helpers/quiet_output.ts";
import type { SpoolReport } from "../shared/protocol.ts";

const CHECKS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 100 ms for up to `ms`; returns whether it held. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (let t = 0; t < ms; t += 100) {
    if (cond()) return true;
    await sleep(100);
  }
  return cond();
}

Deno.test({
  name:
    "a monitor whose disk is full loses nothing silently: results held, reported to the manager, stored or counted",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await using tmp = await tempDir();
    await using disk = await smallDisk(3072);
    const data = disk.path;
    const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    (async () => {
      try {
        for await (const c of target) c.close();
      } catch { /* closed */ }
    })();
    // a 1 MiB bound: what the full disk makes it hold in memory overflows, and is counted
    const mon = await startMonitor({
      dataDir: data,
      extra: ["--name", "m", "--spool-max-mb", "1"],
    });
    const configPath = `${tmp.path}/tasks.yaml`;
    await Deno.writeTextFile(
      configPath,
      `monitors:\n  - { address: "127.0.0.1:${mon.port}", name: m }\ntargets:\n` +
        Array.from(
          { length: CHECKS },
          (_, i) =>
            `  t${i}:\n    TCP: { host: 127.0.0.1, port: ${
              (target.addr as Deno.NetAddr).port
            }, frequency: 0.2 }\n`,
        ).join(""),
    );
    const dbPath = `${tmp.path}/netmon.db`;
    const start = () =>
      Manager.start({ configPath, dbPath, token: "", output: quietOutput, watch: false });
    let manager: Manager | undefined = await start();
    try {
      const spool = (): SpoolReport | null => manager?.links.get("m")?.state.spool ?? null;
      let arrived = 0;
      manager.onResult(() => arrived++);
      assert.ok(await until(() => arrived > 0, 20_000), "results arrive");
      assert.ok(await until(() => spool() !== null, 5_000), "the spool report arrives");
      await manager.stop();
      manager = undefined;
      // no room left: the spool's next write, with 500 results a second, finds the disk full
      await disk.fill();
      await mon.proc.waitFor(new RegExp(`disk full at ${data}/spool\\.db`), 60_000);
      // results held in memory meanwhile, until the bound drops the oldest
      await mon.proc.waitFor(/Spool full: dropped/, 30_000);

      manager = await start();
      assert.ok(
        await until(() => spool()?.diskFull === `disk full at ${data}/spool.db`, 10_000),
        `the manager hears of the full disk: ${JSON.stringify(spool())}`,
      );
      // what was held goes to the manager even while the disk stays full
      assert.ok(
        await until(() => (spool()?.pending ?? Infinity) < CHECKS * 2, 30_000),
        `the backlog drains while the disk is full: ${JSON.stringify(spool())}`,
      );
      await disk.free();
      assert.ok(
        await until(() => spool()?.diskFull === null, 10_000),
        `the spool writes again once space returns: ${JSON.stringify(spool())}`,
      );
      assert.ok(mon.proc.lines.some((l) => /Spool: space returned/.test(l)));
      assert.ok(
        await until(() => (spool()?.pending ?? Infinity) < CHECKS * 2, 30_000),
        `what was held drains: ${JSON.stringify(spool())}`,
      );
      assert.equal((await mon.proc.stop("SIGTERM")).code, 0);
      await sleep(500);
      const report = spool();
      const errors = mon.proc.lines.filter((l) => /\[ERR\]|Could not write/.test(l));
      assert.deepEqual(errors, [], "the monitor reported no error");
      await manager.stop();
      manager = undefined;
      const ledger = readMonitorLedger(data);
      console.log(
        JSON.stringify(ledger),
        JSON.stringify(report),
        mon.proc.lines.filter((l) => /WRN|ERR|Spool/.test(l)).join("\n"),
      );
      const stored = assertStoredOrDropped(readStored(dbPath), ledger);
      assert.ok(ledger.dropped > 0, "results were dropped");
      assert.equal(report?.dropped, ledger.dropped, "the manager knows the drop count");
      console.log(
        `monitor disk full: ${ledger.lastSeq} results numbered, ${stored} stored, ` +
          `${ledger.dropped} dropped and counted, ${ledger.lastSeq - stored - ledger.dropped} ` +
          `still held for the next manager; none lost silently`,
      );
    } finally {
      await manager?.stop();
      await mon.proc.stop("SIGKILL");
      target.close();
    }
  },
});
