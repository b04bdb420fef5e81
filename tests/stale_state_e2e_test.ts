/**
 * Issue 12, "State": a dead monitor's checks must not stay up. Three real
 * monitors and a real manager (`./netmon manage`); one monitor is killed
 * with SIGKILL, and within 15 s `/api/v1/targets`, `/metrics`,
 * `./netmon ctl targets` and the dashboard in headless Chromium show none of
 * its checks as up (unknown instead, and absent from /metrics), while the
 * other two monitors' checks stay up. The dashboard's chart draws the failing
 * check's failures and the dead monitor's missing stretch, and never a line
 * across them. Without Chromium the browser part is reported as ignored.
 */
import { hasChromium, launchChromium } from "./helpers/chromium.ts";
import assert from "node:assert/strict";
import { startNginx } from "./fixtures/nginx.ts";
import { loadOpenApi } from "./helpers/openapi.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { tempDir } from "./helpers/proc.ts";
import { NETMON, startManager, startMonitor } from "./helpers/netmon.ts";

const NAMES = ["edge-a", "edge-b", "edge-c"];
const DEAD = "edge-b";
const OUTPUT = new URL("./output/", import.meta.url).pathname;

interface Row {
  checkId: string;
  monitor: string;
  state: string;
  freshUntil: number | null;
}

/** Polls `fn` every 200 ms until it returns a value other than undefined, for at most `ms`. */
async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + ms;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${last})` : ""}`);
}

async function ctlTargets(base: string, ...args: string[]): Promise<string> {
  const o = await new Deno.Command(NETMON, {
    args: ["ctl", "targets", "--url", base, ...args],
    stdin: "null",
  }).output();
  assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  return new TextDecoder().decode(o.stdout);
}

