/**
 * Dial-out over TLS (issue 15): monitors started with `--connect` verify the
 * manager's `--listen-monitors` certificate against a CA or a pinned
 * fingerprint, and refuse a manager whose certificate does not match; the
 * manager refuses to listen for monitors beyond loopback without a token.
 */
import assert from "node:assert/strict";
import { makeCerts } from "./fixtures/certs.ts";
import { Proc, tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { NETMON, startManager } from "./helpers/netmon.ts";
import { certFingerprint, formatFingerprint } from "../shared/tls.ts";

const TOKEN = "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9";

function dialer(name: string, dataDir: string, listen: string, tls: string[]): Proc {
  return Proc.start(
    [
      NETMON,
      "monitor",
      "--connect",
      listen,
      "--data",
      dataDir,
      "--name",
      name,
      "--token",
      TOKEN,
      ...tls,
    ],
    { name },
  );
}

Deno.test("monitors dialing a TLS --listen-monitors verify it by CA or pinned fingerprint, and refuse a wrong pin", async () => {
  await using tmp = await tempDir();
  await using certs = await makeCerts();
  const port = freeTcpPort();
  const listen = `127.0.0.1:${port}`;
  const cfg = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    cfg,
    `monitors:\n  - name: by-ca\n  - name: by-pin\n  - name: wrong-pin\n` +
      `targets:\n  self:\n    TCP: { host: 127.0.0.1, port: ${port}, frequency: 0.5 }\n`,
  );
  await using manager = startManager(cfg, {
    db: `${tmp.path}/m.db`,
    extra: [
      "--token",
      TOKEN,
      "--listen-monitors",
      listen,
      "--tls-cert",
      certs.server.cert,
      "--tls-key",
      certs.server.key,
    ],
  });
  await manager.waitFor(/monitors dial in at 127\.0\.0\.1:\d+/);
  const fp = formatFingerprint(await certFingerprint(await Deno.readTextFile(certs.server.cert)));
  await using byCa = dialer("by-ca", `${tmp.path}/a`, listen, ["--tls-ca", certs.ca.cert]);
  await using byPin = dialer("by-pin", `${tmp.path}/b`, listen, ["--tls-fingerprint", fp]);
  await using wrong = dialer("wrong-pin", `${tmp.path}/c`, listen, [
    "--tls-fingerprint",
    "AB:".repeat(31) + "AB",
  ]);
  await manager.waitFor(/Port \d+ on 127\.0\.0\.1 is open.*Monitor: by-ca$/, 20_000);
  await manager.waitFor(/Port \d+ on 127\.0\.0\.1 is open.*Monitor: by-pin$/, 20_000);
  await wrong.waitFor(
    /Manager at 127\.0\.0\.1:\d+: certificate fingerprint .* does not match/,
    20_000,
  );
  await byCa.stop("SIGTERM");
  await byPin.stop("SIGTERM");
  await wrong.stop("SIGTERM");
  await manager.stop("SIGTERM");
  assert.equal(
    manager.matching(/Monitor: wrong-pin$/).length,
    0,
    "the wrongly pinned monitor sent nothing",
  );
});

Deno.test("manage --listen-monitors beyond loopback without a token refuses to start, saying how to make one", async () => {
  await using tmp = await tempDir();
  const cfg = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    cfg,
    `monitors:\n  - name: x\ntargets:\n  self:\n    TCP: { host: 127.0.0.1, port: 9 }\n`,
  );
  const manager = startManager(cfg, {
    db: `${tmp.path}/m.db`,
    extra: ["--listen-monitors", "0.0.0.0:0"],
  });
  const status = await manager.exited();
  await manager.waitFor(
    /--listen-monitors 0\.0\.0\.0:0 is not a loopback address: .*openssl rand -hex 32/,
  );
  assert.notEqual(status.code, 0);
});
