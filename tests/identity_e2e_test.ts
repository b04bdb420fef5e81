/**
 * Identity that can't be confused (issue 10): results are numbered within a
 * spool epoch and acknowledged per frame, so a forged sequence number, a
 * deleted spool, a changed `monitor-id` and a copied one each leave every
 * result stored exactly once. And one name per monitor (issue 13): the
 * configuration's, wherever a person or a program reads it. Real processes
 * through `./netmon`.
 */
import { hasChromium, launchChromium } from "./helpers/chromium.ts";
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";
import {
  assertStoredOnce,
  assertStoredOrDropped,
  readMonitorLedger,
  readStored,
} from "./helpers/ledger.ts";
import { parseMessage, readFrames } from "../shared/protocol.ts";
import { FramedConn } from "../shared/connection.ts";
import { handshake } from "../shared/handshake.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP port on loopback that accepts and closes every connection: a target that is up. */
function openPort(): Deno.TcpListener {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    try {
      for await (const c of l) c.close();
    } catch { /* closed */ }
  })();
  return l;
}

async function writeConfig(
  dir: string,
  monitors: { name: string; port: number }[],
  target: number,
): Promise<string> {
  const path = `${dir}/tasks.yaml`;
  await Deno.writeTextFile(
    path,
    `monitors:\n${
      monitors.map((m) => `  - { address: "127.0.0.1:${m.port}", name: ${m.name} }\n`).join("")
    }targets:\n  open:\n    TCP: { host: 127.0.0.1, port: ${target}, frequency: 0.2 }\n`,
  );
  return path;
}

/** The first frame a monitor sends a new connection: its hello. */
async function helloOf(port: number): Promise<{ monitorId: string; epoch: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for await (const frame of readFrames(conn.readable)) {
      const msg = parseMessage(frame);
      if (msg.t === "hello" && msg.monitorId && msg.epoch !== undefined) {
        return { monitorId: msg.monitorId, epoch: msg.epoch };
      }
    }
    throw new Error("no hello");
  } finally {
    try {
      conn.close();
    } catch { /* closed by the reader */ }
  }
}

Deno.test("a token holder claiming a monitor's ID and epoch with seq 2^53-1 cannot make it drop its backlog", async () => {
  await using tmp = await tempDir();
  const target = openPort();
  let mon = await startMonitor({ dataDir: `${tmp.path}/real`, extra: ["--name", "real"] });
  const port = mon.port;
  const victim = await helloOf(port);
  // the forger speaks while the real monitor is away (a live twin would be refused)
  await mon.proc.stop("SIGTERM");
  const forgedTask = crypto.randomUUID();
  let forgerAcked = false;
  // the forger: a "monitor" the manager dials, that says it is the real one
  const forger = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const forging = (async () => {
    for await (const conn of forger) {
      if (forgerAcked) {
        conn.close(); // once is enough
        continue;
      }
      const fc = new FramedConn(conn, "manager");
      const messages = fc.messages();
      await handshake(fc, messages, {
        side: "listener",
        token: "",
        fields: {
          role: "monitor",
          monitorId: victim.monitorId,
          name: "forger",
          epoch: victim.epoch,
          lastSeq: 2 ** 53 - 1,
        },
      }).catch(() => {});
      await fc.send({
        t: "results",
        results: [{
          seq: 2 ** 53 - 1,
          taskId: forgedTask,
          monitorId: victim.monitorId,
          checkId: "open/TCP",
          target: "open",
          type: "TCP",
          startedAt: Date.now(),
          durationMs: 1,
          up: true,
          summary: "forged",
          latencyMs: 1,
          metrics: {},
          details: {},
        }],
      });
      for await (const msg of messages) {
        if (msg.t === "ack") {
          forgerAcked = true;
          break;
        }
      }
      fc.close("forged");
    }
  })();
  const config = await writeConfig(tmp.path, [{ name: "real", port }, {
    name: "forger",
    port: (forger.addr as Deno.NetAddr).port,
  }], (target.addr as Deno.NetAddr).port);
  const db = `${tmp.path}/netmon.db`;
  let manager = startManager(config, { db });
  try {
    for (let i = 0; i < 100 && !forgerAcked; i++) await sleep(100);
    assert.ok(forgerAcked, "the manager stored the forged result");
    mon = await startMonitor({ dataDir: `${tmp.path}/real`, port, extra: ["--name", "real"] });
    await manager.waitFor(/Monitor: real$/, 15_000);
    // the real monitor spools while the manager is away, then reconnects
    assert.equal((await manager.stop("SIGTERM")).code, 0);
    await sleep(3_000);
    manager = startManager(config, { db });
    const mark = manager.mark;
    await manager.waitFor(/Monitor: real$/, 15_000, mark);
    await sleep(1_500);
    await mon.proc.stop("SIGTERM");
    await sleep(500);
    assert.equal((await manager.stop("SIGTERM")).code, 0);
    const rows = readStored(db).filter((r) => r.taskId !== forgedTask);
    assert.equal(readStored(db).length, rows.length + 1, "the forged result is stored, once");
    const ledger = readMonitorLedger(mon.dataDir);
    const counts = assertStoredOnce(rows, [ledger]);
    console.log(
      `forged seq ${2 ** 53 - 1}: the real monitor's ${
        counts.get(ledger.id)
      } results (1..${ledger.lastSeq}) all stored once`,
    );
  } finally {
    await manager.stop("SIGKILL");
    await mon.proc.stop("SIGKILL");
    forger.close();
    target.close();
    await forging.catch(() => {});
  }
});

