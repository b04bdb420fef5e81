/**
 * The manager's live view when stdout is a terminal: run in tmux, read the
 * screen with capture-pane, type at it with send-keys, as a person would.
 */
import assert from "node:assert/strict";
import { tempDir } from "./helpers/proc.ts";
import { freeTcpPort, waitForHttpOk } from "./helpers/ports.ts";
import { NETMON, startMonitor } from "./helpers/netmon.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tmux(...args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`tmux ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** A tmux session running one command, killed on dispose. */
class Tmux implements AsyncDisposable {
  readonly name: string;
  private constructor(name: string) {
    this.name = name;
  }
  static async start(name: string, cols: number, rows: number, command: string): Promise<Tmux> {
    // exec: the pane's process is the command itself, so that dispose can stop it
    await tmux(
      "new-session",
      "-d",
      "-s",
      name,
      "-x",
      String(cols),
      "-y",
      String(rows),
      `exec ${command}`,
    );
    return new Tmux(name);
  }
  /** The screen, with the lines the terminal wrapped joined again (`-J`): a row too wide shows as one long line. */
  async screen(): Promise<string> {
    return (await tmux("capture-pane", "-p", "-J", "-t", this.name)).replace(/\n$/, "")
      .split("\n").map((l) => l.trimEnd()).join("\n");
  }
  /** The screen once it matches `want` (a pattern or a test). */
  async until(want: RegExp | ((screen: string) => boolean), timeoutMs = 20_000): Promise<string> {
    const test = typeof want === "function" ? want : (screen: string) => want.test(screen);
    const deadline = performance.now() + timeoutMs;
    let screen = "";
    while (performance.now() < deadline) {
      screen = await this.screen();
      if (test(screen)) return screen;
      await sleep(200);
    }
    throw new Error(`screen never matched ${want}; last screen:\n${screen}`);
  }
  keys(...keys: string[]): Promise<string> {
    return tmux("send-keys", "-t", this.name, ...keys);
  }
  /** Types `text` literally (no key names). */
  type(text: string): Promise<string> {
    return tmux("send-keys", "-t", this.name, "-l", text);
  }
  resize(cols: number, rows: number): Promise<string> {
    return tmux("resize-window", "-t", this.name, "-x", String(cols), "-y", String(rows));
  }
  async [Symbol.asyncDispose]() {
    // kill-session alone sends SIGHUP, which a manager takes as "reload tasks.yaml": it went on
    // running after the test (four managers left behind per CI run)
    const pid = Number((await tmux("display-message", "-p", "-t", this.name, "#{pane_pid}")
      .catch(() => "")).trim());
    if (pid > 0) {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* already gone */ }
      for (let i = 0; i < 100 && await this.#alive(); i++) await sleep(100);
    }
    const stuck = pid > 0 && await this.#alive();
    await tmux("kill-session", "-t", this.name).catch(() => "");
    if (stuck) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone meanwhile */ }
      throw new Error(`${this.name}: process ${pid} did not stop within 10 s of SIGTERM`);
    }
  }
  async #alive(): Promise<boolean> {
    return await tmux("has-session", "-t", this.name).then(() => true, () => false);
  }
}

/** Every row of `screen` fits in `cols` columns (the view draws only single-width characters). */
function assertFits(screen: string, cols: number) {
  for (const line of screen.split("\n")) {
    assert.ok(
      [...line].length <= cols,
      `a row is ${[...line].length} columns wide in ${cols}:\n${line}\n--- screen:\n${screen}`,
    );
  }
}

