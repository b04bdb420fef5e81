/**
 * The `tasks.yaml` schema and its parser: which monitors exist, which checks
 * run against which targets, how often, and on which monitors. Every mistake
 * becomes a {@linkcode ConfigError} that points at the line and column.
 *
 * ```yaml
 * monitors:
 *   - address: 127.0.0.1:54322
 *     name: local
 *     labels: [eu, lab]
 * defaults:
 *   frequency: 60
 * targets:
 *   google.com:
 *     monitors: all
 *     HTTP: {url: http://www.google.com, frequency: 2}
 *     TCP: {port: 80, frequency: 2}
 * ```
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   "monitors: [{address: '127.0.0.1:54322'}]\ntargets: {example.com: {TCP: {port: 80}}}\n",
 *   "tasks.yaml",
 * );
 * console.assert(config.checks[0]!.spec.id === "example.com/TCP");
 * ```
 *
 * @module
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import { isIP } from "node:net";
import {
  CHECK_TYPES,
  type CheckParams,
  type CheckSpec,
  type CheckSpecOf,
  type CheckType,
  ParamError,
} from "./checks.ts";
import { parseParams } from "./params/mod.ts";
import { readStatusPage, type StatusPageConfig } from "./config_status_page.ts";
import {
  checkIdOf,
  jsonBytes,
  MAX_CHECK_BYTES,
  MAX_CHECK_ID_CHARS,
  MAX_INTERVAL_MS,
  MAX_TARGET_CHARS,
  MIN_INTERVAL_MS,
} from "./limits.ts";
import {
  type AlertingConfig,
  type AlertOverrides,
  readAlerting,
  readAlertRules,
  readCheckAlert,
  readMaintenance,
} from "./config_alerts.ts";
import { readRemoteWrite, type RemoteWriteConfig } from "./config_remote_write.ts";

/**
 * Where a check runs: on every monitor, on one monitor the manager picks at
 * run time (`spread`), or on the named monitors (labels already resolved to
 * monitor names).
 *
 * @example
 * ```ts
 * import type { Placement } from "./config.ts";
 * const p: Placement = { mode: "select", names: ["local"] };
 * ```
 */
export type Placement = { mode: "all" } | { mode: "spread" } | { mode: "select"; names: string[] };

/**
 * One monitor the manager connects to.
 *
 * @example
 * ```ts
 * import type { MonitorConfig } from "./config.ts";
 * const m: MonitorConfig = {
 *   name: "local", host: "127.0.0.1", port: 54322, address: "127.0.0.1:54322", labels: [],
 * };
 * ```
 */
export interface MonitorConfig {
  /** Unique name; the address unless set. */
  name: string;
  /** Host name or address, without brackets ("" for a monitor that dials in). */
  host: string;
  /** 0 for a monitor that dials in. */
  port: number;
  /** `host:port`, or `[v6]:port` ("" for a monitor that dials in). */
  address: string;
  /**
   * Set for an entry with a `name` and no address: a monitor started with
   * `--connect` that dials the manager's `--listen-monitors` port and is
   * known by its `--name`.
   */
  dialIn?: boolean;
  labels: string[];
  /** Set when the monitor port speaks TLS. */
  tls?: MonitorTls;
}

/**
 * How the manager verifies a monitor's TLS certificate: against `ca` (a PEM
 * file), or pinned by `fingerprint` (SHA-256 of the certificate, as the
 * monitor prints at start, like SSH's known hosts), or the system's CAs.
 *
 * @example
 * ```ts
 * import type { MonitorTls } from "./config.ts";
 * const t: MonitorTls = { fingerprint: "AB".repeat(32) };
 * ```
 */
export interface MonitorTls {
  ca?: string;
  /** 64 uppercase hex digits, no separators. */
  fingerprint?: string;
  serverName?: string;
  /** Client certificate and key (PEM files) for monitors that require one. */
  clientCert?: string;
  clientKey?: string;
}

/**
 * A check and where it runs.
 *
 * @example
 * ```ts
 * import type { AssignedCheck } from "./config.ts";
 * import { parseTcpParams } from "./params/tcp.ts";
 * const a: AssignedCheck = {
 *   spec: {
 *     id: "x/TCP", target: "x", type: "TCP", intervalMs: 60000, timeoutMs: 10000,
 *     params: parseTcpParams({ port: 80 }, "x"),
 *   },
 *   placement: { mode: "all" },
 * };
 * ```
 */
