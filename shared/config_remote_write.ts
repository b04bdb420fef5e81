/**
 * The `remote_write:` part of `tasks.yaml`: Prometheus remote-write
 * endpoints (Prometheus itself, Mimir, VictoriaMetrics, Thanos Receive) that
 * receive every stored result's metrics (see `manager/remote_write.ts`).
 * `config.ts` calls {@linkcode readRemoteWrite} while it walks the document,
 * so every mistake is a `ConfigError` with its position.
 *
 * ```yaml
 * remote_write:
 *   - url: http://127.0.0.1:9090/api/v1/write
 *   - url: https://mimir.example/api/v1/push
 *     headers: {X-Scope-OrgID: netmon}
 *     basic_auth: {username: netmon, password_file: /etc/netmon/mimir-password}
 * ```
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const c = parseConfig(
 *   "monitors: [{address: 'h:1'}]\ntargets: {x: {TCP: {port: 80}}}\n" +
 *     "remote_write: [{url: 'http://127.0.0.1:9090/api/v1/write'}]\n",
 *   "tasks.yaml",
 * );
 * console.assert(c.remoteWrite?.[0]?.url === "http://127.0.0.1:9090/api/v1/write");
 * ```
 *
 * @module
 */
import { isSeq, type Node } from "yaml";
import type { SecretRef, YamlEntry, YamlReader } from "./config_alerts.ts";

/**
 * One remote-write endpoint.
 *
 * @example
 * ```ts
 * import type { RemoteWriteConfig } from "./config_remote_write.ts";
 * const w: RemoteWriteConfig = {
 *   url: "http://127.0.0.1:9090/api/v1/write",
 *   headers: {},
 *   basicAuth: { username: "netmon", password: { file: "/etc/netmon/pw" } },
 * };
 * ```
 */
export interface RemoteWriteConfig {
  /** An http:// or https:// URL, as written. */
  url: string;
  /** Sent with every request (e.g. a tenant header); may not set the remote-write ones. */
  headers: Record<string, string>;
  basicAuth?: { username: string; password: SecretRef };
}

const KEYS = ["url", "headers", "basic_auth"];
const AUTH_KEYS = ["username", "password", "password_file", "password_env"];
/** Set by the sender: a configured value would break the protocol. */
const RESERVED_HEADERS = [
  "content-encoding",
  "content-type",
  "x-prometheus-remote-write-version",
  "content-length",
];

const at = (e: YamlEntry) => e.keyNode.range?.[0] ?? 0;

/**
 * Reads the top-level `remote_write:` list.
 *
 * @example
 * ```ts ignore
 * const endpoints = readRemoteWrite(r, entry);
 * ```
 */
export function readRemoteWrite(r: YamlReader, entry: YamlEntry): RemoteWriteConfig[] {
  const v = entry.value;
  if (!isSeq(v)) {
    r.fail(v, "remote_write", "must be a list of endpoints (- url: http://...)", at(entry));
  }
  const urls = new Set<string>();
  return v.items.map((item, i) => {
    const field = `remote_write[${i}]`;
    const node = item as Node | null;
    const start = node?.range?.[0] ?? at(entry);
    const entries = r.entries(node, field, start);
    r.onlyKeys(entries, field, KEYS, "remote_write key");
    const get = (k: string) => entries.find((e) => e.key === k);
    const urlEntry = get("url");
    if (!urlEntry) r.fail(node, `${field}.url`, "is required: the endpoint's write URL", start);
    const url = r.text(urlEntry.value, `${field}.url`, at(urlEntry));
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch { /* reported below */ }
    if (parsed === null || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      // the URL may carry a token: never echo it back
      r.fail(urlEntry.value, `${field}.url`, "must be an http:// or https:// URL");
    }
    if (urls.has(url)) r.fail(urlEntry.value, `${field}.url`, "is listed twice");
    urls.add(url);

    const headers: Record<string, string> = {};
    const h = get("headers");
    if (h) {
      for (const e of r.entries(h.value, `${field}.headers`, at(h))) {
        if (RESERVED_HEADERS.includes(e.key.toLowerCase())) {
          r.fail(
            e.keyNode,
            `${field}.headers.${e.key}`,
            "is set by netmon as remote-write requires",
          );
        }
        headers[e.key] = r.text(e.value, `${field}.headers.${e.key}`, at(e));
      }
    }

    const auth = get("basic_auth");
    if (!auth) return { url, headers };
    const f = `${field}.basic_auth`;
    const authEntries = r.entries(auth.value, f, at(auth));
    r.onlyKeys(authEntries, f, AUTH_KEYS, "basic_auth key");
    const authGet = (k: string) => authEntries.find((e) => e.key === k);
    const user = authGet("username");
    if (!user) r.fail(auth.value, `${f}.username`, "is required", at(auth));
    const given = AUTH_KEYS.slice(1).filter((k) => authGet(k));
    if (given.length !== 1) {
      r.fail(auth.value, f, "give one of password, password_file and password_env", at(auth));
    }
    const key = given[0]!;
    const secret = authGet(key)!;
    const value = r.text(secret.value, `${f}.${key}`, at(secret));
    const password: SecretRef = key === "password"
      ? { value }
      : key === "password_file"
      ? { file: value }
      : { env: value };
    return {
      url,
      headers,
      basicAuth: { username: r.text(user.value, `${f}.username`, at(user)), password },
    };
  });
}
