/**
 * The monitor's on-disk spool: every result gets the next per-monitor
 * sequence number and is written here (SQLite, WAL, one transaction per
 * batch) before it is sent. Results stay until the manager acknowledges them,
 * so nothing measured while the manager is away, or across a monitor
 * restart, is lost. The spool is bounded in bytes; past the bound the oldest
 * results are dropped and counted.
 *
 * @example
 * ```ts ignore
 * import { Spool } from "./spool.ts";
 * const spool = Spool.open("/var/lib/netmon/spool.db", { maxBytes: 64 << 20 });
 * const [sequenced] = spool.append([result]);
 * spool.ack(sequenced.seq);
 * ```
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { CheckResult } from "../shared/checks.ts";
import type { UnsequencedResult } from "./scheduler.ts";

/** Options for {@linkcode Spool.open}. */
export interface SpoolOptions {
  /** Bytes of results kept at most before the oldest are dropped (default 256 MiB). */
  maxBytes?: number;
  /** Called when results are dropped for space, with how many. */
  onDrop?: (count: number, totalDropped: number) => void;
}

/** Durable queue of unacknowledged results. */
export class Spool {
  #db: DatabaseSync;
  #insert: StatementSync;
  #setMeta: StatementSync;
  #readAfter: StatementSync;
  #lastSeq: number;
  #acked: number;
  #bytes: number;
  #count: number;
  #dropped: number;
  #maxBytes: number;
  #onDrop: SpoolOptions["onDrop"];

  private constructor(db: DatabaseSync, options: SpoolOptions) {
    this.#db = db;
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#onDrop = options.onDrop;
    db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    this.#insert = db.prepare("INSERT INTO spool (seq, size, body) VALUES (?, ?, ?)");
    this.#setMeta = db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
    this.#readAfter = db.prepare("SELECT seq, body FROM spool WHERE seq > ? ORDER BY seq LIMIT ?");
    const meta = (key: string) =>
      Number(
        (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as
          | { value?: number }
          | undefined)
          ?.value ?? 0,
      );
    const stats = db.prepare(
      "SELECT count(*) AS n, coalesce(sum(size), 0) AS b, coalesce(max(seq), 0) AS m FROM spool",
    )
      .get() as { n: number; b: number; m: number };
    this.#lastSeq = Math.max(meta("lastSeq"), Number(stats.m));
    this.#acked = meta("acked");
    this.#dropped = meta("dropped");
    this.#count = Number(stats.n);
    this.#bytes = Number(stats.b);
  }

  /** Opens (or creates) the spool database at `path`. */
  static open(path: string, options: SpoolOptions = {}): Spool {
    return new Spool(new DatabaseSync(path), options);
  }

  /** Highest sequence number given out so far. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Highest sequence number the manager acknowledged. */
  get acked(): number {
    return this.#acked;
  }

  /** Results held, not yet acknowledged. */
  get pending(): number {
    return this.#count;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Results dropped for space since the spool was created. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Numbers `results` in order and stores them in one transaction; returns them numbered. */
  append(results: UnsequencedResult[]): CheckResult[] {
    if (results.length === 0) return [];
    const out: CheckResult[] = [];
    this.#db.exec("BEGIN");
    try {
      for (const r of results) {
        const seq = ++this.#lastSeq;
        const full: CheckResult = { seq, ...r };
        const body = JSON.stringify(full);
        this.#insert.run(seq, body.length, body);
        this.#bytes += body.length;
        this.#count++;
        out.push(full);
      }
      this.#setMeta.run("lastSeq", this.#lastSeq);
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#db.exec("ROLLBACK");
      this.#lastSeq -= out.length;
      throw e;
    }
    if (this.#bytes > this.#maxBytes) this.#shrink();
    return out;
  }

  /**
   * Up to `limit` held results after `seq` as one ready `results` frame
   * (without its newline), built from the stored JSON as it is, with the
   * last sequence number in it; null when none is held after `seq`.
   */
  readFrameAfter(seq: number, limit: number): { frame: string; lastSeq: number } | null {
    const rows = this.#readAfter.all(seq, limit) as { seq: number; body: string }[];
    if (rows.length === 0) return null;
    return {
      frame: `{"t":"results","results":[${rows.map((r) => r.body).join(",")}]}`,
      lastSeq: Number(rows[rows.length - 1]!.seq),
    };
  }

  /** Forgets every result up to and including `seq`: the manager has stored them. */
  ack(seq: number): void {
    if (seq <= this.#acked) return;
    seq = Math.min(seq, this.#lastSeq);
    this.#deleteUpTo(seq);
    this.#acked = seq;
    this.#setMeta.run("acked", seq);
  }

  #deleteUpTo(seq: number): number {
    const row = this.#db.prepare(
      "SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM spool WHERE seq <= ?",
    ).get(seq) as { n: number; b: number };
    this.#db.prepare("DELETE FROM spool WHERE seq <= ?").run(seq);
    this.#count -= Number(row.n);
    this.#bytes -= Number(row.b);
    return Number(row.n);
  }

  #shrink() {
    // free a tenth more than needed so that a full spool does not shrink on every append
    const target = this.#bytes - this.#maxBytes * 0.9;
    let freed = 0;
    let upTo = 0;
    for (
      const row of this.#db.prepare("SELECT seq, size FROM spool ORDER BY seq")
        .iterate() as Iterable<
          { seq: number; size: number }
        >
    ) {
      freed += Number(row.size);
      upTo = Number(row.seq);
      if (freed >= target) break;
    }
    const n = this.#deleteUpTo(upTo);
    this.#dropped += n;
    this.#setMeta.run("dropped", this.#dropped);
    this.#onDrop?.(n, this.#dropped);
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}