export interface AssignedCheck {
  /** `id` is `${target}/${TYPE}`; `params` come from the check type's parser. */
  spec: CheckSpec;
  placement: Placement;
  /** The check's own `alert:` rules (see `config_alerts.ts`). */
  alert?: AlertOverrides;
}

/**
 * A parsed `tasks.yaml`.
 *
 * @example
 * ```ts
 * import type { Config } from "./config.ts";
 * const empty: Config = { monitors: [], checks: [], targets: [] };
 * ```
 */
export interface Config {
  monitors: MonitorConfig[];
  /** Targets in file order, each target's checks in file order. */
  checks: AssignedCheck[];
  /** Target names in file order. */
  targets: string[];
  /** Set when the file has `alerts:`, `notifiers:`, `maintenance:` or a target's `alert:`. */
  alerting?: AlertingConfig;
  /** Set when the file has `remote_write:` (see `config_remote_write.ts`). */
  remoteWrite?: RemoteWriteConfig[];
  /** The public status page (`status_page:`, see `config_status_page.ts`). */
  statusPage?: StatusPageConfig;
}

/**
 * A mistake in `tasks.yaml`, with its position. The message reads
 * `tasks.yaml:12:7: targets.google.com.HTTP.port: must be at most 65535`.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./config.ts";
 * const e = new ConfigError("tasks.yaml", 12, 7, "targets.x.TCP.port", "must be at most 65535");
 * console.assert(e.message === "tasks.yaml:12:7: targets.x.TCP.port: must be at most 65535");
 * ```
 */
export class ConfigError extends Error {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** Dotted path of the offending key, e.g. `targets.google.com.HTTP.port`; empty for syntax errors. */
  readonly field: string;
  /** What is wrong, without the position. */
  readonly reason: string;

  /**
   * @param file the file's name as shown to the user
   * @param line 1-based line
   * @param column 1-based column
   * @param field dotted path of the key, or "" when there is none
   * @param reason what is wrong
   */
  constructor(file: string, line: number, column: number, field: string, reason: string) {
    super(`${file}:${line}:${column}: ${field === "" ? "" : `${field}: `}${reason}`);
    this.name = "ConfigError";
    this.file = file;
    this.line = line;
    this.column = column;
    this.field = field;
    this.reason = reason;
  }
}

