import assert from "node:assert/strict";
import { configErrorOf } from "../tests/helpers/config_error.ts";
import { checksForMonitor, ConfigError, parseConfig, spreadChecks } from "./config.ts";

/** The seed's configuration, key for key, in `tasks.yaml` form. */
const SEED = `monitors:
  - ip: 127.0.0.1
    port: 54322
targets:
  google.com:
    HTTP: {url: http://www.google.com, frequency: 2}
    HTTPS: {url: https://www.google.com, frequency: 2}
    ICMP: {server_address: 8.8.8.8, frequency: 2}
    DNS: {server_address: 8.8.8.8, frequency: 1}
    NTP: {server_address: pool.ntp.org, frequency: 2}
    TCP: {port: 80, frequency: 2}
    UDP: {server_address: 8.8.8.8, port: 53, frequency: 2}
  oregonstate.edu:
    HTTP: {url: http://oregonstate.edu/, frequency: 2}
    HTTPS: {url: https://oregonstate.edu/, frequency: 2}
    ICMP: {server_address: 128.193.0.10, frequency: 2}
    DNS: {server_address: 128.193.0.10, frequency: 1}
    NTP: {server_address: pool.ntp.org, frequency: 2}
    TCP: {port: 80, frequency: 2}
    UDP: {server_address: 128.193.0.10, port: 53, frequency: 2}
`;

const MONITORS = `monitors:
  - address: 127.0.0.1:54322
    name: local
    labels: [eu, lab]
  - address: "[::1]:54323"
    name: six
`;

function assertError(
  text: string,
  line: number,
  column: number,
  field: string,
  reason: RegExp,
): ConfigError {
  const e = configErrorOf(text);
  assert.deepEqual(
    { line: e.line, column: e.column, field: e.field, file: e.file },
    { line, column, field, file: "tasks.yaml" },
    e.message,
  );
  assert.match(e.reason, reason);
  assert.equal(
    e.message,
    `tasks.yaml:${line}:${column}: ${field === "" ? "" : `${field}: `}${e.reason}`,
  );
  return e;
}

Deno.test("parseConfig() reads the seed's configuration into 14 checks", () => {
  const config = parseConfig(SEED, "tasks.yaml");
  assert.deepEqual(config.monitors, [
    {
      name: "127.0.0.1:54322",
      host: "127.0.0.1",
      port: 54322,
      address: "127.0.0.1:54322",
      labels: [],
    },
  ]);
  assert.deepEqual(config.targets, ["google.com", "oregonstate.edu"]);
  assert.equal(config.checks.length, 14);
  assert.deepEqual(
    config.checks.map((c) => [c.spec.id, c.spec.intervalMs, c.spec.timeoutMs]),
    ["google.com", "oregonstate.edu"].flatMap((t) => [
      [`${t}/HTTP`, 2000, 1600],
      [`${t}/HTTPS`, 2000, 1600],
      [`${t}/ICMP`, 2000, 1600],
      [`${t}/DNS`, 1000, 800],
      [`${t}/NTP`, 2000, 1600],
      [`${t}/TCP`, 2000, 1600],
      [`${t}/UDP`, 2000, 1600],
    ]),
  );
  const tcp = config.checks.find((c) => c.spec.id === "google.com/TCP")!;
  assert.equal(tcp.spec.type, "TCP");
  assert.equal(tcp.spec.target, "google.com");
  assert.equal(tcp.spec.params.host, "google.com");
  assert.equal(tcp.spec.params.port, 80);
  assert.ok(config.checks.every((c) => c.placement.mode === "all"));
  assert.equal(checksForMonitor(config, "127.0.0.1:54322").length, 14);
});

Deno.test("parseConfig() applies defaults, lower-case types and placements", () => {
  const config = parseConfig(
    MONITORS + `defaults:
  frequency: 30
  monitors: spread
targets:
  a.example:
    monitors: [lab]
    tcp: {port: 22}
    ICMP:
    UDP: {port: 53, monitors: all, frequency: 0.5, timeout: 0.25}
  b.example:
    TCP: {port: 443, frequency: 120}
`,
    "tasks.yaml",
  );
  assert.deepEqual(config.monitors[1], {
    name: "six",
    host: "::1",
    port: 54323,
    address: "[::1]:54323",
    labels: [],
  });
  assert.deepEqual(
    config.checks.map((c) => [c.spec.id, c.spec.intervalMs, c.spec.timeoutMs, c.placement]),
    [
      ["a.example/TCP", 30000, 10000, { mode: "select", names: ["local"] }],
      ["a.example/ICMP", 30000, 10000, { mode: "select", names: ["local"] }],
      ["a.example/UDP", 500, 250, { mode: "all" }],
      ["b.example/TCP", 120000, 10000, { mode: "spread" }],
    ],
  );
  assert.deepEqual(checksForMonitor(config, "local").map((s) => s.id), [
    "a.example/TCP",
    "a.example/ICMP",
    "a.example/UDP",
  ]);
  assert.deepEqual(checksForMonitor(config, "six").map((s) => s.id), ["a.example/UDP"]);
});

