/**
 * End-to-end tests of alerting (issue 6): three real monitors, each in its
 * own network namespace with its own copy of the target (a socat listener on
 * the namespace's 127.0.0.1), run the same TCP check. Stopping the copy in
 * one namespace is one vantage point's bad link; stopping it in two is an
 * outage. Notifications go to a real HTTP receiver and a real SMTP server
 * (STARTTLS and AUTH) on this host's loopback.
 */
import assert from "node:assert/strict";
import type { CheckResult } from "../shared/checks.ts";
import { Manager } from "../manager/manager.ts";
import { quietOutput } from "./helpers/quiet_output.ts";
import { attachAlerts, listIncidents, listNotifications } from "../manager/alerts/mod.ts";
import type { AlertMessage } from "../manager/alerts/message.ts";
import { makeCerts } from "./fixtures/certs.ts";
import { startSmtp } from "./fixtures/smtp.ts";
import { Proc, tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { makeNetns, type NetNs } from "./helpers/netns.ts";
import { type MonitorProc, startMonitor } from "./helpers/netmon.ts";

const TOKEN = "alerts-e2e-token";
const HOOK_SECRET = "T0KEN-in-the-path";
const SMTP_PASSWORD = "s3cret-smtp-password";

/** Polls `fn` every 100 ms until it returns true, for at most `timeoutMs`. */
async function waitUntil(
  fn: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

/** A socat echo listener on the namespace's 127.0.0.1:port: the target's copy there. */
function peer(ns: NetNs, port: number): Proc {
  return Proc.start(
    ns.wrap(["socat", `TCP4-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, "EXEC:cat"]),
    { name: `peer:${ns.name}:${port}` },
  );
}

Deno.test("alerts page once on a quorum, once on recovery, and not for one monitor or in maintenance", async () => {
  await using tmp = await tempDir();
  await using certs = await makeCerts();
  await using smtp = await startSmtp({
    cert: certs.server.cert,
    key: certs.server.key,
    user: "netmon",
    password: SMTP_PASSWORD,
  });

  const hooks: AlertMessage[] = [];
  const hookPort = freeTcpPort();
  await using _receiver = Deno.serve(
    { hostname: "127.0.0.1", port: hookPort, onListen: () => {} },
    async (req) => {
      if (new URL(req.url).pathname !== `/hook/${HOOK_SECRET}`) {
        return new Response("no", { status: 404 });
      }
      hooks.push(await req.json() as AlertMessage);
      return new Response("ok");
    },
  );

  const spaces: NetNs[] = [];
  const monitors: MonitorProc[] = [];
  const peers = new Map<string, Proc>();
  const webPort = 20000 + Math.floor(Math.random() * 20000);
  const quietPort = webPort + 1;
  try {
    for (let i = 0; i < 3; i++) {
      const ns = await makeNetns();
      spaces.push(ns);
      peers.set(`web${i}`, peer(ns, webPort));
      peers.set(`quiet${i}`, peer(ns, quietPort));
      monitors.push(
        await startMonitor({
          dataDir: `${tmp.path}/mon${i}`,
          listen: ns.nsAddr,
          wrap: ns.wrap,
          extra: ["--token", TOKEN, "--name", `m${i}`],
        }),
      );
    }
    const hour = 3_600_000;
    const config = `${tmp.path}/tasks.yaml`;
    await Deno.writeTextFile(
      config,
      `monitors:
${
        spaces.map((ns, i) => `  - {address: "${ns.nsAddr}:${monitors[i]!.port}", name: m${i}}`)
          .join("\n")
      }
alerts: {down_after: 2, up_after: 2}
notifiers:
  - {name: hook, type: webhook, url: "http://127.0.0.1:${hookPort}/hook/${HOOK_SECRET}",
     retries: 3, backoff: 0.2}
  - {name: mail, type: email, host: 127.0.0.1, port: ${smtp.port}, security: starttls,
     from: netmon@test.invalid, to: [ops@test.invalid], username: netmon,
     password: ${SMTP_PASSWORD}, ca_file: ${certs.ca.cert}, retries: 3, backoff: 0.2}
maintenance:
  - name: quiet-time
    targets: [quiet]
    start: "${new Date(Date.now() - hour).toISOString()}"
    end: "${new Date(Date.now() + hour).toISOString()}"
targets:
  web:
    TCP: {host: 127.0.0.1, port: ${webPort}, frequency: 0.5}
  quiet:
    TCP: {host: 127.0.0.1, port: ${quietPort}, frequency: 0.5}
`,
    );
    const manager = await Manager.start({
      configPath: config,
      dbPath: `${tmp.path}/netmon.db`,
      token: TOKEN,
      output: quietOutput,
      statusEveryMs: 60_000,
      watch: false,
    });
    const alerts = await attachAlerts(manager);
    try {
      const results: { r: CheckResult; monitor: string }[] = [];
      manager.onResult((r, monitor) => results.push({ r, monitor }));
      /** The number of results of `checkId` from `monitor` since index `from` with `up`. */
      const seen = (checkId: string, monitor: string, up: boolean, from: number) =>
        results.slice(from).filter((x) =>
          x.r.checkId === checkId && x.monitor === monitor && x.r.up === up
        ).length;
      const db = manager.store;

      for (const m of ["m0", "m1", "m2"]) {
        await waitUntil(() => seen("web/TCP", m, true, 0) >= 2, `${m} sees web up`);
        await waitUntil(() => seen("quiet/TCP", m, true, 0) >= 2, `${m} sees quiet up`);
      }

      // one vantage point loses the target: its verdict turns, the target's does not
      await peers.get("web0")!.stop();
      let mark = results.length;
      await waitUntil(() => seen("web/TCP", "m0", false, mark) >= 4, "m0 sees web down 4 times");
      mark = results.length;
      await waitUntil(
        () => seen("web/TCP", "m1", true, mark) >= 2 && seen("web/TCP", "m2", true, mark) >= 2,
        "m1 and m2 still see web up",
      );
      assert.equal(hooks.length, 0, "one monitor's view pages nobody");
      assert.equal((await listIncidents(db, { open: true })).length, 0);

      // a second one loses it too (and both lose the target under maintenance): an outage
      await peers.get("web1")!.stop();
      await peers.get("quiet0")!.stop();
      await peers.get("quiet1")!.stop();
      await waitUntil(() => hooks.length >= 1, "the down webhook arrives");
      await waitUntil(() => smtp.mails().length >= 1, "the down email arrives");
      const down = hooks[0]!;
      assert.equal(down.event, "opened");
      assert.equal(down.incident.check, "web/TCP");
      assert.equal(down.incident.condition, "down");
      assert.equal(down.incident.quorum, 2);
      assert.deepEqual(
        down.monitors.map((m) => [m.name, m.state]).sort(),
        [["m0", "bad"], ["m1", "bad"], ["m2", "good"]],
      );
      assert.match(down.monitors.find((m) => m.name === "m0")!.error ?? "", /refused/);
      const downMail = smtp.mails()[0]!;
      assert.equal(downMail.subject, "DOWN: web/TCP (2 of 3 monitors)");
      assert.equal(downMail.tls, true, "the mail went over STARTTLS");
      assert.deepEqual(downMail.to, ["ops@test.invalid"]);
      assert.match(downMail.body, /- m1: bad — TCP Port: 127\.0\.0\.1/);

      await waitUntil(
        async () => (await listIncidents(db, { open: true, target: "quiet" })).length === 1,
        "the quiet incident is recorded",
      );
      const quiet = (await listIncidents(db, { target: "quiet" }))[0]!;
      assert.equal(quiet.notified, false);
      const quietNotes = await listNotifications(db, { incidentId: quiet.id });
      assert.deepEqual(quietNotes.map((n) => n.status).sort(), ["silenced", "silenced"]);
      assert.match(quietNotes[0]!.error ?? "", /maintenance window quiet-time/);

      // the target comes back
      peers.set("web0", peer(spaces[0]!, webPort));
      peers.set("web1", peer(spaces[1]!, webPort));
      await waitUntil(() => hooks.length >= 2, "the resolved webhook arrives");
      await waitUntil(() => smtp.mails().length >= 2, "the resolved email arrives");
      const resolved = hooks[1]!;
      assert.equal(resolved.event, "resolved");
      assert.equal(resolved.incident.id, down.incident.id);
      assert.equal(typeof resolved.incident.durationSeconds, "number");
      assert.ok(resolved.incident.resolvedAt !== null);
      assert.match(smtp.mails()[1]!.subject, /^RESOLVED: web\/TCP is up again after \d/);

      // later results change nothing: exactly one message each way, none for quiet
      mark = results.length;
      await waitUntil(
        () => ["m0", "m1", "m2"].every((m) => seen("web/TCP", m, true, mark) >= 3),
        "every monitor sees web up 3 more times",
      );
      assert.deepEqual(hooks.map((h) => [h.event, h.incident.check]), [
        ["opened", "web/TCP"],
        ["resolved", "web/TCP"],
      ]);
      assert.equal(smtp.mails().length, 2);
      const webNotes = await listNotifications(db, { target: "web" });
      assert.deepEqual(
        webNotes.map((n) => [n.event, n.notifier, n.status, n.attempts]).sort(),
        [
          ["opened", "hook", "sent", 1],
          ["opened", "mail", "sent", 1],
          ["resolved", "hook", "sent", 1],
          ["resolved", "mail", "sent", 1],
        ],
      );
      for (const n of await listNotifications(db)) {
        assert.ok(
          !JSON.stringify(n).includes(HOOK_SECRET) && !JSON.stringify(n).includes(SMTP_PASSWORD),
        );
      }
    } finally {
      await alerts.stop();
      await manager.stop();
    }
  } finally {
    for (const p of peers.values()) await p.stop();
    for (const m of monitors) await m.proc.stop("SIGKILL");
    for (const ns of spaces) await ns[Symbol.asyncDispose]();
  }
});