const TOP_KEYS = [
  "monitors",
  "defaults",
  "targets",
  "alerts",
  "notifiers",
  "maintenance",
  "remote_write",
  "status_page",
];
/** The keys of a monitor entry that say how to dial it over TLS. */
const MONITOR_TLS_KEYS = ["tls", "ca", "fingerprint", "server_name", "client_cert", "client_key"];
const MONITOR_KEYS = [
  "address",
  "ip",
  "port",
  "name",
  "labels",
  "tls",
  "ca",
  "fingerprint",
  "server_name",
  "client_cert",
  "client_key",
];
const DEFAULT_KEYS = ["frequency", "timeout", "monitors", "secret_params"];
const DEFAULT_FREQUENCY_S = 60;
const MAX_DEFAULT_TIMEOUT_S = 10;
/** The protocol's shortest interval (10 ms), below which a monitor refuses a check. */
const MIN_FREQUENCY_S = MIN_INTERVAL_MS / 1000;
/** One day: timers cannot wait longer than 2^31 ms, and no check needs to. */
const MAX_FREQUENCY_S = MAX_INTERVAL_MS / 1000;

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        prev[j]! + 1,
        row[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** ` (did you mean "x"?)` for the closest candidate within two edits, else "". */
function hint(word: string, candidates: readonly string[]): string {
  const lower = word.toLowerCase();
  let best: string | null = null;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best === null ? "" : ` (did you mean "${best}"?)`;
}

/** A map entry with its key node, for positions. */
interface Entry {
  key: string;
  keyNode: Node;
  value: Node | null;
}

/** Walks the document, turning every problem into a {@linkcode ConfigError}. */
class Reader {
  readonly #file: string;
  readonly #lines: LineCounter;

  constructor(file: string, lines: LineCounter) {
    this.#file = file;
    this.#lines = lines;
  }

  failAt(offset: number, field: string, reason: string): never {
    const { line, col } = this.#lines.linePos(offset);
    throw new ConfigError(this.#file, line, col, field, reason);
  }

  fail(node: Node | null | undefined, field: string, reason: string, fallback = 0): never {
    return this.failAt(node?.range?.[0] ?? fallback, field, reason);
  }

  /** The entries of a mapping, rejecting duplicate and non-text keys. */
  entries(node: Node | null, field: string, fallback: number): Entry[] {
    if (!isMap(node)) this.fail(node, field, "must be a mapping (key: value)", fallback);
    const seen = new Map<string, Node>();
    return (node as YAMLMap<Node, Node | null>).items.map((pair) => {
      const keyNode = pair.key;
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === "object") {
        this.fail(keyNode, field, "keys must be plain text", node.range?.[0]);
      }
      const key = String(keyNode.value);
      const path = field === "" ? key : `${field}.${key}`;
      const first = seen.get(key);
      if (first !== undefined) {
        const { line } = this.#lines.linePos(first.range?.[0] ?? 0);
        this.fail(keyNode, path, `duplicate key (first set on line ${line})`);
      }
      seen.set(key, keyNode);
      return { key, keyNode, value: pair.value ?? null };
    });
  }

  /** Rejects keys outside `known`, hinting at the nearest one. */
  onlyKeys(entries: Entry[], field: string, known: readonly string[], what: string): void {
    for (const e of entries) {
      if (!known.includes(e.key)) {
        this.fail(
          e.keyNode,
          field === "" ? e.key : `${field}.${e.key}`,
          `unknown ${what}${hint(e.key, known)}; known: ${known.join(", ")}`,
        );
      }
    }
  }

  text(node: Node | null, field: string, fallback: number): string {
    if (!isScalar(node) || (typeof node.value !== "string" && typeof node.value !== "number")) {
      this.fail(node, field, "must be text", fallback);
    }
    const s = String(node.value).trim();
    if (s === "") this.fail(node, field, "must not be empty");
    return s;
  }

  port(node: Node | null, field: string, fallback: number): number {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== "number" || !Number.isInteger(v)) {
      this.fail(node, field, "must be a whole number", fallback);
    }
    if (v < 1) this.fail(node, field, "must be at least 1");
    if (v > 65535) this.fail(node, field, "must be at most 65535");
    return v;
  }

  seconds(node: Node | null, field: string, fallback: number): number {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      this.fail(node, field, "must be a number of seconds", fallback);
    }
    if (v < MIN_FREQUENCY_S) this.fail(node, field, `must be at least ${MIN_FREQUENCY_S} seconds`);
    if (v > MAX_FREQUENCY_S) this.fail(node, field, `must be at most ${MAX_FREQUENCY_S} seconds`);
    return v;
  }

  textList(node: Node | null, field: string, fallback: number): { value: string; node: Node }[] {
    if (isScalar(node)) return [{ value: this.text(node, field, fallback), node }];
    if (!isSeq(node)) this.fail(node, field, "must be a list of text values", fallback);
    return node.items.map((item, i) => ({
      value: this.text(item as Node | null, `${field}[${i}]`, node.range?.[0] ?? fallback),
      node: item as Node,
    }));
  }
}

/** Splits `host:port` and `[v6]:port`. */
function splitAddress(r: Reader, node: Node | null, field: string, fallback: number) {
  const text = r.text(node, field, fallback);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\s]+):(\d+)$/.exec(text);
  if (!m) r.fail(node, field, `must be host:port or [IPv6]:port, got "${text}"`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) r.fail(node, field, "port must be from 1 to 65535");
  return { host: m[1]!, port };
}