Deno.test({
  name: "a killed monitor's checks turn unknown everywhere within 15 s, the others stay up",
  fn: async () => {
    const spec = await loadOpenApi();
    await using tmp = await tempDir();
    await using nginx = await startNginx();
    const ports = NAMES.map(() => freeTcpPort());
    const monitors = await Promise.all(
      ports.map((port, i) => startMonitor({ dataDir: `${tmp.path}/mon${i}`, port })),
    );
    try {
      const config = `${tmp.path}/tasks.yaml`;
      await Deno.writeTextFile(
        config,
        `monitors:
${NAMES.map((n, i) => `  - { address: 127.0.0.1:${ports[i]}, name: ${n} }`).join("\n")}
targets:
  web:
    HTTP: { url: "http://127.0.0.1:${nginx.port}/ok", frequency: 1 }
    TCP: { host: 127.0.0.1, port: ${nginx.port}, frequency: 1 }
  closed:
    TCP: { host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 1 }
`,
      );
      await using manager = startManager(config, { db: `${tmp.path}/netmon.db` });
      const line = await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 30_000);
      const url = line.match(/(http:\/\/\S+\/)$/)![1]!;
      const base = url.replace(/\/$/, "");
      const targets = async (): Promise<Row[]> => {
        const res = await fetch(`${base}/api/v1/targets`);
        const body = await res.json();
        assert.deepEqual(spec.check("/api/v1/targets", "get", res.status, body), []);
        return body;
      };
      const stateOf = (rows: Row[], checkId: string, monitor: string) =>
        rows.find((r) => r.checkId === checkId && r.monitor === monitor)?.state;

      // every monitor sees web up and closed down
      await until("every monitor has results", 30_000, async () => {
        const rows = await targets();
        const ok = NAMES.every((m) =>
          stateOf(rows, "web/HTTP", m) === "up" && stateOf(rows, "web/TCP", m) === "up" &&
          stateOf(rows, "closed/TCP", m) === "down"
        );
        return ok || undefined;
      });
      const before = await (await fetch(`${base}/metrics`)).text();
      assert.match(before, new RegExp(`^probe_success\\{[^}]*monitor="${DEAD}"[^}]*\\} 1$`, "m"));

      const browser = hasChromium
        ? await launchChromium(tmp.path, { viewport: { width: 1280, height: 900 } })
        : null;
      try {
        const page = await browser?.newPage();
        if (page) {
          await page.goto(url);
          await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 15_000 });
          await page.locator(`#checks .mon[data-monitor="${DEAD}"][data-state="up"]`).first()
            .waitFor({ timeout: 15_000 });
        }

        await monitors[NAMES.indexOf(DEAD)]!.proc.stop("SIGKILL");
        const killedAt = performance.now();
        const within = () => Math.max(1, 15_000 - (performance.now() - killedAt));

        // the API: every row of the dead monitor is unknown; the others keep their state
        const rows = await until(
          "the API shows the dead monitor's checks unknown",
          within(),
          async () => {
            const rows = await targets();
            const dead = rows.filter((r) => r.monitor === DEAD);
            // polled too: on a loaded machine a live monitor's result may come late for a moment
            const others = NAMES.filter((n) => n !== DEAD).every((m) =>
              stateOf(rows, "web/HTTP", m) === "up" && stateOf(rows, "closed/TCP", m) === "down"
            );
            const unknown = dead.length === 3 && dead.every((r) => r.state === "unknown");
            return unknown && others ? rows : undefined;
          },
        );
        assert.ok(rows.filter((r) => r.monitor === DEAD).every((r) => r.freshUntil !== null));

        // /metrics: no series of its checks, as blackbox_exporter answers nothing for a failed scrape
        const metrics = await until(
          "/metrics drops the dead monitor's checks",
          within(),
          async () => {
            const text = await (await fetch(`${base}/metrics`)).text();
            const checkSeries = text.split("\n").filter((l) =>
              /^probe_/.test(l) && l.includes(`monitor="${DEAD}"`)
            );
            const live = /^probe_success\{[^}]*monitor="edge-a"[^}]*\} 1$/m.test(text);
            return checkSeries.length === 0 && live ? text : undefined;
          },
        );
        assert.match(
          metrics,
          new RegExp(`^netmon_monitor_up\\{monitor="${DEAD}",[^}]*\\} 0$`, "m"),
        );

        // netmon ctl targets, as a person runs it
        const table = await until("ctl targets shows unknown", within(), async () => {
          const out = await ctlTargets(base, "--monitor", DEAD);
          const lines = out.trim().split("\n").slice(1);
          return lines.length === 3 && lines.every((l) => /\bunknown\b/.test(l)) ? out : undefined;
        });
        assert.doesNotMatch(table, /\b(up|down)\b/);
        const json = JSON.parse(await ctlTargets(base, "--json")) as Row[];
        assert.ok(json.filter((r) => r.monitor === DEAD).every((r) => r.state === "unknown"));

        if (page) {
          // the dashboard, without a reload: no row of the dead monitor is up, all are unknown
          // one pill per check and monitor: the dead monitor's three read unknown
          const dead = page.locator(`#checks .mon[data-monitor="${DEAD}"]`);
          const aliveUp = page.locator('#checks .mon[data-monitor="edge-a"][data-state="up"]');
          await until("the dashboard shows unknown", within(), async () => {
            const states = await dead.evaluateAll((els) =>
              els.map((e) => e.getAttribute("data-state"))
            );
            const unknown = states.length === 3 && states.every((s) => s === "unknown");
            return unknown && await aliveUp.count() === 2 ? true : undefined;
          });
          assert.deepEqual(await dead.allTextContents(), Array(3).fill(`${DEAD} unknown`));
          assert.equal(
            await page.evaluate(() => performance.getEntriesByType("navigation").length),
            1,
            "the page was never reloaded",
          );
          await checkChart(page);
          await Deno.mkdir(OUTPUT, { recursive: true });
          await page.screenshot({ path: `${OUTPUT}dashboard-dead-monitor.png`, fullPage: true });
        }

        // stale, not offline: a paused check's last result on a live monitor stops counting
        // after two intervals plus the timeout (2 × 1 s + 0.8 s)
        const paused = await fetch(`${base}/api/v1/pause`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ check: "web/HTTP" }),
        });
        assert.equal(paused.status, 200);
        await paused.body?.cancel(); // an unread body is a leak to the resource sanitizer
        await until("the paused check turns unknown on a live monitor", 15_000, async () => {
          const rows = await targets();
          return stateOf(rows, "web/HTTP", "edge-a") === "unknown" &&
              stateOf(rows, "web/TCP", "edge-a") === "up"
            ? true
            : undefined;
        });
        await until("/metrics drops the stale series", 15_000, async () => {
          const text = await (await fetch(`${base}/metrics`)).text();
          return /check_type="HTTP"/.test(text) ? undefined : true;
        });
        if (page) {
          // the page notices by itself: no event comes when a result merely ages
          await page.evaluate(`location.hash = ""`); // back from the chart's page to the list
          await page.locator('#checks li[data-check="web/HTTP"] .mon[data-monitor="edge-a"]', {
            hasText: "edge-a paused",
          }).waitFor({ timeout: 15_000 });
        }
      } finally {
        await browser?.close();
      }
    } finally {
      for (const m of monitors) await m.proc.stop("SIGKILL");
    }
  },
});

