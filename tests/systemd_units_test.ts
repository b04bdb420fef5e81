/**
 * The systemd units in contrib/systemd (issue 18): `systemd-analyze verify`
 * accepts both without a word, `systemd-analyze security` rates them, and the
 * monitor's ExecStart, run as an unprivileged user with CAP_NET_RAW as its
 * only (ambient) capability, as the unit runs it, serves ICMP checks to a
 * manager; without the capability the same check fails (unless the host's
 * ping_group_range lets every group ping, when that half is skipped with a note).
 */
import assert from "node:assert/strict";
import { Proc, tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { NETMON, startManager } from "./helpers/netmon.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const UNITS = ["netmon-monitor.service", "netmon-manager.service"];
const HAS_ANALYZE = (() => {
  try {
    return new Deno.Command("systemd-analyze", { args: ["--version"] }).outputSync().success;
  } catch {
    return false;
  }
})();
const NOBODY = 65534;

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: out.code, text: d.decode(out.stdout) + d.decode(out.stderr) };
}

/** The units with ExecStart pointing at this checkout, in a temporary directory. */
async function localUnits(dir: string): Promise<string[]> {
  const paths: string[] = [];
  for (const unit of UNITS) {
    const text = await Deno.readTextFile(`${ROOT}contrib/systemd/${unit}`);
    await Deno.writeTextFile(`${dir}/${unit}`, text.replaceAll("/opt/netmon/netmon", NETMON));
    paths.push(`${dir}/${unit}`);
  }
  return paths;
}

function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = line.match(/^([A-Za-z]+)=(.*)$/);
    if (m) out.set(m[1]!, [...out.get(m[1]!) ?? [], m[2]!]);
  }
  return out;
}

Deno.test({
  name: "systemd-analyze verify accepts both units and rates their exposure OK",
  ignore: !HAS_ANALYZE,
  async fn() {
    await using tmp = await tempDir();
    const units = await localUnits(tmp.path);
    const verify = await run("systemd-analyze", ["verify", ...units]);
    assert.equal(verify.code, 0, verify.text);
    assert.equal(verify.text.trim(), "", "verify warned");
    for (const unit of units) {
      const s = await run("systemd-analyze", ["security", "--offline=yes", unit]);
      const level = Number(s.text.match(/Overall exposure level for \S+: ([\d.]+)/)?.[1]);
      // systemd rates 0-10; below 4 is "OK" in its words
      assert.ok(
        level < 4,
        `${unit}: exposure ${level}\n${s.text.split("\n").slice(-3).join("\n")}`,
      );
    }
  },
});
if (!HAS_ANALYZE) {
  console.warn("systemd_units_test: systemd-analyze is not installed; verify skipped");
}

Deno.test("the units run as the netmon user, the monitor with CAP_NET_RAW alone, the token from a credential", async () => {
  const monitor = directives(await Deno.readTextFile(`${ROOT}contrib/systemd/${UNITS[0]}`));
  const manager = directives(await Deno.readTextFile(`${ROOT}contrib/systemd/${UNITS[1]}`));
  for (const d of [monitor, manager]) {
    assert.deepEqual(d.get("User"), ["netmon"]);
    assert.deepEqual(d.get("NoNewPrivileges"), ["yes"]);
    assert.deepEqual(d.get("LoadCredential"), ["token:/etc/netmon/token"]);
    assert.match(d.get("ExecStart")![0]!, / --token-file %d\/token( |$)/);
    assert.deepEqual(d.get("ProtectSystem"), ["strict"]);
  }
  assert.deepEqual(monitor.get("AmbientCapabilities"), ["CAP_NET_RAW"]);
  assert.deepEqual(monitor.get("CapabilityBoundingSet"), ["CAP_NET_RAW"]);
  assert.deepEqual(manager.get("CapabilityBoundingSet"), [""]);
  const sysusers = await Deno.readTextFile(`${ROOT}contrib/systemd/netmon.sysusers.conf`);
  assert.match(sysusers, /^u netmon - /m);
});