function readMonitors(r: Reader, node: Node | null, fallback: number): MonitorConfig[] {
  if (!isSeq(node) || node.items.length === 0) {
    r.fail(node, "monitors", "must list at least one monitor (- address: host:port)", fallback);
  }
  const names = new Set<string>();
  return node.items.map((item, i) => {
    const field = `monitors[${i}]`;
    const start = (item as Node | null)?.range?.[0] ?? node.range?.[0] ?? fallback;
    const entries = r.entries(item as Node | null, field, start);
    r.onlyKeys(entries, field, MONITOR_KEYS, "monitor key");
    const get = (k: string) => entries.find((e) => e.key === k);
    const address = get("address"), ip = get("ip"), port = get("port");
    let host: string, portNo: number;
    if (address) {
      if (ip || port) {
        r.fail(address.keyNode, `${field}.address`, "give address or ip and port, not both");
      }
      ({ host, port: portNo } = splitAddress(r, address.value, `${field}.address`, start));
    } else if (ip && port) {
      host = r.text(ip.value, `${field}.ip`, start).replace(/^\[(.*)\]$/, "$1");
      portNo = r.port(port.value, `${field}.port`, start);
    } else if (get("name") && !ip && !port) {
      // a monitor that dials in: known by its name, it has no address to dial
      const nameEntry = get("name")!;
      const name = r.text(nameEntry.value, `${field}.name`, start);
      if (names.has(name)) {
        r.fail(nameEntry.value, `${field}.name`, `"${name}" is used by another monitor`);
      }
      names.add(name);
      const dialKey = entries.find((e) => MONITOR_TLS_KEYS.includes(e.key));
      if (dialKey) {
        r.fail(
          dialKey.keyNode,
          `${field}.${dialKey.key}`,
          "applies to a monitor the manager dials (with an address); a monitor that dials in " +
            "verifies the manager with --tls-ca or --tls-fingerprint",
        );
      }
      const labelsEntry = get("labels");
      const labels = labelsEntry
        ? r.textList(labelsEntry.value, `${field}.labels`, labelsEntry.keyNode.range?.[0] ?? start)
          .map((l) => l.value)
        : [];
      return { name, host: "", port: 0, address: "", labels, dialIn: true };
    } else {
      r.failAt(
        start,
        `${field}.address`,
        "is required (host:port, or ip and port; or only a name for a monitor that dials in)",
      );
    }
    const addr = isIP(host) === 6 ? `[${host}]:${portNo}` : `${host}:${portNo}`;
    const nameEntry = get("name");
    const name = nameEntry ? r.text(nameEntry.value, `${field}.name`, start) : addr;
    if (names.has(name)) {
      r.fail(
        nameEntry?.value ?? (item as Node),
        `${field}.name`,
        `"${name}" is used by another monitor`,
      );
    }
    names.add(name);
    const labelsEntry = get("labels");
    const labels = labelsEntry
      ? r.textList(labelsEntry.value, `${field}.labels`, labelsEntry.keyNode.range?.[0] ?? start)
        .map((l) => l.value)
      : [];
    const tls = readMonitorTls(r, get, field, start);
    return { name, host, port: portNo, address: addr, labels, ...(tls ? { tls } : {}) };
  });
}

function readMonitorTls(
  r: Reader,
  get: (k: string) => Entry | undefined,
  field: string,
  start: number,
): MonitorTls | undefined {
  const text = (k: string) => {
    const e = get(k);
    return e ? r.text(e.value, `${field}.${k}`, start) : undefined;
  };
  const flag = get("tls");
  let on = false;
  if (flag) {
    const v = isScalar(flag.value) ? flag.value.value : undefined;
    if (typeof v !== "boolean") r.fail(flag.value, `${field}.tls`, "must be true or false", start);
    on = v;
  }
  const tls: MonitorTls = {};
  const ca = text("ca"), serverName = text("server_name");
  const clientCert = text("client_cert"), clientKey = text("client_key");
  if (ca) tls.ca = ca;
  if (serverName) tls.serverName = serverName;
  if (clientCert) tls.clientCert = clientCert;
  if (clientKey) tls.clientKey = clientKey;
  const fp = get("fingerprint");
  if (fp) {
    const raw = r.text(fp.value, `${field}.fingerprint`, start);
    const hex = raw.replace(/^sha256:/i, "").replace(/:/g, "").toUpperCase();
    if (!/^[0-9A-F]{64}$/.test(hex)) {
      r.fail(
        fp.value,
        `${field}.fingerprint`,
        "must be a SHA-256 fingerprint: 64 hex digits, colons allowed",
      );
    }
    tls.fingerprint = hex;
  }
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    r.failAt(start, `${field}.client_cert`, "client_cert and client_key go together");
  }
  if (flag && !on && Object.keys(tls).length > 0) {
    r.fail(flag.value, `${field}.tls`, "is false but TLS settings are given");
  }
  return on || Object.keys(tls).length > 0 ? tls : undefined;
}

