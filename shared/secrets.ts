/**
 * The one place secrets are masked before anything is shown or stored:
 * passwords inside URLs (`http://user:***@host/`), query and fragment
 * parameters whose names look like credentials (`?api_key=***`), plus any
 * known secret value (a header's value, a notifier's token) wherever it
 * appears. The monitor masks what a check reports before it spools it, the
 * manager masks again before it stores, logs or serves it; checks
 * themselves always use the real values.
 *
 * Users name more parameters with `secret_params` (in `defaults:` or on an
 * HTTP/HTTPS check); those names travel in the check's parameters, so both
 * sides mask them.
 *
 * @example
 * ```ts
 * import { maskSecrets } from "./secrets.ts";
 * console.assert(
 *   maskSecrets("GET http://u:pw@h/x?api_key=abc&page=2 failed") ===
 *     "GET http://u:***@h/x?api_key=***&page=2 failed",
 * );
 * console.assert(maskSecrets("id=7&lot=abc", { params: ["lot"] }) === "id=7&lot=abc");
 * console.assert(maskSecrets("?id=7&lot=abc", { params: ["lot"] }) === "?id=7&lot=***");
 * ```
 *
 * @module
 */
import type { CheckOutcome, DetailValue, JsonObject } from "./checks.ts";
import type { Config } from "./config.ts";

/** What is shown in place of a secret. */
export const MASK = "***";

/**
 * Words that make a parameter or header name a secret when the name is one
 * of them or contains one as a word (`api_key`, `X-Amz-Signature`, `authToken`).
 */
const SECRET_WORDS = new Set([
  "key",
  "apikey",
  "token",
  "secret",
  "password",
  "passwd",
  "pass",
  "pwd",
  "sig",
  "signature",
  "auth",
  "authorization",
  "credential",
  "credentials",
  "session",
  "sessionid",
  "sid",
  "jwt",
  "bearer",
  "cookie",
  "otp",
]);

/** Whole names that are secrets though none of their words is. */
const SECRET_NAMES = new Set(["access_token", "accesstoken", "apikey", "x-api-key", "privatekey"]);

/** Secrets shorter than this are not masked by value: they would mask ordinary text. */
const MIN_VALUE_LENGTH = 4;

/** What to mask besides URL passwords and the built-in parameter names. */
export interface SecretRules {
  /** More parameter names to treat as secrets (compared without case). */
  params?: readonly string[];
  /** Exact secret values to mask wherever they appear. */
  values?: readonly string[];
}

/**
 * Whether a query parameter or header called `name` holds a secret.
 *
 * @example
 * ```ts
 * import { isSecretName } from "./secrets.ts";
 * console.assert(isSecretName("X-Amz-Signature") && isSecretName("authToken"));
 * console.assert(!isSecretName("monkey") && isSecretName("lot", ["LOT"]));
 * ```
 */
export function isSecretName(name: string, extra: readonly string[] = []): boolean {
  const lower = name.toLowerCase();
  if (SECRET_NAMES.has(lower) || extra.some((e) => e.toLowerCase() === lower)) return true;
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/);
  return words.some((w) => SECRET_WORDS.has(w));
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

/**
 * `text` with every secret replaced by {@linkcode MASK}: URL passwords,
 * parameters after `?`, `&`, `;` or `#` whose names are secrets, and the
 * exact `rules.values` (longest first, so a secret inside another is masked
 * whole). Safe on free text, URLs and JSON alike.
 */
