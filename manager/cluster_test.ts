import assert from "node:assert/strict";
import postgres from "postgres";
import { Cluster, ClusterError, rendezvousOwner } from "./cluster.ts";
import { startPostgres } from "../tests/helpers/postgres.ts";
import { Proc } from "../tests/helpers/proc.ts";
import { NETMON } from "../tests/helpers/netmon.ts";

/** Fast heartbeats so death takes a second, not ten. */
const FAST = { heartbeatMs: 200, deadAfterMs: 1000 };
const MEMBER = new URL("../tests/fixtures/cluster_member.ts", import.meta.url).pathname;

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const ids = (c: Cluster) => c.members().map((m) => m.id);

Deno.test("rendezvousOwner() moves only the monitors of a manager that leaves, and only to one that joins", () => {
  const monitors = Array.from({ length: 300 }, (_, i) => `edge-${i}`);
  const three = ["a", "b", "c"];
  const before = new Map(monitors.map((m) => [m, rendezvousOwner(m, three)!]));
  // spread over all three
  for (const id of three) assert.ok([...before.values()].filter((o) => o === id).length > 50);

  const withoutB = ["a", "c"];
  for (const m of monitors) {
    const now = rendezvousOwner(m, withoutB);
    if (before.get(m) !== "b") assert.equal(now, before.get(m), `${m} moved though a stayed`);
  }
  const withD = [...three, "d"];
  let moved = 0;
  for (const m of monitors) {
    const now = rendezvousOwner(m, withD);
    if (now !== before.get(m)) {
      assert.equal(now, "d", `${m} moved between old managers`);
      moved++;
    }
  }
  assert.ok(moved > 0 && moved < monitors.length / 2, `${moved} of ${monitors.length} moved`);
  assert.equal(rendezvousOwner("x", []), null);
});

