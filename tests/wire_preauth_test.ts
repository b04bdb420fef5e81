/**
 * Pre-auth lockout (issue 11): idle unauthenticated connections from the
 * manager's own address cannot keep the real manager out, because a new
 * connection evicts the oldest pre-auth one and each has a short deadline.
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";
import { PREAUTH_PER_ADDRESS, PreauthSlots } from "../monitor/preauth.ts";

const TOKEN = "3c5e7a9b1d2f4e6a8c0b2d4f6a8c0e1f";

Deno.test("eight idle pre-auth connections from the manager's address, kept open, do not keep the manager out", async () => {
  await using tmp = await tempDir();
  await using monitor = await startMonitor({
    dataDir: `${tmp.path}/mon`,
    extra: ["--token", TOKEN],
  });
  let stop = false;
  let opened = 0;
  let closedByMonitor = 0;
  // the attacker holds eight idle connections at all times: each one the monitor closes is reopened
  // at once, so a slot freed by a deadline alone would be taken again before the manager retries
  const idle = Array.from({ length: 8 }, async () => {
    while (!stop) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: monitor.port });
      opened++;
      try {
        // read (the hello), never answer, until the monitor closes it
        for await (const _ of conn.readable) if (stop) break;
      } catch { /* reset */ }
      if (!stop) closedByMonitor++;
      try {
        conn.close();
      } catch { /* closed */ }
      await new Promise((r) => setTimeout(r, 0));
    }
  });
  while (opened < 8) await new Promise((r) => setTimeout(r, 20));
  const cfg = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    cfg,
    `monitors:\n  - address: 127.0.0.1:${monitor.port}\n` +
      `targets:\n  self:\n    TCP: { host: 127.0.0.1, port: ${monitor.port}, frequency: 0.5 }\n`,
  );
  await using manager = startManager(cfg, { db: `${tmp.path}/m.db`, extra: ["--token", TOKEN] });
  try {
    await manager.waitFor(/Connected to monitoring service/, 20_000);
    await manager.waitFor(/TCP Port: 127\.0\.0\.1/);
  } finally {
    stop = true;
  }
  await manager.stop();
  await monitor.proc.stop("SIGTERM");
  await Promise.all(idle);
  assert.ok(closedByMonitor > 0, "the monitor closed idle connections");
  assert.ok(
    monitor.proc.matching(
      new RegExp(
        `evicted to make room: more than ${PREAUTH_PER_ADDRESS} unauthenticated connections from 127\\.0\\.0\\.1`,
      ),
    ).length > 0,
    "idle connections were evicted for newer ones",
  );
});

Deno.test("PreauthSlots evicts the oldest (idle first) of an address at its bound, else of all", () => {
  const evicted: string[] = [];
  const slots = new PreauthSlots({ total: 3, perAddress: 2 });
  const a1 = slots.admit("a", (r) => evicted.push(`a1: ${r}`));
  slots.admit("a", (r) => evicted.push(`a2: ${r}`));
  slots.admit("a", (r) => evicted.push(`a3: ${r}`));
  assert.deepEqual(evicted, [
    "a1: evicted to make room: more than 2 unauthenticated connections from a",
  ]);
  a1.release(); // releasing an evicted slot is harmless
  slots.admit("b", (r) => evicted.push(`b1: ${r}`));
  assert.equal(slots.size, 3);
  slots.admit("c", (r) => evicted.push(`c1: ${r}`));
  assert.deepEqual(evicted.slice(1), [
    "a2: evicted to make room: more than 3 unauthenticated connections",
  ]);
  assert.equal(slots.size, 3);
  assert.equal(slots.evicted, 2);
  // a peer that has answered is kept while an idle one can go instead
  const picky = new PreauthSlots({ total: 9, perAddress: 2 });
  const gone: string[] = [];
  picky.admit("m", () => gone.push("answering")).onEvict(() => gone.push("answering"), () => false);
  picky.admit("m", () => gone.push("idle"));
  picky.admit("m", () => gone.push("new"));
  assert.deepEqual(gone, ["idle"]);
});
