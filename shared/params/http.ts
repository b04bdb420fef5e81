/**
 * Parameters of the HTTP check (and, through {@linkcode parseHttpLike}, of
 * the HTTPS check), modelled on blackbox_exporter's `http` module.
 *
 * @example
 * ```ts
 * import { parseHttpParams } from "./http.ts";
 * const p = parseHttpParams({ url: "http://example.com/", valid_status_codes: ["200-299", 404] }, "x");
 * console.assert(p.method === "GET" && p.valid_status_codes.length === 2);
 * ```
 *
 * @module
 */
import { type IpProtocol, ParamError, type ParamParser } from "./types.ts";
import {
  ipProtocol,
  MAX_LIST_ITEMS,
  MAX_TEXT_LENGTH,
  optBool,
  optInt,
  optNumber,
  optString,
  optStringList,
  rejectSpecialAddress,
  rejectUnknown,
  reqString,
} from "./common.ts";
import {
  bool,
  choice,
  int,
  ipProtocolField,
  list,
  num,
  optional,
  record,
  regex,
  type Shape,
  text,
} from "./shape.ts";

/** Keys the HTTP and HTTPS checks accept besides the common ones. */
export const HTTP_KEYS = [
  "url",
  "method",
  "headers",
  "body",
  "follow_redirects",
  "max_redirects",
  "valid_status_codes",
  "body_contains",
  "body_not_contains",
  "body_regex",
  "tls_verify",
  "ca_file",
  "cert_expiry_days",
  "http_version",
  "secret_params",
] as const;

/** Fully defaulted parameters of an HTTP or HTTPS check. */
export type HttpParams = {
  /** The URL to request (`http://` or `https://`). */
  url: string;
  /** Request method, upper case. */
  method: string;
  /** Extra request headers; they override the defaults (`User-Agent`, `Host`). */
  headers: Record<string, string>;
  /** Request body, empty for none. */
  body: string;
  follow_redirects: boolean;
  /** How many redirects may be followed before the check fails. */
  max_redirects: number;
  /** Inclusive `[low, high]` ranges of status codes that count as up. */
  valid_status_codes: number[][];
  /** Texts that must all appear in the body. */
  body_contains: string[];
  /** Texts none of which may appear in the body. */
  body_not_contains: string[];
  /** Regular expressions (JavaScript syntax) the body must all match. */
  body_regex: string[];
  /** Whether an untrusted or mismatched certificate makes the check fail. */
  tls_verify: boolean;
  /** PEM file of the CA(s) to trust instead of the system store; empty for the system store. */
  ca_file: string;
  /** Down when a certificate expires within this many days; 0 turns the test off. */
  cert_expiry_days: number;
  /**
   * HTTP versions the last response may come in (`"1.0"`, `"1.1"`, `"2"`,
   * as `probe_http_version` shows them); empty for any.
   */
  http_version: string[];
  ip_protocol: IpProtocol;
  /**
   * Query parameter names whose values are masked wherever the check's
   * results are shown or stored, besides the built-in ones (`api_key`,
   * `token`, `sig`, …; see `shared/secrets.ts`). Absent when there are none.
   */
  secret_params?: string[];
};

/** The HTTP versions a check can meet: HTTP/2 over TLS when the server offers it (ALPN). */
const HTTP_VERSIONS = ["1.0", "1.1", "2"] as const;

/**
 * `http_version`: one version or a list, as numbers or text (`2`, `"2.0"`,
 * `"HTTP/1.1"`, `[1.1, 2]`), in the form `probe_http_version` shows.
 */
function parseHttpVersions(raw: Record<string, unknown>): string[] {
  const v = raw.http_version;
  const list = optStringList(
    { http_version: typeof v === "number" ? [v] : v },
    "http_version",
    [],
  );
  return list.map((item) => {
    const text = item.trim().replace(/^HTTP\//i, "");
    // YAML reads 1.0 and 2.0 as the numbers 1 and 2
    const version = text === "1" ? "1.0" : text === "2.0" ? "2" : text;
    if (!(HTTP_VERSIONS as readonly string[]).includes(version)) {
      throw new ParamError(
        "http_version",
        `"${item}" is not an HTTP version netmon speaks: use ${HTTP_VERSIONS.join(", ")}`,
      );
    }
    return version;
  });
}

/** Longest request body, in characters. */
const MAX_BODY_LENGTH = 65_536;

/** Status codes below 400 count as up, as in the seed (`status_code < 400`). */
const DEFAULT_VALID: number[][] = [[100, 399]];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function parseStatusRange(item: string): number[] {
  const text = item.trim().toLowerCase();
  let m = /^([1-5])xx$/.exec(text);
  if (m) return [Number(m[1]) * 100, Number(m[1]) * 100 + 99];
  m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(text);
  if (!m) {
    throw new ParamError(
      "valid_status_codes",
      `"${item}" is not a status code, a range like "200-299" or a class like "2xx"`,
    );
  }
  const low = Number(m[1]), high = Number(m[2] ?? m[1]);
  if (low < 100 || high > 599 || low > high) {
    throw new ParamError("valid_status_codes", `"${item}" is not a range within 100-599`);
  }
  return [low, high];
}

function parseHeaders(raw: Record<string, unknown>): Record<string, string> {
  const v = raw.headers;
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) {
    throw new ParamError("headers", "must be a mapping of header names to values");
  }
  const entries = Object.entries(v);
  if (entries.length > MAX_LIST_ITEMS) {
    throw new ParamError("headers", `must have at most ${MAX_LIST_ITEMS} entries`);
  }
  const out: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (!TOKEN.test(name)) throw new ParamError("headers", `"${name}" is not a valid header name`);
    if (typeof value !== "string" && typeof value !== "number") {
      throw new ParamError("headers", `the value of "${name}" must be text`);
    }
    if (String(value).length > MAX_TEXT_LENGTH) {
      throw new ParamError("headers", `the value of "${name}" is longer than ${MAX_TEXT_LENGTH}`);
    }
    if (/[\r\n]/.test(String(value))) {
      throw new ParamError("headers", `the value of "${name}" must be a single line`);
    }
    out[name] = String(value);
  }
  return out;
}

