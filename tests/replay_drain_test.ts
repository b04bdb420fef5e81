/**
 * Replay pacing (issue 10): a monitor holding 100,000 results connects to a
 * manager on loopback. Its live results are stored while the backlog is
 * still draining (live first), the backlog drains at the bounded replay rate
 * and every result is stored once. Prints how long the drain took.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { tempDir } from "./helpers/proc.ts";
import { startMonitor } from "./helpers/netmon.ts";
import { assertStoredOnce, readMonitorLedger, readStored } from "./helpers/ledger.ts";
import { Manager } from "../manager/manager.ts";
import { quietOutput } from "./helpers/quiet_output.ts";
import { Spool } from "../monitor/spool.ts";
import { REPLAY_RESULTS_PER_S } from "../shared/protocol.ts";

const HELD = 100_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("100,000 held results drain behind live ones at the replay rate, each stored once", async () => {
  await using tmp = await tempDir();
  const dataDir = `${tmp.path}/mon`;
  await Deno.mkdir(dataDir);
  const id = crypto.randomUUID();
  await Deno.writeTextFile(`${dataDir}/monitor-id`, id + "\n");
  const spool = Spool.open(`${dataDir}/spool.db`);
  const t = Date.now() - 3_600_000;
  for (let i = 0; i < HELD; i += 1000) {
    spool.append(Array.from({ length: 1000 }, (_, j) => ({
      taskId: crypto.randomUUID(),
      monitorId: id,
      checkId: "open/TCP",
      target: "open",
      type: "TCP" as const,
      startedAt: t + (i + j) * 36,
      durationMs: 0.2,
      up: true,
      summary: "TCP Port: 127.0.0.1 - Port 1 - Open",
      latencyMs: 0.2,
      metrics: { probe_success: 1 },
      details: {},
    })));
  }
  const epoch = spool.epoch;
  spool.close();

  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    try {
      for await (const c of target) c.close();
    } catch { /* closed */ }
  })();
  const mon = await startMonitor({ dataDir, extra: ["--name", "m"] });
  const configPath = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    configPath,
    `monitors:\n  - { address: "127.0.0.1:${mon.port}", name: m }\ntargets:\n  open:\n` +
      `    TCP: { host: 127.0.0.1, port: ${(target.addr as Deno.NetAddr).port}, frequency: 0.1 }\n`,
  );
  const dbPath = `${tmp.path}/netmon.db`;
  const manager = await Manager.start({
    configPath,
    dbPath,
    token: "",
    output: quietOutput,
    watch: false,
  });
  let stopped = false;
  try {
    const link = manager.links.get("m")!;
    for (let i = 0; i < 200 && !link.online; i++) await sleep(50);
    assert.ok(link.online, "the monitor is online");
    const t0 = performance.now();
    // drained once the spool holds nothing of the backlog: all of it stored and acknowledged
    // (read from the spool, cheaply: a count over the store would slow the manager down)
    const oldestHeld = () => {
      const db = new DatabaseSync(`${dataDir}/spool.db`, { readOnly: true });
      try {
        const row = db.prepare("SELECT min(seq) AS m FROM spool").get() as { m: number | null };
        return row.m === null ? Infinity : Number(row.m);
      } finally {
        db.close();
      }
    };
    let done = false;
    for (let i = 0; i < 1200 && !done; i++) {
      await sleep(50);
      done = oldestHeld() > HELD;
    }
    const drainMs = performance.now() - t0;
    assert.ok(done, `the backlog drained: the spool still holds result ${oldestHeld()}`);
    await sleep(1_000);
    await mon.proc.stop("SIGTERM");
    await sleep(300);
    await manager.stop();
    stopped = true;

    const db = new DatabaseSync(dbPath, { readOnly: true });
    const order = db.prepare(
      `SELECT (SELECT min(id) FROM result_rows WHERE seq > ?) AS firstLive,
              (SELECT max(id) FROM result_rows WHERE seq <= ?) AS lastBacklog`,
    ).get(HELD, HELD) as { firstLive: number | null; lastBacklog: number };
    db.close();
    assert.ok(order.firstLive !== null, "live results were stored");
    assert.ok(
      Number(order.firstLive) < Number(order.lastBacklog),
      "a live result was stored before the backlog had drained",
    );
    const ledger = readMonitorLedger(dataDir);
    assert.equal(ledger.epoch, epoch);
    const counts = assertStoredOnce(readStored(dbPath), [ledger]);
    console.log(
      `replay: ${HELD} held results drained in ${Math.round(drainMs)} ms on loopback ` +
        `(${
          Math.round(HELD / (drainMs / 1000))
        } results/s; the cap is ${REPLAY_RESULTS_PER_S}/s), ` +
        `live results stored meanwhile; ${counts.get(id)} stored once`,
    );
  } finally {
    if (!stopped) await manager.stop();
    await mon.proc.stop("SIGKILL");
    target.close();
  }
});
