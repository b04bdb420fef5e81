/**
 * The compact result layout of schema 3, for both engines: what repeats from
 * one result of a series to the next (status, error text, the fixed parts of
 * the summary, metric names, details) is stored once as a "shape" in the
 * `shapes` table; a result row keeps its numbers as columns, its task ID as
 * 16 bytes, its shape's ID and a small binary body with what differs from
 * the shape: the varying middle of the summary and the metric values that
 * are not the shape's (most are, or are the latency or duration in seconds).
 *
 * Everything a result held comes back identical, as the JSON round trip of
 * schema 2 gave it: metric values that are not finite read as null, -0 as 0.
 *
 * @example
 * ```ts
 * import { decodeTask, encodeTask } from "./compact.ts";
 * const id = crypto.randomUUID();
 * console.assert(decodeTask(encodeTask(id)) === id && encodeTask(id).length === 16);
 * ```
 *
 * @module
 */
import type { CheckResult } from "../../shared/checks.ts";
import { isTaskIdOf, taskIdOf } from "../../shared/task_id.ts";

/**
 * One shape: the parts of a result that repeat, for one series.
 *
 * @example
 * ```ts
 * import type { Shape } from "./compact.ts";
 * const summaryOf = (s: Shape, mid: string) => s.head + mid + s.tail;
 * ```
 */
export interface Shape {
  /** Row ID in `shapes` (0 until stored). */
  id: number;
  seriesId: number;
  up: boolean;
  error: string | null;
  /** The summary is `head + middle + tail`, the middle in the result's body. */
  head: string;
  tail: string;
  /** Metric names in the result's order, and the values they had when the shape was made. */
  names: string[];
  vals: (number | null)[];
  /** The details, as JSON text. */
  details: string;
}

/** How many summaries of one family get their own head and tail before a catch-all shape. */
const SHAPES_PER_FAMILY = 8;

/** A metric value as schema 2's JSON round trip stored it. */
function stored(v: number): number | null {
  if (!Number.isFinite(v)) return null;
  return v === 0 ? 0 : v;
}

/**
 * What identifies a shape's family: series, status, error, metric names and
 * details; shapes of one family differ in head and tail only.
 *
 * @example
 * ```ts ignore
 * const key = familyKey(7, result);
 * ```
 */
export function familyKey(seriesId: number, r: CheckResult): string {
  return JSON.stringify([
    seriesId,
    r.up,
    r.error ?? null,
    Object.keys(r.metrics),
    JSON.stringify(r.details ?? {}),
  ]);
}

/**
 * A 52-bit hash of a family key (two 26-bit FNV-1a halves), the indexed
 * column shapes are found by: an integer is smaller than the key.
 *
 * @example
 * ```ts
 * import { familyHash } from "./compact.ts";
 * console.assert(familyHash("a") === familyHash("a") && familyHash("a") !== familyHash("b"));
 * ```
 */
export function familyHash(key: string): number {
  let a = 0x811c9dc5, b = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return ((a >>> 6) * 2 ** 26) + (b >>> 6);
}

/** The shape's family key, to check a hash hit. */
export function shapeFamilyKey(s: Shape): string {
  return JSON.stringify([s.seriesId, s.up, s.error, s.names, s.details]);
}

const isNumChar = (c: string | undefined) => c !== undefined && /[0-9.]/.test(c);

/**
 * The shapes of each family seen, and which one a result takes.
 *
 * @example
 * ```ts ignore
 * const book = new ShapeBook();
 * const { shape, fresh } = book.pick(familyKey(1, r), 1, r);
 * ```
 */
export class ShapeBook {
  #families = new Map<string, Shape[]>();
  /** Families kept in memory at most (the store reads a forgotten one back). */
  readonly #max: number;

  /** @param max families kept in memory at most */
  constructor(max = 100_000) {
    this.#max = max;
  }

  /** Whether the family `key` is in memory. */
  has(key: string): boolean {
    return this.#families.has(key);
  }

