/**
 * Slots for connections that have not authenticated yet. A bounded number is
 * held, in total and per address; a new connection that finds no room evicts
 * the oldest pre-auth connection (of its own address when that address is at
 * its bound, else of all) — the oldest idle one, that has sent nothing yet,
 * when there is one — so idle connections, even from the manager's own
 * address, cannot keep the real manager out, and a stream of new idle ones
 * cannot evict a manager already answering. Each connection also has a short
 * deadline to authenticate (the handshake's `timeoutMs`).
 *
 * @example
 * ```ts
 * import { PreauthSlots } from "./preauth.ts";
 * const slots = new PreauthSlots({ total: 2, perAddress: 1 });
 * const a = slots.admit("10.0.0.1", () => console.log("a evicted"));
 * slots.admit("10.0.0.1", () => {}); // evicts a: one slot per address
 * a.release();
 * ```
 *
 * @module
 */

/** How long a connection may take from accept to authenticated. */
export const PREAUTH_DEADLINE_MS = 3000;
/** Pre-auth connections held at most, in total. */
export const PREAUTH_SLOTS = 32;
/** Pre-auth connections held at most from one address. */
export const PREAUTH_PER_ADDRESS = 4;

/** One admitted connection's slot. */
export interface PreauthTicket {
  /** Frees the slot: call when the connection authenticated or ended (idempotent). */
  release(): void;
  /**
   * Replaces what eviction does (e.g. once the connection is framed, close it
   * with a reason) and says how to tell whether the peer is still idle.
   */
  onEvict(evict: (reason: string) => void, idle?: () => boolean): void;
}

interface Slot {
  ip: string;
  evict: (reason: string) => void;
  idle: () => boolean;
}

/** The pre-auth slots of one listener. */
export class PreauthSlots {
  #total: number;
  #perAddress: number;
  /** Oldest first. */
  #slots: Slot[] = [];
  /** Connections evicted so far, for the log. */
  evicted = 0;

  /** @param opts the bounds (default {@linkcode PREAUTH_SLOTS}, {@linkcode PREAUTH_PER_ADDRESS}) */
  constructor(opts: { total?: number; perAddress?: number } = {}) {
    this.#total = opts.total ?? PREAUTH_SLOTS;
    this.#perAddress = opts.perAddress ?? PREAUTH_PER_ADDRESS;
  }

  /** Pre-auth connections held now. */
  get size(): number {
    return this.#slots.length;
  }

  /**
   * Admits a connection from `ip`, evicting the oldest one that stands in
   * its way; `evict` is called (with a reason) if this one is evicted later.
   */
  admit(ip: string, evict: (reason: string) => void): PreauthTicket {
    const same = this.#slots.filter((s) => s.ip === ip);
    const oldest = (of: Slot[]) => of.find((s) => s.idle()) ?? of[0]!;
    if (same.length >= this.#perAddress) {
      this.#evict(
        oldest(same),
        `more than ${this.#perAddress} unauthenticated connections from ${ip}`,
      );
    } else if (this.#slots.length >= this.#total) {
      this.#evict(oldest(this.#slots), `more than ${this.#total} unauthenticated connections`);
    }
    const slot: Slot = { ip, evict, idle: () => true };
    this.#slots.push(slot);
    return {
      release: () => this.#remove(slot),
      onEvict: (e, idle) => {
        slot.evict = e;
        if (idle) slot.idle = idle;
      },
    };
  }

  /** Closes every connection still in its handshake (the listener is stopping). */
  closeAll(reason: string): void {
    for (const slot of [...this.#slots]) {
      this.#remove(slot);
      slot.evict(reason);
    }
  }

  #evict(slot: Slot, why: string) {
    this.#remove(slot);
    this.evicted++;
    slot.evict(`evicted to make room: ${why}`);
  }

  #remove(slot: Slot) {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
  }
}
