import assert from "node:assert/strict";
import type { NotifierConfig } from "../../shared/config_alerts.ts";
import { freeTcpPort } from "../../tests/helpers/ports.ts";
import { tempDir } from "../../tests/helpers/proc.ts";
import { makeCerts } from "../../tests/fixtures/certs.ts";
import { startSmtp } from "../../tests/fixtures/smtp.ts";
import type { AlertEvent } from "./engine.ts";
import { buildMessage } from "./message.ts";
import { deliver, notifyOnce } from "./notifiers.ts";
import { DEFAULT_RULE } from "./rules.ts";

const EVENT: AlertEvent = {
  kind: "resolved",
  rule: { ...DEFAULT_RULE },
  incident: {
    id: "i-1",
    checkId: "web/TCP",
    target: "web",
    type: "TCP",
    condition: "down",
    openedAt: Date.parse("2025-01-10T22:00:00Z"),
    resolvedAt: Date.parse("2025-01-10T22:01:05Z"),
    quorum: 2,
    running: 3,
    vantage: [{ monitor: "m0", state: "good", summary: "TCP Port: x - Open", at: 1, latencyMs: 1 }],
    detail: "3 of 3 monitors see it fine again",
  },
};
const MESSAGE = buildMessage(EVENT);
const BASE = { retries: 0, backoffMs: 10, timeoutMs: 5000 };

Deno.test("deliver() retries with backoff until the receiver answers", async () => {
  const port = freeTcpPort();
  const bodies: unknown[] = [];
  let calls = 0;
  await using _server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (req) => {
      calls++;
      if (calls <= 2) return new Response("busy", { status: 503 });
      bodies.push(await req.json());
      return new Response("ok");
    },
  );
  const failures: string[] = [];
  const d = await deliver(
    {
      ...BASE,
      retries: 4,
      name: "hook",
      type: "webhook",
      url: `http://127.0.0.1:${port}/x`,
      headers: {},
    },
    MESSAGE,
    { signal: new AbortController().signal, onAttempt: (_n, e) => failures.push(e) },
  );
  assert.deepEqual(d, { ok: true, attempts: 3, error: null });
  assert.equal(failures.length, 2);
  assert.match(failures[0]!, /HTTP 503/);
  assert.deepEqual(bodies, [JSON.parse(JSON.stringify(MESSAGE))]);
  assert.equal(MESSAGE.incident.durationSeconds, 65);
  assert.equal(MESSAGE.title, "RESOLVED: web/TCP is up again after 1m 5s");
});

Deno.test("deliver() gives up after its retries and never shows the webhook's secret path", async () => {
  const port = freeTcpPort(); // nothing listens
  const d = await deliver(
    {
      ...BASE,
      retries: 2,
      name: "chat",
      type: "slack",
      url: `http://127.0.0.1:${port}/services/S3CRET/path`,
    },
    MESSAGE,
    { signal: new AbortController().signal },
  );
  assert.equal(d.ok, false);
  assert.equal(d.attempts, 3);
  assert.match(d.error!, /^Notifier chat: POST to http:\/\/127\.0\.0\.1:\d+ failed/);
  assert.ok(!d.error!.includes("S3CRET"));
});

Deno.test("notifyOnce() speaks slack, discord and ntfy formats", async () => {
  const port = freeTcpPort();
  const seen: { path: string; headers: Headers; body: string }[] = [];
  await using _server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (req) => {
      seen.push({ path: new URL(req.url).pathname, headers: req.headers, body: await req.text() });
      return new Response("ok");
    },
  );
  const url = (p: string) => `http://127.0.0.1:${port}/${p}`;
  const signal = new AbortController().signal;
  await notifyOnce({ ...BASE, name: "s", type: "slack", url: url("slack") }, MESSAGE, signal);
  await notifyOnce({ ...BASE, name: "d", type: "discord", url: url("discord") }, MESSAGE, signal);
  await notifyOnce(
    { ...BASE, name: "n", type: "ntfy", url: url("topic"), priority: 4, token: "tk123" },
    MESSAGE,
    signal,
  );
  assert.deepEqual(JSON.parse(seen[0]!.body), { text: MESSAGE.text });
  assert.deepEqual(JSON.parse(seen[1]!.body), { content: MESSAGE.text });
  assert.equal(seen[2]!.body, MESSAGE.text);
  assert.equal(seen[2]!.headers.get("title"), MESSAGE.title);
  assert.equal(seen[2]!.headers.get("priority"), "4");
  assert.equal(seen[2]!.headers.get("authorization"), "Bearer tk123");
});

Deno.test("notifyOnce() runs a command with the JSON on stdin and reports its failure", async () => {
  await using tmp = await tempDir();
  const out = `${tmp.path}/out.json`;
  const n: NotifierConfig = {
    ...BASE,
    name: "cmd",
    type: "command",
    command: ["sh", "-c", `cat > ${out}; echo "$NETMON_EVENT $NETMON_CHECK" >> ${out}.env`],
  };
  await notifyOnce(n, MESSAGE, new AbortController().signal);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(out)), JSON.parse(JSON.stringify(MESSAGE)));
  assert.equal((await Deno.readTextFile(`${out}.env`)).trim(), "resolved web/TCP");
  await assert.rejects(
    notifyOnce(
      { ...n, command: ["sh", "-c", "echo nope >&2; exit 3"] },
      MESSAGE,
      new AbortController().signal,
    ),
    /Notifier cmd: sh exited with status 3: nope/,
  );
});

Deno.test("notifyOnce() mails over STARTTLS with AUTH, and a wrong password fails without showing it", async () => {
  await using certs = await makeCerts();
  await using smtp = await startSmtp({
    cert: certs.server.cert,
    key: certs.server.key,
    user: "u",
    password: "right-pw",
  });
  const mail: NotifierConfig = {
    ...BASE,
    name: "mail",
    type: "email",
    host: "127.0.0.1",
    port: smtp.port,
    security: "starttls",
    from: "netmon@test.invalid",
    to: ["a@test.invalid", "b@test.invalid"],
    username: "u",
    password: "right-pw",
    caFile: certs.ca.cert,
  };
  await notifyOnce(mail, { ...MESSAGE, title: "RESOLVED: wéb" }, new AbortController().signal);
  const got = smtp.mails();
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.to, ["a@test.invalid", "b@test.invalid"]);
  assert.equal(got[0]!.subject, "RESOLVED: wéb");
  assert.equal(got[0]!.body.replace(/\r\n/g, "\n").trim(), MESSAGE.text.trim());
  assert.equal(got[0]!.tls, true);
  const err = await notifyOnce(
    { ...mail, password: "wrong-pw" },
    MESSAGE,
    new AbortController().signal,
  )
    .then(() => null, (e: Error) => e.message);
  assert.match(err ?? "", /SMTP AUTH failed: 535/);
  assert.ok(!err!.includes("wrong-pw"));
  assert.equal(smtp.mails().length, 1);
});
