/**
 * `--token` on the command line is readable by every user of the host in
 * `ps` (issue 11): `./netmon` warns once and points to `--token-file` and
 * `NETMON_TOKEN`; those two give no warning.
 */
import assert from "node:assert/strict";
import { freeTcpPort } from "./helpers/ports.ts";
import { Proc, tempDir } from "./helpers/proc.ts";
import { NETMON } from "./helpers/netmon.ts";

const WARNING = /warning: --token .*visible .*--token-file .*NETMON_TOKEN/;
const TOKEN = "0123456789abcdef0123456789abcdef";

async function monitorLines(dir: string, extra: string[], env: Record<string, string> = {}) {
  const port = freeTcpPort();
  await using p = Proc.start(
    [NETMON, "monitor", "--port", String(port), "--data", `${dir}/m${port}`, ...extra],
    { env, name: `monitor:${port}` },
  );
  await p.waitFor(/^Monitoring service \S+ listening on/, 60_000);
  return [...p.lines];
}

Deno.test("--token warns once, pointing to --token-file and NETMON_TOKEN; they do not", async () => {
  await using tmp = await tempDir();
  const onCommandLine = await monitorLines(tmp.path, ["--token", TOKEN]);
  assert.equal(onCommandLine.filter((l) => WARNING.test(l)).length, 1, onCommandLine.join("\n"));
  assert.ok(!onCommandLine.some((l) => l.includes(TOKEN)), "the warning does not repeat it");

  await Deno.writeTextFile(`${tmp.path}/token`, TOKEN + "\n", { mode: 0o600 });
  const fromFile = await monitorLines(tmp.path, ["--token-file", `${tmp.path}/token`]);
  assert.ok(!fromFile.some((l) => WARNING.test(l)), fromFile.join("\n"));
  const fromEnv = await monitorLines(tmp.path, [], { NETMON_TOKEN: TOKEN });
  assert.ok(!fromEnv.some((l) => WARNING.test(l)), fromEnv.join("\n"));

  // the manager too
  await Deno.writeTextFile(
    `${tmp.path}/tasks.yaml`,
    `monitors: [{ address: "127.0.0.1:${freeTcpPort()}" }]\ntargets: { x: { TCP: { port: 1 } } }\n`,
  );
  await using manager = Proc.start([
    NETMON,
    "manage",
    `${tmp.path}/tasks.yaml`,
    "--db",
    `${tmp.path}/netmon.db`,
    "--no-live",
    "--http",
    "none",
    "--token",
    TOKEN,
  ], { name: "manager" });
  await manager.waitFor(WARNING, 60_000);
});
