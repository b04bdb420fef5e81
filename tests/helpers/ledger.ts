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
  /** Highest sequence number the spool gave out. */
  lastSeq: number;
  /** Highest sequence number the manager acknowledged. */
  acked: number;
  /** Results dropped for space. */
  dropped: number;
}

/** Reads the ID and sequence counters of a monitor that has stopped. */
export function readMonitorLedger(dataDir: string): MonitorLedger {
  const id = Deno.readTextFileSync(`${dataDir}/monitor-id`).trim();
  const db = new DatabaseSync(`${dataDir}/spool.db`);
  try {
    const meta = (key: string) =>
      Number(
        (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as
          | { value: number }
          | undefined)?.value ?? 0,
      );
    return {
      dataDir,
      id,
      lastSeq: meta("lastSeq"),
      acked: meta("acked"),
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
  checkId: string;
  startedAt: number;
  summary: string;
}

/** Every result a stopped manager stored, oldest start first. */
export function readStored(dbPath: string): StoredRow[] {
  const db = new DatabaseSync(dbPath);
  try {
    return (db.prepare(
      `SELECT task_id, monitor_id, monitor_name, seq, check_id, started_at, summary
       FROM results ORDER BY started_at, seq`,
    ).all() as Record<string, string | number>[]).map((r) => ({
      taskId: String(r.task_id),
      monitorId: String(r.monitor_id),
      monitorName: String(r.monitor_name),
      seq: Number(r.seq),
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
 * numbers 1..lastSeq, each once, and no result from another monitor.
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
    const seqs = rows.filter((r) => r.monitorId === ledger.id).map((r) => r.seq).sort((a, b) =>
      a - b
    );
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
