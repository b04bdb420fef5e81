/**
 * The netmon wire protocol, used by both the monitor and the manager.
 *
 * ## Framing
 * Newline-delimited JSON over one TCP (or TLS) connection: each frame is one
 * UTF-8 JSON object followed by `\n`. A frame may not exceed
 * {@linkcode MAX_FRAME_BYTES}; a longer one, a line that is not JSON, or a
 * message that fails validation closes the connection with a logged reason.
 *
 * ## Conversation (version 3)
 * Whoever dials is the *dialer*, whoever accepted the *listener*: the manager
 * dials a monitor's port, and a monitor started with `--connect` dials a
 * manager's `--listen-monitors` port. The handshake is the same both ways
 * (`shared/handshake.ts`):
 * 1. listener → `hello` {v, vmin, version, nonce, caps, role, …its fields}
 * 2. dialer → `hello` of its own, or `bye` naming both versions when no
 *    protocol version is common. A monitor's fields are `monitorId`, `name`,
 *    `epoch` and `lastSeq`; a manager's are `managerId` and `takeover`
 *    (`false` asks to connect only if no other manager is).
 * 3. listener → `auth` {mac}, its proof of the token over both hellos:
 *    the side that was dialed to proves first.
 * 4. dialer → `auth` {mac}, its proof over both hellos and the listener's
 *    proof, sent only after the listener's has verified; or `bye` {reason}.
 * 5. listener → `welcome` {} (or `bye`, e.g. `busy`), the first frame under
 *    the frame keys. The token itself never crosses the wire. Nothing but
 *    `welcome` follows the monitor's handshake frames from a listening
 *    monitor, and no result travels before the handshake is complete.
 *
 * From the `welcome` on, every frame either way is `MAC JSON\n` with a
 * per-direction key derived from the token and the handshake transcript and
 * a frame counter (`shared/frame_auth.ts`); the first frame that fails its
 * MAC closes the connection with the reason logged. Only `hb` and `bye` may
 * come unsealed, and only before the first sealed frame (sent before the
 * peer keyed, or a refusal instead of the `welcome`). Without a token the proofs and
 * keys use a fixed key (such a link is loopback only): the code path is the
 * same, but the MACs then prove nothing about who sent a frame.
 *
 * Then, in any order: manager → `assign` {rev, checks, more}, `ack`
 * {from, to}, `run` {checkId}; monitor → `results` {results}, `stats`
 * {pending, dropped, diskFull}; either side → `hb` {} when it has sent
 * nothing for {@linkcode HEARTBEAT_MS}; `bye`
 * {reason} before a deliberate close. A side that has received no byte for
 * {@linkcode DEAD_AFTER_MS} closes the connection: a large frame still
 * arriving counts as life, however slow the link.
 *
 * ## Identity: epochs and sequence numbers
 * A monitor's spool gets a random `epoch` when its database is created (a
 * deleted spool gets a new one). Results are numbered 1, 2, … within an
 * epoch and a result is identified by (check, monitor ID, epoch, seq), so a
 * fresh spool restarting at 1 is never mistaken for a replay, and two
 * monitors sharing a copied `monitor-id` keep apart. The results of one
 * session all belong to the epoch of its `hello`, whatever monitor ID they
 * carry (a monitor whose ID changed still holds results under the old one).
 *
 * ## Acknowledgement and replay
 * Acks are per frame, not cumulative: for every `results` frame it has
 * durably stored, the manager answers `ack` {from, to} with the frame's
 * first and last sequence number. The monitor's frames each hold every
 * unacknowledged result in one range of sequence numbers, so the monitor
 * forgets exactly that range, and only when the range is one it sent on this
 * connection: a manager's word never deletes anything the monitor did not
 * send it, and no sequence number claimed by anyone else (a forged `seq`
 * under this monitor's ID) can make it drop its backlog.
 *
 * At `welcome` everything the spool holds is backlog; results numbered later
 * are live. Live frames go first; the backlog is sent behind them, oldest
 * first, with at most {@linkcode REPLAY_FRAMES_IN_FLIGHT} of its frames
 * unacknowledged and at most {@linkcode REPLAY_RESULTS_PER_S} results a
 * second, so a monitor back from a long outage neither delays its live
 * results nor floods the manager. Frames are at most
 * {@linkcode RESULT_FRAME_BYTES} of results, so a slow link is not blocked
 * for long by one frame. Results of a frame sent but not acknowledged when
 * the connection ends are sent again on the next one; the manager stores a
 * result once (a repeat is acknowledged and ignored).
 *
 * `stats` is the monitor's {@linkcode SpoolReport}: sent after `welcome` and
 * whenever it has changed, at most once a second.
 *
 * @example
 * ```ts
 * import { encodeFrame, parseMessage } from "./protocol.ts";
 * const line = new TextDecoder().decode(encodeFrame({ t: "hb" })).trim();
 * console.assert(parseMessage(line).t === "hb");
 * ```
 *
 * @module
 */