export function maskSecrets(text: string, rules: SecretRules = {}): string {
  let out = text;
  // a URL password needs an "@", a parameter one of "?&;#": without them only a value can be there
  if (URL_OR_PARAM.test(text)) {
    const extra = rules.params ?? [];
    out = out.replace(
      /\b([a-z][a-z0-9+.-]*:\/\/[^\s/@:"'<>]*:)[^\s/@"'<>]*@/gi,
      `$1${MASK}@`,
    ).replace(
      // a value ends where the URL does; ", " is how summaries separate their fields
      /([?&;#])([^=&;#?\s"'<>]+)=((?:[^&;#\s"'<>,]|,(?!\s))*)/g,
      (all, sep: string, name: string, value: string) =>
        value !== "" && value !== MASK && isSecretName(decoded(name), extra)
          ? `${sep}${name}=${MASK}`
          : all,
    );
  }
  for (const v of valuesOf(rules)) if (out.includes(v)) out = out.split(v).join(MASK);
  return out;
}

const URL_OR_PARAM = /[@?&;#]/;
const NO_VALUES: readonly string[] = [];
const VALUES = new WeakMap<SecretRules, string[]>();

/** The values `rules` masks, longest first: sorted once per rules object, not per string masked. */
function valuesOf(rules: SecretRules): readonly string[] {
  if (!rules.values?.length) return NO_VALUES;
  let values = VALUES.get(rules);
  if (!values) {
    values = [...new Set(rules.values ?? [])]
      .filter((v) => v.length >= MIN_VALUE_LENGTH)
      .sort((a, b) => b.length - a.length);
    VALUES.set(rules, values);
  }
  return values;
}

/**
 * The secrets of one check's parameters: its own `secret_params` names, and
 * as values the URL's password, the values of its secret-named query
 * parameters and of its secret-named headers.
 *
 * @example
 * ```ts
 * import { secretRulesOf } from "./secrets.ts";
 * const r = secretRulesOf({ url: "http://h/?k=1&token=abcd", headers: { Authorization: "Basic eHk=" } });
 * console.assert(r.values!.includes("abcd") && r.values!.includes("Basic eHk="));
 * ```
 */
export function secretRulesOf(params: JsonObject): SecretRules {
  const names = Array.isArray(params.secret_params)
    ? params.secret_params.filter((n): n is string => typeof n === "string")
    : [];
  const values: string[] = [];
  if (typeof params.url === "string") {
    try {
      const u = new URL(params.url);
      if (u.password) values.push(u.password, decoded(u.password));
      const fragment = new URLSearchParams(u.hash.slice(1));
      for (const [k, v] of [...u.searchParams, ...fragment]) {
        if (isSecretName(k, names)) values.push(v);
      }
      for (const [k, v] of u.search.slice(1).split("&").map((p) => p.split("="))) {
        if (k !== undefined && v !== undefined && isSecretName(decoded(k), names)) values.push(v);
      }
    } catch { /* not a URL: nothing hidden in it */ }
  }
  const headers = params.headers;
  if (headers && typeof headers === "object" && !Array.isArray(headers)) {
    for (const [k, v] of Object.entries(headers)) {
      if (typeof v === "string" && isSecretName(k, names)) values.push(v);
    }
  }
  return { params: names, values };
}

/** Both rule sets at once. */
export function mergeRules(rules: readonly SecretRules[]): SecretRules {
  return {
    params: [...new Set(rules.flatMap((r) => r.params ?? []))],
    values: [...new Set(rules.flatMap((r) => r.values ?? []))],
  };
}

const configRules = new WeakMap<Config, SecretRules>();

/**
 * The secrets of every check of `config` together (kept per configuration
 * object, which a reload replaces): what the manager masks in every result.
 */
export function secretRulesOfConfig(config: Config): SecretRules {
  let rules = configRules.get(config);
  if (!rules) {
    rules = mergeRules(config.checks.map((c) => secretRulesOf(c.spec.params)));
    configRules.set(config, rules);
  }
  return rules;
}

/** `v` masked; `v` itself when it holds no secret. */
function maskDetail(v: DetailValue, rules: SecretRules): DetailValue {
  if (typeof v === "string") return maskSecrets(v, rules);
  if (Array.isArray(v)) {
    const m = v.map((x) => maskSecrets(x, rules));
    return m.every((x, i) => x === v[i]) ? v : m;
  }
  return v;
}

/**
 * `outcome` (or a whole result) with its summary, error and details masked.
 *
 * @example
 * ```ts
 * import { maskOutcome } from "./secrets.ts";
 * const o = maskOutcome({
 *   up: false, summary: "HTTP URL: http://h/?token=abc", latencyMs: null, metrics: {},
 *   error: "timeout", details: { final_url: "http://h/?sig=x" },
 * }, {});
 * console.assert(o.summary === "HTTP URL: http://h/?token=***");
 * console.assert(o.details!.final_url === "http://h/?sig=***");
 * ```
 */
export function maskOutcome<T extends CheckOutcome>(outcome: T, rules: SecretRules): T {
  // most outcomes hold no secret: then nothing is copied (it ran once per result, on both sides)
  const summary = maskSecrets(outcome.summary, rules);
  const error = outcome.error === undefined ? undefined : maskSecrets(outcome.error, rules);
  let details: Record<string, DetailValue> | undefined;
  const given = outcome.details;
  if (given) {
    for (const k in given) {
      const v = given[k]!;
      const m = maskDetail(v, rules);
      if (m === v) continue;
      details ??= { ...given };
      details[k] = m;
    }
  }
  if (summary === outcome.summary && error === outcome.error && !details) return outcome;
  const out: T = { ...outcome, summary };
  if (error !== undefined) out.error = error;
  if (details) out.details = details;
  return out;
}
