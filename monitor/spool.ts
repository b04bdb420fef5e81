/**
 * The monitor's on-disk spool: every result gets the next sequence number of
 * the spool's epoch and is written here (SQLite, WAL, one transaction per
 * batch) before it is sent. Results stay until the manager acknowledges the
 * frame that carried them, so nothing measured while the manager is away, or
 * across a monitor restart, is lost. The spool is bounded in bytes; past the
 * bound the oldest results are dropped and counted.
 *
 * The epoch is a random ID made with the database and kept in its `meta`
 * table: a deleted spool starts again at 1 in a new epoch, which the manager
 * keeps apart from the old one.
 *
 * A full disk (SQLITE_FULL) does not lose results: SQLite has rolled the
 * batch back, so the spool keeps the batch numbered in memory (bounded by
 * `memoryMaxBytes`, the oldest dropped and counted past it), serves it to the
 * manager from there, remembers acknowledgements it could not yet delete,
 * and writes everything once a retry (at most once a second) succeeds.
 * Results held only in memory are lost if the process dies before space
 * returns. The WAL is checkpointed and truncated on a full disk and kept
 * short anyway, so that a small disk is not filled by the log.
 *
 * Results sent and not yet acknowledged ({@linkcode Spool.markSent}) are
 * never dropped for space: the manager may have stored them already, and a
 * result must not be both stored and counted as dropped.
 *
 * @example
 * ```ts ignore
 * import { Spool } from "./spool.ts";
 * const spool = Spool.open("/var/lib/netmon/spool.db", { maxBytes: 64 << 20 });
 * const [sequenced] = spool.append([result]);
 * spool.ack(sequenced.seq, sequenced.seq);
 * ```
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { CheckResult } from "../shared/checks.ts";
import type { SpoolReport } from "../shared/protocol.ts";
import type { UnsequencedResult } from "./scheduler.ts";
import { taskIdOf } from "../shared/task_id.ts";

/** Options for {@linkcode Spool.open}. */
export interface SpoolOptions {
  /** Bytes of results kept at most before the oldest are dropped (default 256 MiB). */
  maxBytes?: number;
  /** Bytes of results held in memory at most while the disk is full (default 16 MiB, at most `maxBytes`). */
  memoryMaxBytes?: number;
  /** Called when results are dropped for space, with how many. */
  onDrop?: (count: number, totalDropped: number) => void;
  /** Called when writing stops ("disk full at PATH") and again (null) when it resumes. */
  onDiskFull?: (diskFull: string | null) => void;
}

/** One `results` frame read from the spool, see {@linkcode Spool.readFrame}. */
export interface SpoolFrame {
  /** The frame's JSON, without its newline. */
  frame: string;
  /** First and last sequence number in it. */
  from: number;
  to: number;
  count: number;
}

/** A full disk is retried at most this often. */
const RETRY_MS = 1000;

/** Whether `e` is SQLite's "database or disk is full" (SQLITE_FULL). */
export function isDiskFull(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  // `exec("COMMIT")` reports it without `errcode`, by its message only
  if ("errcode" in e && typeof e.errcode === "number" && (e.errcode & 0xff) === 13) return true;
  return e.message.includes("database or disk is full");
}

interface Held {
  seq: number;
  body: string;
}

/** Durable queue of unacknowledged results. */
export class Spool {
  readonly path: string;
  #db: DatabaseSync;
  #insert: StatementSync;
  #setMeta: StatementSync;
  #readRange: StatementSync;
  #deleteRange: StatementSync;
  #deleteSized: StatementSync;
  #countRange: StatementSync;
  #epoch: string;
  /** Highest sequence number given out, on disk or not. */
  #lastSeq: number;
  /** Rows on disk, not acknowledged (acknowledged rows whose DELETE failed excluded). */
  #bytes: number;
  #count: number;
  #dropped: number;
  #maxBytes: number;
  #memoryMaxBytes: number;
  /** Numbered results not yet on disk (the disk was full), ascending, all above the disk's. */
  #memory: Held[] = [];
  #memoryBytes = 0;
  /** Acknowledged ranges still on disk: their DELETE failed on a full disk. */
  #unDeleted: [number, number][] = [];
  /** Ranges sent and not yet acknowledged, on this connection or an earlier one. */
  #sent: [number, number][] = [];
  /** Meta values not yet written. */
  #metaDirty = false;
  #diskFull: string | null = null;
  #retryAt = 0;
  #onDrop: SpoolOptions["onDrop"];
  #onDiskFull: SpoolOptions["onDiskFull"];

