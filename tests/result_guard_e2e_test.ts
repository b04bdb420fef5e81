/**
 * End to end (issue 11): a monitor that holds the token cannot poison the
 * manager's store. A fake monitor, authenticated, sends a result for a check
 * never assigned to it, one dated 2100, and for several seconds a series
 * bomb (frames of 60 results under fresh 900-character check IDs, and under
 * fresh monitor IDs for its one assigned check); the manager acknowledges
 * all of it, stores none of it beyond the series bound, counts it on
 * `/metrics`, and still stores the real results around it.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { CheckResult } from "../shared/checks.ts";
import { FakeMonitor } from "./helpers/fake_monitor.ts";
import { tempDir } from "./helpers/proc.ts";
import { startManager } from "./helpers/netmon.ts";
import { IDS_PER_CHECK, SERIES_MARGIN } from "../manager/result_guard.ts";

const TOKEN = "guard-test-token-4b1e9d27c3a8";
/** How long the bomb goes on; what is asserted is counts, never time. */
const BOMB_MS = 4000;
const PER_FRAME = 60;

Deno.test("an authenticated monitor's unassigned, misdated and series-bomb results are acknowledged, counted and not stored", async () => {
  await using tmp = await tempDir();
  await using fake = FakeMonitor.listen({ token: TOKEN, name: "fake" });
  const cfg = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    cfg,
    `monitors:\n  - { address: "${fake.address}", name: fake }\n` +
      `targets:\n  web:\n    TCP: { host: 127.0.0.1, port: 9, frequency: 60 }\n`,
  );
  const db = `${tmp.path}/netmon.db`;
  await using manager = startManager(cfg, { db, extra: ["--token", TOKEN] });
  const api = (await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 60_000))
    .match(/http:\/\/\S+\//)![0];
  const session = await fake.accept();
  const web = session.assignment.find((c) => c.id === "web/TCP");
  assert.ok(
    web,
    `the fake monitor was assigned web/TCP (got ${session.assignment.map((c) => c.id)})`,
  );

  const real = [session.result(web)];
  assert.ok(await session.send(real), "the real result is acknowledged");
  const never = session.result({ ...web, id: "never/TCP", target: "never" });
  assert.ok(await session.send([never]), "a result of a check never assigned is acknowledged");
  const future = session.result(web, { startedAt: Date.UTC(2100, 0, 1) });
  assert.ok(await session.send([future]), "a result dated 2100 is acknowledged");

  let unknown = 1;
  let foreign = 0;
  let frames = 0;
  const until = performance.now() + BOMB_MS;
  while (performance.now() < until) {
    // every other frame: the assigned check under fresh monitor IDs, each a new series too
    const results = Array.from({ length: PER_FRAME }, (): CheckResult => {
      if (frames % 2 === 1) return session.result(web, { monitorId: crypto.randomUUID() });
      const target = crypto.randomUUID().repeat(25).slice(0, 895);
      return session.result({ ...web, id: `${target}/TCP`, target });
    });
    assert.ok(await session.send(results), `bomb frame ${frames} is acknowledged`);
    if (frames % 2 === 1) foreign += PER_FRAME;
    else unknown += PER_FRAME;
    frames++;
  }
  assert.ok(frames >= 4, `the bomb sent frames of both kinds (${frames})`);
  real.push(session.result(web));
  assert.ok(await session.send(real.slice(1)), "a real result after the bomb is acknowledged");

  const metrics = await (await fetch(`${api}metrics`)).text();
  const monitors: { name: string; rejected?: Record<string, number> }[] =
    await (await fetch(`${api}api/v1/monitors`)).json();
  const rejected = (reason: string) =>
    Number(
      metrics.match(
        new RegExp(
          `^netmon_results_rejected_total\\{monitor="fake",reason="${reason}"\\} (\\d+)$`,
          "m",
        ),
      )?.[1],
    );
  // one series (web/TCP under the hello's monitor ID) is real; the rest of the bound takes the first foreign ones
  const admittedForeign = IDS_PER_CHECK + SERIES_MARGIN - 1;
  await manager.stop();

  const store = new DatabaseSync(db, { readOnly: true });
  try {
    const one = (sql: string) => Object.values(store.prepare(sql).get()!)[0];
    assert.equal(one("SELECT count(*) FROM series WHERE check_id <> 'web/TCP'"), 0);
    assert.equal(one("SELECT count(*) FROM series"), 1 + admittedForeign);
    assert.equal(one("SELECT count(*) FROM result_rows"), real.length + admittedForeign);
    assert.equal(
      one(`SELECT count(*) FROM result_rows WHERE started_at > ${Date.now() + 3_600_000}`),
      0,
      "nothing dated ahead is stored",
    );
    const tasks = store.prepare(
      "SELECT task_id FROM results WHERE monitor_id = ?",
    ).all(fake.monitorId).map((r) => r.task_id);
    assert.deepEqual(tasks.sort(), real.map((r) => r.taskId).sort(), "both real results stored");
  } finally {
    store.close();
  }
  assert.equal(rejected("unknown_check"), unknown);
  assert.equal(rejected("implausible_time"), 1);
  assert.deepEqual(monitors.find((m) => m.name === "fake")?.rejected, {
    unknown_check: unknown,
    implausible_time: 1,
    too_many_series: foreign - admittedForeign,
  });
  assert.equal(rejected("too_many_series"), foreign - admittedForeign);
  // logged once per reason (the test lasts less than the minute between lines), naming the monitor
  for (const why of [/not assigned to this monitor/, /7 days/, /more series than/]) {
    const lines = manager.lines.filter((l) => why.test(l));
    assert.equal(lines.length, 1, `one line for ${why}: ${lines.join("\n")}`);
    assert.match(lines[0]!, /Monitor "?fake"? at "?127\.0\.0\.1:\d+"?: /);
  }
});
