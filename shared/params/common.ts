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
import { type IpProtocol, ParamError } from "../checks.ts";

/** Keys every check accepts besides its own; check parsers skip them. */
export const COMMON_KEYS = ["frequency", "timeout", "monitors", "ip_protocol", "alert"] as const;

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
    throw new ParamError(field, `must be a number, got ${JSON.stringify(v)}`);
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

/** An optional string. */
export function optString(raw: Record<string, unknown>, field: string, dflt: string): string {
  const v = raw[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v === "number") return String(v);
  if (typeof v !== "string") throw new ParamError(field, `must be text, got ${JSON.stringify(v)}`);
  return v;
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
    throw new ParamError(field, `must be true or false, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** An optional list of strings (a single string counts as a list of one). */
export function optStringList(
  raw: Record<string, unknown>,
  field: string,
  dflt: string[],
): string[] {
  const v = raw[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v === "string") return [v];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string" && typeof x !== "number")) {
    throw new ParamError(field, "must be a list of text values");
  }
  return v.map(String);
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