/** Check-level defaults as read, with the nodes for error positions. */
interface Defaults {
  frequency: number;
  timeout: { seconds: number; node: Node } | null;
  monitors: Entry | null;
  /** Query parameter names every HTTP and HTTPS check masks (see `shared/secrets.ts`). */
  secretParams: string[];
}

function readPlacement(
  r: Reader,
  entry: Entry,
  field: string,
  monitors: MonitorConfig[],
): Placement {
  const v = entry.value;
  if (isScalar(v) && (v.value === "all" || v.value === "spread")) return { mode: v.value };
  const fallback = entry.keyNode.range?.[0] ?? 0;
  const items = r.textList(v, field, fallback);
  if (items.length === 0) r.fail(v, field, "must name at least one monitor, or be all or spread");
  const picked = new Set<string>();
  for (const { value, node } of items) {
    const matches = monitors.filter((m) => m.name === value || m.labels.includes(value));
    if (matches.length === 0) {
      const known = [...new Set(monitors.flatMap((m) => [m.name, ...m.labels]))];
      r.fail(
        node,
        field,
        `no monitor is named or labelled "${value}"${hint(value, known)}; known: ${
          known.join(", ")
        } (or all, spread)`,
      );
    }
    for (const m of matches) picked.add(m.name);
  }
  // monitor file order, so the same selection always reads the same
  return { mode: "select", names: monitors.filter((m) => picked.has(m.name)).map((m) => m.name) };
}

function readDefaults(r: Reader, node: Node | null, fallback: number): Defaults {
  const defaults: Defaults = {
    frequency: DEFAULT_FREQUENCY_S,
    timeout: null,
    monitors: null,
    secretParams: [],
  };
  if (node === null) return defaults;
  const entries = r.entries(node, "defaults", fallback);
  r.onlyKeys(entries, "defaults", DEFAULT_KEYS, "default");
  for (const e of entries) {
    const at = e.keyNode.range?.[0] ?? fallback;
    if (e.key === "frequency") defaults.frequency = r.seconds(e.value, "defaults.frequency", at);
    if (e.key === "timeout") {
      defaults.timeout = { seconds: r.seconds(e.value, "defaults.timeout", at), node: e.value! };
    }
    if (e.key === "monitors") defaults.monitors = e;
    if (e.key === "secret_params") {
      defaults.secretParams = r.textList(e.value, "defaults.secret_params", at).map((x) => x.value);
    }
  }
  return defaults;
}

