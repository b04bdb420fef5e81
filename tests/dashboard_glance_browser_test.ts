/**
 * Issue 16 in a real browser (Debian's Chromium, headless, through
 * playwright-core): the dashboard, a check's page, `/status` and a badge at
 * 1440×900 and 390×844, light and dark, against a real `netmon manage` with
 * two real monitors — one on this host, one in a network namespace where the
 * target's 127.0.0.1 port is closed, so one check fails from one vantage
 * point only — and a real nginx serving HTTPS with certificates made by
 * openssl. Assertions are on what a person reads: the counts, the degraded
 * check with its failing monitor's pill, the error text, the certificate
 * days; and no page scrolls sideways on a phone. Screenshots go to
 * tests/output/. Without Chromium or root (namespaces) the test is reported
 * as ignored, never as passed.
 */
import { hasChromium, launchChromium } from "./helpers/chromium.ts";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { startNginx } from "./fixtures/nginx.ts";
import { makeCerts, opensslEndDate } from "./fixtures/certs.ts";
import { canMakeNetns, makeNetns } from "./helpers/netns.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { tempDir } from "./helpers/proc.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";

const OUTPUT = new URL("./output/", import.meta.url).pathname;
const TOKEN = "glance-browser-token";
const LINK_TOKEN = "glance-link-secret";
const DAY = 86_400_000;
const VIEWPORTS = [{ width: 1440, height: 900 }, { width: 390, height: 844 }];
const SCHEMES = ["light", "dark"] as const;

interface Row {
  checkId: string;
  monitor: string;
  state: string;
  error: string | null;
  certDaysLeft: number | null;
}

async function waitUntil<T>(
  fn: () => Promise<T | undefined>,
  what: string,
  seen: () => unknown = () => "",
): Promise<T> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out waiting until ${what}; last seen: ${JSON.stringify(seen())}`);
}

/** Whether the page is wider than its window (a person would have to scroll sideways). */
async function scrollsSideways(page: Page): Promise<boolean> {
  // a string: this file is type-checked without the DOM's types
  return await page.evaluate<boolean>(
    "document.documentElement.scrollWidth > globalThis.innerWidth",
  );
}

Deno.test({
  name: "dashboard, status page and badge read right at desktop and phone size, light and dark",
  ignore: !hasChromium || !(await canMakeNetns()),
  fn: async () => {
    await using tmp = await tempDir();
    await using certs = await makeCerts();
    await using nginx = await startNginx({
      tls: { good: certs.server, soon: certs.expiring },
    });
    await using ns = await makeNetns();
    // edge-ns's 127.0.0.1 is the namespace's own: nothing listens there on nginx's port
    await using far = await startMonitor({
      dataDir: `${tmp.path}/far`,
      listen: ns.nsAddr,
      wrap: ns.wrap,
      // beyond loopback a monitor needs the link's shared secret
      extra: ["--name", "edge-ns", "--token", LINK_TOKEN],
    });
    await using near = await startMonitor({
      dataDir: `${tmp.path}/near`,
      extra: ["--name", "edge-lo", "--token", LINK_TOKEN],
    });
    const config = `${tmp.path}/tasks.yaml`;
    await Deno.writeTextFile(
      config,
      `monitors:
  - {address: "${ns.nsAddr}:${far.port}", name: edge-ns, labels: [lab]}
  - {address: "127.0.0.1:${near.port}", name: edge-lo}
alerts: {down_after: 1, up_after: 1}
status_page:
  title: Acme status
  groups:
    - {name: Website, targets: [web, secure]}
targets:
  web:
    TCP: {host: 127.0.0.1, port: ${nginx.port}, frequency: 1}
  secure:
    monitors: [edge-lo]
    HTTPS: {url: "https://127.0.0.1:${nginx.tlsPorts.good}/ok", ca_file: "${certs.ca.cert}", frequency: 2}
  soon:
    monitors: [edge-lo]
    HTTPS: {url: "https://127.0.0.1:${nginx.tlsPorts.soon}/ok", ca_file: "${certs.ca.cert}", frequency: 2}
  closed:
    TCP: {host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 1}
