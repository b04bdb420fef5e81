/**
 * Several managers (issue 14): two `netmon manage --cluster` processes on
 * one real PostgreSQL share three monitors. Both list the whole fleet with
 * the manager serving each monitor; only the lease holder notifies, so an
 * incident seen by both is notified once; when the manager serving most
 * monitors is SIGKILLed, the other takes its monitors over and nothing is
 * notified twice. Both store results in the same PostgreSQL (`--db`), where
 * each monitor's sequence numbers are stored exactly once, without a gap.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { rendezvousOwner } from "../manager/cluster.ts";
import { startPostgres } from "./helpers/postgres.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { type Proc, tempDir } from "./helpers/proc.ts";

interface FleetMonitor {
  name: string;
  status: string;
  servedBy?: { managerId: string; address: string; self: boolean };
}

async function apiUrl(manager: Proc): Promise<string> {
  const line = await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 60_000);
  return line.match(/(http:\/\/\S+)\/$/)![1]!;
}

async function fleet(base: string): Promise<FleetMonitor[]> {
  const res = await fetch(`${base}/api/v1/monitors`);
  return await res.json();
}

/** Polls `probe` every 200 ms until it is true; fails after `ms`. Returns how long it took. */
async function within(
  what: string | (() => string),
  ms: number,
  probe: () => Promise<boolean>,
): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < ms) {
    if (await probe().catch(() => false)) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`not reached within ${ms} ms: ${typeof what === "string" ? what : what()}`);
}

/** Monitor names: `serveB` of them owned by mgr-b, the rest by mgr-a. */
function monitorNames(total: number, serveB: number): string[] {
  const ids = ["mgr-a", "mgr-b"];
  const a: string[] = [], b: string[] = [];
  for (let i = 0; a.length < total - serveB || b.length < serveB; i++) {
    const name = `edge-${i}`;
    const owner = rendezvousOwner(name, ids);
    if (owner === "mgr-b" && b.length < serveB) b.push(name);
    if (owner === "mgr-a" && a.length < total - serveB) a.push(name);
  }
  return [...a, ...b];
}

/** The sequence numbers of every stored result in the shared PostgreSQL store, by monitor. */
async function storedSeqs(url: string): Promise<Map<string, number[]>> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ name: string; seq: number }[]>`
      SELECT s.monitor_name AS name, r.seq::int AS seq FROM result_rows r
      JOIN series s ON s.id = r.series_id`;
    const out = new Map<string, number[]>();
    for (const r of rows) out.set(r.name, [...(out.get(r.name) ?? []), Number(r.seq)]);
    return out;
  } finally {
    await sql.end();
  }
}

/**
 * Two managers, three monitors; mgr-b serves two of them and is SIGKILLed.
 * `killLeader`: mgr-b also holds the lease, so mgr-a takes that over too.
 */