function readCheck<K extends CheckType>(
  r: Reader,
  target: string,
  type: K,
  entry: Entry,
  targetPlacement: Entry | null,
  defaults: Defaults,
  monitors: MonitorConfig[],
): { spec: CheckSpecOf<K>; placement: Placement } {
  const field = `targets.${target}.${type}`;
  const at = entry.keyNode.range?.[0] ?? 0;
  const id = checkIdOf(target, type);
  if (id.length > MAX_CHECK_ID_CHARS) {
    r.fail(
      entry.keyNode,
      field,
      `the check ID ${JSON.stringify(id.slice(0, 40) + "…")} is ${id.length} characters, and a ` +
        `monitor takes at most ${MAX_CHECK_ID_CHARS}: shorten the target name to at most ` +
        `${MAX_CHECK_ID_CHARS - id.length + target.length} characters`,
    );
  }
  // `ICMP:` with nothing after it means "all defaults"
  const entries = entry.value === null || (isScalar(entry.value) && entry.value.value === null)
    ? []
    : r.entries(entry.value, field, at);
  const get = (k: string) => entries.find((e) => e.key === k);

  const freqEntry = get("frequency");
  const frequency = freqEntry
    ? r.seconds(freqEntry.value, `${field}.frequency`, at)
    : defaults.frequency;
  const timeoutEntry = get("timeout");
  let timeout = Math.min(MAX_DEFAULT_TIMEOUT_S, 0.8 * frequency);
  if (timeoutEntry) {
    timeout = r.seconds(timeoutEntry.value, `${field}.timeout`, at);
    if (timeout >= frequency) {
      r.fail(timeoutEntry.value, `${field}.timeout`, `must be below frequency (${frequency} s)`);
    }
  } else if (defaults.timeout) {
    timeout = defaults.timeout.seconds;
    if (timeout >= frequency) {
      r.fail(
        defaults.timeout.node,
        "defaults.timeout",
        `must be below the frequency of ${field} (${frequency} s); set a timeout there`,
      );
    }
  }

  const placementEntry = get("monitors") ?? targetPlacement ?? defaults.monitors;
  const placement: Placement = placementEntry === undefined || placementEntry === null
    ? { mode: "all" }
    : readPlacement(
      r,
      placementEntry,
      placementEntry === get("monitors")
        ? `${field}.monitors`
        : placementEntry === targetPlacement
        ? `targets.${target}.monitors`
        : "defaults.monitors",
      monitors,
    );

  let params: CheckParams[K];
  try {
    const raw = entry.value === null ? {} : toPlain(entry.value);
    if ((type === "HTTP" || type === "HTTPS") && defaults.secretParams.length > 0) {
      const own = raw.secret_params;
      raw.secret_params = [
        ...defaults.secretParams,
        ...(Array.isArray(own) ? own : own === undefined || own === null ? [] : [own]),
      ];
    }
    params = parseParams(type, raw, target);
  } catch (e) {
    if (!(e instanceof ParamError)) throw e;
    const keyNode = get(e.field)?.keyNode;
    const reason = e.message.startsWith(`${e.field}: `)
      ? e.message.slice(e.field.length + 2)
      : e.message;
    r.fail(keyNode ?? entry.value, `${field}.${e.field}`, reason, at);
  }
  const spec: CheckSpecOf<K> = {
    id,
    target,
    type,
    intervalMs: Math.round(frequency * 1000),
    timeoutMs: Math.round(timeout * 1000),
    params,
  };
  // what the monitor compares are the whole milliseconds sent, not the seconds written
  if (spec.timeoutMs >= spec.intervalMs) {
    r.fail(
      timeoutEntry?.value ?? defaults.timeout?.node ?? entry.keyNode,
      timeoutEntry ? `${field}.timeout` : defaults.timeout ? "defaults.timeout" : field,
      `must be below frequency (${frequency} s) in whole milliseconds: ` +
        `${spec.timeoutMs} ms is not below ${spec.intervalMs} ms`,
    );
  }
  const bytes = jsonBytes(spec);
  if (bytes > MAX_CHECK_BYTES) {
    r.fail(
      entry.keyNode,
      field,
      `its parameters take ${bytes} bytes, and a monitor takes a check of at most ` +
        `${MAX_CHECK_BYTES} bytes`,
    );
  }
  return { spec, placement };
}

function toPlain(node: Node): Record<string, unknown> {
  const value: unknown = node.toJSON();
  return value !== null && typeof value === "object" ? value as Record<string, unknown> : {};
}

/**
 * Parses `tasks.yaml`. Throws {@linkcode ConfigError} at the first mistake,
 * including YAML syntax errors, duplicate keys and bad check parameters (as
 * reported by the check type's parser in `shared/params/`).
 *
 * @param text the file's contents
 * @param fileName the name shown in error messages, e.g. `tasks.yaml`
 * @param options `errors`: collect every check's mistake there before throwing the first
 *
 * @example
 * ```ts
 * import { ConfigError, parseConfig } from "./config.ts";
 * try {
 *   parseConfig("monitors: [{address: 'h:1'}]\ntargets: {x: {TCP: {port: 70000}}}\n", "t.yaml");
 * } catch (e) {
 *   console.assert(e instanceof ConfigError && e.field === "targets.x.TCP.port");
 * }
 * ```
 */
