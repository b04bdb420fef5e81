/**
 * The wall clock with sub-millisecond precision, for timestamps that go on
 * the wire (NTP's t1). `Date.now()` moves in whole milliseconds; the
 * monotonic `performance.now()` has microseconds but no date. A shared
 * anchor (wall minus monotonic) joins the two: it is calibrated by catching
 * one `Date.now()` step, which costs at most about a millisecond of spinning
 * and is repeated only when the anchor is a minute old or the wall clock was
 * stepped, so a busy monitor pays that once a minute, not once a check.
 *
 * `performance.timeOrigin + performance.now()` is no substitute: it agrees
 * with the wall clock when the process starts, but timeOrigin is fixed then,
 * so any later step of the system clock (an operator's `date -s`, chrony's
 * `makestep`) leaves it wrong for the rest of the process's life.
 *
 * @example
 * ```ts
 * import { wallNowMs } from "./clock.ts";
 * console.assert(Math.abs(wallNowMs() - Date.now()) < 2);
 * ```
 *
 * @module
 */

/** Wall clock minus monotonic clock, and the monotonic time it was measured. */
interface Anchor {
  wallMinusMonoMs: number;
  calibratedAtMs: number;
}

/**
 * On Linux the monotonic clock is slewed along with the wall clock, so the
 * two drift apart only when the wall clock is stepped, which the step check
 * catches; this age limit bounds what a slew it cannot see could add.
 */
const MAX_AGE_MS = 60_000;
/** `Date.now()` trails the true time by under 1 ms; more than this is a step. */
const STEP_MS = 2;
/** A little over one `Date.now()` step: long enough to see one, short enough to be cheap. */
const SPIN_MS = 1.1;

let anchor: Anchor | null = null;

/**
 * Spins until `Date.now()` steps to the next millisecond. At that instant
 * the wall time is exactly the new value; the step happened between the two
 * monotonic readings around the `Date.now()` call that saw it, so their
 * midpoint dates it to within half their gap (microseconds unless the
 * thread was preempted). Without a step in time (preempted, or the clock
 * stepped back), `Date.now()`'s own flooring still bounds it to 1 ms.
 */
function calibrate(): Anchor {
  const first = Date.now();
  const start = performance.now();
  let before = start;
  for (;;) {
    const wall = Date.now();
    const after = performance.now();
    if (wall !== first || after - start > SPIN_MS) {
      // the true wall time at `after` lies in [wall, wall + min(1, gap)]
      const uncertainMs = wall !== first ? Math.min(1, after - before) : 1;
      return { wallMinusMonoMs: wall + uncertainMs / 2 - after, calibratedAtMs: after };
    }
    before = after;
  }
}

/**
 * The current wall-clock time in Unix milliseconds, with the monotonic
 * clock's sub-millisecond precision. Recalibrates on use when the anchor is
 * older than a minute or disagrees with `Date.now()` by more than 2 ms (the
 * clock was stepped); for durations use `performance.now()` instead.
 *
 * @example
 * ```ts
 * import { wallNowMs } from "./clock.ts";
 * const sentAt = new Date(wallNowMs());
 * console.assert(Math.abs(sentAt.getTime() - Date.now()) < 2);
 * ```
 */
export function wallNowMs(): number {
  const mono = performance.now();
  if (
    anchor === null || mono - anchor.calibratedAtMs > MAX_AGE_MS ||
    Math.abs(Date.now() - (mono + anchor.wallMinusMonoMs)) > STEP_MS
  ) {
    anchor = calibrate();
  }
  return performance.now() + anchor.wallMinusMonoMs;
}
