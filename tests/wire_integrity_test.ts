/**
 * The link can't be rewritten (issue 11): a relay on a plaintext path, with
 * a token configured, injects frames after the `welcome`; the side that
 * receives one closes the connection, and neither the monitor's assignment
 * nor the manager's store takes anything from the relay. Real processes
 * through `./netmon`, a real TCP relay between them.
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";
import { readStored } from "./helpers/ledger.ts";
import { parseConfig } from "../shared/config.ts";

const TOKEN = "7b0d3c9e5a1f4e2d8c6b0a9f3e5d7c1b";

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

/** What the relay injects on its n-th connection (0-based), once the monitor's `welcome` has passed. */
interface Injection {
  toMonitor?: string;
  toManager?: string;
}

/**
 * A relay from `port` to the monitor at `upstream` that forwards every byte
 * and, after the `welcome`, adds a line at a frame boundary as `inject` says.
 */
function startRelay(port: number, upstream: number, inject: (n: number) => Injection) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const injected: string[] = [];
  const conns: Deno.Conn[] = [];
  const encoder = new TextEncoder();
  const loop = (async () => {
    let n = 0;
    for await (const fromManager of listener) {
      const plan = inject(n++);
      let toMonitor: Deno.Conn;
      try {
        toMonitor = await Deno.connect({ hostname: "127.0.0.1", port: upstream });
      } catch {
        fromManager.close();
        continue;
      }
      conns.push(fromManager, toMonitor);
      let welcomed = false;
      const pump = async (
        from: Deno.Conn,
        to: Deno.Conn,
        extra: string | undefined,
        direction: string,
        watch: boolean,
      ) => {
        const w = to.writable.getWriter();
        let pending = extra;
        try {
          for await (const chunk of from.readable) {
            if (watch && new TextDecoder().decode(chunk).includes('"t":"welcome"')) welcomed = true;
            await w.write(chunk);
            // only between frames, so that the line arrives as a frame of its own
            if (pending && welcomed && chunk.at(-1) === 10) {
              await w.write(encoder.encode(pending + "\n"));
              injected.push(direction);
              pending = undefined;
            }
          }
        } catch { /* either side closed */ }
        try {
          to.close();
        } catch { /* closed */ }
      };
      pump(toMonitor, fromManager, plan.toManager, "to manager", true);
      pump(fromManager, toMonitor, plan.toMonitor, "to monitor", false);
    }
  })().catch(() => {});
  return {
    injected,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
    },
  };
}

Deno.test("frames injected after welcome on a plaintext link are refused, and nothing of them is kept", async () => {
  await using tmp = await tempDir();
  const good = openPort();
  const evil = openPort();
  const goodPort = (good.addr as Deno.NetAddr).port;
  const evilPort = (evil.addr as Deno.NetAddr).port;
  // the attacker's check, as a manager would send it
  const evilSpec = parseConfig(
    `monitors: [{ address: "127.0.0.1:1" }]\n` +
      `targets:\n  evil:\n    TCP: { host: 127.0.0.1, port: ${evilPort}, frequency: 0.2 }\n`,
    "evil.yaml",
  ).checks[0]!.spec;
  const assign = JSON.stringify({ t: "assign", rev: 99, checks: [evilSpec] });
  const forged = JSON.stringify({
    t: "results",
    results: [{
      seq: 1,
      taskId: crypto.randomUUID(),
      monitorId: "whatever",
      checkId: evilSpec.id,
      target: "evil",
      type: "TCP",
      startedAt: Date.now(),
      durationMs: 1,
      up: true,
      summary: "forged by the relay",
      latencyMs: 1,
      metrics: {},
      details: {},
    }],
  });
  await using monitor = await startMonitor({
    dataDir: `${tmp.path}/mon`,
    extra: ["--token", TOKEN],
  });
  const relayPort = freeTcpPort();
  // first connection: an assign toward the monitor; second: a results frame toward the manager
  const relay = startRelay(
    relayPort,
    monitor.port,
    (n) => n === 0 ? { toMonitor: assign } : n === 1 ? { toManager: forged } : {},
  );
  const cfg = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    cfg,
    `monitors:\n  - { address: "127.0.0.1:${relayPort}", name: relayed }\n` +
      `targets:\n  good:\n    TCP: { host: 127.0.0.1, port: ${goodPort}, frequency: 0.2 }\n`,
  );
  const db = `${tmp.path}/m.db`;
  const manager = startManager(cfg, { db, extra: ["--token", TOKEN] });
  try {
    await monitor.proc.waitFor(
      /Closed the connection with 127\.0\.0\.1:\d+: frame \d+ carries no MAC/,
      20_000,
    );
    await manager.waitFor(
      /Closed the connection with 127\.0\.0\.1:\d+: frame \d+ carries no MAC/,
      20_000,
    );
    assert.deepEqual(relay.injected, ["to monitor", "to manager"]);
    // the third connection is clean: results of the real check flow again
    const mark = manager.mark;
    await manager.waitFor(/Port \d+ on 127\.0\.0\.1 is open/, 20_000, mark);
    await manager.waitFor(new RegExp(`Port ${goodPort} on 127\\.0\\.0\\.1 is open`), 20_000, mark);
  } finally {
    await manager.stop("SIGTERM");
    await relay.close();
  }
  const saved = await Deno.readTextFile(`${monitor.dataDir}/assignment.json`);
  assert.ok(saved.includes(`"good/TCP"`), "the monitor saved the manager's assignment");
  assert.ok(!saved.includes(`"${evilSpec.id}"`), "the relay's check is not in assignment.json");
  const stored = readStored(db);
  assert.ok(stored.some((r) => r.checkId === "good/TCP"), "the real check's results are stored");
  assert.deepEqual(
    stored.filter((r) => r.checkId === evilSpec.id || r.summary.includes("forged")),
    [],
    "nothing the relay sent is stored",
  );
  assert.equal(
    manager.lines.filter((l) => l.includes(`Port ${evilPort}`)).length,
    0,
    "the relay's check never ran",
  );
  good.close();
  evil.close();
});
