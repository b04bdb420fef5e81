/**
 * `--db` through the real `./netmon manage`: a URL of an unknown scheme and
 * an unreachable PostgreSQL are refused with a message naming them (and no
 * directory called `mysql:` or `postgres:` appears, as one did when every
 * `--db` was a path); a real PostgreSQL stores a real monitor's results,
 * serves them through the API, and keeps them once each across a restart
 * of the manager.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { tempDir } from "./helpers/proc.ts";
import { Proc } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { NETMON, startManager, startMonitor } from "./helpers/netmon.ts";
import { startPostgres } from "./helpers/postgres.ts";
import { openStore } from "../manager/store.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(200);
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}`);
}

/** Runs `netmon manage --db DB` in `cwd` until it exits by itself. */
async function manageFails(cwd: string, db: string): Promise<{ code: number; text: string }> {
  await Deno.writeTextFile(
    `${cwd}/tasks.yaml`,
    `monitors:\n  - { address: "127.0.0.1:${freeTcpPort()}", name: m }\ntargets:\n  t:\n    TCP: { host: 127.0.0.1, port: 1 }\n`,
  );
  const p = Proc.start(
    [NETMON, "manage", "tasks.yaml", "--db", db, "--no-live", "--http", "none"],
    {
      cwd,
      name: "manager",
    },
  );
  const { code } = await p.exited();
  return { code, text: p.lines.join("\n") };
}

Deno.test("--db of an unknown scheme is refused by name, and no directory is made for it", async () => {
  await using tmp = await tempDir();
  const { code, text } = await manageFails(tmp.path, "mysql://db.example/netmon");
  assert.equal(code, 1, text);
  assert.match(text, /netmon: cannot open the store: --db mysql:\/\/ is not a store netmon knows/);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["tasks.yaml"]);
});

Deno.test("--db of a PostgreSQL that does not answer is refused naming host:port", async () => {
  await using tmp = await tempDir();
  const port = freeTcpPort();
  const { code, text } = await manageFails(tmp.path, `postgres://netmon@127.0.0.1:${port}/netmon`);
  assert.equal(code, 1, text);
  assert.match(
    text,
    new RegExp(`netmon: cannot open the store: cannot use PostgreSQL at 127\\.0\\.0\\.1:${port} `),
  );
  assert.match(text, /ECONNREFUSED|refused/);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["tasks.yaml"]);
});

Deno.test("a manager on PostgreSQL stores a real monitor's results once each, across its own restart", async () => {
  await using tmp = await tempDir();
  await using pg = await startPostgres();
  await using mon = await startMonitor({ dataDir: `${tmp.path}/mon`, extra: ["--name", "m"] });
  // something listening, so the checks are up
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const c of listener) c.close();
  })().catch(() => {});
  const config = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    config,
    `monitors:\n  - { address: "127.0.0.1:${mon.port}", name: m }\ntargets:\n` +
      `  up:\n    TCP: { host: 127.0.0.1, port: ${listener.addr.port}, frequency: 0.2 }\n` +
      `  down:\n    TCP: { host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.2 }\n`,
  );
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    const stored = async () => Number((await sql`SELECT count(*) AS n FROM result_rows`)[0]!.n);
    let manager = startManager(config, { db: pg.url });
    const apiOf = async (p: Proc) =>
      (await p.waitFor(/API and dashboard on http:\/\/\S+\//, 30_000)).match(
        /(http:\/\/\S+)\//,
      )![1]!;
    let api = await apiOf(manager);
    await until("results are stored in PostgreSQL", async () => await stored() >= 20);
    const page = await (await fetch(`${api}/api/v1/results?check=up/TCP&limit=5`)).json();
    assert.equal(page.items.length, 5);
    assert.equal(page.items[0].monitorName, "m");
    assert.equal(page.items[0].up, true);
    const status = await (await fetch(`${api}/api/v1/status`)).json();
    assert.equal(status.store.path, pg.url.replace(/^postgres:\/\/netmon@/, "postgres://netmon@"));
    assert.ok(status.storeBytes > 0);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    assert.match(metrics, /probe_success\{target="down",check_type="TCP",monitor="m"[^}]*\} 0/);
    assert.equal((await manager.stop()).code, 0, manager.lines.slice(-20).join("\n"));

    const before = await stored();
    manager = startManager(config, { db: pg.url });
    api = await apiOf(manager);
    // the targets come from the stored latest results at once, before any new result
    const targets = await (await fetch(`${api}/api/v1/targets`)).json();
    assert.ok(targets.every((t: { lastResultAt: number | null }) => t.lastResultAt !== null));
    await until("results flow again after the restart", async () => await stored() >= before + 10);
    assert.equal((await manager.stop()).code, 0, manager.lines.slice(-20).join("\n"));

    const [dupes] = await sql`
      SELECT count(*) - count(DISTINCT (series_id, epoch, seq)) AS n FROM result_rows`;
    assert.equal(Number(dupes!.n), 0, "no result stored twice");
    const seqs = (await sql`
      SELECT r.seq FROM result_rows r JOIN series s ON s.id = r.series_id ORDER BY r.seq`)
      .map((r) => Number(r.seq));
    // the monitor numbers its results 1, 2, ...: every one it sent up to the last stored is there
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
    const [version] = await sql`SELECT version FROM schema_version`;
    assert.equal(version!.version, 2);
  } finally {
    await sql.end();
    listener.close();
    await accepting;
  }
});

