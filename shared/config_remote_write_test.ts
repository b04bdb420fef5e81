import assert from "node:assert/strict";
import { configErrorOf } from "../tests/helpers/config_error.ts";
import { parseConfig } from "./config.ts";

const HEAD = `monitors:
  - {address: "127.0.0.1:54322", name: a}
targets: {web: {TCP: {port: 80}}}
`;

Deno.test("parseConfig() reads remote_write endpoints with headers and basic auth", () => {
  const c = parseConfig(
    HEAD + `remote_write:
  - url: http://127.0.0.1:9090/api/v1/write
  - url: https://mimir.example/api/v1/push
    headers: {X-Scope-OrgID: netmon}
    basic_auth: {username: u, password_file: /etc/pw}
  - {url: "https://vm.example/api/v1/write", basic_auth: {username: v, password: secret}}
`,
    "tasks.yaml",
  );
  assert.deepEqual(c.remoteWrite, [
    { url: "http://127.0.0.1:9090/api/v1/write", headers: {} },
    {
      url: "https://mimir.example/api/v1/push",
      headers: { "X-Scope-OrgID": "netmon" },
      basicAuth: { username: "u", password: { file: "/etc/pw" } },
    },
    {
      url: "https://vm.example/api/v1/write",
      headers: {},
      basicAuth: { username: "v", password: { value: "secret" } },
    },
  ]);
  assert.equal(parseConfig(HEAD, "tasks.yaml").remoteWrite, undefined);
});

Deno.test("parseConfig() points at the line and field of a remote_write mistake", () => {
  const cases: [string, number, string, RegExp][] = [
    ["remote_write: {url: x}\n", 4, "remote_write", /must be a list/],
    ["remote_write:\n  - headers: {}\n", 5, "remote_write[0].url", /is required/],
    ["remote_write:\n  - url: ftp://x/?token=s3cret\n", 5, "remote_write[0].url", /http:\/\//],
    [
      "remote_write:\n  - {url: 'http://a/w', urls: 1}\n",
      5,
      "remote_write[0].urls",
      /did you mean "url"/,
    ],
    [
      "remote_write:\n  - url: http://a/w\n    headers: {Content-Type: text/plain}\n",
      6,
      "remote_write[0].headers.Content-Type",
      /set by netmon/,
    ],
    [
      "remote_write:\n  - url: http://a/w\n    basic_auth: {username: u}\n",
      6,
      "remote_write[0].basic_auth",
      /give one of password, password_file/,
    ],
    [
      "remote_write:\n  - url: http://a/w\n    basic_auth: {password: p}\n",
      6,
      "remote_write[0].basic_auth.username",
      /is required/,
    ],
    [
      "remote_write:\n  - url: http://a/w\n  - url: http://a/w\n",
      6,
      "remote_write[1].url",
      /listed twice/,
    ],
  ];
  for (const [yaml, line, field, reason] of cases) {
    const e = configErrorOf(HEAD + yaml);
    assert.equal(e.field, field, yaml);
    assert.equal(e.line, line, yaml);
    assert.match(e.reason, reason, yaml);
    assert.doesNotMatch(e.message, /s3cret/);
  }
});
