import assert from "node:assert/strict";
import { Monitor } from "../../monitor/monitor.ts";
import { freeTcpPort } from "../../tests/helpers/ports.ts";
import { startQuietManager } from "../../tests/helpers/manager.ts";
import { tempDir } from "../../tests/helpers/proc.ts";
import { startHttp } from "./server.ts";

const SLOW_CLIENTS = 10;
const QUEUE_BYTES = 64 * 1024;

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("SSE clients that never read are held to their queue bound, closed and forgotten", async () => {
  await using tmp = await tempDir();
  const monitorPort = freeTcpPort();
  const monitor = await Monitor.start({ port: monitorPort, dataDir: `${tmp.path}/mon` });
  // hundreds of results a second: closed loopback ports answer at once
  const checks = Array.from(
    { length: 5 },
    (_, i) => `  c${i}:\n    TCP: { host: 127.0.0.1, port: ${freeTcpPort()}, frequency: 0.01 }`,
  ).join("\n");
  await using q = await startQuietManager(
    `monitors:\n  - { address: 127.0.0.1:${monitorPort}, name: fast }\ntargets:\n${checks}\n`,
  );
  const http = await startHttp(q.manager, {
    hostname: "127.0.0.1",
    port: 0,
    token: "",
    sseQueueBytes: QUEUE_BYTES,
  });
  const live = http.api.live;
  const port = Number(new URL(http.url).port);
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < SLOW_CLIENTS; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.write(
        new TextEncoder().encode(`GET /api/v1/events HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`),
      );
      conns.push(c); // and never read from it
    }
    await until("the streams to open", () => live.clients === SLOW_CLIENTS, 15_000);
    let largest = 0;
    await until("every slow client to be closed", () => {
      for (const n of live.queuedBytes()) {
        largest = Math.max(largest, n);
        assert.ok(n <= live.maxQueueBytes, `a queue held ${n} bytes, over ${live.maxQueueBytes}`);
      }
      return live.slowClosed >= SLOW_CLIENTS;
    });
    assert.equal(live.maxQueueBytes, QUEUE_BYTES);
    assert.ok(largest > QUEUE_BYTES / 2, `the queues filled up (largest ${largest} bytes)`);
    // after a grace period to read the last event, nothing of theirs is kept
    await until("their queues to be dropped", () => live.queuedBytes().length === 0, 30_000);
    assert.equal(live.clients, 0);
    // and the server ended their streams: what the kernel buffered, then the end — the
    // connection's (EOF, reset) or the response's (the last chunk; Deno keeps the
    // connection open after it, and EventSource reconnects)
    const LAST_CHUNK = "0\r\n\r\n";
    for (const c of conns) {
      const buf = new Uint8Array(65536);
      let timedOut = false;
      const deadline = setTimeout(() => {
        timedOut = true;
        c.close();
      }, 30_000);
      let total = 0;
      let tail = "";
      try {
        for (let n = await c.read(buf); n !== null; n = await c.read(buf)) {
          total += n;
          tail = (tail + new TextDecoder().decode(buf.subarray(0, n))).slice(-LAST_CHUNK.length);
          if (tail === LAST_CHUNK) break;
        }
      } catch (e) {
        // a reset is an end too; a close by the deadline above is not
        assert.ok(!timedOut && e instanceof Deno.errors.ConnectionReset, `${e}`);
      } finally {
        clearTimeout(deadline);
      }
      assert.ok(total > 0, "the stream had started");
    }
    // a client that reads still gets events
    const res = await fetch(`${http.url}/api/v1/events`);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /event: hello/);
    await reader.cancel();
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed above */ }
    }
    await http.close();
    await monitor.stop();
  }
});
