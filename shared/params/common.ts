/**
 * Small readers for check parameters from `tasks.yaml`. Each returns the typed
 * value or the default, and throws {@linkcode ParamError} naming the field.
 *
 * @example
 * ```ts
 * import { optInt } from "./common.ts";
 * const port = optInt({ port: 80 }, "port", 443, { min: 1, max: 65535 });
 * console.assert(port === 80);
 * ```
 *
 * @module
 */
import { isIP } from "node:net";
import { type IpProtocol, ParamError } from "./types.ts";

/** Keys every check accepts besides its own; check parsers skip them. */
export const COMMON_KEYS = [
  "frequency",
  "timeout",
  "monitors",
  "ip_protocol",
  "alert",
  "allow_special",
] as const;

/** Longest text parameter unless a parser allows more (a host name, a pattern, a path). */
export const MAX_TEXT_LENGTH = 4096;

/** Most entries in a list parameter. */
export const MAX_LIST_ITEMS = 100;

/** Bounds for {@linkcode optInt} and {@linkcode optNumber}. */
export interface Bounds {
  min?: number;
  max?: number;
}

function checkBounds(field: string, v: number, b: Bounds): number {
  if (b.min !== undefined && v < b.min) throw new ParamError(field, `must be at least ${b.min}`);
  if (b.max !== undefined && v > b.max) throw new ParamError(field, `must be at most ${b.max}`);
  return v;
}

/** An optional finite number. */
export function optNumber(
  raw: Record<string, unknown>,
  field: string,
  dflt: number,
  bounds: Bounds = {},
): number {
  const v = raw[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ParamError(field, `must be a number, got ${short(v)}`);
  }
  return checkBounds(field, v, bounds);
}

/** An optional integer. */
export function optInt(
  raw: Record<string, unknown>,
  field: string,
  dflt: number,
  bounds: Bounds = {},
): number {
  const v = optNumber(raw, field, dflt, bounds);
  if (!Number.isInteger(v)) throw new ParamError(field, `must be a whole number, got ${v}`);
  return v;
}

/** An optional string of at most `maxLength` characters. */
export function optString(
  raw: Record<string, unknown>,
  field: string,
  dflt: string,
  maxLength = MAX_TEXT_LENGTH,
): string {
  const v = raw[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v === "number") return String(v);
  if (typeof v !== "string") throw new ParamError(field, `must be text, got ${short(v)}`);
  if (v.length > maxLength) {
    throw new ParamError(field, `must be at most ${maxLength} characters, got ${v.length}`);
  }
  return v;
}

/** A value for an error message, cut so that a huge one cannot flood the log. */
function short(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A required, non-empty string. */
export function reqString(raw: Record<string, unknown>, field: string): string {
  const v = optString(raw, field, "");
  if (v === "") throw new ParamError(field, "is required");
  return v;
}

/** An optional boolean. */
export function optBool(raw: Record<string, unknown>, field: string, dflt: boolean): boolean {
  const v = raw[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean") {
    throw new ParamError(field, `must be true or false, got ${short(v)}`);
  }
  return v;
}

/**
 * An optional list of strings (a single string counts as a list of one), of
 * at most {@linkcode MAX_LIST_ITEMS} entries of at most
 * {@linkcode MAX_TEXT_LENGTH} characters.
 */
export function optStringList(
  raw: Record<string, unknown>,
  field: string,
  dflt: string[],
): string[] {
  const v = raw[field];
  if (v === undefined || v === null) return dflt;
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || list.some((x) => typeof x !== "string" && typeof x !== "number")) {
    throw new ParamError(field, "must be a list of text values");
  }
  if (list.length > MAX_LIST_ITEMS) {
    throw new ParamError(field, `must have at most ${MAX_LIST_ITEMS} entries, got ${list.length}`);
  }
  const items = list.map(String);
  if (items.some((x) => x.length > MAX_TEXT_LENGTH)) {
    throw new ParamError(field, `entries must be at most ${MAX_TEXT_LENGTH} characters`);
  }
  return items;
}