Deno.test("parseConfig() reports a YAML syntax error at its position", () => {
  assertError(
    MONITORS + "targets:\n  x: {TCP: {port: 80}\n  y: 1\n",
    9,
    3,
    "",
    /^Flow map in block collection must be sufficiently indented/,
  );
});

Deno.test("parseConfig() rejects a duplicate key with the line of the first", () => {
  assertError(
    MONITORS + "targets:\n  x:\n    TCP: {port: 80}\n    TCP: {port: 81}\n",
    10,
    5,
    "targets.x.TCP",
    /^duplicate key \(first set on line 9\)$/,
  );
});

Deno.test("parseConfig() rejects an unknown check type with a did-you-mean hint", () => {
  assertError(
    MONITORS + "targets:\n  x:\n    HTPP: {url: http://x/}\n",
    9,
    5,
    "targets.x.HTPP",
    /^unknown check type \(did you mean "HTTP"\?\); known: HTTP, HTTPS/,
  );
});

Deno.test("parseConfig() rejects a bad port at the port's key, via the TCP parser", () => {
  const e = assertError(
    MONITORS + "targets:\n  google.com:\n    TCP: {frequency: 2,\n          port: 70000}\n",
    10,
    11,
    "targets.google.com.TCP.port",
    /^must be at most 65535$/,
  );
  assert.equal(e.message, "tasks.yaml:10:11: targets.google.com.TCP.port: must be at most 65535");
  assertError(
    MONITORS + "targets:\n  x:\n    TCP:\n      frequency: 2\n",
    10,
    7,
    "targets.x.TCP.port",
    /^is required$/,
  );
});

Deno.test("parseConfig() rejects a timeout that is not below the frequency", () => {
  assertError(
    MONITORS + "targets:\n  x:\n    TCP: {port: 80, frequency: 2, timeout: 2}\n",
    9,
    44,
    "targets.x.TCP.timeout",
    /^must be below frequency \(2 s\)$/,
  );
  assertError(
    MONITORS + "defaults:\n  timeout: 5\ntargets:\n  x:\n    TCP: {port: 80, frequency: 3}\n",
    8,
    12,
    "defaults.timeout",
    /^must be below the frequency of targets\.x\.TCP \(3 s\)/,
  );
});

Deno.test("parseConfig() rejects a monitor name that no monitor has", () => {
  assertError(
    MONITORS + "targets:\n  x:\n    monitors: [local, lbo]\n    TCP: {port: 80}\n",
    9,
    23,
    "targets.x.monitors",
    /^no monitor is named or labelled "lbo" \(did you mean "lab"\?\); known: local, eu, lab, six/,
  );
});

Deno.test("parseConfig() requires the monitors list", () => {
  assertError(
    "# no monitors here\ntargets:\n  x:\n    TCP: {port: 80}\n",
    2,
    1,
    "monitors",
    /^is required/,
  );
  assertError(
    "monitors: []\ntargets:\n  x: {TCP: {port: 80}}\n",
    1,
    11,
    "monitors",
    /at least one/,
  );
});

Deno.test("parseConfig() accepts the seed's {ip, port} monitor form and checks its port", () => {
  const config = parseConfig(SEED, "tasks.yaml");
  assert.equal(config.monitors[0]!.address, "127.0.0.1:54322");
  assertError(
    "monitors:\n  - {ip: 127.0.0.1, port: 99999}\ntargets:\n  x: {TCP: {port: 80}}\n",
    2,
    27,
    "monitors[0].port",
    /^must be at most 65535$/,
  );
});

Deno.test("parseConfig() rejects unknown top-level keys and duplicate monitor names", () => {
  assertError(
    MONITORS + "target:\n  x: {TCP: {port: 80}}\n",
    7,
    1,
    "target",
    /^unknown top-level key \(did you mean "targets"\?\)/,
  );
  assertError(
    "monitors:\n  - {address: 'h:1', name: a}\n  - {address: 'h:2', name: a}\ntargets:\n  x: {TCP: {port: 80}}\n",
    3,
    28,
    "monitors[1].name",
    /is used by another monitor/,
  );
});

Deno.test("checksForMonitor keeps file order across all and chosen checks, and sees checks added to the list", () => {
  const config = parseConfig(
    `monitors:
  - {address: "127.0.0.1:54322", name: a}
  - {address: "127.0.0.1:54323", name: b}
targets:
  one: {monitors: [a], TCP: {port: 1}}
  two: {monitors: all, TCP: {port: 2}}
  three: {monitors: [b], TCP: {port: 3}}
  four: {monitors: [a, b], TCP: {port: 4}}
  five: {monitors: all, TCP: {port: 5}}
  six: {monitors: spread, TCP: {port: 6}}
`,
    "tasks.yaml",
  );
  const ids = (name: string) => checksForMonitor(config, name).map((s) => s.target);
  assert.deepEqual(ids("a"), ["one", "two", "four", "five"]);
  assert.deepEqual(ids("b"), ["two", "three", "four", "five"]);
  assert.deepEqual(ids("nobody"), ["two", "five"]);
  assert.deepEqual(spreadChecks(config).map((c) => c.spec.target), ["six"]);
  config.checks.push({ ...config.checks[0]!, placement: { mode: "select", names: ["b"] } });
  assert.deepEqual(ids("b"), ["two", "three", "four", "five", "one"]);
});
