/**
 * Each vendor notifier against a local HTTP receiver that checks what the
 * vendor documents: method, path, auth header and payload fields. The
 * notifiers come from a `tasks.yaml` whose `url:` points at the receiver.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../shared/config.ts";
import type { NotifierConfig } from "../../shared/config_alerts.ts";
import { freeTcpPort } from "../../tests/helpers/ports.ts";
import { tempDir } from "../../tests/helpers/proc.ts";
import { configErrorOf } from "../../tests/helpers/config_error.ts";
import type { AlertEvent } from "./engine.ts";
import { buildMessage } from "./message.ts";
import { deliver, secretsOf } from "./notifiers.ts";
import { DEFAULT_RULE } from "./rules.ts";

const INCIDENT: AlertEvent["incident"] = {
  id: "5f0c2a",
  checkId: "web/HTTP",
  target: "web",
  type: "HTTP",
  condition: "down",
  openedAt: Date.parse("2026-01-10T22:00:00Z"),
  resolvedAt: null,
  quorum: 1,
  running: 1,
  vantage: [{
    monitor: "m0",
    state: "bad",
    summary: "HTTP URL: http://web/, HTTP server status: False",
    at: Date.parse("2026-01-10T21:59:59Z"),
    latencyMs: null,
    error: "connection refused",
  }],
  detail: "1 of 1 monitors see it down (quorum 1)",
};
const OPENED = buildMessage({ kind: "opened", rule: { ...DEFAULT_RULE }, incident: INCIDENT });
const RESOLVED = buildMessage({
  kind: "resolved",
  rule: { ...DEFAULT_RULE },
  incident: { ...INCIDENT, resolvedAt: INCIDENT.openedAt + 65_000 },
});

interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

/** A receiver that records every request and answers `status`. */
function receiver(status = 200) {
  const port = freeTcpPort();
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    const u = new URL(req.url);
    seen.push({
      method: req.method,
      path: u.pathname + u.search,
      headers: req.headers,
      body: await req.text(),
    });
    return new Response('{"ok":true}', { status, headers: { "content-type": "application/json" } });
  });
  return { url: `http://127.0.0.1:${port}`, seen, server };
}

const yamlOf = (notifier: string) =>
  `monitors: [{address: "127.0.0.1:1"}]\nnotifiers:\n  - ${notifier}\ntargets: {web: {TCP: {port: 1}}}\n`;

function notifier(yaml: string): NotifierConfig {
  return parseConfig(yamlOf(yaml), "tasks.yaml").alerting!.notifiers[0]!;
}

async function send(n: NotifierConfig, m = OPENED) {
  const d = await deliver(n, m, { signal: AbortSignal.timeout(10_000) });
  assert.deepEqual(d, { ok: true, attempts: 1, error: null });
}

Deno.test("pagerduty: Events API v2 trigger and resolve with routing_key and dedup_key", async () => {
  const r = receiver(202);
  await using _s = r.server;
  const n = notifier(
    `{name: pd, type: pagerduty, url: "${r.url}/v2/enqueue", routing_key: R0UTINGKEY32chars, severity: error}`,
  );
  await send(n);
  await send(n, RESOLVED);
  const [t, res] = r.seen;
  assert.deepEqual([t!.method, t!.path, t!.headers.get("content-type")], [
    "POST",
    "/v2/enqueue",
    "application/json",
  ]);
  const trigger = JSON.parse(t!.body);
  assert.equal(trigger.routing_key, "R0UTINGKEY32chars");
  assert.equal(trigger.event_action, "trigger");
  assert.equal(trigger.dedup_key, "netmon-5f0c2a");
  assert.equal(trigger.payload.summary, OPENED.title);
  assert.equal(trigger.payload.severity, "error");
  assert.equal(trigger.payload.source, "web");
  assert.equal(trigger.payload.timestamp, "2026-01-10T22:00:00.000Z");
  const resolve = JSON.parse(res!.body);
  assert.deepEqual(
    [resolve.event_action, resolve.dedup_key, resolve.routing_key, resolve.payload],
    ["resolve", "netmon-5f0c2a", "R0UTINGKEY32chars", undefined],
  );
  // the default is PagerDuty's endpoint
  const dflt = notifier(`{name: pd, type: pagerduty, routing_key: k}`);
  assert.ok(dflt.type === "pagerduty" && dflt.url === "https://events.pagerduty.com/v2/enqueue");
});

