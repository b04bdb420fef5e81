import assert from "node:assert/strict";
import type { CheckResult, DetailValue } from "../../shared/checks.ts";
import { mulberry32 } from "../../tests/helpers/prng.ts";
import { taskIdOf } from "../../shared/task_id.ts";
import { decodeBody, decodeTask, encodeBody, encodeTask, familyKey, ShapeBook } from "./compact.ts";

/** What schema 2 gave back: the JSON round trip of summary and metrics. */
const asSchema2 = (r: CheckResult) => JSON.parse(JSON.stringify([r.summary, r.metrics]));

Deno.test("a result's summary and metrics come back as schema 2's JSON gave them, through every shape they take", () => {
  const rand = mulberry32(17);
  const book = new ShapeBook();
  const shapes = new Set<unknown>();
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  for (let i = 0; i < 5000; i++) {
    const latencyMs = rand() < 0.1 ? null : rand() * 50;
    const durationMs = pick([rand() * 100, 0, 5000]);
    const metrics: Record<string, number> = {
      probe_success: pick([0, 1]),
      probe_duration_seconds: pick([durationMs / 1000, rand()]),
      netmon_tcp_connect_seconds: latencyMs === null ? 0 : latencyMs / 1000,
      probe_http_version: 1.1,
      odd: pick([NaN, Infinity, -0, -17, 2 ** 60, -(2 ** 40), 0.1 + 0.2, 7]),
    };
    if (rand() < 0.05) {
      for (let k = 0; k < 100; k++) metrics[`m${k}`] = rand() < 0.5 ? k : rand();
    }
    const r: CheckResult = {
      seq: i,
      taskId: "t",
      monitorId: "m",
      checkId: "x/TCP",
      target: "x",
      type: "TCP",
      startedAt: 0,
      durationMs,
      up: metrics.probe_success === 1,
      latencyMs,
      summary: pick([
        `TCP Port: 10.0.0.1 - Port 80 - Open, Connect: ${(latencyMs ?? 0).toFixed(2)} ms`,
        `Status Code: ${pick([200, 301, 404])}, Body: ${pick(["é ☃", "", "ok"])} ${i % 3}`,
        "",
        `${rand()}`,
      ]),
      metrics,
      details: pick<Record<string, DetailValue>>([{}, { state: "open" }, {
        answers: ["a", "b"],
        n: null,
        ok: true,
      }]),
      ...(rand() < 0.2 ? { error: pick(["refused", "timeout after 5000 ms"]) } : {}),
    };
    const { shape } = book.pick(familyKey(3, r), 3, r);
    shapes.add(shape);
    const { mid, body } = encodeBody(r, shape);
    // the shape as the store keeps it: through JSON
    const kept = JSON.parse(JSON.stringify(shape));
    const back = decodeBody(mid, body, kept, latencyMs, durationMs);
    assert.deepEqual([back.summary, back.metrics], asSchema2(r), `result ${i}`);
  }
  assert.ok(shapes.size < 200, `the shapes stay few: ${shapes.size}`);
});

Deno.test("a series' varying number in its summary is framed out of its first shape", () => {
  const book = new ShapeBook();
  const r = (ms: string) =>
    ({
      up: true,
      summary: `TCP Port: 10.1.2.3 - Port 8080 - Open, Connect: ${ms} ms`,
      metrics: {},
    }) as CheckResult;
  const first = book.pick(familyKey(1, r("0.12")), 1, r("0.12"));
  const again = book.pick(familyKey(1, r("13.50")), 1, r("13.50"));
  assert.equal(again.shape, first.shape, "one shape for both");
  assert.equal(first.shape.head, "TCP Port: 10.1.2.3 - Port 8080 - Open, Connect: ");
  assert.equal(encodeBody(r("13.50"), first.shape).mid, "13.50");
});

Deno.test("task IDs: a UUID in 16 bytes, any other text as itself", () => {
  const uuid = crypto.randomUUID();
  assert.equal(encodeTask(uuid).length, 16);
  for (const id of [uuid, "", "t1", "exactly15chars!", "x".repeat(16), uuid.toUpperCase(), "é☃"]) {
    assert.equal(decodeTask(encodeTask(id)), id);
    if (id !== uuid) assert.notEqual(encodeTask(id).length, 16, id);
  }
});

Deno.test("task IDs made of the epoch take no bytes; any other, or another epoch's, keeps its bytes", () => {
  const epoch = crypto.randomUUID();
  const made = taskIdOf(epoch, 7)!;
  assert.equal(encodeTask(made, epoch, 7).length, 0);
  assert.equal(decodeTask(encodeTask(made, epoch, 7), epoch, 7), made);
  // the same ID under another seq or epoch is not "made of" them: it is stored whole
  for (const [e, seq] of [[epoch, 8], [crypto.randomUUID(), 7], ["", 7]] as const) {
    assert.equal(encodeTask(made, e, seq).length, 16);
    assert.equal(decodeTask(encodeTask(made, e, seq), e, seq), made);
  }
  assert.throws(() => decodeTask(new Uint8Array(0), "", 7), /needs its epoch/);
});
