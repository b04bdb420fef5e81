/**
 * A monitor checks every check's parameters when an assignment arrives
 * (issue 13): a check whose params do not fit its type is refused with one
 * line naming the check and the field, and the rest of the assignment runs.
 * The assignment here is the one a monitor resumes from its data directory.
 */
import assert from "node:assert/strict";
import { checkSpec } from "../shared/params/mod.ts";
import type { UncheckedSpec } from "../shared/checks.ts";
import { saveAssignment } from "../monitor/state.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { Proc, tempDir } from "./helpers/proc.ts";
import { NETMON } from "./helpers/netmon.ts";

Deno.test("a monitor refuses the check whose params do not fit and runs the others", async () => {
  await using tmp = await tempDir();
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connected = Promise.withResolvers<void>();
  const accepting = (async () => {
    try {
      for await (const c of target) {
        connected.resolve();
        c.close();
      }
    } catch { /* closed */ }
  })();
  const port = (target.addr as Deno.NetAddr).port;
  const good = checkSpec("TCP", { host: "127.0.0.1", port }, {
    target: "good",
    intervalMs: 200,
    timeoutMs: 100,
  });
  const bad: UncheckedSpec = {
    ...good,
    id: "bad/TCP",
    target: "bad",
    params: { ...good.params, port: String(port) },
  };
  const dataDir = `${tmp.path}/monitor`;
  await Deno.mkdir(dataDir, { mode: 0o700 });
  await saveAssignment(dataDir, [bad, good]);
  try {
    await using monitor = Proc.start(
      [NETMON, "monitor", "--port", String(freeTcpPort()), "--data", dataDir],
      { name: "monitor" },
    );
    const refusal = await monitor.waitFor(/Refused/, 60_000);
    assert.match(refusal, /bad\/TCP/);
    assert.match(refusal, /params\.port: must be a whole number from 1 to 65535, got "\d+"/);
    assert.match(refusal, /the other checks of the assignment run/);
    // the good check connects to the listener
    await connected.promise;
    assert.equal(monitor.matching(/Refused/).length, 1, monitor.lines.join("\n"));
    assert.ok(!monitor.matching(/good\/TCP/).some((l) => /Refused/.test(l)));
  } finally {
    target.close();
    await accepting;
  }
});
