import assert from "node:assert/strict";
import { parseNtpParams } from "./ntp.ts";

Deno.test("parseNtpParams() defaults the server to the target and the port to 123", () => {
  assert.deepEqual(parseNtpParams({ frequency: 2 }, "pool.ntp.org"), {
    server_address: "pool.ntp.org",
    port: 123,
    max_offset_ms: 1000,
    ip_protocol: "auto",
  });
  assert.throws(() => parseNtpParams({ "max-offset-ms": 5 }, "x"), /did you mean "max_offset_ms"/);
  assert.throws(
    () => parseNtpParams({ max_offset_ms: -1 }, "x"),
    /max_offset_ms: must be at least 0/,
  );
});
