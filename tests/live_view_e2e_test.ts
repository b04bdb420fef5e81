/**
 * The manager's live view when stdout is a terminal: run in tmux, read the
 * screen with capture-pane, as a person would see it.
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { freeTcpPort } from "./helpers/ports.ts";
import { NETMON, startMonitor } from "./helpers/netmon.ts";

async function tmux(...args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`tmux ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function screenUntil(session: string, re: RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  let screen = "";
  while (performance.now() < deadline) {
    screen = await tmux("capture-pane", "-p", "-t", session);
    if (re.test(screen)) return screen;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`screen never matched ${re}; last screen:\n${screen}`);
}

Deno.test("manage redraws a live view in place when stdout is a terminal", async () => {
  await using tmp = await tempDir();
  const port = freeTcpPort();
  await using monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, port });
  const config = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    config,
    `monitors:\n  - address: 127.0.0.1:${port}\n    name: here\ntargets:\n  self:\n    TCP: { host: 127.0.0.1, port: ${port}, frequency: 0.5 }\n`,
  );
  const session = `netmon-live-${port}`;
  await tmux(
    "new-session",
    "-d",
    "-s",
    session,
    "-x",
    "160",
    "-y",
    "40",
    `${NETMON} manage ${config} --db ${tmp.path}/m.db --http none`,
  );
  try {
    const screen = await screenUntil(
      session,
      /self\/TCP @here: TCP Port: 127\.0\.0\.1 - Port \d+ - Open/,
    );
    assert.match(screen, /netmon manager/);
    assert.match(screen, new RegExp(`127\\.0\\.0\\.1:${port}: Online`));
    assert.match(screen, /Latest results:/);
    // a redraw in place: one line per check, however many results came in
    await new Promise((r) => setTimeout(r, 1500));
    const later = await tmux("capture-pane", "-p", "-t", session);
    assert.equal(later.match(/self\/TCP @here/g)?.length, 1);
    await monitor.proc.stop("SIGKILL");
    await screenUntil(session, new RegExp(`127\\.0\\.0\\.1:${port}: Reconnecting`));
    // its check is neither up nor down any more: its vantage point is gone
    const dead = await screenUntil(session, /\? +- self\/TCP @here: unknown \(monitor offline\)/);
    assert.doesNotMatch(dead, /✔.*self\/TCP @here/);
  } finally {
    await tmux("kill-session", "-t", session).catch(() => "");
  }
});