import {
  CHECK_TYPES,
  type CheckResult,
  type CheckType,
  type DetailValue,
  type JsonObject,
  type UncheckedSpec,
} from "./checks.ts";
import {
  MAX_CHECK_ID_CHARS,
  MAX_FRAME_BYTES,
  MAX_INTERVAL_MS,
  MAX_TARGET_CHARS,
  MIN_INTERVAL_MS,
} from "./limits.ts";

/** Largest frame either side accepts, in bytes (newline excluded); see `limits.ts`. */
export { MAX_FRAME_BYTES };
/** A side sends a heartbeat when it has sent nothing for this long. */
export const HEARTBEAT_MS = 800;
/** A side that has heard nothing for this long declares the peer gone. */
export const DEAD_AFTER_MS = 2500;
/** The hello/auth/welcome exchange must finish within this time. */
export const HANDSHAKE_MS = 5000;
/** An assignment is split into frames of about this many bytes of checks. */
export const ASSIGN_PART_BYTES = 256 * 1024;
/** Results per `results` frame at most. */
export const MAX_RESULTS_PER_FRAME = 500;
/** A monitor fills a `results` frame with at most about this many bytes of results. */
export const RESULT_FRAME_BYTES = 64 * 1024;
/** Backlog (replay) frames a monitor keeps unacknowledged at most. */
export const REPLAY_FRAMES_IN_FLIGHT = 2;
/** Backlog results a monitor sends per second at most. */
export const REPLAY_RESULTS_PER_S = 20_000;

/**
 * Either side, first frame of each (see `shared/handshake.ts`): the protocol
 * versions `vmin`–`v` this build speaks, its software version, a nonce, its
 * capabilities and its role's fields (a monitor's `monitorId`, `name`,
 * `epoch`, `lastSeq`; a manager's `managerId`, `takeover`). All but `v`,
 * `version` and `nonce` are optional here, so that a hello of another
 * protocol version still parses and can be refused with a clear message.
 */
export interface HelloMsg {
  t: "hello";
  v: number;
  vmin?: number;
  role?: string;
  version: string;
  nonce: string;
  caps?: string[];
  monitorId?: string;
  name?: string;
  /** The spool's epoch: results are numbered within it ("" for a spool made before epochs). */
  epoch?: string;
  lastSeq?: number;
  managerId?: string;
  takeover?: boolean;
}
/** Either side: its proof of the token (listener first, then dialer). */
export interface AuthMsg {
  t: "auth";
  mac: string;
}
/** Listener → dialer, the first frame under the frame keys: the handshake succeeded. */
export interface WelcomeMsg {
  t: "welcome";
}
/**
 * Manager → monitor: the full set of checks this monitor runs from now on.
 * A large set travels in several frames of one `rev`, all but the last with
 * `more: true`; the monitor applies the set when the last part arrives.
 */
export interface AssignMsg {
  t: "assign";
  rev: number;
  /** Their params are checked by the monitor (`validChecks` in `shared/params/mod.ts`). */
  checks: UncheckedSpec[];
  more?: boolean;
}
/** Manager → monitor: the results frame whose sequence numbers ran from `from` to `to` is stored. */
export interface AckMsg {
  t: "ack";
  from: number;
  to: number;
}
/** Manager → monitor: run this check now, outside its schedule. */
export interface RunMsg {
  t: "run";
  checkId: string;
}
/** Monitor → manager: results in sequence order. */
export interface ResultsMsg {
  t: "results";
  results: CheckResult[];
}
/**
 * What a monitor's spool holds and has lost, as the monitor reports it to
 * the manager: results not yet acknowledged, results dropped for space since
 * the spool was made, and why writing stopped (e.g. "disk full at PATH") or
 * null while the spool writes.
 */
