/**
 * Secrets in check URLs stay secret (issue 11): a real monitor and manager
 * through `./netmon` run HTTP checks whose URLs carry an `api_key`, a
 * `token` in a failing URL, a password, and a parameter the user names in
 * `defaults.secret_params`. The server is asked with the real values, and
 * none of them appears in the API (config, results, targets, SSE), the
 * manager's output, its SQLite file or the monitor's spool.
 */
import assert from "node:assert/strict";
import { freeTcpPort } from "./helpers/ports.ts";
import { tempDir } from "./helpers/proc.ts";
import { startManager, startMonitor } from "./helpers/netmon.ts";

const API_KEY = "k3y-4b1c9e2f7a";
const LOT = "l0t-77e1d0c5";
const TOKEN = "t0k-5a9f3c1e";
const PASSWORD = "pw-9d8c7b6a";
const SECRETS = [API_KEY, LOT, TOKEN, PASSWORD];

function leaks(where: string, text: string): void {
  for (const s of SECRETS) assert.ok(!text.includes(s), `${s} shows in ${where}`);
}

async function readAll(paths: string[]): Promise<string> {
  let text = "";
  for (const p of paths) {
    const bytes = await Deno.readFile(p).catch(() => new Uint8Array());
    // latin1 keeps every byte: a secret stored in any page reads back as itself
    text += new TextDecoder("latin1").decode(bytes);
  }
  return text;
}

Deno.test("query-string secrets appear in no API answer, log line or database", async () => {
  await using tmp = await tempDir();
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(req.url);
    const u = new URL(req.url);
    const ok = u.searchParams.get("api_key") === API_KEY && u.searchParams.get("lot") === LOT;
    return new Response(ok ? "ok" : "wrong key", { status: ok ? 200 : 403 });
  });
  const port = server.addr.port;
  const monitor = await startMonitor({ dataDir: `${tmp.path}/mon` });
  try {
    const config = `${tmp.path}/tasks.yaml`;
    await Deno.writeTextFile(
      config,
      `monitors:
  - { address: 127.0.0.1:${monitor.port}, name: local }
defaults:
  secret_params: [lot]
targets:
  api:
    HTTP:
      url: "http://user:${PASSWORD}@127.0.0.1:${port}/v1/items?api_key=${API_KEY}&lot=${LOT}&page=2"
      frequency: 1
  down:
    HTTP: { url: "http://127.0.0.1:${freeTcpPort()}/feed?token=${TOKEN}", frequency: 1 }
`,
    );
    const db = `${tmp.path}/netmon.db`;
    await using manager = startManager(config, { db });
    const line = await manager.waitFor(/API and dashboard on http:\/\/\S+\//, 30_000);
    const base = line.match(/(http:\/\/\S+)\/$/)![1]!;

    // the live stream, from before the first results
    const ac = new AbortController();
    const events = await fetch(`${base}/api/v1/events`, { signal: ac.signal });
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    let sse = "";
    await manager.waitFor(/HTTP URL: .*page=2.*Status Code: 200/, 30_000);
    await manager.waitFor(/HTTP URL: http:\/\/127\.0\.0\.1:\d+\/feed\?token=\*\*\*.*Error/, 30_000);
    for (let i = 0; i < 200 && !(/"api\/HTTP"/.test(sse) && /"down\/HTTP"/.test(sse)); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      sse += value;
    }
    ac.abort();
    assert.match(sse, /event: result/);
    assert.match(sse, /api_key=\*\*\*&lot=\*\*\*&page=2/, "masked, the rest kept");
    leaks("the event stream", sse);

    // the check itself used the real URL
    assert.ok(seen.some((u) => u.includes(`api_key=${API_KEY}&lot=${LOT}`)), seen.join("\n"));

    for (const path of ["/api/v1/config", "/api/v1/results?limit=1000", "/api/v1/targets"]) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, path);
      leaks(path, await res.text());
    }
    const cfg = await (await fetch(`${base}/api/v1/config`)).text();
    assert.match(cfg, /api_key=\*\*\*/);
    const results = await (await fetch(`${base}/api/v1/results?check=api/HTTP&limit=5`)).json();
    assert.match(results.items[0].summary, /HTTP URL: http:\/\/user:\*\*\*@127\.0\.0\.1/);
    leaks("the manager's output", manager.lines.join("\n"));
    leaks("the monitor's output", monitor.proc.lines.join("\n"));
    leaks("the manager's SQLite files", await readAll([db, `${db}-wal`]));
    const spool = `${monitor.dataDir}/spool.db`;
    const spooled = await readAll([spool, `${spool}-wal`]);
    assert.ok(spooled.includes("api/HTTP"), "the spool holds the results");
    leaks("the monitor's spool", spooled);
  } finally {
    await monitor.proc.stop("SIGKILL");
    await server.shutdown();
  }
});
