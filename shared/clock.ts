/**
 * Time as a dependency: a {@linkcode Clock} gives the monotonic time, the wall
 * time and one-shot timers, so that code with deadlines and schedules can be
 * unit-tested with a {@linkcode FakeClock} instead of waiting for real time.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * let fired = 0;
 * clock.setTimeout(() => fired = clock.now(), 500);
 * await clock.advance(1000);
 * console.assert(fired === 500 && clock.now() === 1000);
 * ```
 *
 * @module
 */

/**
 * What {@linkcode Clock.setTimeout} returns, for {@linkcode Clock.clearTimeout}:
 * the global timer's handle, or a fake clock's number.
 */
export type TimerHandle = ReturnType<typeof setTimeout> | number;

/** A source of time and timers. */
export interface Clock {
  /** Monotonic milliseconds, for durations and due times (like `performance.now()`). */
  now(): number;
  /** Milliseconds since the epoch, for timestamps only (like `Date.now()`). */
  wallNow(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or undefined handles are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
}

/**
 * The real clock: `performance.now()`, `Date.now()` and the global timers.
 *
 * @example
 * ```ts
 * import { realClock } from "./clock.ts";
 * const t = realClock.setTimeout(() => {}, 10);
 * realClock.clearTimeout(t);
 * ```
 */
export const realClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
};

interface FakeTimer {
  id: TimerHandle;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to. {@linkcode advance} runs the timers
 * that fall due in order of due time (ties in the order they were set), with
 * `now()` equal to each timer's due time while it runs, and lets promise
 * callbacks settle after each one, so that a chain of timers and promises
 * plays out as it would in real time, deterministically.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock({ now: 100, wall: 1_700_000_000_000 });
 * const order: string[] = [];
 * clock.setTimeout(() => order.push("b"), 20);
 * clock.setTimeout(() => order.push("a"), 10);
 * await clock.advance(20);
 * console.assert(order.join() === "a,b" && clock.wallNow() === 1_700_000_000_020);
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #wallOffset: number;
  #timers: FakeTimer[] = [];
  #nextId = 1;

  /** Starts at monotonic time `now` (default 0) and wall time `wall` (default 2023-11-14). */
  constructor(start: { now?: number; wall?: number } = {}) {
    this.#now = start.now ?? 0;
    this.#wallOffset = (start.wall ?? 1_700_000_000_000) - this.#now;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#now + this.#wallOffset;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    // as the real timers: a negative or missing delay means "as soon as possible"
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.#timers.push({ id, at: this.#now + delay, fn });
    return id;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** How many timers are set and not yet run or cleared. */
  get pending(): number {
    return this.#timers.length;
  }

  /** The due time of the earliest timer, or undefined if none is set. */
  get nextAt(): number | undefined {
    return this.#earliest()?.at;
  }

  /**
   * Moves time forward by `ms`, running every timer that falls due on the
   * way (including ones those timers set), then leaves `now()` at the end.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`cannot move a clock back (advance by ${ms} ms)`);
    const end = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#earliest();
      if (!next || next.at > end) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /**
   * Moves time forward by `ms` without running any timer, as a blocked event
   * loop would: timers that fell due meanwhile run, late, on the next
   * {@linkcode advance}.
   */
  stall(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot move a clock back (stall for ${ms} ms)`);
    this.#now += ms;
  }

  #earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    // ids grow, so the first of equal due times is the one set first
    for (const t of this.#timers) if (!best || t.at < best.at) best = t;
    return best;
  }
}

/**
 * Lets every pending promise callback run: one real macrotask turn, which
 * begins only once the microtask queue is empty. It waits for no time to pass.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