export interface SpoolReport {
  pending: number;
  dropped: number;
  diskFull: string | null;
}
/** Monitor → manager: its spool's report, on change. */
export interface StatsMsg extends SpoolReport {
  t: "stats";
}
/** Either side: still here. */
export interface HeartbeatMsg {
  t: "hb";
}
/** Either side: closing on purpose, and why. */
export interface ByeMsg {
  t: "bye";
  reason: string;
  code?: ByeCode;
}
/** Machine-readable reasons for `bye`. */
export const BYE_CODES = ["auth", "busy", "replaced", "shutdown", "protocol"] as const;
/** One of {@linkcode BYE_CODES}. */
export type ByeCode = typeof BYE_CODES[number];

/** Every message of protocol version 3. */
export type Message =
  | HelloMsg
  | AuthMsg
  | WelcomeMsg
  | AssignMsg
  | AckMsg
  | RunMsg
  | ResultsMsg
  | StatsMsg
  | HeartbeatMsg
  | ByeMsg;

/**
 * A frame that is malformed, too large or not a valid message. The
 * connection that sent it is closed; the process goes on.
 */
export class ProtocolError extends Error {
  /** @param message what was wrong with the frame */
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

const encoder = new TextEncoder();

/** Serialises one message as a frame (JSON + newline). */
export function encodeFrame(msg: Message): Uint8Array {
  return encoder.encode(JSON.stringify(msg) + "\n");
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(o: Obj, k: string, max = 4096): string {
  const v = o[k];
  if (typeof v !== "string") throw new ProtocolError(`field "${k}" must be a string`);
  if (v.length > max) throw new ProtocolError(`field "${k}" is longer than ${max} characters`);
  return v;
}

function num(o: Obj, k: string): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ProtocolError(`field "${k}" must be a finite number`);
  }
  return v;
}

function int(o: Obj, k: string): number {
  const v = num(o, k);
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new ProtocolError(`field "${k}" must be a non-negative integer`);
  }
  return v;
}

function bool(o: Obj, k: string): boolean {
  const v = o[k];
  if (typeof v !== "boolean") throw new ProtocolError(`field "${k}" must be true or false`);
  return v;
}

function strList(o: Obj, k: string, maxItems: number, maxChars: number): string[] {
  const v = o[k];
  if (
    !Array.isArray(v) || v.length > maxItems ||
    v.some((x) => typeof x !== "string" || x.length > maxChars)
  ) {
    throw new ProtocolError(`field "${k}" must be a list of at most ${maxItems} short strings`);
  }
  return v as string[];
}

function checkType(o: Obj, k: string): CheckType {
  const v = str(o, k);
  if (!(CHECK_TYPES as readonly string[]).includes(v)) {
    throw new ProtocolError(`field "${k}" must be one of ${CHECK_TYPES.join(", ")}`);
  }
  return v as CheckType;
}

function validateSpec(v: unknown): UncheckedSpec {
  if (!isObj(v)) throw new ProtocolError("a check must be an object");
  const params = v.params;
  if (!isObj(params)) throw new ProtocolError(`field "params" must be an object`);
  const spec: UncheckedSpec = {
    id: str(v, "id", MAX_CHECK_ID_CHARS),
    target: str(v, "target", MAX_TARGET_CHARS),
    type: checkType(v, "type"),
    intervalMs: num(v, "intervalMs"),
    timeoutMs: num(v, "timeoutMs"),
    params: params as JsonObject,
  };
  if (spec.intervalMs < MIN_INTERVAL_MS || spec.intervalMs > MAX_INTERVAL_MS) {
    throw new ProtocolError(`check "${spec.id}": interval must be from 10 ms to one day`);
  }
  if (spec.timeoutMs <= 0 || spec.timeoutMs >= spec.intervalMs) {
    throw new ProtocolError(`check "${spec.id}": timeout must be positive and below the interval`);
  }
  return spec;
}

function validateRecord<T>(o: Obj, k: string, each: (x: unknown) => x is T): Record<string, T> {
  const v = o[k];
  if (v === undefined) return {};
  if (!isObj(v)) throw new ProtocolError(`field "${k}" must be an object`);
  for (const [key, x] of Object.entries(v)) {
    if (!each(x)) throw new ProtocolError(`field "${k}.${key}" has a value of the wrong type`);
  }
  return v as Record<string, T>;
}

const isNumber = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const isDetail = (x: unknown): x is DetailValue =>
  x === null || ["string", "number", "boolean"].includes(typeof x) ||
  (Array.isArray(x) && x.every((y) => typeof y === "string"));

