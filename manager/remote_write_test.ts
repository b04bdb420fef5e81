import assert from "node:assert/strict";
import protobuf from "protobufjs";
import { compress, uncompress } from "snappyjs";
import { encodeWriteRequest, RemoteWriter, type TimedSample } from "./remote_write.ts";

const Decoder = protobuf.parse(`syntax = "proto3";
message WriteRequest { repeated TimeSeries timeseries = 1; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
`).root.lookupType("WriteRequest");

interface Decoded {
  timeseries: {
    labels: { name: string; value: string }[];
    samples: { value: number; timestamp: number }[];
  }[];
}

function decode(body: Uint8Array): Decoded {
  return Decoder.toObject(Decoder.decode(uncompress(body)), { longs: Number }) as Decoded;
}

const sample = (t: number, target = "web"): TimedSample => ({
  name: "probe_success",
  labels: { target, monitor: "m" },
  value: 1,
  t,
});

/** A real HTTP endpoint answering each request with the next status of `statuses` (then 204). */
function endpoint(statuses: number[]) {
  const bodies: { headers: Headers; body: Decoded }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    bodies.push({ headers: req.headers, body: decode(new Uint8Array(await req.arrayBuffer())) });
    const status = statuses.shift() ?? 204;
    return new Response(status === 204 ? null : "nope", { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/api/v1/write`,
    bodies,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

async function until(what: string, ok: () => boolean) {
  for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

Deno.test("encodeWriteRequest() groups samples into series with sorted labels and ordered samples", () => {
  const d = decode(compress(encodeWriteRequest([sample(2000), sample(1000), sample(1500, "db")])));
  assert.equal(d.timeseries.length, 2);
  const web = d.timeseries.find((s) => s.labels.some((l) => l.value === "web"))!;
  assert.deepEqual(web.labels.map((l) => l.name), ["__name__", "monitor", "target"]);
  assert.deepEqual(web.samples.map((s) => s.timestamp), [1000, 2000]);
});

Deno.test("RemoteWriter sends remote-write 1.0 headers and retries 5xx and 429 until accepted", async () => {
  await using ep = endpoint([503, 429]);
  const w = new RemoteWriter(
    {
      url: ep.url,
      headers: { "X-Scope-OrgID": "t1" },
      basicAuth: { username: "u", password: { value: "p" } },
    },
    { batchWaitMs: 10, minBackoffMs: 10 },
  );
  w.enqueue([sample(1000), sample(2000)]);
  await until("the third try", () => w.stats.sent === 2);
  await w.stop();
  assert.equal(ep.bodies.length, 3);
  const h = ep.bodies[2]!.headers;
  assert.equal(h.get("content-encoding"), "snappy");
  assert.equal(h.get("content-type"), "application/x-protobuf");
  assert.equal(h.get("x-prometheus-remote-write-version"), "0.1.0");
  assert.equal(h.get("x-scope-orgid"), "t1");
  assert.equal(h.get("authorization"), `Basic ${btoa("u:p")}`);
  // the retried batch is the same batch
  assert.deepEqual(ep.bodies[0]!.body, ep.bodies[2]!.body);
  assert.deepEqual(w.stats, {
    url: ep.url,
    sent: 2,
    failedRequests: 2,
    dropped: 0,
    rejected: 0,
    queued: 0,
  });
});

Deno.test("RemoteWriter halves a batch refused with a 4xx and drops only the refused sample", async () => {
  // refuses every request holding t=13, as Prometheus refuses a request with one sample out of order
  const accepted: number[] = [];
  let requests = 0;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      requests++;
      const times = decode(new Uint8Array(await req.arrayBuffer())).timeseries
        .flatMap((s) => s.samples.map((x) => x.timestamp));
      if (times.includes(13)) return new Response("out of order sample", { status: 400 });
      accepted.push(...times);
      return new Response(null, { status: 204 });
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}/api/v1/write`;
  const w = new RemoteWriter({ url, headers: {} }, { batchWaitMs: 10 });
  w.enqueue([10, 11, 12, 13, 14, 15, 16, 17].map((t) => sample(t)));
  await until("the batch handled", () => w.stats.sent + w.stats.rejected === 8);
  await w.stop();
  assert.deepEqual(accepted.sort((a, b) => a - b), [10, 11, 12, 14, 15, 16, 17]);
  assert.equal(w.stats.rejected, 1);
  assert.equal(w.stats.queued, 0);
  // 8 → 4+4 → (2+2) → (1+1): seven requests instead of eight single ones
  assert.equal(requests, 7);
  assert.equal(w.stats.failedRequests, 4);
});

Deno.test("RemoteWriter drops the oldest samples past its bound and sends the newest once the endpoint is up", async () => {
  // nothing listens on this port until the endpoint starts on it
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const url = `http://127.0.0.1:${port}/api/v1/write`;
  const w = new RemoteWriter({ url, headers: {} }, {
    maxQueue: 5,
    batchSize: 100,
    batchWaitMs: 10,
    minBackoffMs: 10,
    maxBackoffMs: 50,
  });
  w.enqueue([sample(1)]);
  await until("a failed try", () => w.stats.failedRequests > 0);
  // the batch in flight (t=1) is kept; the queue behind it holds the newest 5 of 8
  w.enqueue([2, 3, 4, 5, 6, 7, 8, 9].map((t) => sample(t)));
  assert.equal(w.stats.dropped, 3);
  assert.equal(w.stats.queued, 6);
  const bodies: number[][] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const d = decode(new Uint8Array(await req.arrayBuffer()));
    bodies.push(d.timeseries.flatMap((s) => s.samples.map((x) => x.timestamp)));
    return new Response(null, { status: 204 });
  });
  await until("everything sent", () => w.stats.queued === 0);
  await w.stop();
  await server.shutdown();
  assert.deepEqual(bodies.flat(), [1, 5, 6, 7, 8, 9]);
  assert.equal(w.stats.sent, 6);
});
