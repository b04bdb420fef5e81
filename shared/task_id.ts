/**
 * Task IDs a monitor gives its results: a UUID made of the spool's epoch (a
 * random UUID) and the result's sequence number in it, so that the manager
 * can store "made from the epoch" instead of 16 random bytes per result.
 *
 * The ID keeps the epoch's first 74 random bits, is marked version 8 (RFC
 * 9562's layout of one's own), and ends in the sequence number as 12 hex
 * digits: unique within an epoch because the sequence number is, and across
 * epochs because their random bits are.
 *
 * @example
 * ```ts
 * import { isTaskIdOf, taskIdOf } from "./task_id.ts";
 * const epoch = "0b6f2c5e-8a1d-4c3b-9e7f-112233445566";
 * const id = taskIdOf(epoch, 42)!;
 * console.assert(id === "0b6f2c5e-8a1d-8c3b-9e7f-00000000002a");
 * console.assert(isTaskIdOf(id, epoch, 42));
 * ```
 *
 * @module
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Sequence numbers a task ID holds: 12 hex digits. */
const MAX_SEQ = 2 ** 48 - 1;

/**
 * The task ID of result `seq` of the spool epoch `epoch`; null when `epoch`
 * is not a lower-case UUID or `seq` does not fit in 48 bits (the monitor
 * then gives a random UUID).
 */
export function taskIdOf(epoch: string, seq: number): string | null {
  if (!UUID.test(epoch) || !Number.isSafeInteger(seq) || seq < 0 || seq > MAX_SEQ) return null;
  return `${epoch.slice(0, 14)}8${epoch.slice(15, 24)}${seq.toString(16).padStart(12, "0")}`;
}

/** Whether `taskId` is what {@linkcode taskIdOf} makes of `epoch` and `seq`. */
export function isTaskIdOf(taskId: string, epoch: string, seq: number): boolean {
  return taskId.length === 36 && taskIdOf(epoch, seq) === taskId;
}
