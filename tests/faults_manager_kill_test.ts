/**
 * Fault test (issue 4, case 1): the manager is killed with SIGKILL for 20 s
 * while two monitors keep checking, then restarted on the same store. Every
 * result the monitors produced is stored once, with its original start time.
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";
import { assertStoredOnce, readMonitorLedger, readStored } from "./helpers/ledger.ts";

const OUTAGE_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP port on loopback that accepts and closes every connection. */
function openPort(): Deno.TcpListener & { done: Promise<void> } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    try {
      for await (const c of l) c.close();
    } catch { /* closed */ }
  })();
  return Object.assign(l, { done });
}

Deno.test("a manager killed for 20 s loses nothing: the monitors' spooled results are replayed and stored once", async () => {
  await using tmp = await tempDir();
  const open = openPort();
  const closed = freeTcpPort();
  const a = await startMonitor({ dataDir: `${tmp.path}/a`, extra: ["--name", "a"] });
  const b = await startMonitor({ dataDir: `${tmp.path}/b`, extra: ["--name", "b"] });
  const config = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    config,
    `monitors:
  - { address: "127.0.0.1:${a.port}", name: a }
  - { address: "127.0.0.1:${b.port}", name: b }
targets:
  open:
    TCP: { host: 127.0.0.1, port: ${open.addr.port}, frequency: 0.5 }
  closed:
    TCP: { host: 127.0.0.1, port: ${closed}, frequency: 0.5 }
`,
  );
  const db = `${tmp.path}/netmon.db`;
  const opts = { db, extra: ["--status-every", "1"] };
  let manager = startManager(config, opts);
  try {
    await manager.waitFor(/Monitor: a$/);
    await manager.waitFor(/Monitor: b$/);
    await sleep(1_000);

    await manager.stop("SIGKILL");
    const killedAt = Date.now();
    await sleep(OUTAGE_MS);
    const restartedAt = Date.now();
    const t0 = performance.now();
    manager = startManager(config, opts);
    await manager.waitFor(new RegExp(`^127\\.0\\.0\\.1:${a.port}: Online`));
    await manager.waitFor(new RegExp(`^127\\.0\\.0\\.1:${b.port}: Online`));
    const onlineMs = performance.now() - t0;
    // results measured after the restart show that the replay is behind us
    let mark = manager.mark;
    await manager.waitFor(/Monitor: a$/, 15_000, mark);
    mark = manager.mark;
    await manager.waitFor(/Monitor: b$/, 15_000, mark);
    await sleep(1_000);

    for (const m of [a, b]) {
      const status = await m.proc.stop("SIGTERM");
      assert.equal(status.code, 0, "SIGTERM stops a monitor cleanly");
    }
    const status = await manager.stop("SIGTERM");
    assert.equal(status.code, 0, "SIGTERM stops the manager cleanly");

    const rows = readStored(db);
    const ledgers = [readMonitorLedger(a.dataDir), readMonitorLedger(b.dataDir)];
    const counts = assertStoredOnce(rows, ledgers);
    const duringOutage = ledgers.map((l) =>
      rows.filter((r) =>
        r.monitorId === l.id && r.startedAt > killedAt && r.startedAt < restartedAt
      )
        .length
    );
    for (const n of duringOutage) {
      assert.ok(n > 0, "results measured during the outage are stored with their own start times");
    }
    console.log(
      `manager outage ${OUTAGE_MS} ms: stored ${[...counts.values()].join(" + ")} results ` +
        `(1..lastSeq, none missing or doubled), ${duringOutage.join(" + ")} measured during the ` +
        `outage; both monitors Online ${Math.round(onlineMs)} ms after the restart`,
    );
  } finally {
    await manager.stop("SIGKILL");
    await a.proc.stop("SIGKILL");
    await b.proc.stop("SIGKILL");
    open.close();
    await open.done;
  }
});
