/**
 * `./netmon help COMMAND` and `./netmon COMMAND --help` (issue 13): every
 * command has help generated from its definition, both ways give the same
 * text, it lists every option the command parses, and a wrong flag is a
 * usage error (exit 2) whose message names the flag.
 */
import assert from "node:assert/strict";
import { NETMON } from "./helpers/netmon.ts";
import { COMMANDS } from "../mod.ts";

async function run(...args: string[]) {
  const out = await new Deno.Command(NETMON, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("netmon help COMMAND and netmon COMMAND --help show the same help for every command", async () => {
  assert.deepEqual(
    COMMANDS.map((c) => c.name),
    ["monitor", "manage", "demo", "ctl", "check", "help", "version"],
  );
  await Promise.all(COMMANDS.map(async (command) => {
    const [viaHelp, viaFlag, viaShort] = await Promise.all([
      run("help", command.name),
      run(command.name, "--help"),
      run(command.name, "-h"),
    ]);
    for (const r of [viaHelp, viaFlag, viaShort]) assert.equal(r.code, 0, r.stderr);
    assert.ok(
      viaHelp.stdout.startsWith(`Usage: netmon ${command.name}`),
      `${command.name}: ${viaHelp.stdout}`,
    );
    assert.equal(viaFlag.stdout, viaHelp.stdout, command.name);
    assert.equal(viaShort.stdout, viaHelp.stdout, command.name);
    for (const option of Object.keys(command.options)) {
      assert.match(viaHelp.stdout, new RegExp(`--${option}\\b`), `${command.name} --${option}`);
    }
  }));
});

Deno.test("netmon help lists every command with its summary", async () => {
  const r = await run("help");
  assert.equal(r.code, 0, r.stderr);
  for (const command of COMMANDS) {
    assert.match(r.stdout, new RegExp(`^  netmon ${command.name}\\b`, "m"), command.name);
    assert.ok(r.stdout.includes(command.summary.split("\n")[0]!), command.name);
  }
  assert.equal((await run()).stdout, r.stdout);
  assert.equal((await run("--help")).stdout, r.stdout);
});

Deno.test("a wrong flag exits 2 with a message naming the flag", async () => {
  const unknown = await run("monitor", "--frobnicate");
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /^netmon: Unknown option '--frobnicate'; run 'netmon help monitor'$/m,
  );
  assert.equal(unknown.stdout, "");

  const missing = await run("manage", "--db");
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--db/);

  const bad = await run("monitor", "--port", "70000");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--port must be a whole number from 0 to 65535, got "70000"/);

  const ctl = await run("ctl", "status", "--frobnicate");
  assert.equal(ctl.code, 2);
  assert.match(ctl.stderr, /^netmon ctl: Unknown option '--frobnicate'; run 'netmon help ctl'$/m);

  const command = await run("monitr");
  assert.equal(command.code, 2);
  assert.match(command.stderr, /Unknown command "monitr" \(did you mean 'monitor'\?\)/);

  const topic = await run("help", "ctll");
  assert.equal(topic.code, 2);
  assert.match(topic.stderr, /No help for "ctll" \(did you mean 'ctl'\?\)/);
});

Deno.test("the API beyond loopback without a token is a usage error naming --http-token", async () => {
  const r = await run("manage", "--http", "0.0.0.0:0", "--db", "/nonexistent/never-opened.db");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--http 0\.0\.0\.0 is not a loopback address: .*needs --http-token/);
});
