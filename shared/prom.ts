/**
 * Prometheus sample keys as checks report them in `CheckOutcome.metrics`:
 * the metric name with any labels in braces, label values escaped as the
 * text exposition format requires.
 *
 * @example
 * ```ts
 * import { metricKey } from "./prom.ts";
 * console.assert(metricKey("probe_tls_cipher_info", { cipher: 'a"b' }) === 'probe_tls_cipher_info{cipher="a\\"b"}');
 * ```
 *
 * @module
 */

/** `name{k="v",…}` with every value escaped (backslash, newline, double quote). */
export function metricKey(name: string, labels: Record<string, string>): string {
  const text = labelText(labels);
  return text ? `${name}{${text}}` : name;
}

/**
 * `k="v",…` with every value escaped.
 *
 * @example
 * ```ts
 * import { labelText } from "./prom.ts";
 * console.assert(labelText({ a: "x\ny" }) === 'a="x\\ny"');
 * ```
 */
export function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) =>
      `${k}="${v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"')}"`
    )
    .join(",");
}

/**
 * The inverse of {@linkcode metricKey}: the name and the unescaped labels of
 * `name{k="v",…}`, or null when `key` is not a valid sample key.
 *
 * @example
 * ```ts
 * import { parseMetricKey } from "./prom.ts";
 * const k = parseMetricKey('probe_http_duration_seconds{phase="tls"}');
 * console.assert(k?.name === "probe_http_duration_seconds" && k.labels.phase === "tls");
 * ```
 */
export function parseMetricKey(
  key: string,
): { name: string; labels: Record<string, string> } | null {
  const m = key.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/);
  if (!m) return null;
  const labels: Record<string, string> = {};
  const body = m[2] ?? "";
  const pair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
  while (pair.lastIndex < body.length) {
    const l = pair.exec(body);
    if (!l) return null;
    labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => c === "n" ? "\n" : c);
  }
  return { name: m[1]!, labels };
}
