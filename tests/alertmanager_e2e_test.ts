/**
 * The `alertmanager` notifier against a real Prometheus Alertmanager
 * (issue 18): an opening shows up in its API v2 as an active alert with
 * netmon's labels, is re-sent while open (so it never lapses), and a
 * resolution ends it; and end to end, a manager whose check fails raises
 * the alert through `./netmon manage`.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../shared/config.ts";
import { buildMessage } from "../manager/alerts/message.ts";
import { deliver } from "../manager/alerts/notifiers.ts";
import { DEFAULT_RULE } from "../manager/alerts/rules.ts";
import type { AlertEvent } from "../manager/alerts/engine.ts";
import { ALERTMANAGER, type AmAlert, startAlertmanager } from "./fixtures/alertmanager.ts";
import { tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";

const ignore = ALERTMANAGER === null;
if (ignore) {
  console.warn("alertmanager_e2e_test: prometheus-alertmanager is not installed; skipped");
}

const INCIDENT: AlertEvent["incident"] = {
  id: "am-incident-1",
  checkId: "web/TCP",
  target: "web",
  type: "TCP",
  condition: "down",
  openedAt: Date.now() - 5_000,
  resolvedAt: null,
  quorum: 1,
  running: 1,
  vantage: [],
  detail: "1 of 1 monitors see it down (quorum 1)",
};

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test({
  name:
    "alertmanager: an opening is an active alert with netmon's labels, re-sent, ended by its resolution",
  ignore,
  async fn() {
    await using am = await startAlertmanager();
    const n = parseConfig(
      `monitors: [{address: "127.0.0.1:1"}]
notifiers:
  - {name: am, type: alertmanager, url: "${am.url}/", resend: 1, labels: {team: net}}
targets: {web: {TCP: {port: 1}}}
`,
      "tasks.yaml",
    ).alerting!.notifiers[0]!;
    const stop = new AbortController();
    try {
      const opened = buildMessage({
        kind: "opened",
        rule: { ...DEFAULT_RULE },
        incident: INCIDENT,
      });
      assert.deepEqual(await deliver(n, opened, { signal: stop.signal }), {
        ok: true,
        attempts: 1,
        error: null,
      });
      const mine = (list: AmAlert[]) => list.find((a) => a.annotations.incident_id === INCIDENT.id);
      const first = await until("the alert", async () => mine(await am.alerts()));
      assert.deepEqual(first.labels, {
        alertname: "NetmonTargetDown",
        target: "web",
        check: "web/TCP",
        check_type: "TCP",
        condition: "down",
        team: "net",
      });
      assert.equal(first.status.state, "active");
      assert.equal(first.annotations.summary, opened.title);
      assert.equal(Date.parse(first.startsAt), INCIDENT.openedAt);
      // three re-sends ahead
      assert.ok(Date.parse(first.endsAt) > Date.now() + 1_000, first.endsAt);

      // re-sent while open: Alertmanager moves endsAt on
      await until("a re-send", async () => {
        const a = mine(await am.alerts());
        return a && Date.parse(a.endsAt) > Date.parse(first.endsAt) ? a : undefined;
      });

      const resolvedAt = Date.now();
      const resolved = buildMessage({
        kind: "resolved",
        rule: { ...DEFAULT_RULE },
        incident: { ...INCIDENT, resolvedAt },
      });
      assert.equal((await deliver(n, resolved, { signal: stop.signal })).ok, true);
      // ended: Alertmanager no longer lists it as active, and no re-send revives it
      await until("the alert to end", async () => mine(await am.alerts()) ? undefined : true);
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal(mine(await am.alerts()), undefined, "a re-send after the resolution");
    } finally {
      stop.abort();
    }
  },
});

Deno.test({
  name: "alertmanager end to end: a manager's failing check raises the alert in Alertmanager",
  ignore,
  async fn() {
    await using am = await startAlertmanager();
    await using tmp = await tempDir();
    const port = freeTcpPort();
    await using _monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
    const closed = freeTcpPort();
    await Deno.writeTextFile(
      `${tmp.path}/tasks.yaml`,
      `monitors: [{ address: "127.0.0.1:${port}", name: local }]
alerts: { down_after: 1 }
notifiers:
  - { name: am, type: alertmanager, url: "${am.url}" }
targets:
  shop: { TCP: { host: 127.0.0.1, port: ${closed}, frequency: 1 } }
`,
    );
    await using _manager = startManager(`${tmp.path}/tasks.yaml`, { db: `${tmp.path}/netmon.db` });
    const alert = await until(
      "the alert",
      async () => (await am.alerts()).find((a) => a.labels.target === "shop"),
      60_000,
    );
    assert.equal(alert.labels.alertname, "NetmonTargetDown");
    assert.equal(alert.labels.check, "shop/TCP");
    assert.equal(alert.status.state, "active");
    assert.match(alert.annotations.description!, /refused/);
  },
});
