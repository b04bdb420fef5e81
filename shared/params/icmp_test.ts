import assert from "node:assert/strict";
import { parseIcmpParams } from "./icmp.ts";

Deno.test("parseIcmpParams() defaults to 3 pings of the target and bounds every number", () => {
  assert.deepEqual(parseIcmpParams({ frequency: 2 }, "host.test"), {
    server_address: "host.test",
    count: 3,
    interval_ms: 200,
    payload_size: 56,
    ttl: 64,
    max_loss_percent: 100,
    ip_protocol: "auto",
  });
  assert.throws(() => parseIcmpParams({ count: 0 }, "x"), /^ParamError: count: must be at least 1/);
  assert.throws(() => parseIcmpParams({ ttl: 256 }, "x"), /ttl: must be at most 255/);
  assert.throws(() => parseIcmpParams({ count: 1.5 }, "x"), /count: must be a whole number/);
  assert.throws(() => parseIcmpParams({ server_address: "224.0.0.1" }, "x"), /allow_special/);
  assert.throws(() => parseIcmpParams({ cnt: 2 }, "x"), /cnt: unknown parameter/);
});
