import assert from "node:assert/strict";
import { freeDualPort, freeTcpPort, freeUdpPort } from "./ports.ts";

// The kernel hands a just-closed ephemeral port out again: among 1,500 draws
// from its ~28,000 ports a repeat is all but certain, and a fixture that takes
// one port twice (nginx's plain and TLS servers, CI of stop 25) cannot start.
Deno.test("the port helpers never hand the same port out twice", async () => {
  const ports: number[] = [];
  for (let i = 0; i < 500; i++) ports.push(freeTcpPort());
  for (let i = 0; i < 500; i++) ports.push(await freeUdpPort());
  for (let i = 0; i < 500; i++) {
    ports.push(await freeDualPort(["127.0.0.1", "::1"], { udp: false }));
  }
  assert.equal(new Set(ports).size, ports.length);
});
