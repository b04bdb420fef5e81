/**
 * An outside reader of the store during a heavy ingest: `sqlite3 -readonly`,
 * as the README suggests, opened again and again while tens of thousands of
 * results arrive. The manager's store sits next to `tasks.yaml`, where the
 * old directory watcher opened and closed the database's files and so
 * dropped the manager's locks: the reader then truncated `-shm` and the
 * manager died of SIGBUS.
 */
import assert from "node:assert/strict";
import { startManager } from "./helpers/netmon.ts";
import { tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { fakeTargetsYaml } from "../bench/worker.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const MONITORS = 3;
const PER_MONITOR = 30_000;

Deno.test("an outside sqlite3 reader during a heavy ingest leaves the manager running", async () => {
  // a fake monitor accepts one connection: when a loaded machine makes the manager give up on
  // its first dial (1 s), that monitor ends early; the manager is alive then, so run again
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (await ingestWithReaders() === "done") return;
    console.log(`attempt ${attempt}: a fake monitor ended before the ingest; again`);
  }
  assert.fail("the fake monitors ended early three times");
});

/** One run: "done", or "again" when the fake monitors ended early with the manager alive. */
async function ingestWithReaders(): Promise<"done" | "again"> {
  await using dir = await tempDir("netmon-reader-");
  const ports = Array.from({ length: MONITORS }, () => freeTcpPort());
  // the bench's fake monitors: ready-made results, as fast as the manager acknowledges them
  const worker = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${ROOT}deno.json`,
      `${ROOT}bench/worker.ts`,
      "monitors",
      JSON.stringify({ ports, perMonitor: PER_MONITOR }),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = worker.stdout.pipeThrough(new TextDecoderStream()).values();
  try {
    assert.match(String((await lines.next()).value), /ready/);
    const config = `${dir.path}/tasks.yaml`;
    await Deno.writeTextFile(
      config,
      [
        "monitors:",
        ...ports.map((p, i) => `  - { address: "127.0.0.1:${p}", name: m${i} }`),
        "targets:",
        // the checks the fake monitors report: the manager stores only assigned ones
        ...fakeTargetsYaml(9),
        "",
      ].join("\n"),
    );
    const db = `${dir.path}/netmon.db`;
    await using manager = startManager(config, { db, extra: ["--status-every", "3600"] });
    let exited: Deno.CommandStatus | undefined;
    manager.exited().then((s) => exited = s);
    let ingested = false;
    const report = lines.next().then((r) => {
      ingested = true;
      return r.value;
    });
    let reads = 0;
    let lastCount = 0;
    const read = async () => {
      const out = await new Deno.Command("sqlite3", {
        args: ["-readonly", db, "SELECT count(*) FROM results"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.success) {
        reads++;
        lastCount = Number(new TextDecoder().decode(out.stdout).trim());
      }
    };
    const deadline = Date.now() + 180_000;
    while (!ingested && exited === undefined && Date.now() < deadline) {
      await read();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(exited, undefined, `the manager died: ${JSON.stringify(exited)}`);
    assert.ok(ingested, "the fake monitors did not finish within 180 s");
    const said = await report;
    if (said === undefined) return "again";
    assert.match(said, /"results":90000/);
    // and a reader that opens the store once the ingest is over sees all of it
    for (let i = 0; i < 20 && lastCount < MONITORS * PER_MONITOR; i++) {
      await read();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(lastCount, MONITORS * PER_MONITOR);
    assert.ok(reads > 10, `only ${reads} reads succeeded`);
    assert.equal(exited, undefined, `the manager died: ${JSON.stringify(exited)}`);
    const status = await manager.stop("SIGTERM");
    assert.equal(status.signal, null);
    assert.equal(status.code, 0);
    return "done";
  } finally {
    try {
      worker.kill("SIGKILL");
    } catch { /* already exited */ }
    await worker.status;
    await worker.stdout.cancel().catch(() => {});
  }
}