/** An optional string restricted to a set of choices. */
export function optChoice<T extends string>(
  raw: Record<string, unknown>,
  field: string,
  choices: readonly T[],
  dflt: T,
): T {
  const v = optString(raw, field, dflt);
  const found = choices.find((c) => c.toLowerCase() === v.toLowerCase());
  if (found === undefined) {
    throw new ParamError(field, `must be one of ${choices.join(", ")}, got "${v}"`);
  }
  return found;
}

/** The `ip_protocol` key every check accepts. */
export function ipProtocol(raw: Record<string, unknown>): IpProtocol {
  return optChoice(raw, "ip_protocol", ["ip4", "ip6", "auto"] as const, "auto");
}

/** A port number (1–65535). */
export function optPort(raw: Record<string, unknown>, field: string, dflt: number): number {
  return optInt(raw, field, dflt, { min: 1, max: 65535 });
}

/** Rejects keys the check does not know, so a typo is an error rather than ignored. */
export function rejectUnknown(raw: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key) && !(COMMON_KEYS as readonly string[]).includes(key)) {
      const hint = known.find((k) =>
        k.replace(/_/g, "") === key.replace(/[_-]/g, "").toLowerCase()
      );
      throw new ParamError(
        key,
        `unknown parameter${hint ? ` (did you mean "${hint}"?)` : ""}; known: ${known.join(", ")}`,
      );
    }
  }
}

/** Why an IPv4 address (dotted quad) is not one host (unspecified, broadcast, multicast), or null. */
function specialV4(address: string): string | null {
  const [a = 0, b = 0, c = 0, d = 0] = address.split(".").map(Number);
  if (a === 0) return "an unspecified (0.0.0.0/8) address";
  if (a === 255 && b === 255 && c === 255 && d === 255) return "the broadcast address";
  if (a >= 224 && a <= 239) return "a multicast address";
  return null;
}

/** The same for IPv6, including IPv4-mapped addresses (`::ffff:0.0.0.0`). */
function specialV6(address: string): string | null {
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return specialV4(mapped[1]!);
  // the same in hex, as URL writes it: ::ffff:e000:1
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const [hi, lo] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
    return specialV4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join("."));
  }
  // every digit zero: ::, 0:0:0:0:0:0:0:0, ::0.0.0.0
  if (/^0*$/.test(lower.replace(/[:.]/g, ""))) return "the unspecified address";
  if (/^ff[0-9a-f]{2}:/.test(lower)) return "a multicast address";
  return null;
}

/**
 * Rejects a target address that is not one host: an unspecified address
 * (`0.0.0.0`, `::`), the limited broadcast `255.255.255.255` or a multicast
 * address (224.0.0.0/4, ff00::/8), unless the check sets
 * `allow_special: true`. Host names and ordinary addresses pass; `host` may
 * be in brackets (`[::]`).
 *
 * @example
 * ```ts
 * import { rejectSpecialAddress } from "./common.ts";
 * rejectSpecialAddress({}, "server_address", "192.0.2.1"); // fine
 * try {
 *   rejectSpecialAddress({}, "server_address", "255.255.255.255");
 * } catch (e) {
 *   console.assert(String(e).includes("allow_special: true"));
 * }
 * rejectSpecialAddress({ allow_special: true }, "server_address", "224.0.0.1"); // allowed
 * ```
 */
export function rejectSpecialAddress(
  raw: Record<string, unknown>,
  field: string,
  host: string,
): void {
  if (optBool(raw, "allow_special", false)) return;
  const address = host.trim().replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const family = isIP(address);
  const what = family === 4 ? specialV4(address) : family === 6 ? specialV6(address) : null;
  if (what !== null) {
    throw new ParamError(
      field,
      `${host} is ${what}, not one host; set allow_special: true to check it anyway`,
    );
  }
}

/** Parses text or `hex:` prefixed bytes (`hex:0a0b`) into bytes. */
export function parsePayload(field: string, text: string): Uint8Array {
  if (text.startsWith("hex:")) {
    const hex = text.slice(4).replace(/\s+/g, "");
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) {
      throw new ParamError(field, "hex payload must be pairs of hex digits after 'hex:'");
    }
    return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
  }
  return new TextEncoder().encode(text);
}