  /** Puts a family, read from the store, in memory. */
  load(key: string, shapes: Shape[]): void {
    if (this.#families.size >= this.#max) this.#families.clear();
    this.#families.set(key, shapes);
  }

  /** Drops a shape that was not stored after all (its transaction rolled back). */
  forget(key: string, shape: Shape): void {
    const list = this.#families.get(key);
    if (list) this.#families.set(key, list.filter((s) => s !== shape));
  }

  /**
   * The shape `r` takes in its (loaded) family `key`: the most specific
   * whose head and tail frame its summary, or a new one (`fresh`, id 0)
   * that the caller stores and numbers.
   */
  pick(key: string, seriesId: number, r: CheckResult): { shape: Shape; fresh: boolean } {
    let list = this.#families.get(key);
    if (!list) this.load(key, list = []);
    const summary = r.summary;
    let best: Shape | undefined;
    for (const s of list) {
      if (
        summary.length >= s.head.length + s.tail.length && summary.startsWith(s.head) &&
        summary.endsWith(s.tail) &&
        (!best || s.head.length + s.tail.length > best.head.length + best.tail.length)
      ) best = s;
    }
    if (best) return { shape: best, fresh: false };
    let head = summary, tail = "";
    if (list.length >= SHAPES_PER_FAMILY) head = "";
    else if (list.length === 0) {
      // a first summary: its last decimal number is the likeliest to vary (a time, a latency)
      const last = [...summary.matchAll(/(?<![0-9.])[0-9]+\.[0-9]+(?![0-9.])/g)].at(-1);
      if (last) {
        head = summary.slice(0, last.index);
        tail = summary.slice(last.index + last[0].length);
      }
    } else {
      // frame what differs from the family's first summary, at number boundaries
      const ref = list[0]!.head + list[0]!.tail;
      let p = 0;
      while (p < summary.length && p < ref.length && summary[p] === ref[p]) p++;
      let s = 0;
      while (
        s < summary.length - p && s < ref.length - p &&
        summary[summary.length - 1 - s] === ref[ref.length - 1 - s]
      ) s++;
      while (p > 0 && isNumChar(summary[p - 1])) p--;
      while (s > 0 && isNumChar(summary[summary.length - s])) s--;
      head = summary.slice(0, p);
      tail = summary.slice(summary.length - s);
    }
    const shape: Shape = {
      id: 0,
      seriesId,
      up: r.up,
      error: r.error ?? null,
      head,
      tail,
      names: Object.keys(r.metrics),
      vals: Object.values(r.metrics).map(stored),
      details: JSON.stringify(r.details ?? {}),
    };
    list.push(shape);
    return { shape, fresh: true };
  }
}

/** How a metric value that is not the shape's is stored. */
const enum Kind {
  Float = 0,
  /** The latency in seconds: `latencyMs / 1000`. */
  LatencyS = 1,
  /** The duration in seconds: `durationMs / 1000`. */
  DurationS = 2,
  Null = 3,
  /** A whole number, zigzag varint. */
  Int = 4,
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A scratch buffer that grows as bytes are written; {@linkcode encodeBody} copies out of it. */
class Bytes {
  buf = new Uint8Array(256);
  view = new DataView(this.buf.buffer);
  n = 0;
  #room(k: number) {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  varint(v: number) {
    this.#room(8);
    while (v >= 0x80) {
      this.buf[this.n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.n++] = v;
  }
  byte(v: number) {
    this.#room(1);
    this.buf[this.n++] = v;
  }
  float(v: number) {
    this.#room(8);
    this.view.setFloat64(this.n, v, true);
    this.n += 8;
  }
}

const scratch = new Bytes();

/**
 * What of `r` its shape does not give: the summary's middle (a column of
 * its own, so that SQL can put the summary together) and the metric values
 * in binary; null for either when there is nothing to store.
 *
 * @example
 * ```ts ignore
 * const { mid, body } = encodeBody(r, shape);
 * ```
 */
export function encodeBody(
  r: Pick<CheckResult, "summary" | "metrics" | "latencyMs" | "durationMs">,
  shape: Shape,
  durationMs: number = r.durationMs,
): { mid: string | null; body: Uint8Array | null } {
  const out = scratch;
  out.n = 0;
  const mid = r.summary.slice(shape.head.length, r.summary.length - shape.tail.length);
  const values = Object.values(r.metrics);
  const latS = r.latencyMs === null ? undefined : stored(r.latencyMs / 1000);
  // as decodeBody will have it: the duration as stored
  const durS = stored(durationMs / 1000);
  for (let i = 0; i < values.length; i++) {
    const v = stored(values[i]!);
    if (Object.is(v, shape.vals[i])) continue;
    out.varint(i);
    if (v === null) out.byte(Kind.Null);
    else if (Object.is(v, latS)) out.byte(Kind.LatencyS);
    else if (Object.is(v, durS)) out.byte(Kind.DurationS);
    else if (Number.isSafeInteger(v) && Math.abs(v) < 2 ** 48) {
      out.byte(Kind.Int);
      out.varint(v < 0 ? -2 * v - 1 : 2 * v);
    } else {
      out.byte(Kind.Float);
      out.float(v);
    }
  }
  return { mid: mid || null, body: out.n === 0 ? null : out.buf.slice(0, out.n) };
}

/**
 * A new shape's columns of `shapes` after `series_id, fhash`, in the order
 * every INSERT of a shape lists them (ingest and both engines' migrations).
 *
 * @example
 * ```ts ignore
 * insert.run(seriesId, familyHash(key), ...shapeColumns(shape));
 * ```
 */
export function shapeColumns(shape: Shape): (string | number | null)[] {
  return [
    shape.up ? 1 : 0,
    shape.error,
    shape.head,
    shape.tail,
    JSON.stringify(shape.names),
    JSON.stringify(shape.vals),
    shape.details,
  ];
}

/**
 * A result's columns of `result_rows` after `series_id, epoch`, from `seq` to
 * `body`, in the order every INSERT of a result lists them; with `micros`,
 * the duration in whole microseconds (the `duration_us` column), and the
 * latency in `latency_raw` and, after `body`, `latency_us`: a whole number
 * of microseconds there when that is exactly what it is (a monitor rounds
 * to them), else as measured in the first.
 *
 * @example
 * ```ts ignore
 * rows.push([seriesId, epoch, ...resultColumns(r, shape)]);
 * ```
 */
export function resultColumns(
  r: CheckResult,
  shape: Shape,
  epoch = "",
  micros = false,
): (string | number | null | Uint8Array)[] {
  const us = Math.round(r.durationMs * 1000);
  const l = r.latencyMs;
  const lus = l === null ? null : Math.round(l * 1000);
  const whole = micros && lus !== null && lus / 1000 === l;
  const { mid, body } = encodeBody(r, shape, micros ? us / 1000 : r.durationMs);
  const columns = [
    r.seq,
    encodeTask(r.taskId, epoch, r.seq),
    r.startedAt,
    micros ? us : r.durationMs,
    r.up ? 1 : 0,
    whole ? null : l,
    shape.id,
    mid,
    body,
  ];
  if (micros) columns.push(whole ? lus : null);
  return columns;
}

/**
 * The summary and metrics of a stored result from its body and shape.
 *
 * @example
 * ```ts ignore
 * const { summary, metrics } = decodeBody(row.mid, row.body, shape, latencyMs, durationMs);
 * ```
 */
export function decodeBody(
  mid: string | null,
  body: Uint8Array | null,
  shape: Pick<Shape, "head" | "tail" | "names" | "vals">,
  latencyMs: number | null,
  durationMs: number,
): { summary: string; metrics: Record<string, number> } {
  const vals = shape.vals.slice();
  if (body && body.length > 0) {
    let at = 0;
    const varint = () => {
      let v = 0, mul = 1, b: number;
      do {
        b = body[at++]!;
        v += (b & 0x7f) * mul;
        mul *= 0x80;
      } while (b & 0x80);
      return v;
    };
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    while (at < body.length) {
      const i = varint();
      const kind = body[at++]!;
      if (kind === Kind.Null) vals[i] = null;
      else if (kind === Kind.LatencyS) vals[i] = stored(latencyMs! / 1000);
      else if (kind === Kind.DurationS) vals[i] = stored(durationMs / 1000);
      else if (kind === Kind.Int) {
        const z = varint();
        vals[i] = z % 2 === 1 ? -(z + 1) / 2 : z / 2;
      } else {
        vals[i] = view.getFloat64(at, true);
        at += 8;
      }
    }
  }
  const metrics: Record<string, number> = {};
  // null stands where schema 2's JSON had it (a value that was not finite)
  shape.names.forEach((name, i) => metrics[name] = vals[i] as number);
  return { summary: shape.head + (mid ?? "") + shape.tail, metrics };
}

/** The value of a lower-case hex digit's char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** The 16 bytes of a lower-case canonical UUID, or null for any other text. */
function uuidBytes(s: string): Uint8Array | null {
  if (s.length !== 36) return null;
  const out = new Uint8Array(16);
  let n = 0;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return null;
      continue;
    }
    const hi = hexDigit(c), lo = hexDigit(s.charCodeAt(++i));
    if (hi < 0 || lo < 0) return null;
    out[n++] = hi * 16 + lo;
  }
  return out;
}