/** A configuration with `targets` TCP checks on the monitor's own port, the monitor named nyc-1. */
async function writeConfig(dir: string, port: number, targets: number): Promise<string> {
  const path = `${dir}/tasks.yaml`;
  const names = Array.from({ length: targets }, (_, i) => `t${String(i + 1).padStart(2, "0")}`);
  await Deno.writeTextFile(
    path,
    `monitors:\n  - address: 127.0.0.1:${port}\n    name: nyc-1\ntargets:\n${
      names.map((n) => `  ${n}:\n    TCP: { host: 127.0.0.1, port: ${port}, frequency: 1 }\n`)
        .join("")
    }`,
  );
  return path;
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
  await using term = await Tmux.start(
    `netmon-live-${port}`,
    160,
    40,
    `${NETMON} manage ${config} --db ${tmp.path}/m.db --http none`,
  );
  const screen = await term.until(/self\/TCP @here: TCP Port: 127\.0\.0\.1 - Port \d+ - Open/);
  assert.match(screen, /netmon manager/);
  assert.match(screen, new RegExp(`here 127\\.0\\.0\\.1:${port}: Online`));
  assert.match(screen, /Latest results:/);
  // a redraw in place: one line per check, however many results came in
  await sleep(1500);
  assert.equal((await term.screen()).match(/self\/TCP @here/g)?.length, 1);
  await monitor.proc.stop("SIGKILL");
  await term.until(new RegExp(`127\\.0\\.0\\.1:${port}: Reconnecting`));
  // its check is neither up nor down any more: its vantage point is gone
  const dead = await term.until(/\? +- self\/TCP @here: unknown \(monitor offline\)/);
  assert.doesNotMatch(dead, /✔.*self\/TCP @here/);
});

Deno.test("at 80×24 and at 160×45 no row of the live view is wider than the terminal, and the monitor's row keeps what matters", async () => {
  await using tmp = await tempDir();
  await using monitor = await startMonitor({ dataDir: `${tmp.path}/mon`, extra: ["--name", "vm"] });
  const config = await writeConfig(tmp.path, monitor.port, 30);
  await using term = await Tmux.start(
    `netmon-live-w-${monitor.port}`,
    80,
    24,
    `${NETMON} manage ${config} --db ${tmp.path}/m.db --http 127.0.0.1:${freeTcpPort()}`,
  );
  // 30 checks do not fit in 24 rows: the view says how many more there are
  const narrow = await term.until(/… \d+ more: type targets to see them all/);
  assertFits(narrow, 80);
  const row = narrow.split("\n").find((l) => l.includes(`127.0.0.1:${monitor.port}`))!;
  assert.match(
    row,
    new RegExp(`^● nyc-1 127\\.0\\.0\\.1:${monitor.port}: Online · last seen \\d+ s ago`),
  );
  // a summary too long for the row is cut where it ends, and says so
  assert.match(narrow, /t01\/TCP @nyc-1: TCP Port: 127\.0\.0\.1 - Port \d+ - Open, .*…$/m);
  assert.match(narrow, /^netmon> /m);

  await term.resize(160, 45);
  const wide = await term.until(/calls itself vm/);
  assertFits(wide, 160);
  assert.match(
    wide,
    new RegExp(
      `● nyc-1 127\\.0\\.0\\.1:${monitor.port}: Online · last seen \\d+ s ago · 0 held back · calls itself vm · ID ${monitor.id}`,
    ),
  );
  assert.equal(wide.split("\n").length, 45);
});

Deno.test("a command typed at the live view is echoed as typed, and its answer gets the rows it needs, paged when it has more", async () => {
  await using tmp = await tempDir();
  await using monitor = await startMonitor({ dataDir: `${tmp.path}/mon` });
  const config = await writeConfig(tmp.path, monitor.port, 30);
  await using term = await Tmux.start(
    `netmon-live-p-${monitor.port}`,
    160,
    45,
    `${NETMON} manage ${config} --db ${tmp.path}/m.db --http 127.0.0.1:${freeTcpPort()}`,
  );
  // every check has a result: the results fill the screen, as they did when answers got 3 rows
  await term.until(/monitors online · 0 down, 30 up/);
  await term.type("targts");
  await term.keys("BSpace", "BSpace", "e", "t", "s");
  // the line being typed shows, as typed, on the last row
  await term.until(/\nnetmon> targets$/);
  await term.keys("Enter");
  const answered = await term.until(/^t30 +TCP +nyc-1/m);
  assertFits(answered, 160);
  assert.match(answered, /^netmon> targets$/m);
  assert.match(answered, /^TARGET +TYPE +MONITOR +STATE/m);
  for (let i = 1; i <= 30; i++) {
    const t = `t${String(i).padStart(2, "0")}`;
    assert.equal(
      answered.match(new RegExp(`^${t} +TCP +nyc-1 +up `, "gm"))?.length,
      1,
      `${t} once in:\n${answered}`,
    );
  }
  assert.doesNotMatch(answered, /lines \d+–\d+ of/, "all of it fits: nothing to page");
  assert.match(answered.split("\n").at(-1)!, /^netmon>$/, "the prompt is ready for the next");

  // in 80×24 the same answer is paged: PgDn until its last line, every target seen
  await term.resize(80, 24);
  let page = await term.until(/lines 1–\d+ of \d+/);
  const lastShown = (screen: string) => Number(/lines \d+–(\d+) of \d+/.exec(screen)?.[1] ?? 0);
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    assertFits(page, 80);
    for (const m of page.matchAll(/^(t\d\d) +TCP +nyc-1/gm)) seen.add(m[1]!);
    const [, end, total] = /lines \d+–(\d+) of (\d+)/.exec(page)!;
    if (end === total) break;
    await term.keys("PgDn");
    page = await term.until((screen) => lastShown(screen) > Number(end));
  }
  assert.equal(seen.size, 30, `every target on some page: ${[...seen]}`);
  await term.keys("Escape");
  const back = await term.until(/Latest results:/);
  assertFits(back, 80);
});

