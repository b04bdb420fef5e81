import assert from "node:assert/strict";
import type { LinkState } from "./link.ts";
import type { CheckResult } from "../shared/checks.ts";
import {
  displayWidth,
  fit,
  type LiveModel,
  liveMonitorLine,
  liveScreen,
  printable,
  TextOutput,
} from "./output.ts";

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0, 400);

function link(over: Partial<LinkState> = {}): LinkState {
  return {
    name: "nyc-1",
    address: "127.0.0.1:54322",
    direction: "dialed",
    remoteAddress: "127.0.0.1:54322",
    status: "Online",
    monitorId: "d5ad31c2-bb72-4a96-97e2-821ccf5628d8",
    reportedName: "vm",
    lastError: null,
    since: NOW - 60_000,
    lastSeen: NOW - 1_000,
    heldBack: 0,
    received: 5,
    spool: { pending: 0, dropped: 0, diskFull: null },
    ...over,
  };
}

function result(i: number): CheckResult {
  return {
    seq: i,
    taskId: crypto.randomUUID(),
    monitorId: "m",
    checkId: `t${String(i).padStart(2, "0")}/HTTP`,
    target: `t${i}`,
    type: "HTTP",
    startedAt: NOW - 500,
    durationMs: 1,
    up: i % 3 !== 0,
    summary: `HTTP URL: http://example.test/${"x".repeat(200)}, HTTP server status: True`,
    latencyMs: 1.5,
    metrics: {},
    details: {},
  };
}

function model(over: Partial<LiveModel> = {}): LiveModel {
  return {
    links: [
      link(),
      link({ name: "fra-2", status: "Reconnecting", lastError: "connection refused ".repeat(8) }),
    ],
    latest: Array.from({ length: 40 }, (_, i) => ({ r: result(i + 1), monitorName: "nyc-1" })),
    events: Array.from(
      { length: 30 },
      (_, i) => `2026-01-01 12:00:00 event ${i} ${"e".repeat(100)}`,
    ),
    answer: null,
    input: { text: "", cursor: 0 },
    ...over,
  };
}

for (const [cols, rows] of [[80, 24], [160, 45], [40, 10], [20, 6]] as const) {
  Deno.test(`liveScreen() fills ${cols}×${rows} exactly, no row wider, the prompt on the last`, () => {
    for (const answer of [null, { command: "results", text: "row\n".repeat(100), top: 0 }]) {
      const s = liveScreen(model({ answer }), { cols, rows, now: NOW });
      assert.equal(s.lines.length, rows);
      for (const l of s.lines) {
        assert.ok(displayWidth(l) <= cols, `${displayWidth(l)} > ${cols}: ${l}`);
      }
      assert.match(s.lines.at(-1)!, /^netmon> /);
      assert.deepEqual(s.cursor, { row: rows - 1, col: 8 });
    }
  });
}

Deno.test("liveScreen() gives an answer every row below the monitors and pages it", () => {
  const text = Array.from({ length: 60 }, (_, i) => `line ${i + 1}`).join("\n");
  const answer = { command: "results --limit 60", text, top: 0 };
  const s = liveScreen(model({ answer }), { cols: 160, rows: 45, now: NOW });
  const shown = s.lines.filter((l) => /^line \d+$/.test(l));
  // 45 rows less the header, blank, heading, 2 monitors, blank, command, footer and prompt
  assert.equal(shown.length, 36);
  assert.equal(s.answerRows, 36);
  assert.match(s.lines.at(-2)!, /lines 1–36 of 60/);
  answer.top = 1000; // PgDn past the end stops at the last page
  const last = liveScreen(model({ answer }), { cols: 160, rows: 45, now: NOW });
  assert.equal(answer.top, 24);
  assert.ok(last.lines.includes("line 60"));
});

Deno.test("liveScreen() keeps the cursor of a long typed line in sight", () => {
  const text = "results --check " + "x".repeat(100);
  const s = liveScreen(model({ input: { text, cursor: text.length } }), {
    cols: 80,
    rows: 24,
    now: NOW,
  });
  assert.ok(displayWidth(s.lines.at(-1)!) <= 80);
  assert.ok(s.lines.at(-1)!.endsWith("xxx"));
  assert.equal(s.cursor?.col, 79);
});

Deno.test("liveMonitorLine() drops the ID, then the reported name, before what matters", () => {
  const full = liveMonitorLine(link(), NOW, 200);
  assert.equal(
    full,
    "nyc-1 127.0.0.1:54322: Online · last seen 1 s ago · 0 held back · calls itself vm · ID d5ad31c2-bb72-4a96-97e2-821ccf5628d8",
  );
  assert.equal(
    liveMonitorLine(link(), NOW, 90),
    "nyc-1 127.0.0.1:54322: Online · last seen 1 s ago · 0 held back · calls itself vm",
  );
  assert.equal(
    liveMonitorLine(link(), NOW, 70),
    "nyc-1 127.0.0.1:54322: Online · last seen 1 s ago · 0 held back",
  );
  const down = liveMonitorLine(
    link({ status: "Offline", lastError: "refused ".repeat(20) }),
    NOW,
    78,
  );
  assert.match(
    down,
    /^nyc-1 127\.0\.0\.1:54322: Offline · for 60 s · last seen 1 s ago · refused .*…$/,
  );
  assert.equal(displayWidth(down), 78);
});

Deno.test("the live view's ages count wall-clock seconds: all change at the same boundary", () => {
  // 1.9 s and 0.1 s before a boundary at 12:00:00.400 → 12:00:01.000
  assert.match(liveMonitorLine(link({ lastSeen: NOW - 1_300 }), NOW, 200), /last seen 1 s ago/);
  assert.match(liveMonitorLine(link({ lastSeen: NOW - 300 }), NOW, 200), /last seen 0 s ago/);
  assert.match(liveMonitorLine(link({ lastSeen: NOW - 300 }), NOW + 600, 200), /last seen 1 s ago/);
  assert.match(liveMonitorLine(link({ lastSeen: NOW - 300_000 }), NOW, 200), /last seen 5 min ago/);
});

Deno.test("printable() and fit() keep a terminal safe and rows in their width", () => {
  assert.equal(printable("ok\x1b]0;owned\x07\r\n"), "ok ]0;owned   ");
  assert.equal(fit("東京東京", 5), "東京…");
  assert.equal(displayWidth(fit("東京東京", 5)), 5);
  assert.equal(fit("abc", 0), "");
});

Deno.test("status blocks of a large fleet are paced: the first at once, of those asked for meanwhile only the latest", () => {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const out = new TextOutput({ writeSync: (p) => (chunks.push(decoder.decode(p)), p.length) });
  const blocks = () => chunks.join("").split("Real-time status of monitoring services:").slice(1);
  // 10,000 monitors: 10 s between blocks, far more than these calls take
  const fleet = (over: Partial<LinkState>) =>
    Array.from({ length: 10_000 }, (_, i) => link({ name: `m${i}`, ...over }));
  out.status(fleet({ status: "Reconnecting", lastError: "first" }));
  out.flush();
  assert.equal(blocks().length, 1, "the first block comes out at once");
  out.status(fleet({ status: "Reconnecting", lastError: "second" }));
  out.status(fleet({ status: "Online" }));
  out.flush();
  assert.equal(blocks().length, 1, "later ones wait for the gap");
  out.close();
  const all = blocks();
  assert.equal(all.length, 2, "the latest of them comes out, once");
  assert.match(all[1]!, /127\.0\.0\.1:54322: Online \(name m9999,/);
  assert.doesNotMatch(all.join(""), /second/);
});
