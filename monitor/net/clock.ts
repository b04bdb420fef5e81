/**
 * The wall clock with sub-millisecond precision, for timestamps that go on
 * the wire (NTP's t1). `Date.now()` moves in whole milliseconds; the
 * monotonic `performance.now()` has microseconds but no date. A shared
 * anchor (wall minus monotonic) joins the two.
 *
 * The first anchor is `performance.timeOrigin`, which matched a carefully
 * timed `Date.now()` to within a microsecond in every process measured. It is
 * fixed at start-up, though, so a later step of the system clock (`date -s`,
 * chrony's `makestep`) would leave it wrong: the anchor is re-timed from
 * `Date.now()` (about 3 ms of spinning) when it is a minute old or disagrees
 * with `Date.now()` by more than 2 ms, never once per check.
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
 * two part only when the wall clock is stepped; the step check sees steps
 * over 2 ms, and this age limit bounds how long a smaller one goes unseen.
 */
const MAX_AGE_MS = 60_000;
/** `Date.now()` trails the true time by under 1 ms; more than this is a step. */
const STEP_MS = 2;
/**
 * How many `Date.now()` steps one calibration dates. `Date.now()` now and
 * then steps late, making one estimate up to 1 ms off even from a tight
 * bracket (measured here, mostly early in a process); the median of three
 * rejects one such.
 */
const TICKS = 3;
/** Spinning stops after this long even without enough steps (the clock was set back). */
const SPIN_MS = TICKS + 0.5;

let anchor: Anchor = { wallMinusMonoMs: performance.timeOrigin, calibratedAtMs: 0 };

/**
 * Wall clock minus `performance.now()`, timed from `Date.now()` alone: it
 * spins over the next three steps of `Date.now()` (about 3 ms). At a step
 * the wall time is exactly the new value; the step happened between the
 * monotonic readings around the `Date.now()` call that saw it, so at the
 * later reading the wall time lies in [new value, new value + min(1 ms, their
 * gap)] (`Date.now()` floors): each step gives the middle of that range, and
 * the median of the three wins. {@linkcode wallNowMs} calls this itself.
 *
 * @example
 * ```ts
 * import { wallMinusMonoMs } from "./clock.ts";
 * console.assert(Math.abs(wallMinusMonoMs() - performance.timeOrigin) < 1);
 * ```
 */
export function wallMinusMonoMs(): number {
  return calibrate().wallMinusMonoMs;
}

function calibrate(): Anchor {
  const estimates: number[] = [];
  let last = Date.now();
  let before = performance.now();
  const giveUp = before + SPIN_MS;
  for (;;) {
    const wall = Date.now();
    const after = performance.now();
    if (wall !== last) {
      estimates.push(wall + Math.min(1, after - before) / 2 - after);
      last = wall;
    }
    if (estimates.length === TICKS || after > giveUp) {
      if (estimates.length === 0) estimates.push(wall + 0.5 - after);
      estimates.sort((x, y) => x - y);
      return { wallMinusMonoMs: estimates[estimates.length >> 1]!, calibratedAtMs: after };
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
    mono - anchor.calibratedAtMs > MAX_AGE_MS ||
    Math.abs(Date.now() - (mono + anchor.wallMinusMonoMs)) > STEP_MS
  ) {
    anchor = calibrate();
  }
  return performance.now() + anchor.wallMinusMonoMs;
}
