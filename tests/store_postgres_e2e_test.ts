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
import { openStore, type StoredResult } from "../manager/store.ts";
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from "../manager/store/postgres.ts";
import { DatabaseSync } from "node:sqlite";

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
    assert.equal(version!.version, POSTGRES_SCHEMA_VERSION);
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
  // what the manager said last, should it die or hang: its result lines would hide the cause
  const said = () => manager.lines.filter((l) => !l.includes("Task ID")).slice(-20).join("\n");
  await pg.restart(5_000);
  const status = await fetch(`${api}/api/v1/status`).catch((e) => {
    throw new Error(`the manager stopped answering (${e}); it said:\n${said()}`);
  });
  assert.equal(status.status, 200, "the manager answered through the outage");
  await status.body?.cancel();
  // the monitor went on numbering its results meanwhile; every one of them arrives
  await until("results made during the outage are stored", async () => {
    const seqs = (await count()).map((r: { seq: number }) => r.seq).sort((a: number, b: number) =>
      a - b
    );
    return seqs.length >= 60 && seqs.every((s: number, i: number) => s === i + 1);
  }, 60_000);
  assert.equal((await manager.stop()).code, 0, said());
});

Deno.test("a schema 2 PostgreSQL store migrates to the compact layout and answers every query as before", async () => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { onnotice: () => {} });
  try {
    // schema 2 from its migrations, filled with the rows of the SQLite schema 2 fixture
    for (const step of POSTGRES_MIGRATIONS.slice(0, 2)) await sql.unsafe(step as string);
    await sql.unsafe("CREATE TABLE schema_version (version INTEGER NOT NULL)");
    await sql.unsafe("INSERT INTO schema_version (version) VALUES (2)");
    const v2 = new DatabaseSync(new URL("./fixtures/store/v2.db", import.meta.url).pathname, {
      readOnly: true,
    });
    try {
      for (const table of ["series", "epochs", "result_rows", "rollup_minute", "rollup_hour"]) {
        for (const row of v2.prepare(`SELECT * FROM ${table}`).all()) {
          const cols = Object.keys(row);
          await sql.unsafe(
            `INSERT INTO ${table} (${cols.join(", ")}) VALUES (${
              cols.map((_, i) => `$${i + 1}`).join(", ")
            }) ON CONFLICT DO NOTHING`,
            Object.values(row) as (string | number | null)[],
          );
        }
      }
      const { value } = v2.prepare("SELECT value FROM rollup_state").get() as { value: number };
      await sql.unsafe("UPDATE rollup_state SET value = $1", [value]);
      await sql.unsafe("SELECT setval('result_rows_id_seq', (SELECT max(id) FROM result_rows))");
      await sql.unsafe("SELECT setval('series_id_seq', (SELECT max(id) FROM series))");
    } finally {
      v2.close();
    }
    const want = JSON.parse(
      await Deno.readTextFile(new URL("./fixtures/store/v2.json", import.meta.url)),
    );
    const store = await openStore(pg.url);
    try {
      assert.equal(store.schemaVersion, POSTGRES_SCHEMA_VERSION);
      const json = <T>(x: T): T => JSON.parse(JSON.stringify(x));
      assert.deepEqual(json((await store.results({ limit: 10000 })).items), want.results);
      assert.deepEqual(json((await store.rollups("minute", { limit: 10000 })).items), want.minute);
      assert.deepEqual(json((await store.rollups("hour", { limit: 10000 })).items), want.hour);
      assert.deepEqual(json(await store.latest()), want.latest);
      // a replay of a migrated result is still recognised, and a new one gets a new ID
      const epoch = await store.epochId("epoch-a");
      const newest = (await store.results({ limit: 1 })).items[0]!;
      const replay = { ...newest } as Partial<StoredResult>;
      delete replay.monitorName;
      assert.deepEqual(await store.add([replay as StoredResult], "alpha", epoch), []);
      const fresh = { ...replay, seq: 1000, taskId: crypto.randomUUID() } as StoredResult;
      assert.equal((await store.add([fresh], "alpha", epoch)).length, 1);
      const [ids] = await sql`SELECT max(id) AS m, count(*) AS n FROM result_rows`;
      assert.equal(Number(ids!.n), 41);
      // (a replay skipped by ON CONFLICT still draws from the sequence, as before)
      assert.ok(Number(ids!.m) > 40, "IDs go on above the migrated ones");
      // the results view reads, task IDs as text
      const view = await sql`SELECT task_id, summary FROM results ORDER BY id`;
      const byTask = new Map(want.results.map((r: StoredResult) => [r.taskId, r.summary]));
      for (const r of view.slice(0, 40)) assert.equal(r.summary, byTask.get(r.task_id));
    } finally {
      await store.close();
    }
  } finally {
    await sql.end();
  }
});
