/** `monitors:` entries for monitors that dial in (issue 15): a name and no address. */
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../shared/config.ts";

const TARGETS = `targets:\n  x:\n    TCP: { host: 127.0.0.1, port: 9 }\n`;

Deno.test("a monitors: entry with a name and no address is a dial-in monitor with its labels", () => {
  const c = parseConfig(
    `monitors:\n  - name: branch-1\n    labels: [office]\n  - address: 10.0.0.5:54322\n${TARGETS}`,
    "t.yaml",
  );
  assert.deepEqual(c.monitors[0], {
    name: "branch-1",
    host: "",
    port: 0,
    address: "",
    labels: ["office"],
    dialIn: true,
  });
  assert.equal(c.monitors[1]!.dialIn, undefined);
});

Deno.test("a dial-in entry refuses TLS dialing keys and a taken name; an entry with neither still says what to give", () => {
  const refuse = (yaml: string, re: RegExp) =>
    assert.throws(
      () => parseConfig(yaml + TARGETS, "t.yaml"),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  refuse(
    `monitors:\n  - name: b\n    fingerprint: "${"AB".repeat(32)}"\n`,
    /monitors\[0\]\.fingerprint: applies to a monitor the manager dials .*--tls-fingerprint/,
  );
  refuse(
    `monitors:\n  - address: 10.0.0.5:1\n    name: b\n  - name: b\n`,
    /monitors\[1\]\.name: "b" is used by another monitor/,
  );
  refuse(
    `monitors:\n  - labels: [x]\n`,
    /monitors\[0\]\.address: is required \(host:port, or ip and port; or only a name for a monitor that dials in\)/,
  );
});
