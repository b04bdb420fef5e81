/**
 * The netmon wire protocol, used by both the monitor and the manager.
 *
 * ## Framing
 * Newline-delimited JSON over one TCP (or TLS) connection: each frame is one
 * UTF-8 JSON object followed by `\n`. A frame may not exceed
 * {@linkcode MAX_FRAME_BYTES}; a longer one, a line that is not JSON, or a
 * message that fails validation closes the connection with a logged reason.
 *
 * ## Conversation (version 2)
 * The manager dials; the monitor speaks first.
 * 1. monitor → `hello` {v, monitorId, name, version, nonce, epoch}
 * 2. manager → `auth` {v, managerId, nonce, mac, takeover}: `mac` is
 *    HMAC-SHA-256(token, "netmon-manager\n" + monitorNonce + "\n" + managerNonce).
 *    `takeover: false` asks to connect only if no other manager is.
 * 3. monitor → `welcome` {mac, lastSeq} with
 *    HMAC-SHA-256(token, "netmon-monitor\n" + monitorNonce + "\n" + managerNonce),
 *    or `bye` {reason} and close. The token itself never crosses the wire.
 *    Nothing but `welcome` (or `bye`) follows `hello` from the monitor: no
 *    result travels before the handshake is complete.
 * 4. Then, in any order: manager → `assign` {rev, checks, more},
 *    `ack` {from, to}, `run` {checkId}; monitor → `results` {results},
 *    `stats` {pending, dropped, diskFull}; either side → `hb` {} when it has
 *    sent nothing for {@linkcode HEARTBEAT_MS}; `bye` {reason} before a
 *    deliberate close. A side that has received no byte for
 *    {@linkcode DEAD_AFTER_MS} closes the connection: a large frame still
 *    arriving counts as life, however slow the link.
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

/** Protocol version spoken by this build. */
export const PROTOCOL_VERSION = 2;
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

/** Monitor → manager, first frame. */
export interface HelloMsg {
  t: "hello";
  v: number;
  monitorId: string;
  name: string;
  version: string;
  nonce: string;
  /** The spool's epoch: results are numbered within it ("" for a spool made before epochs). */
  epoch: string;
}
/** Manager → monitor, answer to hello. */
export interface AuthMsg {
  t: "auth";
  v: number;
  managerId: string;
  nonce: string;
  mac: string;
  takeover: boolean;
}
/** Monitor → manager, the handshake succeeded. */
export interface WelcomeMsg {
  t: "welcome";
  mac: string;
  lastSeq: number;
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

/** Every message of protocol version 2. */
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
      return {
        t,
        v: int(v, "v"),
        monitorId: str(v, "monitorId", 64),
        name: str(v, "name", 256),
        version: str(v, "version", 64),
        nonce: str(v, "nonce", 128),
        epoch: str(v, "epoch", 64),
      };
    case "auth":
      return {
        t,
        v: int(v, "v"),
        managerId: str(v, "managerId", 64),
        nonce: str(v, "nonce", 128),
        mac: str(v, "mac", 128),
        takeover: bool(v, "takeover"),
      };
    case "welcome":
      return { t, mac: str(v, "mac", 128), lastSeq: int(v, "lastSeq") };
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
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    onBytes?.(chunk.length);
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
      size += end - start;
      if (size > maxBytes) {
        throw new ProtocolError(`frame exceeds ${maxBytes} bytes`);
      }
      const piece = chunk.subarray(start, end);
      if (nl < 0) {
        // copy: the reader may reuse the chunk's buffer
        parts.push(piece.slice());
        break;
      }
      let frame: string;
      if (parts.length === 0) {
        frame = decoder.decode(piece);
      } else {
        parts.push(piece);
        const all = new Uint8Array(size);
        let off = 0;
        for (const p of parts) {
          all.set(p, off);
          off += p.length;
        }
        frame = decoder.decode(all);
      }
      parts = [];
      size = 0;
      start = nl + 1;
      if (frame.trim() !== "") yield frame;
    }
  }
}

/** Random nonce as hex, for the handshake. */
export function makeNonce(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * HMAC-SHA-256 over the handshake transcript, keyed by the shared token
 * (a fixed key when none is configured), as lowercase hex. Both sides call it
 * with the same arguments: the role whose proof it is and both nonces.
 */
export async function handshakeMac(
  token: string,
  role: "manager" | "monitor",
  monitorNonce: string,
  managerNonce: string,
): Promise<string> {
  const data = `netmon-${role}\n${monitorNonce}\n${managerNonce}`;
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(token === "" ? "\0netmon-no-token" : token),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(data)));
  return Array.from(sig, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Constant-time comparison of two hex MACs. */
export function macEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
