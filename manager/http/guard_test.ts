import assert from "node:assert/strict";
import { freeTcpPort } from "../../tests/helpers/ports.ts";
import { startQuietManager } from "../../tests/helpers/manager.ts";
import { startHttp } from "./server.ts";
import { parseHttpHost, RequestGuard } from "./guard.ts";
import { loadOpenApi } from "../../tests/helpers/openapi.ts";

const spec = await loadOpenApi();

const CONFIG = `monitors:
  - { address: 127.0.0.1:${freeTcpPort()}, name: far }
targets:
  web:
    TCP: { host: 127.0.0.1, port: 1, frequency: 5 }
`;

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** One HTTP/1.1 request with exactly these header lines (fetch would set Host and Origin itself). */
async function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
): Promise<RawAnswer> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const lines = [`${method} ${path} HTTP/1.1`, "connection: close"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body !== "" || method === "POST") lines.push(`content-length: ${body.length}`);
  await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n" + body));
  const text = await new Response(conn.readable).text();
  const [head = "", ...rest] = text.split("\r\n\r\n");
  const [statusLine = "", ...headerLines] = head.split("\r\n");
  const map = new Map<string, string>();
  for (const l of headerLines) {
    const i = l.indexOf(":");
    map.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  return { status: Number(statusLine.split(" ")[1]), headers: map, body: rest.join("\r\n\r\n") };
}

async function withServer(
  fn: (port: number, paused: () => string[]) => Promise<void>,
  hosts: string[] = [],
) {
  await using q = await startQuietManager(CONFIG);
  const http = await startHttp(q.manager, { hostname: "127.0.0.1", port: 0, token: "", hosts });
  try {
    await fn(Number(new URL(http.url).port), () => [...q.manager.paused]);
  } finally {
    await http.close();
  }
}

const PAUSE = JSON.stringify({ check: "web/TCP" });

Deno.test("a cross-origin or non-JSON POST is refused and pauses nothing", async () => {
  await withServer(async (port, paused) => {
    const host = `127.0.0.1:${port}`;
    // the curl: a foreign Origin with a text/plain body (what a no-cors fetch sends)
    const evil = await raw(port, "POST", "/api/v1/pause", {
      host,
      origin: "http://evil.example",
      "content-type": "text/plain",
    }, PAUSE);
    assert.equal(evil.status, 403, evil.body);
    assert.match(JSON.parse(evil.body).error, /origin http:\/\/evil\.example/);
    assert.deepEqual(spec.check("/api/v1/pause", "post", 403, JSON.parse(evil.body)), []);
    // the same origin with a foreign Origin header but JSON: still refused
    const evilJson = await raw(port, "POST", "/api/v1/pause", {
      host,
      origin: "http://127.0.0.1:1",
      "content-type": "application/json",
    }, PAUSE);
    assert.equal(evilJson.status, 403, evilJson.body);
    const site = await raw(port, "POST", "/api/v1/pause", {
      host,
      "sec-fetch-site": "cross-site",
      "content-type": "application/json",
    }, PAUSE);
    assert.equal(site.status, 403, site.body);
    assert.match(JSON.parse(site.body).error, /Sec-Fetch-Site: cross-site/);
    // a form post to /reload, without any Origin (as an old client would send it)
    const form = await raw(port, "POST", "/api/v1/reload", {
      host,
      "content-type": "application/x-www-form-urlencoded",
    }, "a=b");
    assert.equal(form.status, 415, form.body);
    assert.match(JSON.parse(form.body).error, /Content-Type: application\/json/);
    assert.deepEqual(spec.check("/api/v1/reload", "post", 415, JSON.parse(form.body)), []);
    const none = await raw(port, "POST", "/api/v1/pause", { host }, PAUSE);
    assert.equal(none.status, 415, none.body);
    assert.deepEqual(paused(), [], "nothing was paused");

    // what the dashboard (same origin) and netmon ctl (no Origin) send still works
    const own = await raw(port, "POST", "/api/v1/pause", {
      host,
      origin: `http://${host}`,
      "sec-fetch-site": "same-origin",
      "content-type": "application/json; charset=utf-8",
    }, PAUSE);
    assert.equal(own.status, 200, own.body);
    assert.deepEqual(paused(), ["web/TCP"]);
    const ctl = await raw(port, "POST", "/api/v1/resume", {
      host,
      "content-type": "application/json",
    }, PAUSE);
    assert.equal(ctl.status, 200, ctl.body);
    assert.deepEqual(paused(), []);
    // reading needs none of it
    const get = await raw(port, "GET", "/api/v1/status", { host, origin: "http://evil.example" });
    assert.equal(get.status, 200);
  });
});