`,
    );
    await using manager = startManager(config, {
      db: `${tmp.path}/netmon.db`,
      extra: ["--http-token", TOKEN, "--token", LINK_TOKEN],
    });
    const line = await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 30_000);
    const base = line.match(/(http:\/\/\S+)\/$/)![1]!;
    const auth = { authorization: `Bearer ${TOKEN}` };

    // the manager's own view first: what the page must show
    let last: Row[] = [];
    const rows = await waitUntil(
      async () => {
        const r = await (await fetch(`${base}/api/v1/targets`, { headers: auth })).json() as Row[];
        last = r;
        const get = (c: string, m: string) => r.find((x) => x.checkId === c && x.monitor === m);
        const ready = get("web/TCP", "edge-ns")?.state === "down" &&
          get("web/TCP", "edge-lo")?.state === "up" &&
          get("closed/TCP", "edge-ns")?.state === "down" &&
          get("closed/TCP", "edge-lo")?.state === "down" &&
          get("secure/HTTPS", "edge-lo")?.certDaysLeft != null &&
          get("soon/HTTPS", "edge-lo")?.certDaysLeft != null;
        return ready ? r : undefined;
      },
      "every check has a verdict from every monitor",
      () => last,
    );
    await waitUntil(async () => {
      const p = await (await fetch(`${base}/api/v1/incidents?state=open`, { headers: auth }))
        .json() as { incidents: { checkId: string }[] };
      return p.incidents.some((i) => i.checkId === "closed/TCP") ? true : undefined;
    }, "closed/TCP has an open incident");
    // the hour rollups behind uptime and the status page's bars run every 15 s
    await waitUntil(async () => {
      const r = await (await fetch(`${base}/api/v1/targets`, { headers: auth })).json() as (Row & {
        uptime: { h24: number | null };
      })[];
      return r.every((x) => x.uptime.h24 !== null) ? true : undefined;
    }, "uptime is known for every row");
    const webError = rows.find((x) => x.checkId === "web/TCP" && x.monitor === "edge-ns")!.error!;
    assert.match(webError, /refused/);
    // the certificates' own end dates, as openssl reads them
    const daysOf = async (cert: string) =>
      Math.floor((await opensslEndDate(cert) - Date.now()) / DAY);
    const goodDays = await daysOf(certs.server.cert);
    const soonDays = await daysOf(certs.expiring.cert);
    assert.ok(goodDays >= 28 && soonDays <= 2, `${goodDays} ${soonDays}`);

    await Deno.mkdir(OUTPUT, { recursive: true });
    const browser = await launchChromium(tmp.path);
    try {
      const page = await browser.newPage();
      for (const viewport of VIEWPORTS) {
        for (const scheme of SCHEMES) {
          const tag = `${viewport.width}x${viewport.height}-${scheme}`;
          await page.setViewportSize(viewport);
          await page.emulateMedia({ colorScheme: scheme });

          // the dashboard, with the token in the address as a person would open it
          await page.goto(`${base}/#token=${TOKEN}`);
          await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 15_000 });
          const counts = page.locator("#counts");
          await counts.filter({ hasText: "1 down" }).waitFor({ timeout: 15_000 });
          assert.equal(await counts.textContent(), "1 down · 1 degraded · 2 up · 0 unknown");
          assert.equal(await page.locator("#online").textContent(), "monitors online 2 of 2");

          const web = page.locator('#checks li[data-check="web/TCP"]');
          assert.equal(await web.getAttribute("data-state"), "degraded");
          assert.equal(await web.locator(".overall").textContent(), "degraded (1 of 2 down)");
          assert.equal(
            await web.locator('.mon[data-monitor="edge-ns"]').textContent(),
            "edge-ns down",
          );
          assert.match(
            (await web.locator('.mon[data-monitor="edge-lo"]').textContent())!,
            /^edge-lo \d+(\.\d+)? ms$/,
          );
          assert.equal(await web.locator(".error").textContent(), `edge-ns: ${webError}`);
          assert.ok(Number(await web.locator(".beats").getAttribute("data-failures")) > 0);
          assert.equal(
            await page.locator('#checks li[data-check="closed/TCP"]').getAttribute("data-state"),
            "down",
          );
          assert.equal(
            await page.locator('#checks li[data-check="secure/HTTPS"] .cert').textContent(),
            `cert ${goodDays} days left`,
          );
          assert.equal(
            await page.locator('#checks li[data-check="soon/HTTPS"] .cert').textContent(),
            `cert ${soonDays} day${soonDays === 1 ? "" : "s"} left`,
          );
          // problems first: the down check leads, then the degraded one
          assert.deepEqual(
            (await page.locator("#checks li").evaluateAll((els) =>
              els.map((e) => e.getAttribute("data-check"))
            )).slice(0, 2),
            ["closed/TCP", "web/TCP"],
          );
          await page.locator('#incidents li.open[data-check="closed/TCP"]').waitFor({
            timeout: 15_000,
          });
          const bg = await page.evaluate<string>("getComputedStyle(document.body).backgroundColor");
          assert.equal(bg, scheme === "dark" ? "rgb(15, 18, 22)" : "rgb(246, 247, 249)");
          assert.equal(await scrollsSideways(page), false, `dashboard ${tag} scrolls sideways`);
          await page.screenshot({ path: `${OUTPUT}glance-dashboard-${tag}.png`, fullPage: true });

          // search and filters
          await page.fill("#search", "secure");
          assert.deepEqual(
            await page.locator("#checks li").evaluateAll((els) =>
              els.map((e) => e.getAttribute("data-check"))
            ),
            ["secure/HTTPS"],
          );
          await page.fill("#search", "");
          await page.selectOption("#f-label", "lab");
          assert.deepEqual(
            (await page.locator("#checks li").evaluateAll((els) =>
              els.map((e) => e.getAttribute("data-check"))
            )).sort(),
            ["closed/TCP", "web/TCP"],
            "only checks on monitors labelled lab",
          );
          await page.selectOption("#f-label", "");
          await page.selectOption("#f-state", "degraded");
          assert.equal(await page.locator("#checks li").count(), 1);
          await page.selectOption("#f-state", "");

          // the check's own page: its chart marks the failures, its results say why
          await web.locator("a.name").click();
          await page.locator("#chart .u-over").waitFor({ timeout: 15_000 });
          assert.equal(await page.locator("#d-title").textContent(), "web/TCP");
          assert.ok(Number(await page.locator("#chart").getAttribute("data-failures")) > 0);
          await page.locator("#d-results li.down", { hasText: webError }).first().waitFor({
            timeout: 15_000,
          });
          assert.equal(await scrollsSideways(page), false, `check page ${tag} scrolls sideways`);
          await page.screenshot({ path: `${OUTPUT}glance-check-${tag}.png`, fullPage: true });

          // the public status page, without the token
          await page.goto(`${base}/status`);
          assert.equal(await page.locator("h1").textContent(), "Acme status");
          assert.equal(await page.locator("#banner").textContent(), "Some systems are degraded");
          assert.equal(await page.locator('[data-target="web"] .state').textContent(), "Degraded");
          assert.equal(
            await page.locator('[data-target="secure"] .state').textContent(),
            "Operational",
          );
          assert.equal(await page.locator('[data-target="web"] .bar').count(), 90);
          // today's bar: web failed from one of its two monitors all along: neither all up nor all down
          const today =
            (await page.locator('[data-target="web"] .bar').last().getAttribute("title"))!;
          const pct = Number(today.match(/^\d{4}-\d\d-\d\d: (\d+\.\d\d)% up$/)?.[1]);
          assert.ok(pct > 0 && pct < 100, today);
          assert.equal(
            await page.locator('[data-target="secure"] .bar').last().getAttribute("class"),
            "bar up",
          );
          assert.equal(
            await page.locator('[data-target="closed"], [data-target="soon"]').count(),
            0,
          );
          assert.equal(await scrollsSideways(page), false, `status ${tag} scrolls sideways`);
          await page.screenshot({ path: `${OUTPUT}glance-status-${tag}.png`, fullPage: true });

          // a badge, public because web is on the status page
          const res = await page.goto(`${base}/badge/web/TCP.svg`);
          assert.equal(res?.status(), 200);
          assert.equal(await page.locator("svg title").textContent(), "web/TCP: degraded");
          assert.equal(await scrollsSideways(page), false, `badge ${tag} scrolls sideways`);
          await page.screenshot({ path: `${OUTPUT}glance-badge-${tag}.png` });
        }
      }
    } finally {
      await browser.close();
    }
  },
});