export function parseConfig(
  text: string,
  fileName: string,
  options: { errors?: ConfigError[] } = {},
): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const r: Reader = new Reader(fileName, lines);
  const syntax = doc.errors[0];
  if (syntax) r.failAt(syntax.pos[0], "", syntax.message);
  const root = doc.contents as Node | null;
  if (root === null) r.failAt(0, "", "the file is empty; it needs monitors: and targets:");

  const top = r.entries(root, "", 0);
  r.onlyKeys(top, "", TOP_KEYS, "top-level key");
  const topEntry = (k: string) => top.find((e) => e.key === k);
  const rootAt = root.range?.[0] ?? 0;

  const monitorsEntry = topEntry("monitors");
  if (!monitorsEntry) r.failAt(rootAt, "monitors", "is required: list at least one monitor");
  const monitors = readMonitors(r, monitorsEntry.value, monitorsEntry.keyNode.range?.[0] ?? 0);
  const defaultsEntry = topEntry("defaults");
  const defaults = readDefaults(
    r,
    defaultsEntry?.value ?? null,
    defaultsEntry?.keyNode.range?.[0] ?? 0,
  );
  if (defaults.monitors) readPlacement(r, defaults.monitors, "defaults.monitors", monitors);
  if (defaults.timeout && defaults.timeout.seconds >= defaults.frequency) {
    r.fail(
      defaults.timeout.node,
      "defaults.timeout",
      `must be below defaults.frequency (${defaults.frequency} s)`,
    );
  }

  const targetsEntry = topEntry("targets");
  if (!targetsEntry) r.failAt(rootAt, "targets", "is required: map each target to its checks");
  const targetsAt = targetsEntry.keyNode.range?.[0] ?? 0;
  const targetEntries = r.entries(targetsEntry.value, "targets", targetsAt);
  if (targetEntries.length === 0) r.failAt(targetsAt, "targets", "must name at least one target");

  const alerting = readAlerting(r, topEntry("alerts"), topEntry("notifiers"));
  const notifierNames = alerting.notifiers.map((n) => n.name);
  const checks: AssignedCheck[] = [];
  for (const t of targetEntries) {
    const field = `targets.${t.key}`;
    if (t.key.length > MAX_TARGET_CHARS) {
      r.fail(
        t.keyNode,
        field,
        `the target name is ${t.key.length} characters, and a monitor takes at most ` +
          `${MAX_TARGET_CHARS}`,
      );
    }
    const entries = r.entries(t.value, field, t.keyNode.range?.[0] ?? 0);
    const placement = entries.find((e) => e.key === "monitors") ?? null;
    const targetAlert = entries.find((e) => e.key === "alert");
    if (targetAlert) {
      alerting.targets[t.key] = readAlertRules(r, targetAlert, `${field}.alert`, notifierNames);
    }
    const seen = new Map<CheckType, Entry>();
    for (const e of entries) {
      if (e === placement || e === targetAlert) continue;
      const type = CHECK_TYPES.find((c) => c.toLowerCase() === e.key.toLowerCase());
      if (type === undefined) {
        r.fail(
          e.keyNode,
          `${field}.${e.key}`,
          `unknown check type${hint(e.key, [...CHECK_TYPES, "monitors"])}; known: ${
            CHECK_TYPES.join(", ")
          }, monitors`,
        );
      }
      if (seen.has(type)) {
        r.fail(e.keyNode, `${field}.${e.key}`, `${type} is already set for this target`);
      }
      seen.set(type, e);
      const check = collect(options.errors, () => {
        const check = readCheck(r, t.key, type, e, placement, defaults, monitors);
        const alert = readCheckAlert(r, e, `${field}.${e.key}`, notifierNames);
        return alert ? { ...check, alert } : check;
      });
      if (check) checks.push(check);
    }
    if (seen.size === 0) {
      r.fail(t.keyNode, field, `has no checks; add one of ${CHECK_TYPES.join(", ")}`);
    }
  }
  if (options.errors?.length) throw options.errors[0];
  const targets = targetEntries.map((t) => t.key);
  const maintenanceEntry = topEntry("maintenance");
  if (maintenanceEntry) alerting.maintenance = readMaintenance(r, maintenanceEntry, targets);
  const alerted = ["alerts", "notifiers", "maintenance"].some((k) => topEntry(k)) ||
    Object.keys(alerting.targets).length > 0;
  const remoteWriteEntry = topEntry("remote_write");
  const remoteWrite = remoteWriteEntry ? readRemoteWrite(r, remoteWriteEntry) : undefined;
  const statusEntry = topEntry("status_page");
  const statusPage = statusEntry ? readStatusPage(r, statusEntry, targets) : undefined;
  return {
    monitors,
    checks,
    targets,
    ...(alerted ? { alerting } : {}),
    ...(remoteWrite ? { remoteWrite } : {}),
    ...(statusPage ? { statusPage } : {}),
  };
}