/**
 * A task ID as stored: none at all when it is the one a monitor makes of
 * its spool's `epoch` and the result's `seq` (`shared/task_id.ts`), a
 * lower-case UUID as its 16 bytes, anything else as its UTF-8 text after a
 * byte saying how many pad bytes follow (0, or 1 so that text never comes to
 * 16 bytes).
 *
 * @example
 * ```ts
 * import { encodeTask } from "./compact.ts";
 * console.assert(encodeTask("t1").length === 3);
 * const epoch = "0b6f2c5e-8a1d-4c3b-9e7f-112233445566";
 * console.assert(encodeTask("0b6f2c5e-8a1d-8c3b-9e7f-00000000002a", epoch, 42).length === 0);
 * ```
 */
export function encodeTask(taskId: string, epoch = "", seq = 0): Uint8Array {
  if (epoch !== "" && isTaskIdOf(taskId, epoch, seq)) return new Uint8Array(0);
  const uuid = uuidBytes(taskId);
  if (uuid) return uuid;
  const text = encoder.encode(taskId);
  // 16 bytes mean a UUID: text that would come to 16 takes a pad byte (marked 1)
  const pad = text.length + 1 === 16 ? 1 : 0;
  const out = new Uint8Array(text.length + 1 + pad);
  out[0] = pad;
  out.set(text, 1 + pad);
  return out;
}

