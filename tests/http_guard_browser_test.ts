/**
 * Issue 11 in a real browser (Debian's Chromium, headless, through
 * playwright-core): a page served from another loopback origin tries to
 * pause a check with a `no-cors` fetch, a CORS fetch and a form post, and
 * the check stays unpaused; the dashboard itself still works under its
 * Content-Security-Policy, without a single violation. Without Chromium
 * the test is reported as ignored, never as passed.
 */
import { hasChromium, launchChromium } from "./helpers/chromium.ts";
import assert from "node:assert/strict";
import { freeTcpPort } from "./helpers/ports.ts";
import { startQuietManager } from "./helpers/manager.ts";
import { tempDir } from "./helpers/proc.ts";
import { startHttp } from "../manager/http/server.ts";

/** The attacker's page: one external script (its own origin, no CSP of ours applies). */
function attackerSite(api: string): Deno.HttpServer<Deno.NetAddr> {
  const body = JSON.stringify({ check: "web/TCP" });
  const script = `
    const api = ${JSON.stringify(api)};
    const body = ${JSON.stringify(body)};
    window.attempts = Promise.all([
      fetch(api + "/api/v1/pause", { method: "POST", mode: "no-cors", body })
        .then((r) => "no-cors: " + r.type, (e) => "no-cors: " + e),
      fetch(api + "/api/v1/pause", {
        method: "POST", mode: "no-cors", headers: { "content-type": "application/json" }, body,
      }).then((r) => "no-cors json: " + r.type, (e) => "no-cors json: " + e),
      fetch(api + "/api/v1/pause", {
        method: "POST", headers: { "content-type": "application/json" }, body,
      }).then((r) => "cors: " + r.status, (e) => "cors: " + e),
      fetch(api + "/api/v1/reload", { method: "POST", mode: "no-cors" })
        .then((r) => "reload: " + r.type, (e) => "reload: " + e),
    ]);
  `;
  const form = `<!doctype html><form id="f" method="POST" enctype="text/plain"
    action="${api}/api/v1/pause"><input name='{"check":"web/TCP","x":"' value='"}'></form>
    <script src="/submit.js"></script>`;
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/attack.js" || path === "/submit.js") {
      return new Response(
        path === "/attack.js" ? script : 'document.getElementById("f").submit();',
        { headers: { "content-type": "text/javascript" } },
      );
    }
    if (path === "/form") return new Response(form, { headers: { "content-type": "text/html" } });
    return new Response('<!doctype html><script src="/attack.js"></script>', {
      headers: { "content-type": "text/html" },
    });
  });
}

Deno.test({
  name: "a page on another origin cannot pause a check; the dashboard runs under its CSP",
  ignore: !hasChromium,
  fn: async () => {
    await using tmp = await tempDir();
    await using q = await startQuietManager(`monitors:
  - { address: 127.0.0.1:${freeTcpPort()}, name: far }
targets:
  web:
    TCP: { host: 127.0.0.1, port: 1, frequency: 5 }
`);
    const http = await startHttp(q.manager, { hostname: "127.0.0.1", port: 0, token: "" });
    const evil = attackerSite(http.url);
    const evilUrl = `http://127.0.0.1:${evil.addr.port}`;
    const browser = await launchChromium(tmp.path);
    try {
      const page = await browser.newPage();
      await page.goto(evilUrl);
      const outcomes = await page.evaluate(() =>
        (globalThis as unknown as { attempts: Promise<string[]> }).attempts
      );
      // every attempt has settled (their answers are opaque or blocked for the page: on the
      // code before issue 11 the first one paused the check all the same)
      assert.equal(outcomes.length, 4, outcomes.join("; "));
      assert.match(outcomes[2]!, /^cors: TypeError/, "no CORS headers: the browser blocks it");

      const formPage = await browser.newPage();
      const answer = formPage.waitForResponse((r) => r.url().endsWith("/api/v1/pause"));
      await formPage.goto(`${evilUrl}/form`);
      const posted = await answer;
      assert.equal(posted.status(), 403, await posted.text());
      assert.deepEqual([...q.manager.paused], [], `paused by a foreign page: ${outcomes}`);

      // the dashboard itself, under its Content-Security-Policy
      const dash = await browser.newPage();
      await dash.addInitScript(`
        window.violations = [];
        document.addEventListener("securitypolicyviolation", (e) => {
          window.violations.push(e.violatedDirective + " " + e.blockedURI);
        });
      `);
      const refused: string[] = [];
      dash.on("console", (m) => {
        if (/Content Security Policy|Refused to/.test(m.text())) refused.push(m.text());
      });
      await dash.goto(`${http.url}/`);
      await dash.locator("#conn", { hasText: "live" }).waitFor({ timeout: 15_000 });
      await dash.locator('#checks li[data-check="web/TCP"]').first().waitFor({ timeout: 15_000 });
      await dash.locator('.card[data-monitor="far"]').waitFor({ timeout: 15_000 });
      const violations = await dash.evaluate(() =>
        (globalThis as unknown as { violations: string[] }).violations
      );
      assert.deepEqual([...violations, ...refused], []);
    } finally {
      await browser.close();
      await evil.shutdown();
      await http.close();
    }
  },
});
