import assert from "node:assert/strict";
import {
  type Command,
  HELP_OPTION,
  helpText,
  intOption,
  logLevel,
  parseOptions,
  UsageError,
} from "./cli.ts";

const cmd = {
  name: "demo",
  summary: "a command for the tests",
  usage: "[FILE] [options]",
  description: "Does nothing.",
  commands: [["go TARGET", "go there"]],
  options: {
    port: { type: "string", value: "N", help: "the port\n(default 1)" },
    host: { type: "string", multiple: true, value: "NAME", help: "a host (repeatable)" },
    quiet: { type: "boolean", help: "say less" },
    ...HELP_OPTION,
  },
  footer: "Exit status: 0.",
  run: () => Promise.resolve(0),
} as const satisfies Command;

Deno.test("parseOptions() reads the command's own table, positionals anywhere", () => {
  const { values, positionals } = parseOptions(cmd, [
    "--host",
    "a",
    "f.yaml",
    "--port=8",
    "--host",
    "b",
    "-h",
  ]);
  const port: string | undefined = values.port;
  const hosts: string[] | undefined = values.host;
  const quiet: boolean | undefined = values.quiet;
  assert.deepEqual([port, hosts, quiet], ["8", ["a", "b"], undefined]);
  assert.deepEqual({ ...values }, { host: ["a", "b"], port: "8", help: true });
  assert.deepEqual(positionals, ["f.yaml"]);
});

Deno.test("parseOptions() throws UsageError (exit 2) naming the flag and the help", () => {
  const message = (args: string[]) => {
    try {
      parseOptions(cmd, args);
    } catch (e) {
      assert.ok(e instanceof UsageError);
      assert.equal(e.exitCode, 2);
      return e.message;
    }
    assert.fail("accepted");
  };
  assert.equal(message(["--nope"]), "Unknown option '--nope'; run 'netmon help demo'");
  assert.match(
    message(["--port"]),
    /^Option '--port <value>' argument missing; run 'netmon help demo'$/,
  );
  assert.match(message(["--quiet=yes"]), /--quiet/);
});

Deno.test("helpText() lists usage, description, subcommands, every option and the footer", () => {
  assert.equal(
    helpText(cmd),
    `Usage: netmon demo [FILE] [options]

Does nothing.

Commands:
  go TARGET  go there

Options:
  --port N     the port
               (default 1)
  --host NAME  a host (repeatable)
  --quiet      say less
  -h, --help   show this help

Exit status: 0.`,
  );
});

Deno.test("intOption() and logLevel() name the flag and the allowed values", () => {
  assert.equal(intOption({}, "port", 7, 65535), 7);
  assert.equal(intOption({ port: "80" }, "port", 7, 65535), 80);
  assert.throws(
    () => intOption({ port: "8.5" }, "port", 7, 65535),
    (e) =>
      e instanceof UsageError &&
      e.message === '--port must be a whole number from 0 to 65535, got "8.5"',
  );
  assert.throws(
    () => intOption({ n: "0" }, "n", 1, 9, 1),
    /--n must be a whole number from 1 to 9/,
  );
  assert.equal(logLevel({ "log-level": "debug" }, "info"), "debug");
  assert.throws(() => logLevel({ "log-level": "loud" }, "info"), /--log-level must be debug, info/);
});
