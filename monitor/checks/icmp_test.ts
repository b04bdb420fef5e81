import assert from "node:assert/strict";
import { checkIcmp } from "./icmp.ts";
import { parseIcmpParams } from "../../shared/params/icmp.ts";
import { icmpSocketStats } from "../net/icmp_socket.ts";
import { makeNetns, type NetNs } from "../../tests/helpers/netns.ts";
import { tempDir } from "../../tests/helpers/proc.ts";
import { libc } from "../net/libc.ts";

// libc stays open for the life of the process: open it before the first test, so that the
// resource sanitizer does not count it against that test
libc();

function run(raw: Record<string, unknown>, timeoutMs = 3000, signal?: AbortSignal) {
  return checkIcmp(parseIcmpParams(raw, "target.test"), {
    signal: signal ?? AbortSignal.timeout(timeoutMs),
    timeoutMs,
    target: "target.test",
  });
}

/** fping's per-request RTTs in ms, null for a lost request. */
async function fping(address: string, count: number): Promise<(number | null)[]> {
  const out = await new Deno.Command("fping", {
    args: ["-C", String(count), "-p", "20", "-q", address],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const line = new TextDecoder().decode(out.stderr).trim();
  const values = line.split(" : ")[1]?.trim().split(/\s+/) ?? [];
  assert.equal(values.length, count, `unexpected fping output: ${line}`);
  return values.map((v) => (v === "-" ? null : Number(v)));
}

function median(values: number[]): number {
  const s = values.toSorted((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

for (const address of ["127.0.0.1", "::1"]) {
  Deno.test(`checkIcmp() measures ${address} like fping does`, async () => {
    const count = 20;
    const theirs = await fping(address, count);
    const ours = await run({ server_address: address, count, interval_ms: 20 }, 3000);
    const theirReplies = theirs.filter((v): v is number => v !== null);

    assert.equal(ours.up, true, ours.summary);
    assert.ok(theirReplies.length > 0);
    assert.equal(ours.details?.replies, theirReplies.length);
    assert.equal(ours.metrics.netmon_icmp_packet_loss_ratio, 1 - theirReplies.length / count);
    assert.match(
      ours.summary,
      new RegExp(
        `^Ping: ${
          address.replace(/\./g, "\\.")
        } - \\d+\\.\\d{2} ms, Loss: 0%, Min/Avg/Max/Stddev: `,
      ),
    );
    assert.equal(ours.details?.address, address);
    assert.equal(ours.metrics.probe_icmp_reply_hop_limit, 64);
    const diff = (ours.details?.rtt_median_ms as number) - median(theirReplies);
    console.log(
      `${address}: netmon median ${(ours.details?.rtt_median_ms as number).toFixed(4)} ms, ` +
        `fping median ${median(theirReplies).toFixed(4)} ms, difference ${diff.toFixed(4)} ms`,
    );
  });
}

Deno.test("checkIcmp() resolves localhost without DNS", async () => {
  const v4 = await run({ server_address: "localhost", count: 1 });
  const v6 = await run({ server_address: "localhost", count: 1, ip_protocol: "ip6" });
  assert.equal(v4.details?.address, "127.0.0.1");
  assert.equal(v6.details?.address, "::1");
  assert.equal(v4.up, true, v4.summary);
  assert.equal(v6.up, true, v6.summary);
});

Deno.test("checkIcmp() is down with 100% loss once a namespace host goes silent", async () => {
  await using ns = await makeNetns();
  for (const address of [ns.nsAddr, ns.nsAddr6]) {
    const up = await run({ server_address: address, count: 3, interval_ms: 50 }, 2000);
    assert.equal(up.up, true, up.summary);
    assert.equal(up.details?.replies, 3);
  }
  await ns.down();
  for (const address of [ns.nsAddr, ns.nsAddr6]) {
    const start = performance.now();
    const down = await run({ server_address: address, count: 3, interval_ms: 50 }, 1000);
    console.log(`${address} silent: resolved after ${(performance.now() - start).toFixed(0)} ms`);
    assert.equal(down.up, false);
    assert.equal(down.metrics.netmon_icmp_packet_loss_ratio, 1);
    assert.equal(down.metrics.probe_success, 0);
    assert.equal(
      down.summary,
      `Ping: ${address} - timeout, Loss: 100%, Replies: 0/3, Address: ${address}, ` +
        `Error: no reply to 3 echo requests within 1000 ms`,
    );
  }
  await ns.up();
  const back = await run({ server_address: ns.nsAddr, count: 3, interval_ms: 50 }, 2000);
  assert.equal(back.details?.replies, 3, back.summary);
  assert.deepEqual(icmpSocketStats().map((s) => [s.readers, s.pending]), [[0, 0], [0, 0]]);
});

Deno.test("checkIcmp() resolves at once when aborted, leaving no probe behind", async () => {
  await using ns = await makeNetns();
  await ns.down();
  const controller = new AbortController();
  const start = performance.now();
  const pending = run(
    { server_address: ns.nsAddr, count: 5, interval_ms: 100 },
    10_000,
    controller.signal,
  );
  setTimeout(() => controller.abort(), 150);
  const outcome = await pending;
  console.log(
    `aborted ping resolved ${(performance.now() - start - 150).toFixed(1)} ms after abort`,
  );
  assert.equal(outcome.up, false);
  assert.equal(outcome.metrics.netmon_icmp_packet_loss_ratio, 1);
  for (const s of icmpSocketStats()) {
    assert.equal(s.pending, 0);
    assert.equal(s.readers, 0);
  }
});

Deno.test("checkIcmp() serves 200 concurrent pings with one socket and one reader per family", async () => {
  await using ns = await makeNetns();
  const targets = [
    ...Array(70).fill("127.0.0.1"),
    ...Array(70).fill(ns.nsAddr),
    ...Array(30).fill("::1"),
    ...Array(30).fill(ns.nsAddr6),
  ];
  const runs = Promise.all(
    targets.map((address) => run({ server_address: address, count: 3, interval_ms: 20 })),
  );
  // sample the shared sockets while the pings run
  const seen = { fds: new Set<string>(), maxPending: 0, maxReaders: 0, maxOpened: 0 };
  let done = false;
  runs.finally(() => done = true);
  while (!done) {
    for (const s of icmpSocketStats()) {
      seen.fds.add(`${s.family}:${s.fd}`);
      seen.maxPending = Math.max(seen.maxPending, s.pending);
      seen.maxReaders = Math.max(seen.maxReaders, s.readers);
      seen.maxOpened = Math.max(seen.maxOpened, s.opened);
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  const outcomes = await runs;

  for (const [i, o] of outcomes.entries()) {
    assert.equal(o.up, true, o.summary);
    assert.equal(o.details?.replies, 3);
    assert.equal(o.details?.address, targets[i]);
  }
  console.log(`sockets ${[...seen.fds]}, most probes in flight on one: ${seen.maxPending}`);
  assert.equal(seen.fds.size, 2);
  assert.equal(seen.maxOpened, 1);
  assert.equal(seen.maxReaders, 1);
  assert.ok(seen.maxPending > 1);
  assert.ok(icmpSocketStats().every((s) => s.readers === 0 && s.pending === 0));
});

/** Runs a ping of `address` as uid 65534 inside `ns`, printing the outcome as JSON. */
async function pingAsNobody(ns: NetNs, address: string): Promise<Record<string, unknown>> {
  await using dir = await tempDir();
  await Deno.chmod(dir.path, 0o777);
  const script = `${dir.path}/ping.ts`;
  await Deno.writeTextFile(
    script,
    `import { checkIcmp } from "${import.meta.resolve("./icmp.ts")}";
import { parseIcmpParams } from "${import.meta.resolve("../../shared/params/icmp.ts")}";
const p = parseIcmpParams({ server_address: Deno.args[0], count: 2, interval_ms: 20 }, "x");
const o = await checkIcmp(p, { signal: AbortSignal.timeout(2000), timeoutMs: 2000, target: "x" });
console.log(JSON.stringify(o));
`,
  );
  const out = await new Deno.Command("ip", {
    args: ns.wrap([
      "setpriv",
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "env",
      `DENO_DIR=${dir.path}/deno`,
      `HOME=${dir.path}`,
      Deno.execPath(),
      "run",
      "--no-config",
      "-A",
      script,
      address,
    ]).slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `child failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(stdout);
}

Deno.test("checkIcmp() without ICMP permission is down and says what to run", async () => {
  await using ns = await makeNetns(); // its own ping_group_range, "1 0" by default
  for (const address of ["127.0.0.1", "::1"]) {
    const o = await pingAsNobody(ns, address);
    assert.equal(o.up, false);
    const error = String(o.error);
    assert.match(error, /ping_group_range/);
    assert.match(error, /sudo sysctl -w net\.ipv4\.ping_group_range="0 2147483647"/);
    assert.match(error, /sudo setcap cap_net_raw\+ep \//);
    assert.equal(o.summary, `Ping: ${address} - timeout, Loss: 100%, Error: ${error}`);
  }
});

Deno.test("checkIcmp() uses an unprivileged datagram socket when ping_group_range allows it", async () => {
  await using ns = await makeNetns();
  const sysctl = await new Deno.Command("ip", {
    args: ["netns", "exec", ns.name, "sysctl", "-w", "net.ipv4.ping_group_range=0 2147483647"],
    stdout: "null",
  }).output();
  assert.ok(sysctl.success);
  for (const address of ["127.0.0.1", "::1"]) {
    const o = await pingAsNobody(ns, address);
    assert.equal(o.up, true, String(o.summary));
    assert.deepEqual(
      [
        (o.details as Record<string, unknown>).socket,
        (o.details as Record<string, unknown>).replies,
      ],
      ["datagram", 2],
    );
  }
});
