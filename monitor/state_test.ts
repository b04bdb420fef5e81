import assert from "node:assert/strict";
import { freeTcpPort } from "../tests/helpers/ports.ts";
import { startQuietManager } from "../tests/helpers/manager.ts";
import { tempDir } from "../tests/helpers/proc.ts";
import { Monitor } from "./monitor.ts";
import { saveAssignment } from "./state.ts";

async function mode(path: string): Promise<string> {
  return ((await Deno.stat(path)).mode! & 0o777).toString(8);
}

Deno.test("the data directory is 0700 and the assignment, spool and token files 0600", async () => {
  await using tmp = await tempDir();
  const dataDir = `${tmp.path}/data`;
  const port = freeTcpPort();
  const monitor = await Monitor.start({ port, dataDir });
  try {
    await using _q = await startQuietManager(`monitors:
  - { address: 127.0.0.1:${port}, name: local }
targets:
  web:
    HTTP: { url: "http://user:hunter22@127.0.0.1:1/", headers: { Authorization: "Bearer s3cr3t" } }
`);
    // the manager connects and assigns: the monitor saves the assignment
    for (let i = 0; i < 300; i++) {
      const saved = await Deno.readTextFile(`${dataDir}/assignment.json`).catch(() => "");
      if (saved.includes("hunter22")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(await Deno.readTextFile(`${dataDir}/assignment.json`), /Bearer s3cr3t/);
    assert.equal(await mode(dataDir), "700");
    assert.equal(await mode(`${dataDir}/assignment.json`), "600");
    assert.equal(await mode(`${dataDir}/monitor-id`), "600");
    for (const f of ["spool.db", "spool.db-wal", "spool.db-shm"]) {
      assert.equal(await mode(`${dataDir}/${f}`), "600", f);
    }
  } finally {
    await monitor.stop();
  }
});

Deno.test("a data directory made by an older version is tightened at start", async () => {
  await using tmp = await tempDir();
  const dataDir = `${tmp.path}/old`;
  await Deno.mkdir(dataDir, { mode: 0o755 });
  await Deno.chmod(dataDir, 0o755);
  await saveAssignment(dataDir, []);
  await Deno.chmod(`${dataDir}/assignment.json`, 0o644);
  await Deno.writeTextFile(`${dataDir}/token`, "0123456789abcdef0123\n", { mode: 0o644 });
  await Deno.chmod(`${dataDir}/token`, 0o644);
  const monitor = await Monitor.start({ port: freeTcpPort(), dataDir });
  try {
    assert.equal(await mode(dataDir), "700");
    assert.equal(await mode(`${dataDir}/assignment.json`), "600");
    assert.equal(await mode(`${dataDir}/token`), "600");
    await saveAssignment(dataDir, []);
    assert.equal(await mode(`${dataDir}/assignment.json`), "600", "and every later save");
  } finally {
    await monitor.stop();
  }
});
