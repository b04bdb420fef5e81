/**
 * Two managers' links to one real monitor: who holds it after a takeover. In
 * a cluster, placement names the monitor's rightful manager, and a link of
 * that manager must win the monitor back even after another one (still
 * believing it owned it, in the window before the managers agree) took it.
 */
import assert from "node:assert/strict";
import { Monitor } from "../monitor/monitor.ts";
import { tempDir } from "../tests/helpers/proc.ts";
import { freeTcpPort } from "../tests/helpers/ports.ts";
import { MonitorLink } from "./link.ts";
import { SqliteStore } from "./store/sqlite.ts";

async function until(cond: () => boolean, what: string, ms = 20_000) {
  const give = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > give) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function link(port: number, managerId: string, store: SqliteStore, rightful?: () => boolean) {
  return new MonitorLink(
    { name: "m", host: "127.0.0.1", port, address: `127.0.0.1:${port}`, labels: [] },
    {
      managerId,
      token: "",
      store,
      assignment: () => [],
      ingest: (_, results, epoch) => store.add(results, "m", epoch),
      onStatus: () => {},
      rightful,
    },
  );
}

for (const rightful of [true, false]) {
  Deno.test(`a replaced link ${rightful ? "that is the rightful one takes the monitor back" : "asks and stays off"}`, async () => {
    await using tmp = await tempDir();
    const port = freeTcpPort();
    const monitor = await Monitor.start({ port, dataDir: tmp.path });
    // separate stores: two managers
    const storeA = SqliteStore.open(":memory:");
    const storeB = SqliteStore.open(":memory:");
    const owner = link(port, "owner", storeB, () => rightful);
    const other = link(port, "other", storeA);
    try {
      owner.start();
      await until(() => owner.online, "the owner online");
      // the other manager dials once with takeover (it believes it owns the monitor)
      other.start();
      await until(() => other.online, "the other takes the monitor");
      if (rightful) {
        await until(() => owner.online && !other.online, "the owner has the monitor back");
        // the other now asks rather than takes, and is told the monitor is busy
        await until(
          () => /another manager is connected/.test(other.state.lastError ?? ""),
          "the other is refused",
        );
        assert.ok(owner.online, "the owner keeps the monitor");
      } else {
        // without placement, a replaced manager does not fight back
        await until(() => owner.state.status === "Offline", "the owner yields");
        await new Promise((r) => setTimeout(r, 1500));
        assert.ok(other.online && !owner.online, owner.state.lastError ?? "");
      }
    } finally {
      await other.stop();
      await owner.stop();
      await monitor.stop();
      await storeA.close();
      await storeB.close();
    }
  });
}