Deno.test("--db postgres: alone connects from PGHOST, PGPORT, PGUSER and PGDATABASE, and shows no password", async () => {
  await using pg = await startPostgres();
  const url = new URL(await pg.createDatabase("from_env"));
  const vars = {
    PGHOST: url.hostname,
    PGPORT: url.port,
    PGUSER: url.username,
    PGDATABASE: url.pathname.slice(1),
    // trust authentication ignores it; it must still not be shown
    PGPASSWORD: "not-to-be-shown",
  };
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    const store = await openStore("postgres:");
    try {
      assert.equal(store.engine, "postgres");
      assert.equal(store.path, `postgres://netmon@127.0.0.1:${url.port}/from_env`);
      await store.setPaused(["web/TCP"], true);
    } finally {
      await store.close();
    }
    // it was the database PGDATABASE names
    const direct = await openStore(url.href);
    assert.deepEqual(await direct.pausedChecks(), ["web/TCP"]);
    await direct.close();
    // and a URL's missing parts come from them too
    const partial = await openStore(`postgres://127.0.0.1:${url.port}`);
    assert.equal(partial.path, `postgres://netmon@127.0.0.1:${url.port}/from_env`);
    await partial.close();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  }
});

Deno.test("PostgreSQL down for 5 s under a running manager: it stays up, the monitor holds its results, all are stored once when the server is back", async () => {
  await using tmp = await tempDir();
  await using pg = await startPostgres();
  await using mon = await startMonitor({ dataDir: `${tmp.path}/mon`, extra: ["--name", "m"] });
  const config = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    config,
    `monitors:\n  - { address: "127.0.0.1:${mon.port}", name: m }\ntargets:\n` +
      `  down:\n    TCP: { host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.2 }\n`,
  );
  const manager = startManager(config, { db: pg.url });
  const api = (await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 30_000))
    .match(/(http:\/\/\S+)\//)![1]!;
  const count = async () => (await (await fetch(`${api}/api/v1/results?limit=10000`)).json()).items;
  await until("results are stored", async () => (await count()).length >= 10);
  await pg.restart(5_000);
  const status = await fetch(`${api}/api/v1/status`);
  assert.equal(status.status, 200, "the manager answered through the outage");
  await status.body?.cancel();
  // the monitor went on numbering its results meanwhile; every one of them arrives
  await until("results made during the outage are stored", async () => {
    const seqs = (await count()).map((r: { seq: number }) => r.seq).sort((a: number, b: number) =>
      a - b
    );
    return seqs.length >= 60 && seqs.every((s: number, i: number) => s === i + 1);
  }, 60_000);
  assert.equal((await manager.stop()).code, 0, manager.lines.slice(-20).join("\n"));
});
