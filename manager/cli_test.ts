import assert from "node:assert/strict";
import { ServeError } from "./cli.ts";
import { ManagerProcess } from "./serve.ts";
import type { Output } from "./output.ts";
import { freeTcpPort } from "../tests/helpers/ports.ts";
import { tempDir } from "../tests/helpers/proc.ts";

/**
 * An output that records the manager's last calls. At `flush` (the manager
 * stopping) it notes whether the API's port is still taken, which tells
 * whether the server had closed first.
 */
function recorder(apiPort: number) {
  const calls: string[] = [];
  const portFree = () => {
    try {
      Deno.listen({ hostname: "127.0.0.1", port: apiPort }).close();
      return "port free";
    } catch {
      return "port taken";
    }
  };
  const output: Output = {
    result() {},
    status() {},
    distributing() {},
    event() {},
    flush: () => calls.push(`manager stopping, ${portFree()}`),
    close: () => calls.push("output closed"),
  };
  return { output, calls };
}

async function config(dir: string): Promise<string> {
  const path = `${dir}/tasks.yaml`;
  await Deno.writeTextFile(
    path,
    `monitors: [{ address: "127.0.0.1:${freeTcpPort()}" }]\ntargets: { x: { TCP: { port: 1 } } }\n`,
  );
  return path;
}

Deno.test("ManagerProcess stops the server, then the manager, then the output", async () => {
  await using tmp = await tempDir();
  const port = freeTcpPort();
  const { output, calls } = recorder(port);
  {
    await using proc = await ManagerProcess.start(
      { configPath: await config(tmp.path), dbPath: `${tmp.path}/n.db`, token: "", output },
      { address: { hostname: "127.0.0.1", port }, token: "", hosts: [] },
    );
    const res = await fetch(`${proc.server!.url}/api/v1/status`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.deepEqual(calls, []);
  }
  assert.deepEqual(calls, ["manager stopping, port free", "output closed"]);
});

Deno.test("ManagerProcess.start stops what it started when the API cannot be served", async () => {
  await using tmp = await tempDir();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const { output, calls } = recorder(port);
  await assert.rejects(
    ManagerProcess.start(
      { configPath: await config(tmp.path), dbPath: `${tmp.path}/n.db`, token: "", output },
      { address: { hostname: "127.0.0.1", port }, token: "", hosts: [] },
    ),
    (e) =>
      e instanceof ServeError && e.exitCode === 1 &&
      e.message.includes(`cannot serve the API on 127.0.0.1:${port}`) &&
      e.message.includes("--http none"),
  );
  assert.deepEqual(calls, ["manager stopping, port taken", "output closed"]);
});
