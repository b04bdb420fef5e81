import assert from "node:assert/strict";
import { parseDnsParams } from "./dns.ts";

Deno.test("parseDnsParams() defaults the query to the target or the seed's yahoo.com", () => {
  const p = parseDnsParams({ server_address: "8.8.8.8", frequency: 1 }, "google.com");
  assert.deepEqual(p, {
    server_address: "8.8.8.8",
    port: 53,
    query_name: "google.com",
    query_type: "A",
    transport: "udp",
    recursion_desired: true,
    valid_rcodes: ["NOERROR"],
    expect_answers: [],
    ip_protocol: "auto",
  });
  assert.equal(parseDnsParams({}, "8.8.8.8").query_name, "yahoo.com");
  assert.equal(parseDnsParams({}, "8.8.8.8").server_address, null);
  assert.equal(
    parseDnsParams({ query_type: "ptr", query_name: "192.0.2.1" }, "x").query_name,
    "1.2.0.192.in-addr.arpa",
  );
  assert.throws(() => parseDnsParams({ query_type: "WKS" }, "x"), /query_type: must be one of/);
  assert.throws(() => parseDnsParams({ valid_rcodes: ["OK"] }, "x"), /unknown rcode "OK"/);
  assert.throws(() => parseDnsParams({ transport: "doh" }, "x"), /transport: must be one of/);
});
