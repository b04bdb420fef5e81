import assert from "node:assert/strict";
import { isLoopback } from "./net.ts";

Deno.test("isLoopback accepts localhost, ::1 and 127.0.0.0/8 and nothing that only looks like them", () => {
  for (const h of ["localhost", "::1", "127.0.0.1", "127.1.2.3", "127.255.255.255"]) {
    assert.equal(isLoopback(h), true, h);
  }
  for (
    const h of ["", "10.0.0.1", "0.0.0.0", "::", "128.0.0.1", "127.example.com", "127.0.0.1.nip.io"]
  ) {
    assert.equal(isLoopback(h), false, h);
  }
});