Deno.test("a deleted spool.db restarts at seq 1 in a new epoch, and those results are stored, not ignored", async () => {
  await using tmp = await tempDir();
  const target = openPort();
  const dataDir = `${tmp.path}/m`;
  let mon = await startMonitor({ dataDir, extra: ["--name", "m"] });
  const port = mon.port;
  const config = await writeConfig(
    tmp.path,
    [{ name: "m", port }],
    (target.addr as Deno.NetAddr).port,
  );
  const db = `${tmp.path}/netmon.db`;
  const manager = startManager(config, { db });
  try {
    await manager.waitFor(/Monitor: m$/, 15_000);
    await sleep(1_500);
    await mon.proc.stop("SIGTERM");
    const before = readMonitorLedger(dataDir);
    for (const f of ["spool.db", "spool.db-wal", "spool.db-shm"]) {
      await Deno.remove(`${dataDir}/${f}`).catch(() => {});
    }
    mon = await startMonitor({ dataDir, port, extra: ["--name", "m"] });
    const mark = manager.mark;
    await manager.waitFor(/Monitor: m$/, 15_000, mark);
    await sleep(1_500);
    await mon.proc.stop("SIGTERM");
    await sleep(500);
    assert.equal((await manager.stop("SIGTERM")).code, 0);
    const after = readMonitorLedger(dataDir);
    assert.equal(after.id, before.id, "same monitor ID");
    assert.notEqual(after.epoch, before.epoch, "a new epoch");
    const rows = readStored(db);
    const first = assertStoredOrDropped(rows, before);
    const second = assertStoredOrDropped(rows, after);
    assert.ok(second > 0, "the new spool's results are stored");
    console.log(
      `deleted spool: ${first} results of the first epoch and ${second} of the second stored`,
    );
  } finally {
    await manager.stop("SIGKILL");
    await mon.proc.stop("SIGKILL");
    target.close();
  }
});