Deno.test("the live view's last seen stays within a second of the truth, redrawn in place without clearing the screen", async () => {
  await using tmp = await tempDir();
  await using monitor = await startMonitor({ dataDir: `${tmp.path}/mon` });
  const config = await writeConfig(tmp.path, monitor.port, 2);
  const http = freeTcpPort();
  await using term = await Tmux.start(
    `netmon-live-s-${monitor.port}`,
    80,
    24,
    `${NETMON} manage ${config} --db ${tmp.path}/m.db --http 127.0.0.1:${http} --log-level info`,
  );
  const first = await term.until(/nyc-1 [\d.:]+: Online · last seen/);
  // what the manager says on stderr shows among the events, not under the view that draws over it
  assert.match(first, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d netmon: API and dashboard on http:/m);
  assert.match(first, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[INF\] netmon·link: Connected to/m);
  assert.match(first.split("\n")[0]!, /^netmon manager — /);
  assertFits(first, 80);
  assert.ok(await waitForHttpOk(`http://127.0.0.1:${http}/api/v1/status`));
  const recording = `${tmp.path}/pane.out`;
  await tmux("pipe-pane", "-t", term.name, "-o", `cat >> ${recording}`);
  // a frozen monitor sends nothing: its last seen stops where it is and the age climbs
  Deno.kill(monitor.proc.child.pid, "SIGSTOP");
  try {
    await sleep(1500);
    const monitors = await (await fetch(`http://127.0.0.1:${http}/api/v1/monitors`)).json();
    const lastSeen: number = monitors[0].lastSeen;
    const recordedFrom = performance.now();
    const shown: string[] = [];
    for (let i = 0; i < 8; i++) {
      const before = Date.now();
      const screen = await term.screen();
      const after = Date.now();
      const age = Number(/nyc-1 [\d.:]+: \w+ · .*?last seen (\d+) s ago/.exec(screen)?.[1]);
      // the truth at the moment of the capture, in the view's whole seconds
      const lo = Math.floor(before / 1000) - Math.floor(lastSeen / 1000);
      const hi = Math.floor(after / 1000) - Math.floor(lastSeen / 1000);
      shown.push(`${age} in [${lo}, ${hi}]`);
      assert.ok(
        age >= lo - 1 && age <= hi,
        `last seen ${age} s ago shown ${lo}–${hi} s after it: ${shown}`,
      );
      await sleep(700);
    }
    const seconds = (performance.now() - recordedFrom) / 1000;
    await tmux("pipe-pane", "-t", term.name);
    const bytes = await Deno.readFile(recording);
    const text = new TextDecoder().decode(bytes);
    assert.ok(!text.includes("\x1b[2J"), "redrawn in place, never cleared");
    const paints = text.split("netmon manager — ").length - 1;
    console.log(
      `last seen shown: ${shown.join(", ")}; ${paints} header repaints and ${bytes.length} bytes ` +
        `in ${seconds.toFixed(1)} s while the monitor was frozen`,
    );
  } finally {
    Deno.kill(monitor.proc.child.pid, "SIGCONT");
  }
});