Deno.test("opsgenie: create with GenieKey and alias, close by alias", async () => {
  const r = receiver(202);
  await using _s = r.server;
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.path}/key`, "og-key-123\n");
  const n = notifier(
    `{name: og, type: opsgenie, url: "${r.url}", api_key_file: "${tmp.path}/key", priority: P2, tags: [prod]}`,
  );
  await send(n);
  await send(n, RESOLVED);
  const [create, close] = r.seen;
  assert.deepEqual([create!.method, create!.path], ["POST", "/v2/alerts"]);
  assert.equal(create!.headers.get("authorization"), "GenieKey og-key-123");
  const body = JSON.parse(create!.body);
  assert.equal(body.message, OPENED.title);
  assert.ok(body.message.length <= 130);
  assert.equal(body.alias, "netmon-5f0c2a");
  assert.deepEqual([body.priority, body.tags, body.entity, body.source], [
    "P2",
    ["prod"],
    "web",
    "netmon",
  ]);
  assert.match(body.description, /1 of 1 monitors see it down/);
  assert.deepEqual([close!.method, close!.path], [
    "POST",
    "/v2/alerts/netmon-5f0c2a/close?identifierType=alias",
  ]);
  assert.equal(close!.headers.get("authorization"), "GenieKey og-key-123");
  assert.equal(JSON.parse(close!.body).source, "netmon");
});

Deno.test("telegram: sendMessage with the bot token in the path and chat_id", async () => {
  const r = receiver();
  await using _s = r.server;
  Deno.env.set("NETMON_TEST_TG_TOKEN", "123456:ABC-def");
  const n = notifier(
    `{name: tg, type: telegram, url: "${r.url}", bot_token_env: NETMON_TEST_TG_TOKEN, chat_id: "-100200300"}`,
  );
  await send(n);
  const [m] = r.seen;
  assert.deepEqual([m!.method, m!.path], ["POST", "/bot123456:ABC-def/sendMessage"]);
  const body = JSON.parse(m!.body);
  assert.deepEqual([body.chat_id, body.text], ["-100200300", OPENED.text]);
});

Deno.test("teams: an Adaptive Card message to the webhook URL", async () => {
  const r = receiver(202);
  await using _s = r.server;
  await send(notifier(`{name: t, type: teams, url: "${r.url}/workflows/abc/triggers/manual"}`));
  const [m] = r.seen;
  assert.deepEqual([m!.method, m!.path], ["POST", "/workflows/abc/triggers/manual"]);
  const body = JSON.parse(m!.body);
  assert.equal(body.type, "message");
  const a = body.attachments[0];
  assert.equal(a.contentType, "application/vnd.microsoft.card.adaptive");
  assert.equal(a.content.type, "AdaptiveCard");
  assert.equal(a.content.version, "1.4");
  assert.equal(a.content.body[0].type, "TextBlock");
  assert.equal(a.content.body[0].text, OPENED.title);
});

Deno.test("matrix: PUT m.room.message with a bearer token and a stable transaction ID", async () => {
  const r = receiver();
  await using _s = r.server;
  const n = notifier(
    `{name: mx, type: matrix, url: "${r.url}/", room_id: "!room:example.org", access_token: syt_abc}`,
  );
  await send(n);
  await send(n); // a retry of the same event reuses its transaction ID
  const [m, again] = r.seen;
  assert.equal(m!.method, "PUT");
  assert.equal(
    m!.path,
    "/_matrix/client/v3/rooms/!room%3Aexample.org/send/m.room.message/netmon-5f0c2a-opened",
  );
  assert.equal(again!.path, m!.path);
  assert.equal(m!.headers.get("authorization"), "Bearer syt_abc");
  assert.deepEqual(JSON.parse(m!.body), { msgtype: "m.text", body: OPENED.text });
});

Deno.test("pushover: form-encoded token, user, title, message, priority", async () => {
  const r = receiver();
  await using _s = r.server;
  await send(notifier(
    `{name: po, type: pushover, url: "${r.url}/1/messages.json", token: apptoken1, user_key: userkey1, priority: 1}`,
  ));
  const [m] = r.seen;
  assert.deepEqual([m!.method, m!.path, m!.headers.get("content-type")], [
    "POST",
    "/1/messages.json",
    "application/x-www-form-urlencoded",
  ]);
  const form = new URLSearchParams(m!.body);
  assert.deepEqual(
    ["token", "user", "title", "priority"].map((k) => form.get(k)),
    ["apptoken1", "userkey1", OPENED.title, "1"],
  );
  assert.equal(form.get("message"), OPENED.text);
  assert.equal(form.get("timestamp"), String(INCIDENT.openedAt / 1000));
});

Deno.test("gotify: POST /message with X-Gotify-Key and title, message, priority", async () => {
  const r = receiver();
  await using _s = r.server;
  await send(notifier(`{name: g, type: gotify, url: "${r.url}", token: AbCdEf.123, priority: 9}`));
  const [m] = r.seen;
  assert.deepEqual([m!.method, m!.path], ["POST", "/message"]);
  assert.equal(m!.headers.get("x-gotify-key"), "AbCdEf.123");
  const body = JSON.parse(m!.body);
  assert.deepEqual([body.title, body.message, body.priority], [OPENED.title, OPENED.text, 9]);
});

Deno.test("a vendor's refusal is reported with its status and words, the key masked", async () => {
  const port = freeTcpPort();
  await using _s = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    () => new Response('{"message":"Key format is not valid for SeCrEtKeY99"}', { status: 422 }),
  );
  const n = notifier(
    `{name: og, type: opsgenie, url: "http://127.0.0.1:${port}", api_key: SeCrEtKeY99}`,
  );
  const d = await deliver(n, OPENED, { signal: AbortSignal.timeout(5000) });
  assert.equal(d.ok, false);
  assert.match(
    d.error!,
    /^Notifier og: POST to http:\/\/127\.0\.0\.1:\d+ answered HTTP 422: .*Key format/,
  );
  assert.doesNotMatch(d.error!, /SeCrEtKeY99/);
});

Deno.test("vendor settings are checked at file:line:field", () => {
  const bad = (yaml: string) => configErrorOf(yamlOf(yaml));
  assert.match(
    bad(`{name: pd, type: pagerduty}`).message,
    /tasks\.yaml:3:\d+: notifiers\[0\]\.routing_key: is required for pagerduty/,
  );
  assert.match(
    bad(`{name: pd, type: pagerduty, routing_key: a, routing_key_file: /x}`).message,
    /give one of routing_key, routing_key_file, routing_key_env/,
  );
  assert.match(
    bad(`{name: og, type: opsgenie, api_key: k, priority: P9}`).message,
    /notifiers\[0\]\.priority: must be one of P1, P2, P3, P4, P5/,
  );
  assert.match(
    bad(`{name: tg, type: telegram, bot_token: t}`).message,
    /notifiers\[0\]\.chat_id: is required/,
  );
  assert.match(bad(`{name: t, type: teams}`).message, /notifiers\[0\]\.url: is required for teams/);
  assert.match(
    bad(`{name: po, type: pushover, token: a, user_key: b, priority: 2}`).message,
    /notifiers\[0\]\.priority: must be at most 1/,
  );
  assert.match(
    bad(`{name: am, type: alertmanager, url: "http://a", labels: {"bad-name": x}}`).message,
    /notifiers\[0\]\.labels\.bad-name: must be a Prometheus label name/,
  );
  assert.match(
    bad(`{name: g, type: gotify, url: "ftp://x", token: t}`).message,
    /notifiers\[0\]\.url: must be an http/,
  );
});

Deno.test("inline vendor keys are secrets to mask; a vendor's API URL is not", () => {
  const pd = notifier(`{name: pd, type: pagerduty, routing_key: R0UTINGKEY32chars}`);
  assert.deepEqual(secretsOf(pd), ["R0UTINGKEY32chars"]);
  const po = notifier(`{name: po, type: pushover, token: apptoken1, user_key_file: /etc/po-user}`);
  assert.deepEqual(secretsOf(po), ["apptoken1"]);
  const teams = notifier(`{name: t, type: teams, url: "https://x.example/workflows/s3cr3t"}`);
  assert.ok(
    secretsOf(teams).includes("/workflows/s3cr3t"),
    "a Teams webhook URL is its credential",
  );
  const am = notifier(
    `{name: am, type: alertmanager, url: "http://am:9093", labels: {value: x1234}}`,
  );
  assert.deepEqual(secretsOf(am), []);
});
