/**
 * Counting results for the fault tests: what each monitor produced (its
 * spool's sequence numbers 1..lastSeq) against what the manager stored.
 * Read both only after the processes stopped.
 *
 * A result is "produced" once the monitor's spool gave it a sequence number:
 * the spool write precedes sending, so a monitor killed with SIGKILL loses
 * only results it had not yet numbered, and those were never produced.
 *
 * @example
 * ```ts ignore
 * import { assertStoredOnce, readMonitorLedger } from "./ledger.ts";
 * const ledger = readMonitorLedger("/tmp/mon");
 * assertStoredOnce("/tmp/netmon.db", [ledger]);
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";

/** What a stopped monitor's data directory says it produced. */
export interface MonitorLedger {
  dataDir: string;
  id: string;
  /** The spool's epoch, which its sequence numbers count in. */
  epoch: string;
  /** Highest sequence number the spool gave out. */
  lastSeq: number;
  /** Every result up to this one is acknowledged (the spool holds none of them). */
  acked: number;
  /** Results the spool still holds. */
  held: number;
  /** Their sequence numbers. */
  heldSeqs: number[];
  /** Results dropped for space. */
  dropped: number;
}

/** Reads the ID and sequence counters of a monitor that has stopped. */
export function readMonitorLedger(dataDir: string): MonitorLedger {
  const id = Deno.readTextFileSync(`${dataDir}/monitor-id`).trim();
  const db = new DatabaseSync(`${dataDir}/spool.db`);
  try {
    const value = (key: string) =>
      (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as
        | { value: number | string }
        | undefined)?.value;
    const meta = (key: string) => Number(value(key) ?? 0);
    const spool = db.prepare("SELECT min(seq) AS first, count(*) AS n FROM spool").get() as {
      first: number | null;
      n: number;
    };
    const lastSeq = meta("lastSeq");
    const heldSeqs = (db.prepare("SELECT seq FROM spool ORDER BY seq").all() as { seq: number }[])
      .map((r) => Number(r.seq));
    return {
      dataDir,
      id,
      epoch: String(value("epoch") ?? ""),
      lastSeq,
      acked: spool.first === null ? lastSeq : Number(spool.first) - 1,
      held: Number(spool.n),
      heldSeqs,
      dropped: meta("dropped"),
    };
  } finally {
    db.close();
  }
}

/** One stored row, as the fault tests look at it. */
export interface StoredRow {
  taskId: string;
  monitorId: string;
  monitorName: string;
  seq: number;
  /** The epoch of the monitor's spool it was numbered in. */
  epoch: string;
  checkId: string;
  startedAt: number;
  summary: string;
}

/** Every result a stopped manager stored, oldest start first. */
export function readStored(dbPath: string): StoredRow[] {
  const db = new DatabaseSync(dbPath);
  try {
    return (db.prepare(
      `SELECT v.task_id, v.monitor_id, v.monitor_name, v.seq, e.epoch, v.check_id, v.started_at,
         v.summary
       FROM results v JOIN result_rows r ON r.id = v.id LEFT JOIN epochs e ON e.id = r.epoch
       ORDER BY v.started_at, v.seq`,
    ).all() as Record<string, string | number>[]).map((r) => ({
      taskId: String(r.task_id),
      monitorId: String(r.monitor_id),
      monitorName: String(r.monitor_name),
      seq: Number(r.seq),
      epoch: String(r.epoch ?? ""),
      checkId: String(r.check_id),
      startedAt: Number(r.started_at),
      summary: String(r.summary),
    }));
  } finally {
    db.close();
  }
}

/**
 * Asserts that the store holds, for each monitor, exactly the sequence
 * numbers 1..lastSeq of its spool's epoch, each once, and no result from
 * another monitor.
 * Returns how many results each monitor had stored, by ID.
 */
export function assertStoredOnce(rows: StoredRow[], ledgers: MonitorLedger[]): Map<string, number> {
  const counts = new Map<string, number>();
  const taskIds = new Set<string>();
  for (const r of rows) {
    assert.ok(!taskIds.has(r.taskId), `task ${r.taskId} stored twice`);
    taskIds.add(r.taskId);
  }
  for (const ledger of ledgers) {
    assert.ok(ledger.lastSeq > 0, `monitor ${ledger.id} produced no result`);
    assert.equal(ledger.dropped, 0, `monitor ${ledger.id} dropped results for space`);
    const mine = rows.filter((r) => r.monitorId === ledger.id);
    assert.deepEqual(
      [...new Set(mine.map((r) => r.epoch))],
      [ledger.epoch],
      `monitor ${ledger.id}: stored under its spool's epoch`,
    );
    const seqs = mine.map((r) => r.seq).sort((a, b) => a - b);
    const seen = new Set(seqs);
    const missing: number[] = [];
    for (let s = 1; s <= ledger.lastSeq; s++) if (!seen.has(s)) missing.push(s);
    assert.deepEqual(missing, [], `monitor ${ledger.id}: produced results missing from the store`);
    assert.equal(seqs.length, seen.size, `monitor ${ledger.id}: a sequence number stored twice`);
    assert.equal(
      seqs[seqs.length - 1],
      ledger.lastSeq,
      `monitor ${ledger.id}: stored a sequence number it never produced`,
    );
    counts.set(ledger.id, seqs.length);
  }
  const known = new Set(ledgers.map((l) => l.id));
  const strays = rows.filter((r) => !known.has(r.monitorId));
  assert.equal(strays.length, 0, "results from a monitor the test did not start");
  return counts;
}

/**
 * Asserts that every sequence number 1..lastSeq of one spool epoch is
 * either stored exactly once (under whatever monitor ID), counted as
 * dropped by the spool, or still held by it (numbered as the monitor
 * stopped, to be sent to the next manager), never two of them (a held one
 * may be stored: sent, not yet acknowledged), never none: the stored ones
 * are distinct and within 1..lastSeq, and stored + dropped + held-unstored
 * is lastSeq. Returns how many were stored.
 */
export function assertStoredOrDropped(rows: StoredRow[], ledger: MonitorLedger): number {
  const seqs = rows.filter((r) => r.epoch === ledger.epoch).map((r) => r.seq);
  const seen = new Set(seqs);
  assert.equal(seqs.length, seen.size, `epoch ${ledger.epoch}: a sequence number stored twice`);
  assert.ok(
    seqs.every((s) => s >= 1 && s <= ledger.lastSeq),
    `epoch ${ledger.epoch}: stored a sequence number the spool never gave out`,
  );
  const heldOnly = ledger.heldSeqs.filter((s) => !seen.has(s)).length;
  assert.equal(
    seen.size + ledger.dropped + heldOnly,
    ledger.lastSeq,
    `epoch ${ledger.epoch}: ${seen.size} stored + ${ledger.dropped} dropped + ${heldOnly} ` +
      `held of ${ledger.lastSeq}`,
  );
  return seen.size;
}