Deno.test("only Host values naming this server are served (DNS rebinding)", async () => {
  await withServer(async (port) => {
    for (const path of ["/", "/api/v1/status", "/api/v1/config", "/metrics", "/api/v1/events"]) {
      const res = await raw(port, "GET", path, { host: `evil.example:${port}` });
      assert.equal(res.status, 421, `${path}: ${res.body}`);
      assert.match(JSON.parse(res.body).error, /--http-host evil\.example/);
      if (path !== "/api/v1/events") {
        assert.deepEqual(spec.check(path, "get", 421, JSON.parse(res.body)), [], path);
      }
    }
    const post = await raw(port, "POST", "/api/v1/pause", {
      host: "evil.example",
      "content-type": "application/json",
    }, PAUSE);
    assert.equal(post.status, 421);
    for (
      const host of [
        `127.0.0.1:${port}`,
        "127.0.0.1",
        `localhost:${port}`,
        "LOCALHOST",
        "127.0.0.5",
        `[::1]:${port}`,
        "netmon.example",
        `netmon.example:${port}`,
      ]
    ) {
      const res = await raw(port, "GET", "/api/v1/status", { host });
      assert.equal(res.status, 200, `Host: ${host}: ${res.body}`);
    }
    for (const host of ["other.example", "127.0.0.1.evil.example", "netmon.example.evil", "a b"]) {
      const res = await raw(port, "GET", "/api/v1/status", { host });
      assert.notEqual(res.status, 200, `Host: ${host}`);
    }
  }, [parseHttpHost("netmon.example")]);
  assert.throws(() => parseHttpHost("http://x/"), /--http-host must be a host name/);
  assert.throws(() => parseHttpHost("x:80"), /--http-host/);
});

Deno.test("every answer carries the CSP, frame denial, nosniff and a referrer policy", async () => {
  await withServer(async (port) => {
    const host = `127.0.0.1:${port}`;
    for (const path of ["/", "/dashboard/app.js", "/api/v1/status", "/metrics", "/nowhere"]) {
      const res = await raw(port, "GET", path, { host });
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /(^|; )default-src 'self'(;|$)/, path);
      assert.match(csp, /(^|; )script-src 'self'(;|$)/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.equal(res.headers.get("x-frame-options"), "DENY", path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
      assert.equal(res.headers.get("referrer-policy"), "no-referrer", path);
    }
    const refused = await raw(port, "GET", "/", { host: "evil.example" });
    assert.equal(refused.headers.get("x-frame-options"), "DENY", "refusals too");
    const page = await raw(port, "GET", "/", { host });
    assert.doesNotMatch(page.body, /<script>|<script [^>]*>[^<]|\son[a-z]+=/i, "no inline script");
  });
});

Deno.test("bound to every address, any address literal is served but no other name", () => {
  const any = new RequestGuard({ hostname: "0.0.0.0", extraHosts: ["mon.example"] });
  for (const h of ["10.1.2.3:8080", "[fe80::1]:8080", "127.0.0.1", "localhost", "mon.example"]) {
    assert.ok(any.hostAllowed(h), h);
  }
  for (const h of ["evil.example", "10.1.2.3.nip.io", ""]) assert.ok(!any.hostAllowed(h), h);
  const v6 = new RequestGuard({ hostname: "::1", extraHosts: [] });
  assert.ok(v6.hostAllowed("[::1]:8080") && !v6.hostAllowed("10.1.2.3"));
  const lan = new RequestGuard({ hostname: "192.0.2.7", extraHosts: [] });
  assert.ok(lan.hostAllowed("192.0.2.7:8080") && !lan.hostAllowed("192.0.2.8"));
});
