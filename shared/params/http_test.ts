import assert from "node:assert/strict";
import { parseHttpParams } from "./http.ts";
import { parseHttpsParams } from "./https.ts";
import { ParamError } from "./types.ts";

Deno.test("parseHttpParams() fills in the seed's defaults", () => {
  const p = parseHttpParams({ url: "http://www.google.com", frequency: 2 }, "google.com");
  assert.equal(p.method, "GET");
  assert.equal(p.follow_redirects, true);
  assert.equal(p.max_redirects, 10);
  assert.deepEqual(p.valid_status_codes, [[100, 399]]);
  assert.equal(p.tls_verify, true);
  assert.equal(p.cert_expiry_days, 0);
  assert.equal(p.ip_protocol, "auto");
  assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
});

Deno.test("parseHttpParams() reads status codes, ranges and classes", () => {
  const p = parseHttpParams({ url: "http://x/", valid_status_codes: [404, "200-299", "5xx"] }, "x");
  assert.deepEqual(p.valid_status_codes, [[404, 404], [200, 299], [500, 599]]);
});

Deno.test("parseHttpParams() rejects bad input naming the field", () => {
  const field = (raw: Record<string, unknown>) => {
    try {
      parseHttpParams(raw, "x");
    } catch (e) {
      assert.ok(e instanceof ParamError);
      return e.field;
    }
    assert.fail("no ParamError");
  };
  assert.equal(field({}), "url");
  assert.equal(field({ url: "ftp://x/" }), "url");
  assert.equal(field({ url: "http://x/", valid_status_codes: ["20x"] }), "valid_status_codes");
  assert.equal(field({ url: "http://x/", body_regex: "(" }), "body_regex");
  assert.equal(field({ url: "http://x/", headers: ["a"] }), "headers");
  assert.equal(field({ url: "http://x/", follow_redirect: true }), "follow_redirect");
});

Deno.test("parseHttpsParams() requires an https URL", () => {
  assert.throws(() => parseHttpsParams({ url: "http://x/" }, "x"), ParamError);
  assert.equal(parseHttpsParams({ url: "https://x/" }, "x").url, "https://x/");
});

Deno.test("parseHttpParams() reads http_version in the forms people write it", () => {
  const versions = (v: unknown) => parseHttpParams({ url: "https://x/", http_version: v }, "x");
  assert.deepEqual(parseHttpParams({ url: "https://x/" }, "x").http_version, []);
  assert.deepEqual(versions(2).http_version, ["2"]);
  assert.deepEqual(versions("2.0").http_version, ["2"]);
  assert.deepEqual(versions(["HTTP/1.1", 2]).http_version, ["1.1", "2"]);
  assert.deepEqual(versions([1.0]).http_version, ["1.0"]);
  for (const bad of [3, "h2", ["1.1", "0.9"], { v: 2 }]) {
    assert.throws(
      () => versions(bad),
      (e) => e instanceof ParamError && e.field === "http_version",
      JSON.stringify(bad),
    );
  }
});