function validateResult(v: unknown): CheckResult {
  if (!isObj(v)) throw new ProtocolError("a result must be an object");
  const latency = v.latencyMs;
  if (latency !== null && !isNumber(latency)) {
    throw new ProtocolError(`field "latencyMs" must be a number or null`);
  }
  const r: CheckResult = {
    seq: int(v, "seq"),
    taskId: str(v, "taskId", 64),
    monitorId: str(v, "monitorId", 64),
    checkId: str(v, "checkId", MAX_CHECK_ID_CHARS),
    target: str(v, "target", MAX_TARGET_CHARS),
    type: checkType(v, "type"),
    startedAt: num(v, "startedAt"),
    durationMs: num(v, "durationMs"),
    up: bool(v, "up"),
    summary: str(v, "summary", 16384),
    latencyMs: latency,
    metrics: validateRecord(v, "metrics", isNumber),
    details: validateRecord(v, "details", isDetail),
  };
  if (v.error !== undefined) r.error = str(v, "error", 4096);
  return r;
}

/**
 * Parses and validates one frame (without its newline).
 * Throws {@linkcode ProtocolError} saying what is wrong.
 */
export function parseMessage(line: string): Message {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new ProtocolError(`frame is not JSON: ${JSON.stringify(line.slice(0, 60))}`);
  }
  if (!isObj(v)) throw new ProtocolError("frame is not a JSON object");
  const t = v.t;
  switch (t) {
    case "hello":
      return canonicalHello({
        t,
        v: int(v, "v"),
        vmin: v.vmin === undefined ? undefined : int(v, "vmin"),
        role: v.role === undefined ? undefined : str(v, "role", 16),
        version: str(v, "version", 64),
        nonce: str(v, "nonce", 128),
        caps: v.caps === undefined ? undefined : strList(v, "caps", 32, 64),
        monitorId: v.monitorId === undefined ? undefined : str(v, "monitorId", 64),
        name: v.name === undefined ? undefined : str(v, "name", 256),
        epoch: v.epoch === undefined ? undefined : str(v, "epoch", 64),
        lastSeq: v.lastSeq === undefined ? undefined : int(v, "lastSeq"),
        managerId: v.managerId === undefined ? undefined : str(v, "managerId", 64),
        takeover: v.takeover === undefined ? undefined : bool(v, "takeover"),
      });
    case "auth":
      return { t, mac: str(v, "mac", 128) };
    case "welcome":
      return { t };
    case "assign": {
      if (!Array.isArray(v.checks)) throw new ProtocolError(`field "checks" must be a list`);
      const msg: AssignMsg = { t, rev: int(v, "rev"), checks: v.checks.map(validateSpec) };
      if (v.more !== undefined) msg.more = bool(v, "more");
      return msg;
    }
    case "ack": {
      const msg: AckMsg = { t, from: int(v, "from"), to: int(v, "to") };
      if (msg.from > msg.to) throw new ProtocolError(`field "from" is above "to"`);
      return msg;
    }
    case "run":
      return { t, checkId: str(v, "checkId", MAX_CHECK_ID_CHARS) };
    case "results": {
      if (!Array.isArray(v.results)) throw new ProtocolError(`field "results" must be a list`);
      if (v.results.length > MAX_RESULTS_PER_FRAME) {
        throw new ProtocolError(`more than ${MAX_RESULTS_PER_FRAME} results in one frame`);
      }
      return { t, results: v.results.map(validateResult) };
    }
    case "stats": {
      const diskFull = v.diskFull === null ? null : str(v, "diskFull", 4096);
      return { t, pending: int(v, "pending"), dropped: int(v, "dropped"), diskFull };
    }
    case "hb":
      return { t };
    case "bye": {
      const msg: ByeMsg = { t, reason: str(v, "reason", 1024) };
      if (v.code !== undefined) {
        if (!(BYE_CODES as readonly unknown[]).includes(v.code)) {
          throw new ProtocolError(`field "code" must be one of ${BYE_CODES.join(", ")}`);
        }
        msg.code = v.code as ByeCode;
      }
      return msg;
    }
    default:
      throw new ProtocolError(`unknown message type ${JSON.stringify(t)}`);
  }
}