/** The monitor unit's ExecStart arguments after `netmon`, with systemd's specifiers filled in. */
async function monitorArgs(port: number, state: string, creds: string): Promise<string[]> {
  const d = directives(await Deno.readTextFile(`${ROOT}contrib/systemd/${UNITS[0]}`));
  const [bin, ...args] = d.get("ExecStart")![0]!.split(/\s+/);
  assert.equal(bin, "/opt/netmon/netmon");
  const set = (flag: string, value: string) => {
    const at = args.indexOf(flag);
    assert.ok(at >= 0, `ExecStart has ${flag}`);
    args[at + 1] = value;
  };
  // loopback and a free port: tests run in parallel
  set("--port", String(port));
  set("--listen", "127.0.0.1");
  return args.map((a) => a.replaceAll("%S", state).replaceAll("%d", creds));
}

async function icmpAs(withCap: boolean): Promise<string> {
  await using tmp = await tempDir();
  await Deno.chmod(tmp.path, 0o755);
  const state = `${tmp.path}/state`, creds = `${tmp.path}/creds`, cache = `${tmp.path}/cache`;
  for (const d of [state, `${state}/netmon`, `${state}/netmon/monitor`, creds, cache]) {
    await Deno.mkdir(d, { recursive: true });
    await Deno.chown(d, NOBODY, NOBODY);
  }
  await Deno.chmod(`${state}/netmon/monitor`, 0o700);
  await Deno.writeTextFile(`${creds}/token`, "unit-test-token-5b1e\n");
  await Deno.chown(`${creds}/token`, NOBODY, NOBODY);
  await Deno.chmod(`${creds}/token`, 0o400);
  await Deno.writeTextFile(`${tmp.path}/root-token`, "unit-test-token-5b1e\n");

  const port = freeTcpPort();
  const caps = withCap
    ? ["--inh-caps=+net_raw", "--ambient-caps=+net_raw", "--bounding-set=-all,+net_raw"]
    : ["--inh-caps=-all", "--bounding-set=-all"];
  await using monitor = Proc.start([
    "setpriv",
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    "--clear-groups",
    ...caps,
    "--no-new-privs",
    "env",
    `DENO_DIR=${cache}/deno`,
    `HOME=${state}/netmon/monitor`,
    NETMON,
    ...await monitorArgs(port, state, creds),
  ], { name: "monitor-as-nobody" });
  await monitor.waitFor(/^Monitoring service \S+ listening on/, 60_000);

  await Deno.writeTextFile(
    `${tmp.path}/tasks.yaml`,
    `monitors: [{ address: "127.0.0.1:${port}", name: unit }]
targets:
  lo: { ICMP: { server_address: 127.0.0.1, frequency: 1 } }
`,
  );
  await using manager = startManager(`${tmp.path}/tasks.yaml`, {
    db: `${tmp.path}/netmon.db`,
    extra: ["--token-file", `${tmp.path}/root-token`],
  });
  return await manager.waitFor(/Ping: 127\.0\.0\.1 - /, 30_000);
}

Deno.test("the monitor's ExecStart as an unprivileged user pings with CAP_NET_RAW and cannot without it", async () => {
  assert.match(await icmpAs(true), /Ping: 127\.0\.0\.1 - \d+\.\d\d ms, Loss: 0%/);
  const [lo, hi] = (await Deno.readTextFile("/proc/sys/net/ipv4/ping_group_range")).trim()
    .split(/\s+/).map(Number);
  if (lo! <= NOBODY && NOBODY <= hi!) {
    // this host lets every group ping without privileges: the capability makes no difference here
    console.warn(
      `ping_group_range ${lo} ${hi} admits gid ${NOBODY}; the check without CAP_NET_RAW is skipped`,
    );
    return;
  }
  assert.match(await icmpAs(false), /Loss: 100%, Error: .*(permission|CAP_NET_RAW)/i);
});
