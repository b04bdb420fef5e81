import assert from "node:assert/strict";
import { parseTcpParams } from "./tcp.ts";
import { ParamError } from "./types.ts";

Deno.test("parseTcpParams() defaults the host to the target and keeps the seed's keys", () => {
  const p = parseTcpParams({ port: 80, frequency: 2 }, "google.com");
  assert.deepEqual(p, {
    host: "google.com",
    port: 80,
    send: null,
    expect: null,
    tls: false,
    tls_verify: true,
    ca_file: null,
    server_name: "google.com",
    ip_protocol: "auto",
  });
  assert.equal(parseTcpParams({ server_address: "10.0.0.1", port: 53 }, "x").host, "10.0.0.1");
  assert.equal(parseTcpParams({ host: "[::1]", port: 53 }, "x").server_name, "::1");
});

Deno.test("parseTcpParams() names the field when the input is wrong", () => {
  const field = (raw: Record<string, unknown>) => {
    try {
      parseTcpParams(raw, "t");
    } catch (e) {
      assert.ok(e instanceof ParamError);
      return e.message;
    }
    assert.fail("no error");
  };
  assert.equal(field({}), "port: is required");
  assert.equal(field({ port: 70000 }), "port: must be at most 65535");
  assert.equal(field({ port: 0 }), "port: must be at least 1");
  assert.match(field({ port: 1, expect: "(" }), /^expect: is not a valid regular expression/);
  assert.match(field({ port: 1, send: "hex:0g" }), /^send: hex payload/);
  assert.match(field({ port: 1, "tls-verify": false }), /^tls-verify: .*did you mean "tls_verify"/);
  assert.match(field({ port: 1, host: "a", server_address: "b" }), /^server_address: give either/);
});
