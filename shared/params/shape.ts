/**
 * The parsed form of a check's parameters, described field by field, so that
 * a monitor can check what the manager sent before it runs it. Each check
 * type's file declares a `Shape` of its `…Params` type next to its parser;
 * the compiler holds the two together (a field added to the type and not to
 * the shape, or of another kind, does not compile).
 *
 * @example
 * ```ts
 * import { bool, checkShape, int, type Shape } from "./shape.ts";
 * type P = { port: number; tls: boolean };
 * const shape: Shape<P> = { port: int(1, 65535), tls: bool };
 * console.assert(checkShape(shape, { port: 443, tls: true }).port === 443);
 * ```
 *
 * @module
 */
import { type IpProtocol, ParamError } from "./types.ts";

/** Checks one field's value; returns it typed or throws {@linkcode ParamError} naming `field`. */
export type Field<T> = (value: unknown, field: string) => T;

/** A {@linkcode Field} for every key of `P`, optional keys included. */
export type Shape<P> = { [F in keyof P]-?: Field<P[F]> };

function fail(field: string, what: string, value: unknown): never {
  const text = JSON.stringify(value) ?? String(value);
  throw new ParamError(
    field,
    `must be ${what}, got ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`,
  );
}

/** Text. */
export const text: Field<string> = (v, field) => typeof v === "string" ? v : fail(field, "text", v);

/** `true` or `false`. */
export const bool: Field<boolean> = (v, field) =>
  typeof v === "boolean" ? v : fail(field, "true or false", v);

/** A finite number within [min, max]. */
export function num(min = -Infinity, max = Infinity): Field<number> {
  return (v, field) =>
    typeof v === "number" && Number.isFinite(v) && v >= min && v <= max
      ? v
      : fail(field, `a number from ${min} to ${max}`, v);
}

/** A whole number within [min, max]. */
export function int(min: number, max: number): Field<number> {
  return (v, field) =>
    Number.isInteger(v) && typeof v === "number" && v >= min && v <= max
      ? v
      : fail(field, `a whole number from ${min} to ${max}`, v);
}

/** A port number. */
export const port: Field<number> = int(1, 65535);

/** One of `choices`, spelled exactly. */
export function choice<T extends string>(choices: readonly T[]): Field<T> {
  return (v, field) => {
    const found = choices.find((c) => c === v);
    return found ?? fail(field, `one of ${choices.join(", ")}`, v);
  };
}

/** The `ip_protocol` every check has. */
export const ipProtocolField: Field<IpProtocol> = choice(["ip4", "ip6", "auto"] as const);

/** A JavaScript regular expression's source. */
export const regex: Field<string> = (v, field) => {
  const source = text(v, field);
  try {
    new RegExp(source);
  } catch (e) {
    throw new ParamError(field, `is not a valid regular expression: ${(e as Error).message}`);
  }
  return source;
};

/** `inner`, or null. */
export function nullable<T>(inner: Field<T>): Field<T | null> {
  return (v, field) => v === null ? null : inner(v, field);
}

/** `inner`, or absent. */
export function optional<T>(inner: Field<T>): Field<T | undefined> {
  return (v, field) => v === undefined ? undefined : inner(v, field);
}

/** A list of `inner`. */
export function list<T>(inner: Field<T>): Field<T[]> {
  return (v, field) =>
    Array.isArray(v) ? v.map((x, i) => inner(x, `${field}[${i}]`)) : fail(field, "a list", v);
}

/** A mapping of names to `inner`. */
export function record<T>(inner: Field<T>): Field<Record<string, T>> {
  return (v, field) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return fail(field, "a mapping", v);
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(v)) out[k] = inner(x, `${field}.${k}`);
    return out;
  };
}

/**
 * `value` checked against `shape`: an object with every field the shape
 * names (optional ones may be absent) and no other. Throws
 * {@linkcode ParamError} naming the first field that does not fit.
 *
 * @example
 * ```ts
 * import { checkShape, text } from "./shape.ts";
 * try {
 *   checkShape({ host: text }, { host: 1 });
 * } catch (e) {
 *   console.assert(String(e).includes("host: must be text"));
 * }
 * ```
 */
export function checkShape<P>(shape: Shape<P>, value: unknown): P {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ParamError("params", "must be an object");
  }
  const given: Record<string, unknown> = { ...value };
  const out: Partial<P> = {};
  for (const key of Object.keys(shape) as (keyof P & string)[]) {
    const v = shape[key](given[key], key);
    if (v !== undefined) out[key] = v;
    delete given[key];
  }
  const extra = Object.keys(given)[0];
  if (extra !== undefined) throw new ParamError(extra, "is not a parameter of this check");
  return out as P;
}