  private constructor(db: DatabaseSync, path: string, options: SpoolOptions) {
    this.#db = db;
    this.path = path;
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#memoryMaxBytes = Math.min(options.memoryMaxBytes ?? 16 * 1024 * 1024, this.#maxBytes);
    this.#onDrop = options.onDrop;
    this.#onDiskFull = options.onDiskFull;
    db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA journal_size_limit = 1048576;
      PRAGMA wal_autocheckpoint = 250;
      CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    this.#insert = db.prepare("INSERT INTO spool (seq, size, body) VALUES (?, ?, ?)");
    this.#setMeta = db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
    this.#readRange = db.prepare(
      "SELECT seq, size, body FROM spool WHERE seq > ? AND seq <= ? ORDER BY seq",
    );
    // prepared once: every acknowledged frame runs both
    this.#deleteRange = db.prepare("DELETE FROM spool WHERE seq >= ? AND seq <= ?");
    this.#deleteSized = db.prepare("DELETE FROM spool WHERE seq >= ? AND seq <= ? RETURNING size");
    this.#countRange = db.prepare(
      "SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM spool WHERE seq >= ? AND seq <= ?",
    );
    const meta = (key: string) =>
      (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as
        | { value?: number | string }
        | undefined)?.value;
    const stats = db.prepare(
      "SELECT count(*) AS n, coalesce(sum(size), 0) AS b, coalesce(max(seq), 0) AS m FROM spool",
    )
      .get() as { n: number; b: number; m: number };
    this.#lastSeq = Math.max(Number(meta("lastSeq") ?? 0), Number(stats.m));
    this.#dropped = Number(meta("dropped") ?? 0);
    this.#count = Number(stats.n);
    this.#bytes = Number(stats.b);
    const epoch = meta("epoch");
    if (typeof epoch === "string") {
      this.#epoch = epoch;
    } else if (this.#lastSeq > 0) {
      // numbered before epochs existed: the manager keeps these under its epoch ""
      this.#epoch = "";
    } else {
      // a UUID never reads as a number, so the INTEGER column keeps it as text
      this.#epoch = crypto.randomUUID();
      this.#setMeta.run("epoch", this.#epoch);
    }
  }

  /** Opens (or creates) the spool database at `path`. */
  static open(path: string, options: SpoolOptions = {}): Spool {
    return new Spool(new DatabaseSync(path), path, options);
  }

  /** The epoch this spool numbers its results in. */
  get epoch(): string {
    return this.#epoch;
  }

  /** Highest sequence number given out so far. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Results held, not yet acknowledged (on disk and in memory). */
  get pending(): number {
    return this.#count + this.#memory.length;
  }

  /** Bytes held on disk. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Results dropped for space since the spool was created. */
  get dropped(): number {
    return this.#dropped;
  }

  /** "disk full at PATH" while writes fail for space, else null. */
  get diskFull(): string | null {
    return this.#diskFull;
  }

  /** What the spool holds and has lost, for the manager. */
  report(): SpoolReport {
    return { pending: this.pending, dropped: this.#dropped, diskFull: this.#diskFull };
  }

  /**
   * Numbers `results` in order and stores them in one transaction; returns
   * them numbered. On a full disk they are held in memory instead (see the
   * module doc); this never throws for want of space.
   */
  append(results: UnsequencedResult[]): CheckResult[] {
    if (results.length === 0) return [];
    const out: CheckResult[] = [];
    const held: Held[] = [];
    for (const r of results) {
      const seq = ++this.#lastSeq;
      // made of epoch and seq, the manager stores it in no bytes
      const full: CheckResult = {
        seq,
        taskId: taskIdOf(this.#epoch, seq) ?? crypto.randomUUID(),
        ...r,
      };
      out.push(full);
      held.push({ seq: full.seq, body: JSON.stringify(full) });
    }
    if (this.#diskFull === null) {
      try {
        this.#write(held);
      } catch (e) {
        if (!isDiskFull(e)) {
          this.#lastSeq -= out.length;
          throw e;
        }
        this.#full(held);
      }
    } else {
      this.#hold(held);
      this.#retry();
    }
    if (this.#bytes > this.#maxBytes) this.#shrink();
    return out;
  }

  /** Writes `rows` and the counters in one transaction; on failure nothing is written. */
  #write(rows: Held[]) {
    let bytes = 0;
    this.#db.exec("BEGIN");
    try {
      for (const r of rows) {
        this.#insert.run(r.seq, r.body.length, r.body);
        bytes += r.body.length;
      }
      this.#setMeta.run("lastSeq", this.#lastSeq);
      this.#setMeta.run("dropped", this.#dropped);
      this.#db.exec("COMMIT");
    } catch (e) {
      // on SQLITE_FULL SQLite has already rolled the transaction back
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw e;
    }
    this.#metaDirty = false;
    this.#bytes += bytes;
    this.#count += rows.length;
  }

  /** The disk is full: keep `rows` in memory and say so. */
  #full(rows: Held[]) {
    this.#hold(rows);
    this.#retryAt = performance.now() + RETRY_MS;
    try {
      // the log may hold most of what the disk lacks
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch { /* the checkpoint itself found no room; the retry tries again */ }
    if (this.#diskFull === null) {
      this.#diskFull = `disk full at ${this.path}`;
      this.#onDiskFull?.(this.#diskFull);
    }
  }

  #hold(rows: Held[]) {
    for (const r of rows) {
      this.#memory.push(r);
      this.#memoryBytes += r.body.length;
    }
    let n = 0;
    let i = 0;
    while (this.#memoryBytes > this.#memoryMaxBytes && i < this.#memory.length) {
      if (this.#isSent(this.#memory[i]!.seq)) {
        i++;
        continue;
      }
      this.#memoryBytes -= this.#memory.splice(i, 1)[0]!.body.length;
      n++;
    }
    if (n > 0) this.#countDropped(n);
  }

  #countDropped(n: number) {
    this.#dropped += n;
    this.#metaDirty = true;
    this.#onDrop?.(n, this.#dropped);
  }

  #isSent(seq: number): boolean {
    return this.#sent.some(([a, b]) => seq >= a && seq <= b);
  }

  /**
   * Notes that the held results from `from` to `to` went out in one frame:
   * until {@linkcode ack}ed they are never dropped for space.
   */
  markSent(from: number, to: number): void {
    this.#sent.push([from, to]);
  }

  /** After a full disk, at most once a second: deletes owed, then the results held in memory. */
  #retry() {
    if (this.#diskFull === null || performance.now() < this.#retryAt) return;
    this.#retryAt = performance.now() + RETRY_MS;
    try {
      while (this.#unDeleted.length > 0) {
        const [from, to] = this.#unDeleted[0]!;
        this.#deleteRange.run(from, to);
        this.#unDeleted.shift();
      }
      this.#write(this.#memory);
    } catch (e) {
      if (isDiskFull(e)) return;
      throw e;
    }
    this.#memory = [];
    this.#memoryBytes = 0;
    this.#diskFull = null;
    this.#onDiskFull?.(null);
  }

  /**
   * The held results with `after < seq <= upTo`, oldest first, as one ready
   * `results` frame: at most `limit` of them and about `maxBytes` of JSON
   * (at least one), built from the stored JSON as it is. Null when none is
   * held in that range. Every held result from `from` to `to` is in the frame.
   */
  readFrame(after: number, upTo: number, limit: number, maxBytes: number): SpoolFrame | null {
    const bodies: string[] = [];
    let from = 0, to = 0, size = 0;
    const take = (seq: number, body: string): boolean => {
      if (bodies.length >= limit || (bodies.length > 0 && size + body.length > maxBytes)) {
        return false;
      }
      if (bodies.length === 0) from = seq;
      to = seq;
      size += body.length + 1;
      bodies.push(body);
      return true;
    };
    const diskTop = this.#memory.length > 0 ? this.#memory[0]!.seq - 1 : upTo;
    let full = false;
    if (after < Math.min(upTo, diskTop)) {
      for (
        const row of this.#readRange.iterate(after, Math.min(upTo, diskTop)) as Iterable<Held>
      ) {
        const seq = Number(row.seq);
        if (this.#unDeleted.some(([a, b]) => seq >= a && seq <= b)) continue;
        if (!take(seq, row.body)) {
          full = true;
          break;
        }
      }
    }
    if (!full) {
      for (const r of this.#memory) {
        if (r.seq <= after) continue;
        if (r.seq > upTo || !take(r.seq, r.body)) break;
      }
    }
    if (bodies.length === 0) return null;
    return {
      frame: `{"t":"results","results":[${bodies.join(",")}]}`,
      from,
      to,
      count: bodies.length,
    };
  }

  /**
   * Forgets every held result from `from` to `to`: the manager has stored
   * the frame that carried them. On a full disk the rows stay on disk until
   * a retry deletes them, but are no longer held (nor sent again).
   */
  ack(from: number, to: number): void {
    if (from > to) return;
    // what remains of each sent range outside [from, to] is still unacknowledged
    this.#sent = this.#sent.flatMap(([a, b]): [number, number][] =>
      b < from || a > to ? [[a, b]] : [
        ...(a < from ? [[a, from - 1] as [number, number]] : []),
        ...(b > to ? [[to + 1, b] as [number, number]] : []),
      ]
    );
    const before = this.#memory.length;
    if (before > 0) {
      this.#memory = this.#memory.filter((r) => {
        const gone = r.seq >= from && r.seq <= to;
        if (gone) this.#memoryBytes -= r.body.length;
        return !gone;
      });
    }
    const inMemory = before - this.#memory.length;
    if (inMemory > 0 && this.#memory.length === 0 && this.#unDeleted.length === 0) {
      // the ack may have emptied memory of the results a full disk kept there
      this.#retryAt = 0;
    }
    // rows already acknowledged but not yet deleted are no longer counted
    let n = 0, b = 0;
    for (const [a, z] of this.#unDeleted) {
      if (z < from || a > to) continue;
      const o = this.#rowsIn(Math.max(a, from), Math.min(z, to));
      n -= o.n;
      b -= o.b;
    }
    try {
      // the DELETE says what it removed: no count query per acknowledged frame
      // all(), not iterate(): a commit that fails for space must throw here
      const rows = this.#deleteSized.all(from, to) as { size: number }[];
      n += rows.length;
      for (const row of rows) b += Number(row.size);
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      // rolled back: every row of the range is still there
      const all = this.#rowsIn(from, to);
      n += all.n;
      b += all.b;
      if (n > 0) {
        this.#addUnDeleted(from, to);
        this.#full([]);
      }
    }
    this.#count -= n;
    this.#bytes -= b;
    this.#retry();
  }

  #rowsIn(from: number, to: number): { n: number; b: number } {
    const row = this.#countRange.get(from, to) as { n: number; b: number };
    return { n: Number(row.n), b: Number(row.b) };
  }

  /** Adds [from, to] to the acknowledged ranges still on disk, kept sorted and disjoint. */
  #addUnDeleted(from: number, to: number) {
    const merged: [number, number][] = [];
    for (
      const [a, z] of [...this.#unDeleted, [from, to] as [number, number]].sort((x, y) =>
        x[0] - y[0]
      )
    ) {
      const last = merged[merged.length - 1];
      if (last && a <= last[1] + 1) last[1] = Math.max(last[1], z);
      else merged.push([a, z]);
    }
    this.#unDeleted = merged;
  }

  #shrink() {
    // free a tenth more than needed so that a full spool does not shrink on every append
    const target = this.#bytes - this.#maxBytes * 0.9;
    let freed = 0;
    let upTo = 0;
    let n = 0;
    for (
      const row of this.#db.prepare("SELECT seq, size FROM spool ORDER BY seq")
        .iterate() as Iterable<
          { seq: number; size: number }
        >
    ) {
      const seq = Number(row.seq);
      upTo = seq;
      if (this.#unDeleted.some(([a, b]) => seq >= a && seq <= b) || this.#isSent(seq)) continue;
      freed += Number(row.size);
      n++;
      if (freed >= target) break;
    }
    this.#db.exec("BEGIN");
    try {
      const keep = this.#sent.filter(([a]) => a <= upTo);
      this.#db.prepare(
        `DELETE FROM spool WHERE seq <= ?${
          keep.map(() => " AND seq NOT BETWEEN ? AND ?").join("")
        }`,
      ).run(upTo, ...keep.flat());
      this.#dropped += n;
      this.#setMeta.run("dropped", this.#dropped);
      this.#db.exec("COMMIT");
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      if (!isDiskFull(e)) throw e;
      this.#dropped -= n;
      this.#full([]);
      return;
    }
    this.#unDeleted = this.#unDeleted.filter(([, b]) => b > upTo);
    this.#count -= n;
    this.#bytes -= freed;
    this.#onDrop?.(n, this.#dropped);
  }

  /** Writes what it can and closes the database. */
  close(): void {
    if (this.#diskFull !== null) {
      this.#retryAt = 0;
      this.#retry();
    } else if (this.#metaDirty) {
      this.#write([]);
    }
    this.#db.close();
  }
}
