/**
 * Monitors that dial out (issue 15), end to end through `./netmon`: a monitor
 * in a network namespace that accepts no inbound connection (the manager
 * cannot dial it) runs its checks through `--connect`, spools while the
 * manager is dead for 20 s and replays the outage with its original
 * timestamps, is refused with a swapped token, and works beside a second
 * dial-in monitor and a dialed one in the same tasks.yaml. An unknown
 * dialer and a dialer of another protocol version are refused clearly.
 */
import assert from "node:assert/strict";
import { Proc, tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { NETMON, startManager, startMonitor } from "./helpers/netmon.ts";
import { makeNetns } from "./helpers/netns.ts";
import { assertStoredOrDropped, readMonitorLedger, readStored } from "./helpers/ledger.ts";
import { encodeFrame, parseMessage, readFrames } from "../shared/protocol.ts";
import { PROTOCOL_MAX } from "../shared/handshake.ts";
import { VERSION } from "../shared/version.ts";

const TOKEN = "5d41402abc4b2a76b9719d911017c592aa61f3e2b1c04d9e8f7a6b5c4d3e2f1a";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `cmd` to success or throws with its stderr. */
async function run(cmd: string[]): Promise<void> {
  const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** Starts `netmon monitor --connect ...` (optionally inside a namespace) and waits for its first line. */
async function dialingMonitor(
  name: string,
  dataDir: string,
  connect: string,
  tokenFile: string,
  wrap: (c: string[]) => string[] = (c) => c,
): Promise<Proc> {
  const cmd = wrap([
    NETMON,
    "monitor",
    "--connect",
    connect,
    "--data",
    dataDir,
    "--name",
    name,
    "--token-file",
    tokenFile,
  ]);
  const proc = Proc.start(cmd, { name });
  await proc.waitFor(/^Monitoring service \S+ dialing /, 60_000);
  return proc;
}

interface MonitorRow {
  name: string;
  status: string;
  direction: string;
  remoteAddress: string | null;
  lastError: string | null;
}

async function monitorsOf(manager: Proc): Promise<MonitorRow[]> {
  const line = await manager.waitFor(/API and dashboard on http:\/\/\S+\//);
  const base = line.match(/(http:\/\/\S+?)\/?$/)![1]!;
  const res = await fetch(`${base}/api/v1/monitors`);
  return await res.json() as MonitorRow[];
}

Deno.test("a monitor behind a firewall dials out, replays a 20 s manager outage, and is refused with a swapped token", async () => {
  await using tmp = await tempDir();
  await using ns = await makeNetns();
  // the namespace answers no inbound connection: only the connections it opens get through
  await run(
    ns.wrap(["iptables", "-A", "INPUT", "!", "-i", "lo", "-p", "tcp", "--syn", "-j", "DROP"]),
  );
  // any port: the namespace is new, so nothing else listens there
  const nsPort = freeTcpPort();
  await using inside = Proc.start(
    ns.wrap(["socat", `TCP-LISTEN:${nsPort},reuseaddr,fork`, "EXEC:cat"]),
    { name: "socat-in-ns" },
  );
  // something does listen in there: from inside, it answers
  let echoed = "";
  for (let i = 0; i < 50 && echoed !== "ping"; i++) {
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        `echo ping | ${ns.wrap(["socat", "-t", "1", "-", `TCP:127.0.0.1:${nsPort}`]).join(" ")}`,
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    echoed = new TextDecoder().decode(out.stdout).trim();
    if (echoed !== "ping") await sleep(100);
  }
  assert.equal(echoed, "ping", "the listener inside the namespace answers locally");
  // but a dial from the manager's side gets no answer: its SYN is dropped
  await assert.rejects(
    Deno.connect({ hostname: ns.nsAddr, port: nsPort, signal: AbortSignal.timeout(1500) }),
    (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
  );
  await inside.stop("SIGTERM");

  const target = Deno.listen({ hostname: ns.hostAddr, port: 0 });
  (async () => {
    try {
      for await (const c of target) c.close();
    } catch { /* closed */ }
  })();
  const targetPort = (target.addr as Deno.NetAddr).port;
  const tokenFile = `${tmp.path}/token`;
  await Deno.writeTextFile(tokenFile, TOKEN + "\n");
  const listenPort = freeTcpPort(ns.hostAddr);
  const listen = `${ns.hostAddr}:${listenPort}`;
  await using classic = await startMonitor({
    dataDir: `${tmp.path}/classic`,
    extra: ["--token-file", tokenFile, "--name", "classic"],
  });
  const cfg = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    cfg,
    `monitors:
  - name: vp-ns
    labels: [edge]
  - name: vp-host
  - address: 127.0.0.1:${classic.port}
    name: classic
targets:
  edge:
    TCP: { host: ${ns.hostAddr}, port: ${targetPort}, frequency: 0.5 }
`,
  );
  const db = `${tmp.path}/m.db`;
  const managerArgs = ["--token-file", tokenFile, "--listen-monitors", listen];
  let manager = startManager(cfg, { db, extra: managerArgs });
  const vpDir = `${tmp.path}/vp-ns`;
  let vp = await dialingMonitor("vp-ns", vpDir, listen, tokenFile, ns.wrap);
  await using _vpHost = await dialingMonitor("vp-host", `${tmp.path}/vp-host`, listen, tokenFile);
  let killedAt = 0, restartedAt = 0;
  try {
    for (const name of ["vp-ns", "vp-host", "classic"]) {
      await manager.waitFor(
        new RegExp(`Port ${targetPort} on ${ns.hostAddr}.*Monitor: ${name}$`),
        20_000,
      );
    }
    const rows = await monitorsOf(manager);
    const row = (name: string) => rows.find((r) => r.name === name)!;
    assert.equal(row("vp-ns").direction, "dialed in");
    assert.match(
      row("vp-ns").remoteAddress ?? "",
      new RegExp(`^${ns.nsAddr.replaceAll(".", "\\.")}:\\d+$`),
    );
    assert.equal(row("vp-host").direction, "dialed in");
    assert.equal(row("classic").direction, "dialed");
    assert.equal(row("classic").remoteAddress, `127.0.0.1:${classic.port}`);
    assert.ok(rows.every((r) => r.status === "Online"), JSON.stringify(rows));
    assert.ok(
      manager.matching(/^\S+: Online \(name vp-ns, dialed in, /).length > 0,
      "the status block shows the direction",
    );

    // the manager dies; the monitors keep checking and spool
    await manager.stop("SIGKILL");
    killedAt = Date.now();
    await sleep(20_000);
    restartedAt = Date.now();
    manager = startManager(cfg, { db, extra: managerArgs });
    const mark = manager.mark;
    await manager.waitFor(/Connected to monitoring service at .*name: vp-ns\)/, 20_000, mark);
    await vp.waitFor(/Manager connected from .*; [1-9]\d* results to replay/, 20_000);
    // the replay has drained once the monitor reports nothing pending
    for (let i = 0; i < 100; i++) {
      const states = await monitorsOf(manager);
      const s = states.find((r) => r.name === "vp-ns") as MonitorRow & {
        spool?: { pending: number };
      };
      if (s?.spool && s.spool.pending === 0) break;
      await sleep(200);
    }

    // a swapped token: the monitor is refused, and says so
    await vp.stop("SIGTERM");
    const wrongToken = `${tmp.path}/wrong-token`;
    await Deno.writeTextFile(wrongToken, "f".repeat(64) + "\n");
    const refusedMark = manager.mark;
    vp = await dialingMonitor("vp-ns", vpDir, listen, wrongToken, ns.wrap);
    await vp.waitFor(/Manager at .*authentication failed/, 20_000);
    await manager.waitFor(
      new RegExp(
        `Monitor connection from ${
          ns.nsAddr.replaceAll(".", "\\.")
        }:\\d+ refused: .*authentication failed`,
      ),
      20_000,
      refusedMark,
    );
    assert.equal(
      manager.matching(/Connected to monitoring service at .*name: vp-ns\)/, refusedMark).length,
      0,
      "the monitor with the wrong token never came online",
    );
  } finally {
    await vp.stop("SIGTERM");
    await manager.stop("SIGTERM");
    target.close();
  }
  // everything the namespaced monitor measured is stored once, the outage included
  const stored = readStored(db);
  const ledger = readMonitorLedger(vpDir);
  assertStoredOrDropped(stored, ledger);
  const outage = stored.filter((r) =>
    r.monitorName === "vp-ns" && r.startedAt > killedAt && r.startedAt < restartedAt
  );
  assert.ok(outage.length > 0, "results measured while the manager was dead were replayed");
  assert.ok(
    outage.every((r) => r.checkId === "edge/TCP"),
    "with their own check and original start times",
  );
});

Deno.test("the manager's --listen-monitors shows an unknown dialer and refuses one of another protocol version", async () => {
  await using tmp = await tempDir();
  const tokenFile = `${tmp.path}/token`;
  await Deno.writeTextFile(tokenFile, TOKEN + "\n");
  const port = freeTcpPort();
  const listen = `127.0.0.1:${port}`;
  const cfg = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    cfg,
    `monitors:\n  - name: known\ntargets:\n  self:\n    TCP: { host: 127.0.0.1, port: ${port}, frequency: 0.5 }\n`,
  );
  await using manager = startManager(cfg, {
    db: `${tmp.path}/m.db`,
    extra: ["--token-file", tokenFile, "--listen-monitors", listen],
  });
  await manager.waitFor(/monitors dial in at 127\.0\.0\.1:\d+/);
  await using stranger = await dialingMonitor("stranger", `${tmp.path}/s`, listen, tokenFile);
  await manager.waitFor(/unknown monitor stranger from 127\.0\.0\.1:\d+/);
  const rows = await monitorsOf(manager);
  const s = rows.find((r) => r.name === "stranger");
  assert.ok(s, "the API lists the unknown dialer");
  assert.match(s.lastError ?? "", /^unknown monitor stranger from 127\.0\.0\.1:\d+/);
  assert.equal(s.direction, "dialed in");
  await stranger.waitFor(/Assignment 1: 0 checks/);

  // a monitor of a future protocol: one clear line, and the manager serves on
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const w = conn.writable.getWriter();
  const frames = readFrames(conn.readable);
  const hello = parseMessage((await frames.next()).value!);
  assert.ok(hello.t === "hello" && hello.role === "manager");
  await w.write(encodeFrame({
    t: "hello",
    v: 6,
    vmin: 5,
    version: "2.0.0",
    nonce: "cc",
    role: "monitor",
    monitorId: "x",
    name: "future",
    epoch: "e",
    lastSeq: 0,
  }));
  const bye = parseMessage((await frames.next()).value!);
  assert.ok(bye.t === "bye");
  assert.equal(
    bye.reason,
    `monitor 2.0.0 speaks protocol 5–6; this manager (${VERSION}) needs ${PROTOCOL_MAX}`,
  );
  await manager.waitFor(/monitor 2\.0\.0 speaks protocol 5–6; this manager/);
  try {
    conn.close();
  } catch { /* closed */ }
  assert.equal(manager.matching(/unknown monitor stranger/).length > 0, true);
});
