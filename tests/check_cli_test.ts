/**
 * `./netmon check FILE` (issue 18): a valid file gives one summary line and
 * exit 0; an invalid one its error at file:line:column: field and exit 1.
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { NETMON } from "./helpers/netmon.ts";

async function run(...args: string[]) {
  const out = await new Deno.Command(NETMON, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

const VALID = `monitors:
  - { address: "127.0.0.1:54322", name: a }
  - { address: "127.0.0.1:54323", name: b }
notifiers:
  - { name: ops, type: webhook, url: "http://127.0.0.1:9/hook" }
targets:
  web:
    HTTP: { url: "http://127.0.0.1:8/" }
    TCP: { port: 443 }
  dns:
    DNS: { server_address: 127.0.0.1, query_name: example.com }
`;

Deno.test("netmon check prints a one-line summary of a valid file and exits 0", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(file, VALID);
  const r = await run("check", file);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${file}: OK, 2 targets, 3 checks, 2 monitors, 1 notifier\n`);
});

Deno.test("netmon check reports an invalid file at file:line:column: field and exits 1", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(file, VALID.replace("port: 443", "port: 70000"));
  const r = await run("check", file);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    new RegExp(`^netmon: ${file}:9:\\d+: targets\\.web\\.TCP\\.port: .*65535`),
  );

  await Deno.writeTextFile(file, VALID.replace("type: webhook", "type: carrier-pigeon"));
  const n = await run("check", file);
  assert.equal(n.code, 1);
  assert.match(n.stderr, new RegExp(`${file}:5:\\d+: notifiers\\[0\\]\\.type: `));

  const missing = await run("check", `${tmp.path}/nope.yaml`);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.yaml:1:1: cannot read the configuration/);
});

Deno.test("netmon help lists check", async () => {
  const r = await run("help");
  assert.match(r.stdout, /netmon check \[tasks\.yaml\]/);
  assert.equal((await run("check", "--help")).code, 0);
});

Deno.test("netmon check reports every check's mistake, not only the first", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    file,
    VALID.replace("port: 443", "port: 70000").replace("query_name: example.com", "query_type: XYZ"),
  );
  const r = await run("check", file);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0]!, new RegExp(`^netmon: ${file}:9:\\d+: targets\\.web\\.TCP\\.port: `));
  assert.match(
    lines[1]!,
    new RegExp(`^netmon: ${file}:11:\\d+: targets\\.dns\\.DNS\\.query_type: `),
  );
});