Deno.test("a monitor whose monitor-id changed while it held results stores them all, without a reconnect loop", async () => {
  await using tmp = await tempDir();
  const target = openPort();
  const dataDir = `${tmp.path}/m`;
  let mon = await startMonitor({ dataDir, extra: ["--name", "m"] });
  const port = mon.port;
  const oldId = mon.id;
  const config = await writeConfig(
    tmp.path,
    [{ name: "m", port }],
    (target.addr as Deno.NetAddr).port,
  );
  const db = `${tmp.path}/netmon.db`;
  let manager = startManager(config, { db });
  try {
    await manager.waitFor(/Monitor: m$/, 15_000);
    assert.equal((await manager.stop("SIGTERM")).code, 0);
    await sleep(2_000); // results held, unacknowledged, under the old ID
    await mon.proc.stop("SIGTERM");
    assert.ok(readMonitorLedger(dataDir).held > 0, "the spool holds results");
    const newId = crypto.randomUUID();
    await Deno.writeTextFile(`${dataDir}/monitor-id`, newId + "\n");
    mon = await startMonitor({ dataDir, port, extra: ["--name", "m"] });
    assert.equal(mon.id, newId);
    manager = startManager(config, { db, extra: ["--log-level", "info"] });
    await manager.waitFor(/Monitor: m$/, 15_000);
    await sleep(2_000);
    await mon.proc.stop("SIGTERM");
    await sleep(500);
    assert.equal((await manager.stop("SIGTERM")).code, 0);
    const reconnects = manager.lines.filter((l) =>
      /^Connected to monitoring service/.test(l)
    ).length;
    assert.equal(reconnects, 1, `one connection, no loop:\n${manager.lines.join("\n")}`);
    assert.ok(
      manager.lines.some((l) => l.includes(`results of monitor ${oldId} arrive from monitor`)),
      "the manager says what happened",
    );
    const ledger = readMonitorLedger(dataDir);
    const rows = readStored(db);
    const stored = assertStoredOrDropped(rows, ledger);
    assert.equal(ledger.dropped, 0);
    const byId = (id: string) => rows.filter((r) => r.monitorId === id).length;
    assert.ok(byId(oldId) > 0 && byId(newId) > 0, "stored under the ID each was measured with");
    console.log(
      `changed monitor-id: ${stored} results (1..${ledger.lastSeq}) stored once, ` +
        `${byId(oldId)} under the old ID and ${byId(newId)} under the new`,
    );
  } finally {
    await manager.stop("SIGKILL");
    await mon.proc.stop("SIGKILL");
    target.close();
  }
});

Deno.test("two monitors with a copied monitor-id are both stored, and the manager warns about them", async () => {
  await using tmp = await tempDir();
  const target = openPort();
  const a = await startMonitor({ dataDir: `${tmp.path}/a`, extra: ["--name", "a"] });
  await Deno.mkdir(`${tmp.path}/b`);
  await Deno.copyFile(`${tmp.path}/a/monitor-id`, `${tmp.path}/b/monitor-id`);
  const b = await startMonitor({ dataDir: `${tmp.path}/b`, extra: ["--name", "b"] });
  assert.equal(a.id, b.id);
  const config = await writeConfig(
    tmp.path,
    [{ name: "a", port: a.port }, { name: "b", port: b.port }],
    (target.addr as Deno.NetAddr).port,
  );
  const db = `${tmp.path}/netmon.db`;
  const manager = startManager(config, { db, extra: ["--status-every", "1"] });
  try {
    await manager.waitFor(new RegExp(`monitor ID ${a.id} is also claimed by`), 15_000);
    await manager.waitFor(/Monitor: a$/, 15_000);
    await manager.waitFor(/Monitor: b$/, 15_000);
    await sleep(1_500);
    await a.proc.stop("SIGTERM");
    await b.proc.stop("SIGTERM");
    await sleep(500);
    assert.equal((await manager.stop("SIGTERM")).code, 0);
    const rows = readStored(db);
    const la = readMonitorLedger(a.dataDir), lb = readMonitorLedger(b.dataDir);
    assert.notEqual(la.epoch, lb.epoch);
    const na = assertStoredOrDropped(rows, la), nb = assertStoredOrDropped(rows, lb);
    assert.ok(na > 0 && nb > 0);
    console.log(`copied monitor-id: ${na} + ${nb} results stored, none taken for the other's`);
  } finally {
    await manager.stop("SIGKILL");
    await a.proc.stop("SIGKILL");
    await b.proc.stop("SIGKILL");
    target.close();
  }
});

