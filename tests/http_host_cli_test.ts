/**
 * `--http-host NAME` through `./netmon manage` and `./netmon demo` (issue
 * 11, DNS rebinding): the named host is served, any other name gets 421,
 * and a bad value is refused at start.
 */
import assert from "node:assert/strict";
import { freeTcpPort } from "./helpers/ports.ts";
import { Proc, tempDir } from "./helpers/proc.ts";
import { NETMON } from "./helpers/netmon.ts";

async function statusFor(url: string, host: string): Promise<number> {
  const out = await new Deno.Command("curl", {
    args: ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", `Host: ${host}`, url],
    stdout: "piped",
  }).output();
  return Number(new TextDecoder().decode(out.stdout));
}

async function apiUrl(p: Proc): Promise<string> {
  const line = await p.waitFor(/API and dashboard on http:\/\/\S+\//, 60_000);
  return line.match(/(http:\/\/\S+)\/$/)![1]!;
}

Deno.test("--http-host NAME is served by manage and demo; other names get 421", async () => {
  await using tmp = await tempDir();
  const config = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    config,
    `monitors: [{ address: "127.0.0.1:${freeTcpPort()}" }]\ntargets: { x: { TCP: { port: 1 } } }\n`,
  );
  {
    await using manager = Proc.start([
      NETMON,
      "manage",
      config,
      "--db",
      `${tmp.path}/netmon.db`,
      "--no-live",
      "--http",
      "127.0.0.1:0",
      "--http-host",
      "netmon.test",
      "--http-host",
      "Other.Test.",
    ], { name: "manager" });
    const base = await apiUrl(manager);
    assert.equal(await statusFor(`${base}/api/v1/status`, "netmon.test"), 200);
    assert.equal(await statusFor(`${base}/api/v1/status`, "other.test:8080"), 200);
    assert.equal(await statusFor(`${base}/api/v1/status`, "evil.test"), 421);
    assert.equal(await statusFor(`${base}/`, "evil.test"), 421);
  }
  {
    // the option before the configuration file: demo must still find the file
    await using demo = Proc.start([
      NETMON,
      "demo",
      "--http-host",
      "netmon.test",
      config,
      "--http",
      "127.0.0.1:0",
      "--db",
      `${tmp.path}/demo.db`,
      "--no-live",
      "--for",
      "60",
    ], { name: "demo", cwd: tmp.path });
    const base = await apiUrl(demo);
    assert.equal(await statusFor(`${base}/api/v1/status`, "netmon.test"), 200);
    assert.equal(await statusFor(`${base}/api/v1/status`, "evil.test"), 421);
  }
  const bad = await new Deno.Command(NETMON, {
    args: ["manage", config, "--http-host", "http://netmon.test/"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /--http-host must be a host name/);
});
