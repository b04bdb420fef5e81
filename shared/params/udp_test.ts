import assert from "node:assert/strict";
import dnsPacket from "dns-packet";
import { Buffer } from "node:buffer";
import { parseUdpParams } from "./udp.ts";
import { parsePayload } from "./common.ts";

Deno.test("parseUdpParams() defaults port 53 to a DNS query and 123 to an SNTP request", () => {
  const dns = dnsPacket.decode(
    Buffer.from(parsePayload("payload", parseUdpParams({ port: 53 }, "h").payload)),
  );
  assert.equal(dns.type, "query");
  assert.deepEqual(dns.questions, [{ name: ".", type: "NS", class: "IN" }]);
  const ntp = parsePayload("payload", parseUdpParams({ port: 123 }, "h").payload);
  assert.equal(ntp.length, 48);
  assert.equal(ntp[0]! & 0x07, 3); // mode: client
  assert.equal(parseUdpParams({ port: 7 }, "h").payload, "");
  assert.throws(() => parseUdpParams({}, "h"), /port: is required/);
  assert.throws(() => parseUdpParams({ port: 7, expect: "(" }, "h"), /expect: not a valid/);
});