/** `text` with every mention of what the monitor calls itself as a detail removed. */
function withoutDetail(text: string): string {
  return text.replaceAll('"reportedName":"vm"', "").replaceAll("calls itself vm", "");
}

Deno.test("a monitor named nyc-1 in tasks.yaml that calls itself vm is nyc-1 everywhere, vm only as a detail", async () => {
  await using tmp = await tempDir();
  const target = openPort();
  await using mon = await startMonitor({ dataDir: `${tmp.path}/m`, extra: ["--name", "vm"] });
  const config = await writeConfig(
    tmp.path,
    [{ name: "nyc-1", port: mon.port }],
    (target.addr as Deno.NetAddr).port,
  );
  await using manager = startManager(config, {
    db: `${tmp.path}/netmon.db`,
    extra: ["--status-every", "1"],
  });
  try {
    const url = (await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 30_000))
      .match(/(http:\/\/\S+)\/$/)![1]!;
    // the log: results, the status block and the connection event
    await manager.waitFor(/Monitor: nyc-1$/);
    await manager.waitFor(
      new RegExp(
        `^127\\.0\\.0\\.1:${mon.port}: Online \\(name nyc-1, calls itself vm, ID ${mon.id}, `,
      ),
    );
    assert.ok(
      manager.lines.some((l) =>
        l.startsWith(`Connected to monitoring service at 127.0.0.1:${mon.port} `) &&
        l.endsWith(`(monitor ID: ${mon.id}, name: nyc-1, calls itself vm)`)
      ),
      manager.lines.join("\n"),
    );

    // the live event stream the dashboard reads, while the API is asked
    const events = await fetch(`${url}/api/v1/events`);
    const sse = (async () => {
      let text = "";
      const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
      while (!/event: result\ndata: .*"monitorName":"nyc-1"/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      await reader.cancel();
      return text;
    })();
    const get = async (path: string) => {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 200, path);
      return await res.text();
    };
    const monitors = JSON.parse(await get("/api/v1/monitors"));
    assert.equal(monitors.length, 1);
    assert.equal(monitors[0].name, "nyc-1");
    assert.equal(monitors[0].reportedName, "vm");
    const targets = JSON.parse(await get("/api/v1/targets"));
    assert.deepEqual([...new Set(targets.map((t: { monitor: string }) => t.monitor))], ["nyc-1"]);
    const metrics = await get("/metrics");
    assert.match(metrics, /monitor="nyc-1"/);
    const bodies: Record<string, string> = {
      log: manager.lines.join("\n"),
      "/api/v1/monitors": JSON.stringify(monitors),
      "/api/v1/status": await get("/api/v1/status"),
      "/api/v1/targets": JSON.stringify(targets),
      "/api/v1/results": await get("/api/v1/results?limit=50"),
      "/api/v1/config": await get("/api/v1/config"),
      "/metrics": metrics,
      "/api/v1/events": await sse,
    };
    assert.match(bodies["/api/v1/events"]!, /"monitorName":"nyc-1"/);
    for (const [where, text] of Object.entries(bodies)) {
      assert.doesNotMatch(withoutDetail(text), /\bvm\b/, `${where} names the monitor vm:\n${text}`);
    }

    // the dashboard, as a browser renders it
    if (hasChromium) {
      const browser = await launchChromium(tmp.path);
      try {
        const page = await browser.newPage();
        await page.goto(`${url}/`);
        const card = page.locator('.card[data-monitor="nyc-1"]');
        await card.locator(".name", { hasText: "nyc-1" }).waitFor({ timeout: 15_000 });
        await card.locator(".status", { hasText: "Online" }).waitFor({ timeout: 15_000 });
        // the card says what the monitor calls itself, as a detail of nyc-1's
        await card.getByText("calls itself vm").waitFor({ timeout: 15_000 });
        const shown = await page.locator("body").innerText();
        assert.match(shown, /nyc-1/);
        assert.doesNotMatch(
          withoutDetail(shown),
          /\bvm\b/,
          `the dashboard names the monitor vm:\n${shown}`,
        );
      } finally {
        await browser.close();
      }
    }
  } finally {
    target.close();
  }
});
