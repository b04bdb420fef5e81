/**
 * Whether a maintenance window silences a target at a given moment.
 *
 * @example
 * ```ts
 * import { activeWindow } from "./maintenance.ts";
 * const w = {
 *   name: "upgrade", targets: ["web"],
 *   schedule: { kind: "once" as const, start: 1000, end: 2000 },
 * };
 * console.assert(activeWindow([w], "web", 1500)?.name === "upgrade");
 * console.assert(activeWindow([w], "web", 2500) === undefined);
 * ```
 *
 * @module
 */
import type { MaintenanceSchedule, MaintenanceWindow } from "../../shared/config_alerts.ts";

const WEEK_MIN = 7 * 1440;

/**
 * Whether `schedule` is open at wall-clock time `now` (epoch ms).
 *
 * @example
 * ```ts
 * import { isOpen } from "./maintenance.ts";
 * // Thursday 1970-01-01 00:30 UTC
 * const s = { kind: "weekly" as const, days: [4], startMinute: 0, endMinute: 60, utc: true };
 * console.assert(isOpen(s, 30 * 60_000));
 * ```
 */
export function isOpen(schedule: MaintenanceSchedule, now: number): boolean {
  if (schedule.kind === "once") return now >= schedule.start && now < schedule.end;
  const d = new Date(now);
  const minuteOfWeek = schedule.utc
    ? d.getUTCDay() * 1440 + d.getUTCHours() * 60 + d.getUTCMinutes()
    : d.getDay() * 1440 + d.getHours() * 60 + d.getMinutes();
  const length = (schedule.endMinute - schedule.startMinute + 1440) % 1440 || 1440;
  return schedule.days.some((day) => {
    const start = day * 1440 + schedule.startMinute;
    // a Saturday-night window runs into Sunday, the start of the next week
    const since = (minuteOfWeek - start + WEEK_MIN) % WEEK_MIN;
    return since < length;
  });
}

/**
 * The first window in `windows` that covers `target` and is open at `now`.
 *
 * @example
 * ```ts
 * import { activeWindow } from "./maintenance.ts";
 * console.assert(activeWindow([], "web", Date.now()) === undefined);
 * ```
 */
export function activeWindow(
  windows: readonly MaintenanceWindow[],
  target: string,
  now: number,
): MaintenanceWindow | undefined {
  return windows.find((w) =>
    (w.targets === "all" || w.targets.includes(target)) && isOpen(w.schedule, now)
  );
}
