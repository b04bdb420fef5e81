/**
 * The Grafana dashboard in contrib/grafana (issue 18): every PromQL query in
 * it — panel targets, the incident annotation and the template variables —
 * runs against a real Prometheus scraping a real manager (all seven check
 * types against real peers, one failing check with an open incident) with
 * `honor_labels: true`, and each returns data.
 */
import assert from "node:assert/strict";
import { startPrometheus } from "./fixtures/prometheus.ts";
import { startFullStack } from "./helpers/full_stack.ts";

const ROOT = new URL("../", import.meta.url).pathname;

interface Dashboard {
  uid: string;
  templating: { list: { name: string; type: string; definition?: string }[] };
  annotations: { list: { name: string; expr?: string; builtIn?: number }[] };
  panels: {
    id: number;
    type: string;
    title: string;
    gridPos: unknown;
    datasource?: { uid: string };
    targets?: { expr: string; refId: string }[];
  }[];
}

const dashboard = JSON.parse(
  await Deno.readTextFile(`${ROOT}contrib/grafana/netmon.json`),
) as Dashboard;

/** Grafana's variables as a query with "All" selected and a 10-minute range sees them. */
function substitute(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__interval", "15s")
    .replaceAll("$__range", "10m")
    .replace(/\$(target|check_type|monitor|instance)\b/g, ".*");
}

/** Every query of the dashboard, named by where it is; `label_values(X, l)` as `count by (l) (X)`. */
function queries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? []) {
      out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
    }
  }
  for (const a of dashboard.annotations.list) {
    if (a.expr) out.push({ where: `annotation "${a.name}"`, expr: a.expr });
  }
  for (const v of dashboard.templating.list) {
    if (v.type !== "query") continue;
    const m = v.definition!.match(/^label_values\((.*), *(\w+)\)$/);
    assert.ok(m, `variable ${v.name}: ${v.definition}`);
    out.push({ where: `variable $${v.name}`, expr: `count by (${m[2]}) (${m[1]})` });
  }
  return out.map((q) => ({ ...q, expr: substitute(q.expr) }));
}

Deno.test("the dashboard's panels are well formed and query through the datasource variable", () => {
  assert.equal(dashboard.uid, "netmon-overview");
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
  for (const p of dashboard.panels) {
    assert.ok(p.gridPos, p.title);
    if (p.type === "row") continue;
    assert.equal(p.datasource?.uid, "${datasource}", p.title);
    assert.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
  }
  assert.ok(dashboard.annotations.list.some((a) => a.name === "Incidents" && a.expr));
  assert.ok(queries().length >= 25);
});

Deno.test("every query in the Grafana dashboard gets data from Prometheus scraping a manager", async () => {
  await using stack = await startFullStack();
  await using prom = await startPrometheus([new URL(stack.base).host]);
  const pending = new Map(queries().map((q) => [q.where, q.expr]));
  const end = performance.now() + 120_000;
  while (pending.size > 0 && performance.now() < end) {
    for (const [where, expr] of pending) {
      if ((await prom.query(expr)).length > 0) pending.delete(where);
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 1_000));
  }
  assert.deepEqual(
    [...pending].map(([where, expr]) => `${where}: ${expr}`),
    [],
    "queries without data",
  );

  // honor_labels kept the probe's target as instance; netmon's own series got the manager's
  const https = await prom.query('probe_success{check_type="HTTPS", target="web"}');
  assert.match(https[0]!.metric.instance!, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const monitors = await prom.query("netmon_monitor_up");
  assert.equal(monitors[0]!.metric.instance, new URL(stack.base).host);
  const days = await prom.query(
    'min by (instance) ((probe_ssl_earliest_cert_expiry{check_type="HTTPS"} - time()) / 86400)',
  );
  assert.ok(Number(days[0]!.value[1]) > 1, `certificate days ${days[0]!.value[1]}`);
});
