/**
 * A bound on the manager's connection attempts in flight (connect and
 * handshake): a manager that starts, or restarts, with thousands of monitors
 * would otherwise dial them all at once, and under that load handshakes run
 * past their deadline, fail and are retried together, again and again. With
 * a bound the attempts go through in turn, each one quickly.
 *
 * @example
 * ```ts
 * import { Slots } from "./dial_slots.ts";
 * const slots = new Slots(1);
 * const release = await slots.acquire();
 * const second = slots.acquire();
 * release();
 * (await second)();
 * ```
 *
 * @module
 */

/** Attempts in flight at most, per manager process. */
export const DIAL_SLOTS = 128;

/** At most `size` holders at once; the others wait, first come first served. */
export class Slots {
  #free: number;
  #waiting: { grant: () => void }[] = [];

  /** @param size holders at once */
  constructor(size: number) {
    this.#free = size;
  }

  /** Holders waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves with the release of a slot once one is free (calling it more
   * than once releases once). Rejects with the signal's reason if `signal`
   * aborts while waiting.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#release());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#release());
        },
      };
      const onAbort = () => {
        this.#waiting.splice(this.#waiting.indexOf(entry), 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }

  #release(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next.grant();
      else this.#free++;
    };
  }
}

/** The slots every link of this process dials through. */
export const dialSlots: Slots = new Slots(DIAL_SLOTS);
