/**
 * Unit tests of maintenance windows, read from `tasks.yaml` text as users
 * write them.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../shared/config.ts";
import type { MaintenanceWindow } from "../../shared/config_alerts.ts";
import { activeWindow, isOpen } from "./maintenance.ts";

/** The `maintenance:` windows of a configuration with targets web, db and dns. */
function windows(yaml: string): MaintenanceWindow[] {
  const c = parseConfig(
    `monitors: [{address: "127.0.0.1:54001", name: a}]
maintenance:
${yaml}
targets:
  web: {TCP: {port: 80}}
  db: {TCP: {port: 5432}}
  dns: {TCP: {port: 53}}
`,
    "tasks.yaml",
  );
  return c.alerting!.maintenance;
}

/** Epoch ms of a UTC date and time written `2025-01-11T23:30`. */
function utc(text: string): number {
  return Date.parse(`${text}:00Z`);
}

/** Whether the only window of `yaml` is open at each of `times` (UTC). */
function openAt(yaml: string, times: string[]): boolean[] {
  const [w] = windows(yaml);
  return times.map((t) => isOpen(w!.schedule, utc(t)));
}

Deno.test("a one-off window is open from its start up to, not at, its end", () => {
  const yaml =
    `  - {name: up, targets: all, start: "2025-01-10T22:00:00Z", end: "2025-01-11T01:00:00Z"}`;
  assert.deepEqual(
    openAt(yaml, ["2025-01-10T21:59", "2025-01-10T22:00", "2025-01-11T00:59", "2025-01-11T01:00"]),
    [false, true, true, false],
  );
  assert.equal(isOpen(windows(yaml)[0]!.schedule, utc("2025-01-11T01:00") - 1), true);
});

Deno.test("a one-off window honours the offset written in its start and end", () => {
  const yaml =
    `  - {targets: all, start: "2025-01-10T23:00:00+01:00", end: "2025-01-11 02:00+01:00"}`;
  assert.deepEqual(
    openAt(yaml, ["2025-01-10T21:59", "2025-01-10T22:00", "2025-01-11T00:59", "2025-01-11T01:00"]),
    [false, true, true, false],
  );
});

Deno.test("a weekly window is open on its days between its start and end only", () => {
  // 2025-01-13 is a Monday
  const yaml =
    `  - {targets: all, weekly: {days: [mon, thu], start: "02:00", end: "03:30", utc: true}}`;
  assert.deepEqual(
    openAt(yaml, [
      "2025-01-13T01:59",
      "2025-01-13T02:00",
      "2025-01-13T03:29",
      "2025-01-13T03:30",
      "2025-01-14T02:30",
      "2025-01-16T02:30",
      "2025-01-19T02:30",
      "2025-01-20T02:30",
    ]),
    [false, true, true, false, false, true, false, true],
  );
});

Deno.test("a weekly window from Saturday 23:00 to 01:00 covers Sunday 00:30, not Sunday night", () => {
  // 2025-01-11 is a Saturday: the window wraps into Sunday, day 0 of the next week
  const yaml = `  - {targets: all, weekly: {days: [sat], start: "23:00", end: "01:00", utc: true}}`;
  assert.deepEqual(
    openAt(yaml, [
      "2025-01-11T22:59",
      "2025-01-11T23:00",
      "2025-01-12T00:30",
      "2025-01-12T00:59",
      "2025-01-12T01:00",
      "2025-01-12T23:30",
      "2025-01-13T00:30",
      "2025-01-10T23:30",
    ]),
    [false, true, true, true, false, false, false, false],
  );
});

Deno.test("a weekly window with no days runs daily, and 00:00 to 24:00 is the whole day", () => {
  const daily = `  - {targets: all, weekly: {start: "23:30", end: "00:15", utc: true}}`;
  assert.deepEqual(
    openAt(daily, ["2025-01-13T23:45", "2025-01-14T00:10", "2025-01-17T23:31", "2025-01-17T00:20"]),
    [true, true, true, false],
  );
  const whole =
    `  - {targets: all, weekly: {days: [sun], start: "00:00", end: "24:00", utc: true}}`;
  assert.deepEqual(
    openAt(whole, ["2025-01-11T23:59", "2025-01-12T00:00", "2025-01-12T23:59", "2025-01-13T00:00"]),
    [false, true, true, false],
  );
});

Deno.test("a weekly window reads its times as the manager's local time unless utc: true", () => {
  const [local] = windows(
    `  - {targets: all, weekly: {days: [sat], start: "23:00", end: "01:00"}}`,
  );
  assert.equal(local!.schedule.kind === "weekly" && local!.schedule.utc, false);
  // the Date constructor with fields reads them as local time, whatever this machine's zone
  const at = (day: number, hour: number, minute: number) =>
    new Date(2025, 0, day, hour, minute).getTime();
  assert.deepEqual(
    [at(11, 22, 59), at(11, 23, 0), at(12, 0, 30), at(12, 1, 0)].map((t) =>
      isOpen(local!.schedule, t)
    ),
    [false, true, true, false],
  );
});

Deno.test("a weekly window's local time is the zone of TZ, at a +05:30 offset", async () => {
  // TZ is the whole process's: a child process keeps it from other tests
  const code = `
    import { isOpen } from ${JSON.stringify(new URL("./maintenance.ts", import.meta.url).href)};
    const weekly = { kind: "weekly", days: [6], startMinute: 23 * 60, endMinute: 60 };
    const at = (iso) => Date.parse(iso);
    console.log(JSON.stringify([
      // Saturday 23:30 and Sunday 00:30 in Kolkata; Saturday 23:30 UTC is Sunday 05:00 there
      ["2025-01-11T18:00:00Z", "2025-01-11T19:00:00Z", "2025-01-11T23:30:00Z"]
        .map((t) => [isOpen({ ...weekly, utc: false }, at(t)), isOpen({ ...weekly, utc: true }, at(t))]),
    ]));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { TZ: "Asia/Kolkata", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [[
    [true, false],
    [true, false],
    [false, true],
  ]]);
});

Deno.test("activeWindow() silences the listed targets, or all of them, while a window is open", () => {
  const ws = windows(
    `  - {name: web-upgrade, targets: [web], start: "2025-01-10T22:00:00Z", end: "2025-01-10T23:00:00Z"}
  - {name: night, targets: [web, db], weekly: {days: daily, start: "02:00", end: "03:00", utc: true}}
  - {name: everything, targets: all, start: "2025-02-01T00:00:00Z", end: "2025-02-02T00:00:00Z"}`,
  );
  const names = (t: number) =>
    ["web", "db", "dns"].map((target) => activeWindow(ws, target, t)?.name ?? null);
  assert.deepEqual(names(utc("2025-01-10T22:30")), ["web-upgrade", null, null]);
  assert.deepEqual(names(utc("2025-01-10T23:00")), [null, null, null]);
  assert.deepEqual(names(utc("2025-01-15T02:30")), ["night", "night", null]);
  assert.deepEqual(names(utc("2025-02-01T12:00")), ["everything", "everything", "everything"]);
  assert.deepEqual(names(utc("2025-02-01T02:30")), ["night", "night", "everything"], "first one");
  assert.equal(activeWindow([], "web", utc("2025-02-01T12:00")), undefined);
});

Deno.test("maintenance targets default to all when a window names none", () => {
  const ws = windows(`  - {name: any, start: "2025-01-10T22:00:00Z", end: "2025-01-10T23:00:00Z"}`);
  assert.equal(ws[0]!.targets, "all");
  assert.equal(activeWindow(ws, "dns", utc("2025-01-10T22:30"))?.name, "any");
});
