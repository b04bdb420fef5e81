/**
 * The benchmark's system and fleet sections start, run a tiny load and print
 * their table (issue 17). No figure is checked: timings belong to the
 * benchmark, not to a test.
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { NETMON } from "./helpers/netmon.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function bench(...args: string[]) {
  await using tmp = await tempDir("netmon-bench-smoke-");
  const out = await new Deno.Command(NETMON, {
    args: ["--deno", "run", "-A", `${ROOT}bench/run.ts`, ...args, "--out", `${tmp.path}/r.json`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  const stdout = d.decode(out.stdout), stderr = d.decode(out.stderr);
  assert.equal(out.code, 0, `bench/run.ts ${args.join(" ")} failed:\n${stderr.slice(-3000)}`);
  const saved = JSON.parse(await Deno.readTextFile(`${tmp.path}/r.json`)) as { table: string };
  return { stdout, saved };
}

Deno.test("bench/run.ts system runs netmon against 20 loopback targets and prints its row", async () => {
  const { stdout, saved } = await bench(
    "system",
    "--systems",
    "netmon",
    "--targets",
    "20",
    "--seconds",
    "3",
    "--warmup",
    "1",
  );
  assert.match(stdout, /\| targets \| system \|/);
  assert.match(stdout, /^\| 20 \| netmon: one monitor \+ the manager/m);
  assert.match(stdout, /loadavg at start/);
  assert.equal(saved.table, stdout.trimEnd());
});

Deno.test("bench/run.ts fleet runs a manager with 3 and 6 fake monitors and prints both rows", async () => {
  const { stdout, saved } = await bench(
    "fleet",
    "--monitors",
    "3,6",
    "--seconds",
    "2",
    "--idle",
    "1",
  );
  assert.match(stdout, /\| monitors \| all online after start s \|/);
  assert.match(stdout, /^\| 3 \| /m);
  assert.match(stdout, /^\| 6 \| /m);
  assert.match(stdout, /^- 6 monitors: /m);
  assert.equal(saved.table, stdout.trimEnd());
});
