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