/**
 * The task ID {@linkcode encodeTask} stored; an empty one needs the row's
 * epoch and sequence number back.
 *
 * @example
 * ```ts
 * import { decodeTask, encodeTask } from "./compact.ts";
 * console.assert(decodeTask(encodeTask("t1")) === "t1");
 * ```
 */
export function decodeTask(b: Uint8Array, epoch = "", seq = 0): string {
  if (b.length === 0) {
    const id = taskIdOf(epoch, seq);
    if (id === null) throw new TypeError(`an empty task ID needs its epoch, got "${epoch}"`);
    return id;
  }
  if (b.length !== 16) return decoder.decode(b.subarray(1 + b[0]!));
  let hex = "";
  for (const x of b) hex += x.toString(16).padStart(2, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/**
 * A schema 2 `result_rows` row (joined with its series' `check_id` and
 * `monitor_id`) as the result it stored, for the migration to schema 3.
 *
 * @example
 * ```ts ignore
 * const r = resultOfV2Row(row);
 * ```
 */
export function resultOfV2Row(row: Record<string, unknown>): CheckResult {
  const checkId = String(row.check_id);
  const slash = checkId.lastIndexOf("/");
  const r: CheckResult = {
    seq: Number(row.seq),
    taskId: String(row.task_id),
    monitorId: String(row.monitor_id),
    checkId,
    target: checkId.slice(0, slash),
    type: checkId.slice(slash + 1) as CheckResult["type"],
    startedAt: Number(row.started_at),
    durationMs: Number(row.duration_ms),
    up: Number(row.up) === 1,
    latencyMs: row.latency_ms === null ? null : Number(row.latency_ms),
    summary: String(row.summary),
    metrics: JSON.parse(String(row.metrics)),
    details: JSON.parse(String(row.details)),
  };
  if (row.error !== null) r.error = String(row.error);
  return r;
}

/**
 * The SQL of schema 3's result table, shape table and indexes, the same on
 * both engines but for the types of the ID and binary columns.
 *
 * @example
 * ```ts ignore
 * db.exec(schema3Sql("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB", "INTEGER PRIMARY KEY"));
 * ```
 */
export function schema3Sql(resultId: string, blob: string, shapeId: string, real: string): string {
  return `
    CREATE TABLE shapes (
      id ${shapeId},
      series_id BIGINT NOT NULL,
      fhash BIGINT NOT NULL,
      up SMALLINT NOT NULL,
      error TEXT,
      head TEXT NOT NULL,
      tail TEXT NOT NULL,
      names TEXT NOT NULL,
      vals TEXT NOT NULL,
      details TEXT NOT NULL
    );
    CREATE INDEX shapes_fhash ON shapes (fhash);
    CREATE TABLE result_rows (
      -- IDs only grow, even once pruning emptied the table, because rollups
      -- take every row above the last ID they saw as new
      id ${resultId},
      series_id BIGINT NOT NULL REFERENCES series (id),
      epoch BIGINT NOT NULL DEFAULT 0,
      seq BIGINT NOT NULL,
      started_at BIGINT NOT NULL,
      duration_ms ${real} NOT NULL,
      up SMALLINT NOT NULL,
      latency_ms ${real},
      shape_id BIGINT NOT NULL REFERENCES shapes (id),
      task ${blob} NOT NULL,
      mid TEXT,
      body ${blob}
    );`;
}

/** Schema 3's indexes on `result_rows`, made once its rows are in. */
export const SCHEMA3_INDEXES = `
  -- a result's series, epoch and sequence number identify it: this is what keeps a replay out
  CREATE UNIQUE INDEX result_rows_series_epoch_seq ON result_rows (series_id, epoch, seq);
  -- charts, rollups and filtered pages of one series
  CREATE INDEX result_rows_series_time ON result_rows (series_id, started_at);
  -- unfiltered pages, newest first, and pruning by age
  CREATE INDEX result_rows_time ON result_rows (started_at);`;