/** With `errors`, a check's mistake is kept there and the next check is read (`netmon check`). */
function collect<T>(errors: ConfigError[] | undefined, read: () => T): T | undefined {
  if (!errors) return read();
  try {
    return read();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    errors.push(e);
    return undefined;
  }
}

const CHECKS_BY_ID = new WeakMap<Config, Map<string, AssignedCheck>>();

/**
 * The check of `config` with this ID, or undefined: an index built once per
 * configuration, for the paths that look a check up for every result.
 *
 * @example
 * ```ts
 * import { checkById, parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   "monitors: [{address: 'h:1'}]\ntargets: {x: {TCP: {port: 80}}}\n",
 *   "tasks.yaml",
 * );
 * console.assert(checkById(config, "x/TCP")?.spec.target === "x");
 * ```
 */
export function checkById(config: Config, id: string): AssignedCheck | undefined {
  let index = CHECKS_BY_ID.get(config);
  if (!index) CHECKS_BY_ID.set(config, index = new Map(config.checks.map((c) => [c.spec.id, c])));
  return index.get(id);
}

/**
 * The checks that always run on `monitorName`: those placed on `all`
 * monitors and those whose `select` names it. Checks placed with `spread`
 * are left out: the manager decides at run time which monitor runs them.
 *
 * @example
 * ```ts
 * import { checksForMonitor, parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   "monitors: [{address: 'h:1', name: a}]\ntargets: {x: {TCP: {port: 80}}}\n",
 *   "tasks.yaml",
 * );
 * console.assert(checksForMonitor(config, "a").length === 1);
 * ```
 */
export function checksForMonitor(config: Config, monitorName: string): CheckSpec[] {
  const { all, chosen } = placementIndex(config.checks);
  const own = chosen.get(monitorName) ?? [];
  // both are positions in file order: merged, they keep it
  const out: CheckSpec[] = [];
  let i = 0, j = 0;
  while (i < all.length || j < own.length) {
    const k = j >= own.length || (i < all.length && all[i]! < own[j]!) ? all[i++]! : own[j++]!;
    out.push(config.checks[k]!.spec);
  }
  return out;
}

/**
 * The checks placed with `spread`, in file order: the manager picks one
 * online monitor for each at run time.
 *
 * @example
 * ```ts
 * import { parseConfig, spreadChecks } from "./config.ts";
 * const config = parseConfig(
 *   "monitors: [{address: 'h:1', name: a}]\ntargets: {x: {monitors: spread, TCP: {port: 80}}}\n",
 *   "tasks.yaml",
 * );
 * console.assert(spreadChecks(config).length === 1);
 * ```
 */
export function spreadChecks(config: Config): AssignedCheck[] {
  return placementIndex(config.checks).spread.map((k) => config.checks[k]!);
}

/** Where each placement's checks are in a configuration's list. */
interface PlacementIndex {
  /** The list's length when indexed: a list that grew since is indexed again. */
  length: number;
  all: number[];
  chosen: Map<string, number[]>;
  spread: number[];
}

const PLACEMENT_INDEX = new WeakMap<AssignedCheck[], PlacementIndex>();

/**
 * The list's positions by placement, made once per list: asked for every
 * monitor's checks on every connect, filtering the whole list each time was
 * a third of a restarting manager's CPU with 5,000 monitors of 10 checks each.
 */
function placementIndex(checks: AssignedCheck[]): PlacementIndex {
  let index = PLACEMENT_INDEX.get(checks);
  if (index?.length === checks.length) return index;
  index = { length: checks.length, all: [], chosen: new Map(), spread: [] };
  for (const [k, { placement: p }] of checks.entries()) {
    if (p.mode === "all") index.all.push(k);
    else if (p.mode === "spread") index.spread.push(k);
    else if (p.mode === "select") {
      for (const name of new Set(p.names)) {
        let at = index.chosen.get(name);
        if (!at) index.chosen.set(name, at = []);
        at.push(k);
      }
    }
  }
  PLACEMENT_INDEX.set(checks, index);
  return index;
}
