/**
 * Badges (issue 16) by calling the handler with a `Request`: the overall
 * state across monitors, the path's check, caching (ETag, 304), uptime
 * windows and escaping.
 */
import assert from "node:assert/strict";
import { badgeCheckId, badgeResponse, badgeSvg, overallState } from "../manager/http/badges.ts";

const source = (states: string[], uptime: number | null) => ({
  states: () => states,
  uptime: () => Promise.resolve(uptime),
});

Deno.test("overallState() is degraded when some monitors but not all see the check down", () => {
  assert.equal(overallState(["up", "up"]), "up");
  assert.equal(overallState(["up", "down"]), "degraded");
  assert.equal(overallState(["down", "down", "unknown"]), "down");
  assert.equal(overallState(["unknown", "pending"]), "unknown");
  assert.equal(overallState([]), "unknown");
});

Deno.test("badgeCheckId() reads the target and type, any case, and refuses other paths", () => {
  assert.equal(badgeCheckId("/badge/web/TCP.svg"), "web/TCP");
  assert.equal(badgeCheckId("/badge/example.com/https.svg"), "example.com/HTTPS");
  assert.equal(badgeCheckId("/badge/a%2Fb/DNS.svg"), "a/b/DNS");
  assert.equal(badgeCheckId("/badge/web/FTP.svg"), null);
  assert.equal(badgeCheckId("/badge/web.svg"), null);
  assert.equal(badgeCheckId("/badge/%E0%A4%A/TCP.svg"), null);
});

Deno.test("badgeResponse() answers SVG with an ETag, 304 for a match and 400 for a bad window", async () => {
  const now = Date.now();
  const res = await badgeResponse(
    new Request("http://x/badge/web/TCP.svg"),
    "web/TCP",
    source(["up", "down"], null),
    now,
  );
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "public, max-age=60");
  const svg = await res.text();
  assert.match(svg, />degraded<\/text>/);
  assert.match(svg, /fill="#e65100"/);
  const etag = res.headers.get("etag")!;
  const same = await badgeResponse(
    new Request("http://x/badge/web/TCP.svg", { headers: { "if-none-match": `"x", ${etag}` } }),
    "web/TCP",
    source(["up", "down"], null),
    now,
  );
  assert.equal(same.status, 304);
  // the state changed: a new ETag, so caches fetch the new picture
  const changed = await badgeResponse(
    new Request("http://x/badge/web/TCP.svg", { headers: { "if-none-match": etag } }),
    "web/TCP",
    source(["down", "down"], null),
    now,
  );
  assert.equal(changed.status, 200);
  assert.notEqual(changed.headers.get("etag"), etag);
  assert.match(await changed.text(), />down<\/text>/);

  const up = await (await badgeResponse(
    new Request("http://x/b?uptime=7d"),
    "web/TCP",
    source([], 99.5),
    now,
  )).text();
  assert.match(up, />uptime 7d<\/text>.*>99\.50%<\/text>/);
  const none = await (await badgeResponse(
    new Request("http://x/b?uptime=30d"),
    "web/TCP",
    source([], null),
    now,
  )).text();
  assert.match(none, />no data<\/text>/);
  const bad = await badgeResponse(
    new Request("http://x/b?uptime=1h"),
    "web/TCP",
    source([], null),
    now,
  );
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /24h, 7d or 30d/);
  const head = await badgeResponse(
    new Request("http://x/b", { method: "HEAD" }),
    "web/TCP",
    source(["up"], null),
    now,
  );
  assert.equal(await head.text(), "");
});

Deno.test("badgeSvg() escapes what it draws", () => {
  const svg = badgeSvg(`<a href="x">&`, "up", "up");
  assert.doesNotMatch(svg, /<a href/);
  assert.match(svg, /&#60;a href=&#34;x&#34;&#62;&#38;/);
});
