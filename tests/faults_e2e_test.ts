/**
 * Fault tests (issue 4, cases 2, 4 and 5), with real processes through
 * `./netmon`: a monitor killed with SIGKILL and restarted (its spool
 * survives), `spread` checks moving off a stopped monitor and back, and
 * tasks.yaml edited while running. Each ends by counting every result the
 * monitors produced against what the manager stored.
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { type MonitorProc, startManager, startMonitor } from "./helpers/netmon.ts";
import { assertStoredOnce, readMonitorLedger, readStored } from "./helpers/ledger.ts";
import { spreadOwner } from "../manager/placement.ts";

/** The issue's requirement for moving spread checks, not a measurement of this machine. */
const MOVE_WITHIN_MS = 3_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A monitor's log line for an assignment that added at least one check. */
const GAINED = /Assignment \d+: \d+ checks \([1-9]\d* added/;
/** A monitor's log line for an assignment that removed at least one check. */
const LOST = /Assignment \d+: \d+ checks \(\d+ added, \d+ changed, [1-9]\d* removed/;

async function stopAll(monitors: MonitorProc[]) {
  for (const m of monitors) {
    const status = await m.proc.stop("SIGTERM");
    assert.equal(status.code, 0, "SIGTERM stops a monitor cleanly");
  }
}

Deno.test("a monitor killed mid-run keeps its spool: results measured before and after the kill are stored once", async () => {
  await using tmp = await tempDir();
  const dataDir = `${tmp.path}/mon`;
  let mon = await startMonitor({ dataDir, extra: ["--name", "m"] });
  const port = mon.port;
  const config = `${tmp.path}/tasks.yaml`;
  const targets = [1, 2, 3].map((i) =>
    `  t${i}:\n    TCP: { host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.5 }\n`
  );
  await Deno.writeTextFile(
    config,
    `monitors:\n  - { address: "127.0.0.1:${port}", name: m }\ntargets:\n${targets.join("")}`,
  );
  const db = `${tmp.path}/netmon.db`;
  const opts = { db, extra: ["--status-every", "1"] };
  const online = new RegExp(`^127\\.0\\.0\\.1:${port}: Online`);
  let manager = startManager(config, opts);
  try {
    await manager.waitFor(/Monitor: m$/);
    await sleep(1_000);

    // killed while connected and checking
    await mon.proc.stop("SIGKILL");
    mon = await startMonitor({ dataDir, port, extra: ["--name", "m"] });
    let mark = manager.mark;
    await manager.waitFor(online, 15_000, mark);
    await manager.waitFor(/Monitor: m$/, 15_000, mark);

    // killed while holding results no manager has acknowledged
    assert.equal((await manager.stop("SIGTERM")).code, 0, "SIGTERM stops the manager cleanly");
    await sleep(2_000);
    await mon.proc.stop("SIGKILL");
    const held = readMonitorLedger(dataDir);
    assert.ok(held.lastSeq > held.acked, "the killed monitor's spool holds unacknowledged results");

    // back without a manager: it resumes its last assignment from disk
    const restartedAt = Date.now();
    mon = await startMonitor({ dataDir, port, extra: ["--name", "m"] });
    await mon.proc.waitFor(/Resumed 3 checks from the last assignment/);
    await sleep(2_000);
    const managerBackAt = Date.now();
    manager = startManager(config, opts);
    await manager.waitFor(online);
    mark = manager.mark;
    await manager.waitFor(/Monitor: m$/, 15_000, mark);
    await sleep(1_000);

    await stopAll([mon]);
    assert.equal((await manager.stop("SIGTERM")).code, 0, "SIGTERM stops the manager cleanly");
    const rows = readStored(db);
    const ledger = readMonitorLedger(dataDir);
    const counts = assertStoredOnce(rows, [ledger]);
    const heldStored = rows.filter((r) => r.seq > held.acked && r.seq <= held.lastSeq).length;
    assert.equal(heldStored, held.lastSeq - held.acked, "the spooled results were replayed");
    const alone = rows.filter((r) => r.startedAt > restartedAt && r.startedAt < managerBackAt);
    assert.ok(alone.length > 0, "the restarted monitor checked before any manager connected");
    console.log(
      `monitor killed twice: stored ${counts.get(ledger.id)} results (1..lastSeq, none missing ` +
        `or doubled); ${heldStored} replayed from the spool of the killed monitor, ` +
        `${alone.length} measured after its restart with no manager`,
    );
  } finally {
    await manager.stop("SIGKILL");
    await mon.proc.stop("SIGKILL");
  }
});

Deno.test("spread checks move off a stopped monitor within 3 s and back when it returns, never on two at once", async () => {
  await using tmp = await tempDir();
  const names = ["a", "b", "c"];
  const monitors = new Map<string, MonitorProc>();
  for (const name of names) {
    monitors.set(
      name,
      await startMonitor({ dataDir: `${tmp.path}/${name}`, extra: ["--name", name] }),
    );
  }
  const ids = Array.from({ length: 9 }, (_, i) => `t${i}/TCP`);
  const owner = (id: string, online: string[]) => spreadOwner(id, online)!;
  const moving = ids.filter((id) => owner(id, names) === "b");
  assert.ok(moving.length > 0, "the test's targets give monitor b some checks");
  const gainers = new Set(moving.map((id) => owner(id, ["a", "c"])));

  const config = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    config,
    `monitors:\n${
      names.map((n) => `  - { address: "127.0.0.1:${monitors.get(n)!.port}", name: ${n} }\n`)
        .join("")
    }targets:\n${
      ids.map((id) =>
        `  ${id.split("/")[0]}:\n    monitors: spread\n` +
        `    TCP: { host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.5 }\n`
      ).join("")
    }`,
  );
  const db = `${tmp.path}/netmon.db`;
  const manager = startManager(config, { db, extra: ["--status-every", "1"] });
  try {
    for (const n of names) await manager.waitFor(new RegExp(`Monitor: ${n}$`));
    await sleep(1_000);
    // before, checks moved as the monitors came online one by one
    const settledAt = Date.now();

    // b stops: its checks go to a and c
    const marks = new Map(names.map((n) => [n, monitors.get(n)!.proc.mark]));
    let t0 = performance.now();
    assert.equal((await monitors.get("b")!.proc.stop("SIGTERM")).code, 0);
    const moveMs: string[] = [];
    for (const n of gainers) {
      await monitors.get(n)!.proc.waitFor(GAINED, 10_000, marks.get(n));
      const ms = performance.now() - t0;
      moveMs.push(`${n} ${Math.round(ms)} ms`);
      assert.ok(
        ms <= MOVE_WITHIN_MS,
        `monitor ${n} got b's checks ${Math.round(ms)} ms after b stopped`,
      );
    }
    const movedAt = Date.now();
    await sleep(2_000);

    // b returns: its checks come back, the others give them up
    const b = monitors.get("b")!;
    for (const n of names) marks.set(n, monitors.get(n)!.proc.mark);
    t0 = performance.now();
    const returnedAt = Date.now();
    monitors.set(
      "b",
      await startMonitor({ dataDir: b.dataDir, port: b.port, extra: ["--name", "b"] }),
    );
    // a fresh assignment, not its saved one: the others still run those checks
    await monitors.get("b")!.proc.waitFor(
      new RegExp(`Assignment \\d+: ${moving.length} checks \\(${moving.length} added`),
    );
    const backMs = performance.now() - t0;
    for (const n of gainers) await monitors.get(n)!.proc.waitFor(LOST, 10_000, marks.get(n));
    await sleep(2_000);

    await stopAll([...monitors.values()]);
    assert.equal((await manager.stop("SIGTERM")).code, 0, "SIGTERM stops the manager cleanly");
    const rows = readStored(db);
    const counts = assertStoredOnce(rows, names.map((n) => readMonitorLedger(`${tmp.path}/${n}`)));
    for (const id of ids) {
      // who ran each run, in start order; a check running on two monitors at once would alternate
      const runs = rows.filter((r) => r.checkId === id && r.startedAt > settledAt).map((r) =>
        r.monitorName
      );
      const handovers = runs.filter((n, i) => i > 0 && n !== runs[i - 1]).length;
      if (moving.includes(id)) {
        assert.ok(handovers <= 2, `${id} changed monitors ${handovers} times: ${runs.join(",")}`);
        const during = rows.filter((r) =>
          r.checkId === id && r.startedAt > movedAt && r.startedAt < returnedAt
        );
        assert.ok(during.length > 0, `${id} ran while b was away`);
        for (const r of during) assert.equal(r.monitorName, owner(id, ["a", "c"]));
      } else {
        assert.equal(handovers, 0, `${id} stayed on ${owner(id, names)}: ${runs.join(",")}`);
      }
    }
    console.log(
      `spread: ${moving.length} of ${ids.length} checks moved off b (${moveMs.join(", ")} after ` +
        `it stopped), back on b ${Math.round(backMs)} ms after its restart; stored ` +
        `${[...counts.values()].join(" + ")} results (1..lastSeq, none missing or doubled)`,
    );
  } finally {
    await manager.stop("SIGKILL");
    for (const m of monitors.values()) await m.proc.stop("SIGKILL");
  }
});

Deno.test("tasks.yaml edits apply as a diff while running; a broken file is reported and the running one stays", async () => {
  await using tmp = await tempDir();
  const mon = await startMonitor({ dataDir: `${tmp.path}/mon`, extra: ["--name", "m"] });
  const [p1, p2, p3, p4] = [freeTcpPort(), freeTcpPort(), freeTcpPort(), freeTcpPort()];
  const head = `monitors:\n  - { address: "127.0.0.1:${mon.port}", name: m }\ntargets:\n`;
  const keep = `  keep:\n    TCP: { host: 127.0.0.1, port: ${p1}, frequency: 0.5 }\n`;
  const config = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    config,
    head + keep +
      `  change:\n    TCP: { host: 127.0.0.1, port: ${p2}, frequency: 0.5 }\n` +
      `  drop:\n    TCP: { host: 127.0.0.1, port: ${p3}, frequency: 0.5 }\n`,
  );
  const db = `${tmp.path}/netmon.db`;
  const manager = startManager(config, { db, extra: ["--status-every", "1"] });
  try {
    await manager.waitFor(/Port \d+ - Closed.*Monitor: m$/);
    await sleep(1_000);

    // add one, change one, remove one: only those two restart, the third keeps its rhythm
    let mark = mon.proc.mark;
    await Deno.writeTextFile(
      config,
      head + keep +
        `  change:\n    TCP: { host: 127.0.0.1, port: ${p4}, frequency: 0.5 }\n` +
        `  added:\n    TCP: { host: 127.0.0.1, port: ${p3}, frequency: 0.5 }\n`,
    );
    await mon.proc.waitFor(
      /Assignment \d+: 3 checks \(1 added, 1 changed, 1 removed\)/,
      10_000,
      mark,
    );
    const appliedAt = Date.now();
    await manager.waitFor(/Configuration reloaded: 3 checks, 1 monitors/);
    await sleep(1_500);

    // a syntax error: reported with its line, nothing changes; SIGHUP re-reads it
    mark = mon.proc.mark;
    let mmark = manager.mark;
    await Deno.writeTextFile(config, head + keep + `  change:\n    TCP: { host: [127.0.0.1\n`);
    const syntax = await manager.waitFor(/Configuration not applied/, 10_000, mmark);
    assert.match(syntax, new RegExp(`${escape(config)}:\\d+:\\d+: `));
    mmark = manager.mark;
    manager.child.kill("SIGHUP");
    await manager.waitFor(/Configuration not applied/, 10_000, mmark);

    // a wrong value: reported with its line and field
    mmark = manager.mark;
    await Deno.writeTextFile(
      config,
      head + `  keep:\n    TCP: { host: 127.0.0.1, port: ${p1}, frequency: -1 }\n`,
    );
    const field = await manager.waitFor(/Configuration not applied/, 10_000, mmark);
    assert.match(field, new RegExp(`${escape(config)}:5:\\d+: targets\\.keep\\.TCP\\.frequency: `));
    const brokenAt = Date.now();
    mmark = manager.mark;
    await manager.waitFor(/Port \d+ - Closed.*Monitor: m$/, 10_000, mmark);
    await sleep(1_000);
    assert.equal(mon.proc.matching(/Assignment/, mark).length, 0, "a broken file changes nothing");

    await stopAll([mon]);
    assert.equal((await manager.stop("SIGTERM")).code, 0, "SIGTERM stops the manager cleanly");
    const rows = readStored(db);
    const counts = assertStoredOnce(rows, [readMonitorLedger(mon.dataDir)]);
    const after = rows.filter((r) => r.startedAt > appliedAt);
    const of = (id: string) => after.filter((r) => r.checkId === id);
    assert.equal(of("drop/TCP").length, 0, "the removed check stopped");
    assert.ok(of("added/TCP").length > 0, "the added check runs");
    assert.ok(of("change/TCP").length > 0, "the changed check runs");
    for (const r of of("change/TCP")) assert.match(r.summary, new RegExp(`Port ${p4} `));
    for (const id of ["keep/TCP", "change/TCP", "added/TCP"]) {
      assert.ok(
        of(id).some((r) => r.startedAt > brokenAt),
        `${id} kept running after the broken edits`,
      );
    }
    console.log(
      `reload: stored ${[...counts.values()].join(" + ")} results (1..lastSeq, none missing or ` +
        `doubled); ${of("added/TCP").length} from the added check, none from the removed one`,
    );
  } finally {
    await manager.stop("SIGKILL");
    await mon.proc.stop("SIGKILL");
  }
});