async function shareAndKill(killLeader: boolean) {
  await using tmp = await tempDir();
  await using pg = await startPostgres();

  const hooks: { event: string; id: string; check: string }[] = [];
  await using hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const m = await req.json() as { event: string; incident: { id: string; check: string } };
    hooks.push({ event: m.event, id: m.incident.id, check: m.incident.check });
    return new Response(null, { status: 204 });
  });

  // the first to join leads; mgr-b serves two of the three monitors
  const names = monitorNames(3, 2);
  const monitors = await Promise.all(
    names.map((_, i) => startMonitor({ dataDir: `${tmp.path}/mon${i}`, port: freeTcpPort() })),
  );
  try {
    const closed = freeTcpPort();
    const config = `${tmp.path}/tasks.yaml`;
    await Deno.writeTextFile(
      config,
      `monitors:
${names.map((n, i) => `  - {address: "127.0.0.1:${monitors[i]!.port}", name: ${n}}`).join("\n")}
alerts: {down_after: 2, quorum: majority}
notifiers:
  - {name: hook, type: webhook, url: "http://127.0.0.1:${hook.addr.port}/", retries: 0}
targets:
  closed:
    TCP: {host: 127.0.0.1, port: ${closed}, frequency: 1}
`,
    );
    const start = (id: string) =>
      startManager(config, {
        db: pg.url,
        extra: ["--cluster", pg.url, "--cluster-id", id, "--log-level", "info"],
      });
    const first = start(killLeader ? "mgr-b" : "mgr-a");
    await first.waitFor(/leads the cluster/, 60_000);
    const second = start(killLeader ? "mgr-a" : "mgr-b");
    const [a, b] = killLeader ? [second, first] : [first, second];
    await using _a = a;
    try {
      const aUrl = await apiUrl(a);
      const bUrl = await apiUrl(b);
      const leaderUrl = killLeader ? bUrl : aUrl;

      // both list the whole fleet, all online, and agree who serves what
      const expected = Object.fromEntries(names.map((n, i) => [n, i === 0 ? "mgr-a" : "mgr-b"]));
      for (const base of [aUrl, bUrl]) {
        let last: FleetMonitor[] = [];
        await within(
          () => `${base} lists the fleet online: ${JSON.stringify(last)}`,
          30_000,
          async () => {
            const f = last = await fleet(base);
            return f.length === 3 &&
              f.every((m) => m.status === "Online" && m.servedBy?.managerId === expected[m.name]);
          },
        );
      }
      const fromB = await fleet(bUrl);
      assert.deepEqual(
        fromB.map((m) => [m.name, m.servedBy!.self]),
        names.map((n, i) => [n, i !== 0]),
      );
      assert.equal(fromB.find((m) => m.servedBy!.managerId === "mgr-a")!.servedBy!.address, aUrl);

      // results of the monitors mgr-b serves reach mgr-a's /metrics too
      await within("mgr-a's /metrics has every monitor's results", 30_000, async () => {
        const text = await (await fetch(`${aUrl}/metrics`)).text();
        const leader = await (await fetch(`${leaderUrl}/metrics`)).text();
        return leader.includes("netmon_cluster_leader 1") &&
          text.includes("netmon_cluster_managers 2") && names.every((n) =>
            text.includes(`probe_success{target="closed",check_type="TCP",monitor="${n}"`)
          );
      });

      // every monitor sees the closed port: one incident, notified once by the leader
      await within("the incident is notified", 30_000, () => Promise.resolve(hooks.length > 0));

      // SIGKILL the manager serving most monitors; mgr-a takes them over
      await b.stop("SIGKILL");
      const tookMs = await within("mgr-a serves all three", 15_000, async () => {
        const f = await fleet(aUrl);
        return f.length === 3 && f.every((m) => m.status === "Online" && m.servedBy?.self);
      });
      console.log(`takeover after SIGKILL: ${Math.round(tookMs)} ms`);
      if (killLeader) await a.waitFor(/leads the cluster/, 15_000);
      // a few more results from each taken-over monitor, then count the notifications
      const before = await storedSeqs(pg.url);
      await within("new results from every taken-over monitor", 30_000, async () => {
        const now = await storedSeqs(pg.url);
        return names.slice(1).every((n) =>
          (now.get(n)?.length ?? 0) >= (before.get(n)?.length ?? 0) + 3
        );
      });
      const opened = hooks.filter((h) => h.event === "opened");
      assert.equal(opened.length, 1, JSON.stringify(hooks));
      assert.equal(opened[0]!.check, "closed/TCP");
      assert.equal(new Set(opened.map((h) => h.id)).size, opened.length);

      // every monitor's sequence numbers stored exactly once in the shared store, without a gap
      const stored = await storedSeqs(pg.url);
      for (const n of names) {
        const all = stored.get(n) ?? [];
        const seqs = [...new Set(all)].sort((x, y) => x - y);
        console.log(`${n}: ${seqs.length} results, ${all.length - seqs.length} stored twice`);
        assert.equal(all.length, seqs.length, `${n}: a result stored twice`);
        assert.ok(seqs.length >= 3, `${n}: ${seqs.length} results`);
        assert.equal(seqs.at(-1)! - seqs[0]! + 1, seqs.length, `${n} has a gap: ${seqs}`);
      }
    } finally {
      await b.stop("SIGKILL").catch(() => {});
    }
  } finally {
    await Promise.all(monitors.map((m) => m[Symbol.asyncDispose]()));
  }
}

Deno.test("two managers share three monitors: the fleet in both APIs, takeover after SIGKILL, one notification per incident", () =>
  shareAndKill(false));

Deno.test("the leader serving most monitors is SIGKILLed: the other takes monitors and lease, and notifies nothing twice", () =>
  shareAndKill(true));

/**
 * Both managers start at once: until each sees the other, each believes it
 * owns every monitor and dials all three, so one can take a monitor from its
 * rightful manager. Placement must win: each monitor ends up served by the
 * manager rendezvous names, and stays there.
 */
Deno.test("two managers started at once settle on one manager per monitor, the one placement names", async () => {
  await using tmp = await tempDir();
  await using pg = await startPostgres();
  const names = monitorNames(3, 2);
  const monitors = await Promise.all(
    names.map((_, i) => startMonitor({ dataDir: `${tmp.path}/mon${i}`, port: freeTcpPort() })),
  );
  try {
    const config = `${tmp.path}/tasks.yaml`;
    await Deno.writeTextFile(
      config,
      `monitors:
${names.map((n, i) => `  - {address: "127.0.0.1:${monitors[i]!.port}", name: ${n}}`).join("\n")}
targets:
  self:
    TCP: {host: 127.0.0.1, port: ${monitors[0]!.port}, frequency: 1}
`,
    );
    const start = (id: string) =>
      startManager(config, {
        db: pg.url,
        extra: ["--cluster", pg.url, "--cluster-id", id, "--log-level", "info"],
      });
    await using a = start("mgr-a");
    await using b = start("mgr-b");
    const urls = await Promise.all([apiUrl(a), apiUrl(b)]);
    const expected = Object.fromEntries(names.map((n, i) => [n, i === 0 ? "mgr-a" : "mgr-b"]));
    const settled = async () => {
      for (const base of urls) {
        const f = await fleet(base);
        const ok = f.length === 3 &&
          f.every((m) => m.status === "Online" && m.servedBy?.managerId === expected[m.name]);
        if (!ok) return false;
      }
      return true;
    };
    let last: FleetMonitor[][] = [];
    await within(() => JSON.stringify(last), 30_000, async () => {
      last = await Promise.all(urls.map(fleet));
      return await settled();
    });
    // and it stays settled: no manager takes a monitor back and forth
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      assert.ok(await settled(), JSON.stringify(await Promise.all(urls.map(fleet))));
    }
    const stored = await storedSeqs(pg.url);
    for (const n of names) {
      const all = stored.get(n) ?? [];
      assert.equal(new Set(all).size, all.length, `${n}: a result stored twice`);
    }
  } finally {
    await Promise.all(monitors.map((m) => m[Symbol.asyncDispose]()));
  }
});
