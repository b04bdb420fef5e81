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
/**
 * A step dates the offset only as well as the monotonic readings around the
 * `Date.now()` call that saw it bracket it: a thread preempted in between
 * (seen as a 5.5 ms error on a loaded 2-core machine) gives a wide bracket,
 * which is skipped.
 */
const TIGHT_MS = 0.25;
/**
 * Steps of `Date.now()` after which a calibration settles for the tight
 * brackets it has, and after which it settles for the tightest of any: a
 * preempted spin sees wide brackets, so the bounds count steps, not time
 * (about 1 ms each; the wider one is reached only on a starved CPU).
 */
const SETTLE_STEPS = 12;
const MAX_STEPS = 100;
/** Spinning stops after this long without a step (`Date.now()` frozen, as under `faketime -f`). */
const SPIN_MS = 25;

let anchor: Anchor = { wallMinusMonoMs: performance.timeOrigin, calibratedAtMs: 0 };

/**
 * Wall clock minus `performance.now()`, timed from `Date.now()` alone: it
 * spins over the next three steps of `Date.now()` (about 3 ms). At a step
 * the wall time is exactly the new value, and the step happened after the
 * monotonic reading taken before the previous `Date.now()` call and before
 * the reading after the call that saw it: each step
 * bracketed within a quarter millisecond gives the middle of its bracket, and
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
  // the tightest bracket seen, for when no step is bracketed tightly
  let best = { gap: Infinity, estimate: 0 };
  // a monotonic reading taken before the previous Date.now() call
  let prior = performance.now();
  let last = Date.now();
  let steps = 0;
  const giveUp = prior + SPIN_MS;
  for (;;) {
    const before = performance.now();
    const wall = Date.now();
    if (wall !== last) {
      // the step came after the previous call, itself after `prior`, and before this one returned
      const after = performance.now();
      const gap = after - prior;
      const estimate = wall - (prior + after) / 2;
      if (gap <= TIGHT_MS) estimates.push(estimate);
      else if (gap < best.gap) best = { gap, estimate };
      last = wall;
      steps++;
    }
    if (
      estimates.length === TICKS || (steps >= SETTLE_STEPS && estimates.length > 0) ||
      steps === MAX_STEPS || (steps === 0 && before > giveUp)
    ) {
      if (estimates.length === 0) {
        estimates.push(best.gap < Infinity ? best.estimate : wall + 0.5 - before);
      }
      estimates.sort((x, y) => x - y);
      return { wallMinusMonoMs: estimates[estimates.length >> 1]!, calibratedAtMs: before };
    }
    prior = before;
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