function parseUrl(raw: Record<string, unknown>, schemes: readonly string[]): string {
  const text = reqString(raw, "url");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ParamError("url", `"${text}" is not a valid URL`);
  }
  if (!schemes.includes(url.protocol)) {
    throw new ParamError("url", `must start with ${schemes.join(" or ")}//, got "${text}"`);
  }
  // URL has already turned short forms (http://0/, http://4294967295/) into dotted quads
  rejectSpecialAddress(raw, "url", url.hostname);
  return text;
}

/**
 * Parses HTTP-style parameters, accepting only URLs whose scheme is in
 * `schemes` (`"http:"`, `"https:"`). Shared by the HTTP and HTTPS parsers.
 *
 * @example
 * ```ts
 * import { parseHttpLike } from "./http.ts";
 * const p = parseHttpLike({ url: "https://example.com/" }, ["https:"]);
 * console.assert(p.tls_verify === true);
 * ```
 */
export function parseHttpLike(
  raw: Record<string, unknown>,
  schemes: readonly string[],
): HttpParams {
  rejectUnknown(raw, HTTP_KEYS);
  const method = optString(raw, "method", "GET").toUpperCase();
  if (!TOKEN.test(method)) throw new ParamError("method", `"${method}" is not an HTTP method`);
  const codes = optStringList(raw, "valid_status_codes", []);
  const bodyRegex = optStringList(raw, "body_regex", []);
  for (const re of bodyRegex) {
    try {
      new RegExp(re);
    } catch (e) {
      throw new ParamError("body_regex", `"${re}" is not a valid regular expression: ${e}`);
    }
  }
  const caFile = optString(raw, "ca_file", "");
  const secretParams = optStringList(raw, "secret_params", []);
  if (secretParams.some((n) => !/^[^\s=&#?]+$/.test(n))) {
    throw new ParamError(
      "secret_params",
      "names must be non-empty and contain no =, &, #, ? or spaces",
    );
  }
  return {
    url: parseUrl(raw, schemes),
    method,
    headers: parseHeaders(raw),
    body: optString(raw, "body", "", MAX_BODY_LENGTH),
    follow_redirects: optBool(raw, "follow_redirects", true),
    max_redirects: optInt(raw, "max_redirects", 10, { min: 0, max: 100 }),
    valid_status_codes: codes.length ? codes.map(parseStatusRange) : DEFAULT_VALID,
    body_contains: optStringList(raw, "body_contains", []),
    body_not_contains: optStringList(raw, "body_not_contains", []),
    body_regex: bodyRegex,
    tls_verify: optBool(raw, "tls_verify", true),
    ca_file: caFile,
    cert_expiry_days: optNumber(raw, "cert_expiry_days", 0, { min: 0, max: 3650 }),
    http_version: parseHttpVersions(raw),
    ip_protocol: ipProtocol(raw),
    ...(secretParams.length > 0 ? { secret_params: [...new Set(secretParams)] } : {}),
  };
}

/**
 * Parses the parameters of an HTTP check. `url` is required and may be
 * `http://` or `https://`.
 *
 * @example
 * ```ts
 * import { parseHttpParams } from "./http.ts";
 * const p = parseHttpParams({ url: "http://www.google.com", frequency: 2 }, "google.com");
 * console.assert(p.follow_redirects && p.max_redirects === 10);
 * ```
 */
export const parseHttpParams: ParamParser<HttpParams> = (raw) =>
  parseHttpLike(raw, ["http:", "https:"]);

/**
 * The parsed form of {@linkcode HttpParams}, as a monitor checks it on arrival.
 *
 * @example
 * ```ts
 * import { checkShape } from "./shape.ts";
 * import { HTTP_SHAPE, parseHttpParams } from "./http.ts";
 * const p = parseHttpParams({ url: "http://127.0.0.1/" }, "x");
 * console.assert(checkShape(HTTP_SHAPE, p).method === "GET");
 * ```
 */
export const HTTP_SHAPE: Shape<HttpParams> = {
  url: text,
  method: text,
  headers: record(text),
  body: text,
  follow_redirects: bool,
  max_redirects: int(0, 100),
  valid_status_codes: list(list(int(100, 599))),
  body_contains: list(text),
  body_not_contains: list(text),
  body_regex: list(regex),
  tls_verify: bool,
  ca_file: text,
  cert_expiry_days: num(0, 3650),
  http_version: list(choice(HTTP_VERSIONS)),
  ip_protocol: ipProtocolField,
  secret_params: optional(list(text)),
};