type Page = Awaited<ReturnType<Awaited<ReturnType<typeof launchChromium>>["newPage"]>>;

interface Band {
  kind: "fail" | "gap";
  series: number;
  from: number;
  to: number;
}

/**
 * The chart of closed/TCP: every result failed, so it draws red bands and
 * no latency at all; the dead monitor's series ends in a grey band. The
 * chart of web/TCP has latencies, and its data holds a null (a break in the
 * line) after the dead monitor's last point, never a value bridging it.
 */
async function checkChart(page: Page) {
  const chartOf = async (check: string) => {
    // each check has its own page (#check=ID), its chart on it
    await page.evaluate(`location.hash = ${JSON.stringify(`check=${check}`)}`);
    await page.locator("#chart .u-over").waitFor({ timeout: 15_000 });
    return await until(`the chart of ${check} is drawn`, 15_000, async () => {
      const model = JSON.parse(
        await page.evaluate(`JSON.stringify({
          check: state.chartData && state.chartData.checkId,
          names: state.chartData ? state.chartData.series.map((s) => s.monitorName) : [],
          bands: state.chartBands,
          data: state.chart ? state.chart.data : null,
          failures: document.querySelector("#chart").dataset.failures,
        })`),
      ) as {
        check: string;
        names: string[];
        bands: Band[];
        data: (number | null)[][] | null;
        failures: string;
      };
      return model.check === check && model.data ? model : undefined;
    });
  };

  const closed = await chartOf("closed/TCP");
  assert.ok(closed.bands.some((b) => b.kind === "fail"), "failures are drawn");
  assert.equal(String(closed.bands.filter((b) => b.kind === "fail").length), closed.failures);
  // failed results have no latency: nothing for a line to join
  for (const ys of closed.data!.slice(1)) assert.ok(ys.every((v) => v === null || v === undefined));

  const web = await until("the dead monitor's missing stretch is drawn", 15_000, async () => {
    const m = await chartOf("web/TCP");
    const dead = m.names.indexOf(DEAD);
    return m.bands.some((b) => b.kind === "gap" && b.series === dead) ? m : undefined;
  });
  const dead = web.names.indexOf(DEAD);
  const [xs, ...ys] = web.data!;
  const deadYs = ys[dead]!;
  const lastValue = deadYs.findLastIndex((v) => typeof v === "number");
  assert.ok(lastValue >= 0, "the dead monitor had latencies before it died");
  assert.ok(
    deadYs.slice(lastValue + 1).every((v) => v === null || v === undefined),
    "nothing after the monitor died",
  );
  // the others go on past it
  const liveYs = ys[web.names.indexOf("edge-a")]!;
  assert.ok(liveYs.findLastIndex((v) => typeof v === "number") > lastValue);
  assert.ok(xs!.length > 0);
}