Deno.test("Cluster.join() refuses a URL that is not PostgreSQL's and names an unreachable server", async () => {
  await assert.rejects(() => Cluster.join("mysql://u:pw@db/netmon"), (e) => {
    assert.ok(e instanceof ClusterError);
    assert.match(e.message, /postgres:\/\//);
    assert.doesNotMatch(e.message, /pw/);
    return true;
  });
  const port = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = port.addr.port;
  port.close();
  await assert.rejects(
    () => Cluster.join(`postgres://netmon:secret@127.0.0.1:${closed}/netmon`),
    (e) => {
      assert.ok(e instanceof ClusterError);
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${closed}`));
      assert.doesNotMatch(e.message, /secret/);
      return true;
    },
  );
});

Deno.test("Cluster registers managers, agrees on owners, and drops a dead one after deadAfterMs", async () => {
  await using pg = await startPostgres();
  await using a = await Cluster.join(pg.url, { id: "a", address: "127.0.0.1:1", ...FAST });
  await using b = await Cluster.join(pg.url, { id: "b", address: "127.0.0.1:2", ...FAST });
  await until("both see both", () => ids(a).length === 2 && ids(b).length === 2);
  assert.deepEqual(ids(a), ["a", "b"]);
  assert.deepEqual(a.members().map((m) => [m.address, m.self]), [["127.0.0.1:1", true], [
    "127.0.0.1:2",
    false,
  ]]);
  for (const m of ["edge-1", "edge-2", "edge-3", "edge-4"]) {
    assert.equal(a.owner(m), b.owner(m));
    assert.equal(a.owns(m), !b.owns(m));
  }

  // a crashed member: its process dies without leaving
  const c = Proc.start([NETMON, "--deno", "run", "-A", MEMBER, pg.url, "c"], { name: "member-c" });
  try {
    await c.waitFor(/^joined c/, 60_000);
    const changes: string[][] = [];
    a.onChange((ms) => changes.push(ms.map((m) => m.id)));
    await until("a sees c", () => ids(a).includes("c"));
    await c.stop("SIGKILL");
    await until("a drops c", () => !ids(a).includes("c"));
    assert.deepEqual(changes.at(-1), ["a", "b"]);
  } finally {
    await c.stop("SIGKILL").catch(() => {});
  }

  // a manager that leaves is gone from the list at once
  await b.leave();
  await a.tick();
  assert.deepEqual(ids(a), ["a"]);
  assert.ok(a.owns("edge-1") && a.owns("edge-2"));
});

Deno.test("Cluster has exactly one leader, which loses the lease when its connection dies", async () => {
  await using pg = await startPostgres();
  const members = await Promise.all(
    ["a", "b", "c"].map((id) => Cluster.join(pg.url, { id, ...FAST })),
  );
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  const lockHolders = async () =>
    (await admin`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
      AND objid::text::bigint = ${0x6e65746d}`).length;
  try {
    const leaders = () => members.filter((m) => m.leader);
    await until("one leader", () => leaders().length === 1);
    // and it stays one over several heartbeats
    for (let i = 0; i < 5; i++) {
      await Promise.all(members.map((m) => m.tick()));
      assert.equal(leaders().length, 1);
    }
    assert.equal(await lockHolders(), 1);
    const first = leaders()[0]!;
    const firstSaw: boolean[] = [];
    first.onLeadership((l) => firstSaw.push(l));

    // the server ends the leader's lease session: it stops leading at once, and the lock is
    // free for whoever tries first (the old leader too, on a new session)
    const killed = await admin`SELECT pg_terminate_backend(l.pid) AS ok FROM pg_locks l
      WHERE l.locktype = 'advisory' AND l.granted AND l.objid::text::bigint = ${0x6e65746d}`;
    assert.equal(killed.length, 1);
    await until("the old leader steps down", () => firstSaw[0] === false);
    await until("one leader again", () => leaders().length === 1);
    for (let i = 0; i < 5; i++) {
      await Promise.all(members.map((m) => m.tick()));
      assert.equal(leaders().length, 1, "two leaders after the lease was lost");
    }
    assert.equal(await lockHolders(), 1);
  } finally {
    await admin.end();
    await Promise.all(members.map((m) => m.leave()));
  }
});

Deno.test("Cluster hands the lease over when the leading process is killed", async () => {
  await using pg = await startPostgres();
  const leader = Proc.start([NETMON, "--deno", "run", "-A", MEMBER, pg.url, "first"], {
    name: "member-first",
  });
  try {
    await leader.waitFor(/^joined first leader true/, 60_000);
    await using b = await Cluster.join(pg.url, { id: "b", ...FAST });
    for (let i = 0; i < 3; i++) await b.tick();
    assert.equal(b.leader, false, "the lease is held by the first member");
    await leader.stop("SIGKILL");
    await until("b leads", () => b.leader);
    await until("b alone", () => ids(b).length === 1);
    assert.equal(b.owner("edge-1"), "b");
  } finally {
    await leader.stop("SIGKILL").catch(() => {});
  }
});

Deno.test("Cluster gives up its monitors and the lease when it cannot reach the database", async () => {
  const pg = await startPostgres();
  let pgUp = true;
  const a = await Cluster.join(pg.url, { id: "a", ...FAST });
  try {
    await until("a leads", () => a.leader && ids(a).length === 1);
    const changes: boolean[] = [];
    a.onLeadership((l) => changes.push(l));
    await pg[Symbol.asyncDispose]();
    pgUp = false;
    await until("a steps down", () => !a.leader && ids(a).length === 0);
    assert.equal(a.owner("edge-1"), null);
    assert.deepEqual(changes, [false]);
  } finally {
    await a.leave();
    if (pgUp) await pg[Symbol.asyncDispose]();
  }
});

Deno.test("Cluster.shareResults() reaches the other managers in notifications under PostgreSQL's limit", async () => {
  await using pg = await startPostgres();
  await using a = await Cluster.join(pg.url, { id: "a", ...FAST });
  await using b = await Cluster.join(pg.url, { id: "b", ...FAST });
  const got: { monitor: string; seq: number; details: number }[] = [];
  let notifications = 0;
  b.onSharedResults((results, monitor) => {
    notifications++;
    for (const r of results) {
      got.push({ monitor, seq: r.seq, details: JSON.stringify(r.details ?? {}).length });
    }
  });
  const ownSeen: number[] = [];
  a.onSharedResults((results) => ownSeen.push(...results.map((r) => r.seq)));
  const result = (seq: number, detailBytes: number) => ({
    seq,
    taskId: "t",
    monitorId: "m",
    checkId: "web/TCP",
    target: "web",
    type: "TCP" as const,
    startedAt: 1_700_000_000_000 + seq,
    durationMs: 1,
    up: true,
    latencyMs: 1,
    summary: "ok",
    metrics: { probe_success: 1 },
    details: { note: "é".repeat(detailBytes / 2) },
  });
  // 40 results of about 1 KB, then one whose details alone pass the 8000-byte limit
  await a.shareResults(
    [...Array.from({ length: 40 }, (_, i) => result(i + 1, 1000)), result(41, 9000)],
    "edge-1",
  );
  await until("all 41 results", () => got.length === 41);
  assert.deepEqual(got.map((g) => g.seq), Array.from({ length: 41 }, (_, i) => i + 1));
  assert.ok(got.every((g) => g.monitor === "edge-1"));
  assert.ok(notifications > 1 && notifications < 41, `${notifications} notifications`);
  // the oversized one came without its details
  assert.equal(got.at(-1)!.details, 2);
  assert.ok(got[0]!.details > 500);
  // a manager does not hear its own
  assert.deepEqual(ownSeen, []);
});
