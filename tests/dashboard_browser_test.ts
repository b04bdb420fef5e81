/**
 * The dashboard in a real browser (issue 5): Debian's Chromium, headless,
 * driven by playwright-core, against a real manager and monitor. Leaves a
 * screenshot in tests/output/ for people to look at. Without Chromium the
 * test is reported as ignored, never as passed.
 */
import { hasChromium, launchChromium } from "./helpers/chromium.ts";
import assert from "node:assert/strict";
import { startNginx } from "./fixtures/nginx.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { tempDir } from "./helpers/proc.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";

const OUTPUT = new URL("./output/", import.meta.url).pathname;

Deno.test({
  name: "the dashboard shows a killed monitor go Reconnecting and new results without a reload",
  ignore: !hasChromium,
  fn: async () => {
    await using tmp = await tempDir();
    await using nginx = await startNginx();
    const ports = [freeTcpPort(), freeTcpPort()];
    const monitors = await Promise.all(
      ports.map((port, i) => startMonitor({ dataDir: `${tmp.path}/mon${i}`, port })),
    );
    try {
      const config = `${tmp.path}/tasks.yaml`;
      await Deno.writeTextFile(
        config,
        `monitors:
  - { address: 127.0.0.1:${ports[0]}, name: edge-a }
  - { address: 127.0.0.1:${ports[1]}, name: edge-b }
targets:
  web:
    HTTP: { url: "http://127.0.0.1:${nginx.port}/ok", frequency: 1 }
    TCP: { host: 127.0.0.1, port: ${nginx.port}, frequency: 2 }
  closed:
    TCP: { host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 2 }
`,
      );
      await using manager = startManager(config, { db: `${tmp.path}/netmon.db` });
      const line = await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 30_000);
      const url = line.match(/(http:\/\/\S+\/)$/)![1]!;
      await manager.waitFor(/HTTP URL: .*Status Code: 200/);

      // a phone-sized window: the page must be readable there
      const browser = await launchChromium(tmp.path, { viewport: { width: 412, height: 1100 } });
      try {
        const page = await browser.newPage();
        await page.goto(url);
        const card = page.locator('.card[data-monitor="edge-a"] .status');
        await card.filter({ hasText: "Online" }).waitFor({ timeout: 15_000 });
        await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 15_000 });
        await page.locator('#checks li[data-check="web/HTTP"] .mon.up').first()
          .waitFor({ timeout: 15_000 });

        // a result that arrives after the page loaded shows up without a reload
        const shown = new Set(
          await page.locator("#results li").evaluateAll((els) =>
            els.map((e) => e.getAttribute("data-task-id"))
          ),
        );
        // wait for any result the page did not have: the list keeps only the newest 30, so a
        // particular one may already have scrolled out on a slow machine
        let taskId: string | undefined;
        for (let tries = 0; tries < 75 && taskId === undefined; tries++) {
          const ids = await page.locator("#results li").evaluateAll((els) =>
            els.map((e) => e.getAttribute("data-task-id"))
          );
          taskId = ids.find((id): id is string => id !== null && !shown.has(id));
          if (taskId === undefined) await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok(typeof taskId === "string" && !shown.has(taskId));
        // and it is a real result that the manager stored and printed
        await manager.waitFor(new RegExp(`Task ID: ${taskId}, `), 15_000);

        await monitors[0]!.proc.stop("SIGKILL");
        await card.filter({ hasText: "Reconnecting" }).waitFor({ timeout: 15_000 });
        assert.equal(
          await page.locator('.card[data-monitor="edge-b"] .status').textContent(),
          "Online",
        );
        assert.equal(
          await page.evaluate(() => performance.getEntriesByType("navigation").length),
          1,
          "the page was never reloaded",
        );
        // the check's own page draws its chart
        await page.locator('#checks li[data-check="web/HTTP"] a.name').click();
        await page.locator("#chart .u-over").waitFor({ timeout: 15_000 });
        await Deno.mkdir(OUTPUT, { recursive: true });
        await page.screenshot({ path: `${OUTPUT}dashboard-phone.png`, fullPage: true });
        await page.setViewportSize({ width: 1280, height: 900 });
        await page.screenshot({ path: `${OUTPUT}dashboard-desktop.png`, fullPage: true });
      } finally {
        await browser.close();
      }
    } finally {
      for (const m of monitors) await m.proc.stop("SIGKILL");
    }
  },
});
