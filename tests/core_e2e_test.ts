/**
 * End-to-end tests of the core (issue 2): a monitor and a manager as separate
 * processes through `./netmon`, a real nginx, the seed's output formats, the
 * reconnect after SIGKILL, a second manager taking over, and bad frames.
 */
import assert from "node:assert/strict";
import { startNginx } from "./fixtures/nginx.ts";
import { tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { RESULT_PREFIX, startManager, startMonitor, taskIdOf } from "./helpers/netmon.ts";

async function writeConfig(dir: string, monitorPort: number, nginxPort: number): Promise<string> {
  const closed = freeTcpPort();
  const path = `${dir}/tasks.yaml`;
  await Deno.writeTextFile(
    path,
    `monitors:
  - address: 127.0.0.1:${monitorPort}
targets:
  web:
    HTTP: { url: "http://127.0.0.1:${nginxPort}/", frequency: 1 }
    TCP: { host: 127.0.0.1, port: ${nginxPort}, frequency: 1 }
  nothing-here:
    TCP: { host: 127.0.0.1, port: ${closed}, frequency: 1 }
`,
  );
  return path;
}

Deno.test("manage prints seed-format results and status, and reconnects after the monitor is killed", async () => {
  await using tmp = await tempDir();
  await using nginx = await startNginx();
  const port = freeTcpPort();
  let monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
  const firstId = monitor.id;
  const config = await writeConfig(tmp.path, port, nginx.port);
  await using manager = startManager(config, {
    db: `${tmp.path}/netmon.db`,
    extra: ["--status-every", "1"],
  });
  try {
    await manager.waitFor(
      new RegExp(
        `Connected to monitoring service at 127\\.0\\.0\\.1:${port} \\(monitor ID: ${firstId}`,
      ),
    );
    await manager.waitFor(/^-----Distributing tasks for server: web-----$/);
    await manager.waitFor(/^-----Distributing tasks for server: nothing-here-----$/);
    const http = await manager.waitFor(/HTTP URL: /);
    assert.match(http, RESULT_PREFIX);
    assert.match(
      http,
      new RegExp(
        `Task ID: [0-9a-f-]{36}, HTTP URL: http://127\\.0\\.0\\.1:${nginx.port}/, HTTP server status: True, Status Code: 200`,
      ),
    );
    const open = await manager.waitFor(/TCP Port: 127\.0\.0\.1 - Port \d+ - Open/);
    assert.match(open, RESULT_PREFIX);
    assert.match(open, new RegExp(`Description: Port ${nginx.port} on 127\\.0\\.0\\.1 is open\\.`));
    const closed = await manager.waitFor(/TCP Port: 127\.0\.0\.1 - Port \d+ - Closed/);
    assert.match(closed, /Error: connection refused/);
    await manager.waitFor(/^Real-time status of monitoring services:$/);
    await manager.waitFor(new RegExp(`^127\\.0\\.0\\.1:${port}: Online`));

    // every run has its own task ID
    await manager.waitFor(/HTTP URL: /, 15_000, manager.lines.indexOf(http) + 1);
    const ids = manager.matching(RESULT_PREFIX).map(taskIdOf);
    assert.ok(ids.length >= 4);
    assert.equal(new Set(ids).size, ids.length);

    // SIGKILL the monitor: the manager notices and retries; a new monitor brings it back
    await monitor.proc.stop("SIGKILL");
    let mark = manager.mark;
    await manager.waitFor(new RegExp(`^127\\.0\\.0\\.1:${port}: Reconnecting`), 10_000, mark);
    monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
    assert.equal(monitor.id, firstId, "the monitor keeps its ID across restarts");
    mark = manager.mark;
    await manager.waitFor(new RegExp(`^127\\.0\\.0\\.1:${port}: Online`), 15_000, mark);
    mark = manager.mark;
    const after = await manager.waitFor(/HTTP URL: .*HTTP server status: True/, 15_000, mark);
    assert.match(after, RESULT_PREFIX);
  } finally {
    await monitor.proc.stop("SIGKILL");
  }
  const status = await manager.stop("SIGTERM");
  assert.equal(status.code, 0, "SIGTERM stops the manager cleanly");
});

Deno.test("a second manager takes over a monitor without the monitor restarting", async () => {
  await using tmp = await tempDir();
  await using nginx = await startNginx();
  const port = freeTcpPort();
  await using monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
  const config = await writeConfig(tmp.path, port, nginx.port);
  await using first = startManager(config, {
    db: `${tmp.path}/a.db`,
    extra: ["--status-every", "1"],
  });
  await first.waitFor(/HTTP URL: .*Status Code: 200/);
  await using second = startManager(config, {
    db: `${tmp.path}/b.db`,
    extra: ["--status-every", "1"],
  });
  await second.waitFor(new RegExp(`Connected to monitoring service at 127\\.0\\.0\\.1:${port}`));
  await second.waitFor(/HTTP URL: .*Status Code: 200/);
  // the first manager is told it was replaced, and does not fight back
  await first.waitFor(/replaced by the manager/);
  const mark = second.mark;
  await second.waitFor(/HTTP URL: .*Status Code: 200/, 15_000, mark);
  await second.waitFor(new RegExp(`^127\\.0\\.0\\.1:${port}: Online`), 5_000, mark);
  assert.equal(second.matching(/Disconnected from/).length, 0, "the second manager keeps its link");
  assert.equal(
    monitor.proc.matching(/listening on/).length,
    1,
    "the monitor process started once",
  );
});

Deno.test("garbage, a 10 MB frame and a half-sent frame leave the monitor serving its manager", async () => {
  await using tmp = await tempDir();
  await using nginx = await startNginx();
  const port = freeTcpPort();
  await using monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
  const config = await writeConfig(tmp.path, port, nginx.port);
  await using manager = startManager(config, {
    db: `${tmp.path}/m.db`,
    extra: ["--status-every", "1"],
  });
  await manager.waitFor(/HTTP URL: .*Status Code: 200/);

  const enc = new TextEncoder();
  // garbage
  const g = await Deno.connect({ hostname: "127.0.0.1", port });
  await g.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff garbage\n"));
  // 10 MB without a newline
  const big = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunk = new Uint8Array(1024 * 1024).fill(0x41);
  for (let i = 0; i < 10; i++) {
    try {
      await big.write(chunk);
    } catch {
      break; // the monitor closed it: that is the point
    }
  }
  // half a frame, then silence
  const half = await Deno.connect({ hostname: "127.0.0.1", port });
  await half.write(enc.encode('{"t":"auth","v":1,"managerId":"x"'));

  await monitor.proc.waitFor(/frame is not JSON|expected an auth/, 10_000);
  await monitor.proc.waitFor(/frame exceeds 1048576 bytes/, 10_000);
  await monitor.proc.waitFor(/no authentication from .* within|no frame from/, 10_000);
  for (const c of [g, big, half]) {
    try {
      c.close();
    } catch { /* closed by the monitor */ }
  }
  const mark = manager.mark;
  await manager.waitFor(/HTTP URL: .*Status Code: 200/, 15_000, mark);
  assert.equal(manager.matching(/Disconnected from/).length, 0, "the manager's link never dropped");
});

Deno.test("manage refuses a bad tasks.yaml with its file, line, column and field", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    path,
    `monitors:
  - address: 127.0.0.1:54322
targets:
  web:
    TCP: { host: 127.0.0.1, port: 70000, frequency: 1 }
`,
  );
  await using manager = startManager(path, { db: `${tmp.path}/m.db` });
  const status = await manager.exited();
  assert.equal(status.code, 1);
  const err = manager.lines.join("\n");
  assert.match(
    err,
    new RegExp(`${path}:5:\\d+: targets\\.web\\.TCP\\.port: must be at most 65535`),
  );
  assert.doesNotMatch(err, /^\s+at /m, "no stack trace");
});

Deno.test("an assignment of 5,000 checks reaches the monitor in parts", async () => {
  await using tmp = await tempDir();
  const port = freeTcpPort();
  await using monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
  const targets = Array.from(
    { length: 5000 },
    (_, i) => `  t${i}.example:\n    TCP: { host: 127.0.0.1, port: 9, frequency: 3600 }`,
  );
  const path = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    path,
    `monitors:\n  - address: 127.0.0.1:${port}\ntargets:\n${targets.join("\n")}\n`,
  );
  await using manager = startManager(path, { db: `${tmp.path}/m.db` });
  await monitor.proc.waitFor(/Assignment 1: 5000 checks \(5000 added/, 30_000);
  await manager.stop();
});