/**
 * Splits bytes, chunk by chunk, into frames, enforcing a frame size limit.
 * A frame that lies whole within a chunk is decoded straight from it; only
 * the start of a frame that the chunk ends inside is copied, so the caller
 * may reuse the chunk's buffer for its next read.
 *
 * @example
 * ```ts
 * import { FrameSplitter } from "./protocol.ts";
 * const s = new FrameSplitter();
 * const enc = new TextEncoder();
 * console.assert(s.push(enc.encode('{"t":')).length === 0);
 * console.assert(s.push(enc.encode('"hb"}\n'))[0] === '{"t":"hb"}');
 * ```
 */
export class FrameSplitter {
  readonly #maxBytes: number;
  #decoder = new TextDecoder("utf-8", { fatal: false });
  /** Copies of the bytes of the frame in progress, from earlier chunks. */
  #parts: Uint8Array[] = [];
  #size = 0;

  /** @param maxBytes the largest frame taken (newline excluded) */
  constructor(maxBytes = MAX_FRAME_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /**
   * Set once a frame has exceeded the limit: the frames before it in its
   * chunk were returned, nothing after it will be.
   */
  failed: ProtocolError | undefined;

  /**
   * The frames that `chunk` completes, blank lines left out. A frame over
   * the limit is refused as soon as it is, without waiting for its newline:
   * `push` throws {@linkcode ProtocolError}, or, when the chunk completed
   * frames before it, returns those and sets {@linkcode failed}.
   */
  push(chunk: Uint8Array): string[] {
    if (this.failed) throw this.failed;
    const frames: string[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
      this.#size += end - start;
      if (this.#size > this.#maxBytes) {
        this.failed = new ProtocolError(`frame exceeds ${this.#maxBytes} bytes`);
        if (frames.length === 0) throw this.failed;
        return frames;
      }
      const piece = chunk.subarray(start, end);
      if (nl < 0) {
        // copy: the reader may reuse the chunk's buffer
        this.#parts.push(piece.slice());
        break;
      }
      let frame: string;
      if (this.#parts.length === 0) {
        frame = this.#decoder.decode(piece);
      } else {
        this.#parts.push(piece);
        const all = new Uint8Array(this.#size);
        let off = 0;
        for (const p of this.#parts) {
          all.set(p, off);
          off += p.length;
        }
        frame = this.#decoder.decode(all);
        this.#parts = [];
      }
      this.#size = 0;
      start = nl + 1;
      if (frame.trim() !== "") frames.push(frame);
    }
    return frames;
  }
}

/**
 * Splits a byte stream into frames, enforcing {@linkcode MAX_FRAME_BYTES}.
 * Yields each frame's text; throws {@linkcode ProtocolError} on an oversized
 * frame. A partial frame at the end of the stream is dropped. `onBytes` is
 * called with the size of every chunk as it arrives, before any frame in it
 * is complete (liveness counts bytes, not frames).
 *
 * @example
 * ```ts
 * import { readFrames } from "./protocol.ts";
 * const stream = ReadableStream.from([new TextEncoder().encode('{"t":"hb"}\n')]);
 * for await (const frame of readFrames(stream)) console.assert(frame === '{"t":"hb"}');
 * ```
 */
export async function* readFrames(
  stream: ReadableStream<Uint8Array>,
  maxBytes = MAX_FRAME_BYTES,
  onBytes?: (n: number) => void,
): AsyncGenerator<string> {
  const splitter = new FrameSplitter(maxBytes);
  for await (const chunk of stream) {
    onBytes?.(chunk.length);
    yield* splitter.push(chunk);
    if (splitter.failed) throw splitter.failed;
  }
}

const HELLO_FIELDS = [
  "vmin",
  "role",
  "caps",
  "monitorId",
  "name",
  "epoch",
  "lastSeq",
  "managerId",
  "takeover",
] as const;

/**
 * A hello with its fields in one fixed order and absent ones left out: both
 * sides of a handshake hash this form, the sender of what it sent and the
 * receiver of what it parsed.
 *
 * @example
 * ```ts
 * import { canonicalHello } from "./protocol.ts";
 * const a = canonicalHello({ t: "hello", nonce: "n", v: 3, version: "1", role: "monitor" });
 * console.assert(JSON.stringify(a) === '{"t":"hello","v":3,"version":"1","nonce":"n","role":"monitor"}');
 * ```
 */
export function canonicalHello(h: HelloMsg): HelloMsg {
  const out: HelloMsg = { t: "hello", v: h.v, version: h.version, nonce: h.nonce };
  for (const k of HELLO_FIELDS) {
    if (h[k] !== undefined) Object.assign(out, { [k]: h[k] });
  }
  return out;
}
