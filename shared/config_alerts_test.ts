import assert from "node:assert/strict";
import { configErrorOf } from "../tests/helpers/config_error.ts";
import { parseConfig } from "./config.ts";

const HEAD = `monitors:
  - {address: "127.0.0.1:54322", name: a}
`;

Deno.test("parseConfig() reads alert rules at every level, notifiers and maintenance", () => {
  const c = parseConfig(
    HEAD + `alerts: {down_after: 4, quorum: all, notify: [ops]}
notifiers:
  - {name: ops, type: webhook, url: "https://hooks.example/x", headers: {X-Key: k}}
  - {name: chat, type: slack, url: "https://hooks.example/s", retries: 1, backoff: 0.5}
  - {name: phone, type: ntfy, url: "https://ntfy.example/t", priority: 5, token: tk}
  - {name: run, type: command, command: [logger, netmon]}
  - {name: mail, type: email, host: smtp.example, from: a@x, to: b@x, username: u,
     password_file: /etc/pw}
maintenance:
  - {name: up, targets: [web], start: "2025-01-10T22:00:00Z", end: "2025-01-11T01:00:00Z"}
  - {targets: all, weekly: {days: [sat, sun], start: "23:00", end: "01:30", utc: true}}
targets:
  web:
    alert: {up_after: 3, quorum: 2}
    HTTP: {url: "http://web/", alert: {down_after: 1, latency_ms: 250, cert_expiry_days: 7}}
    TCP: {port: 80}
`,
    "tasks.yaml",
  );
  const a = c.alerting!;
  assert.deepEqual(a.defaults, { downAfter: 4, quorum: "all", notify: ["ops"] });
  assert.deepEqual(a.targets.web, { upAfter: 3, quorum: { count: 2 } });
  assert.deepEqual(c.checks[0]!.alert, { downAfter: 1, latencyMs: 250, certExpiryDays: 7 });
  assert.equal(c.checks[1]!.alert, undefined);
  assert.equal("alert" in c.checks[0]!.spec.params, false, "alert is not a check parameter");
  assert.deepEqual(a.notifiers.map((n) => [n.name, n.type, n.retries, n.backoffMs]), [
    ["ops", "webhook", 5, 2000],
    ["chat", "slack", 1, 500],
    ["phone", "ntfy", 5, 2000],
    ["run", "command", 5, 2000],
    ["mail", "email", 5, 2000],
  ]);
  const mail = a.notifiers[4]!;
  assert.ok(mail.type === "email");
  assert.deepEqual([mail.port, mail.security, mail.to, mail.passwordFile], [
    587,
    "starttls",
    ["b@x"],
    "/etc/pw",
  ]);
  assert.deepEqual(a.maintenance[0]!.schedule, {
    kind: "once",
    start: Date.parse("2025-01-10T22:00:00Z"),
    end: Date.parse("2025-01-11T01:00:00Z"),
  });
  assert.deepEqual(a.maintenance[1], {
    name: "#2",
    targets: "all",
    schedule: { kind: "weekly", days: [6, 0], startMinute: 1380, endMinute: 90, utc: true },
  });
});

Deno.test("parseConfig() leaves alerting unset when the file has none", () => {
  const c = parseConfig(HEAD + "targets: {x: {TCP: {port: 80}}}\n", "tasks.yaml");
  assert.equal(c.alerting, undefined);
});

Deno.test("parseConfig() points at mistakes in the alerting sections", () => {
  const cases: [string, number, number, string, RegExp][] = [
    [
      "alerts: {down_aftr: 2}\ntargets: {x: {TCP: {port: 80}}}\n",
      3,
      10,
      "alerts.down_aftr",
      /unknown alert rule/,
    ],
    [
      "alerts: {quorum: most}\ntargets: {x: {TCP: {port: 80}}}\n",
      3,
      18,
      "alerts.quorum",
      /majority, all, or a number/,
    ],
    [
      "targets: {x: {TCP: {port: 80, alert: {notify: [pager]}}}}\n",
      3,
      48,
      "targets.x.TCP.alert.notify",
      /no notifier is named "pager"/,
    ],
    [
      "notifiers: [{name: n, type: pager}]\ntargets: {x: {TCP: {port: 80}}}\n",
      3,
      29,
      "notifiers[0].type",
      /must be one of webhook/,
    ],
    [
      "notifiers: [{name: n, type: webhook, url: 'ftp://tok3n@x/'}]\ntargets: {x: {TCP: {port: 80}}}\n",
      3,
      43,
      "notifiers[0].url",
      /^must be an http:\/\/ or https:\/\/ URL$/,
    ],
    [
      "maintenance: [{targets: [nope], start: '2025-01-01T00:00:00Z', end: '2025-01-02T00:00:00Z'}]\n" +
      "targets: {x: {TCP: {port: 80}}}\n",
      3,
      26,
      "maintenance[0].targets",
      /no target is named "nope"/,
    ],
    [
      "maintenance: [{weekly: {days: [someday], start: '02:00', end: '03:00'}}]\n" +
      "targets: {x: {TCP: {port: 80}}}\n",
      3,
      32,
      "maintenance[0].weekly.days",
      /must be days like mon/,
    ],
  ];
  for (const [tail, line, column, field, reason] of cases) {
    const e = configErrorOf(HEAD + tail);
    assert.deepEqual(
      { line: e.line, column: e.column, field: e.field },
      { line, column, field },
      e.message,
    );
    assert.match(e.reason, reason);
    assert.ok(!e.message.includes("tok3n"), "a URL that may hold a token is not echoed");
  }
});

Deno.test("parseConfig() reads alerts.monitor_offline_after (default 60 s), top level only", () => {
  const read = (alerts: string) =>
    parseConfig(HEAD + alerts + "targets: {x: {TCP: {port: 80}}}\n", "tasks.yaml").alerting;
  assert.equal(read("alerts: {monitor_offline_after: 3}\n")?.monitorOfflineAfterMs, 3000);
  assert.equal(read("alerts: {down_after: 2}\n")?.monitorOfflineAfterMs, 60_000);
  assert.deepEqual(read("alerts: {monitor_offline_after: 2.5}\n")?.defaults, {});
  const cases: [string, number, number, string, RegExp][] = [
    [
      "alerts: {monitor_offline_after: soon}\ntargets: {x: {TCP: {port: 80}}}\n",
      3,
      33,
      "alerts.monitor_offline_after",
      /must be a number of seconds/,
    ],
    [
      "alerts:\n  monitor_offline_after: 0\ntargets: {x: {TCP: {port: 80}}}\n",
      4,
      26,
      "alerts.monitor_offline_after",
      /must be at least/,
    ],
    [
      "targets: {x: {alert: {monitor_offline_after: 5}, TCP: {port: 80}}}\n",
      3,
      23,
      "targets.x.alert.monitor_offline_after",
      /unknown alert rule/,
    ],
  ];
  for (const [tail, line, column, field, reason] of cases) {
    const e = configErrorOf(HEAD + tail);
    assert.deepEqual(
      { line: e.line, column: e.column, field: e.field },
      { line, column, field },
      e.message,
    );
    assert.match(e.reason, reason);
  }
});
