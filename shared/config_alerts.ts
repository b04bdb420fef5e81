/**
 * The alerting part of `tasks.yaml`: rule defaults (`alerts:`, a target's
 * `alert:`, a check's `alert:`), the `notifiers:` that deliver messages and
 * the `maintenance:` windows that silence them. `config.ts` calls these
 * readers while it walks the document, so every mistake is a
 * {@linkcode ConfigError} with its position like the rest of the file.
 *
 * ```yaml
 * alerts:                 # global defaults
 *   down_after: 3         # consecutive failures on one monitor
 *   up_after: 2           # consecutive successes on one monitor
 *   quorum: majority      # monitors that must agree: majority, all, or a number
 *   cert_expiry_days: 14  # certificate expiring within 14 days
 *   latency_ms: 500       # latency above 500 ms ...
 *   latency_runs: 3       # ... for 3 runs in a row
 *   notify: [ops]         # notifier names (default: every notifier)
 *   monitor_offline_after: 60  # a monitor offline this many seconds is an incident (top level only)
 * notifiers:
 *   - {name: ops, type: webhook, url: "https://hooks.example/netmon"}
 *   - {name: mail, type: email, host: smtp.example, from: a@example, to: [b@example],
 *      username: netmon, password_file: /etc/netmon/smtp-password}
 * maintenance:
 *   - {name: upgrade, targets: [web], start: "2025-01-10T22:00:00Z", end: "2025-01-11T01:00:00Z"}
 *   - {name: backups, targets: all, weekly: {days: [sat, sun], start: "02:00", end: "03:30"}}
 * targets:
 *   web:
 *     alert: {quorum: all}
 *     HTTP: {url: "http://web/", alert: {down_after: 2}}
 * ```
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const c = parseConfig(
 *   "monitors: [{address: 'h:1'}]\nalerts: {down_after: 2}\ntargets: {x: {TCP: {port: 80}}}\n",
 *   "tasks.yaml",
 * );
 * console.assert(c.alerting?.defaults.downAfter === 2);
 * ```
 *
 * @module
 */
import { isScalar, type Node } from "yaml";

/**
 * How many of the monitors running a check must see it failing before the
 * target counts as down: a majority of them, all of them, or a fixed number.
 *
 * @example
 * ```ts
 * import type { Quorum } from "./config_alerts.ts";
 * const q: Quorum = { count: 2 };
 * ```
 */
export type Quorum = "majority" | "all" | { count: number };

/**
 * Alert rule settings as written at one level (global, target or check);
 * unset fields fall through to the level above, then to the built-in defaults.
 *
 * @example
 * ```ts
 * import type { AlertOverrides } from "./config_alerts.ts";
 * const o: AlertOverrides = { downAfter: 2, quorum: "all" };
 * ```
 */
export interface AlertOverrides {
  downAfter?: number;
  upAfter?: number;
  quorum?: Quorum;
  /** Alert when the certificate expires within this many days; `null` turns it off. */
  certExpiryDays?: number | null;
  /** Alert when latency stays above this many milliseconds; `null` turns it off. */
  latencyMs?: number | null;
  latencyRuns?: number;
  /** Notifier names to tell; empty for none. */
  notify?: string[];
}

/** Settings every notifier type shares. */
interface NotifierBase {
  name: string;
  /** Extra tries after the first one fails. */
  retries: number;
  /** Wait before the first retry, doubling for each one after, in milliseconds. */
  backoffMs: number;
  /** Deadline of one try, in milliseconds. */
  timeoutMs: number;
}

/**
 * A configured notifier: where and how messages go.
 *
 * - `webhook`: POST of the JSON body documented in `manager/alerts/message.ts`;
 * - `slack`, `discord`: their incoming-webhook JSON (`text` / `content`);
 * - `ntfy`: POST of the text to a topic URL, with title, priority and tags headers;
 * - `command`: runs argv with the JSON body on stdin and `NETMON_*` variables;
 * - `email`: SMTP with STARTTLS (or implicit TLS) and AUTH PLAIN/LOGIN;
 * - `alertmanager`: Prometheus Alertmanager's API v2 (`POST /api/v2/alerts`), re-sent while open;
 * - `pagerduty` (Events API v2), `opsgenie` (Alert API), `telegram` (Bot API `sendMessage`),
 *   `teams` (an incoming webhook or workflow, Adaptive Card), `matrix` (client-server API
 *   `m.room.message`), `pushover` (Message API), `gotify` (`POST /message`).
 *
 * Every vendor's `url` defaults to its public API (Teams, Matrix, Gotify and
 * Alertmanager have none: give the webhook, homeserver or server), so a
 * self-hosted or test endpoint is one line. Tokens and keys are given as
 * `KEY`, `KEY_file` (read at send time) or `KEY_env`.
 *
 * @example
 * ```ts
 * import type { NotifierConfig } from "./config_alerts.ts";
 * const n: NotifierConfig = {
 *   name: "ops", type: "webhook", url: "https://hooks.example/x", headers: {},
 *   retries: 5, backoffMs: 2000, timeoutMs: 10000,
 * };
 * ```
 */
export type NotifierConfig =
  | NotifierBase & { type: "webhook"; url: string; headers: Record<string, string> }
  | NotifierBase & { type: "slack" | "discord"; url: string }
  | NotifierBase & { type: "ntfy"; url: string; token?: string; priority?: number }
  | NotifierBase & { type: "command"; command: string[] }
  | NotifierBase & EmailSettings & { type: "email" }
  | NotifierBase & {
    type: "alertmanager";
    url: string;
    /** Labels added to every alert (beside alertname, target, check, check_type, condition). */
    labels: Record<string, string>;
    /** How often an open incident is sent again, in milliseconds (Alertmanager expires silent alerts). */
    resendMs: number;
  }
  | NotifierBase & {
    type: "pagerduty";
    url: string;
    routingKey: SecretRef;
    severity: "critical" | "error" | "warning" | "info";
  }
  | NotifierBase & {
    type: "opsgenie";
    url: string;
    apiKey: SecretRef;
    priority: "P1" | "P2" | "P3" | "P4" | "P5";
    tags: string[];
  }
  | NotifierBase & { type: "telegram"; url: string; botToken: SecretRef; chatId: string }
  | NotifierBase & { type: "teams"; url: string }
  | NotifierBase & { type: "matrix"; url: string; roomId: string; accessToken: SecretRef }
  | NotifierBase & {
    type: "pushover";
    url: string;
    token: SecretRef;
    userKey: SecretRef;
    /** -2 to 1 (2, emergency, needs acknowledgement settings netmon does not send). */
    priority: number;
  }
  | NotifierBase & { type: "gotify"; url: string; token: SecretRef; priority: number };

/**
 * A credential as written: inline, in a file read at send time, or in an
 * environment variable.
 *
 * @example
 * ```ts
 * import type { SecretRef } from "./config_alerts.ts";
 * const s: SecretRef = { file: "/etc/netmon/pagerduty-key" };
 * ```
 */
export type SecretRef = { value: string } | { file: string } | { env: string };

/** Where each vendor's API is when `url` is not given. */
export const VENDOR_URLS = {
  pagerduty: "https://events.pagerduty.com/v2/enqueue",
  opsgenie: "https://api.opsgenie.com",
  telegram: "https://api.telegram.org",
  pushover: "https://api.pushover.net/1/messages.json",
} as const;

/**
 * SMTP settings of an `email` notifier.
 *
 * @example
 * ```ts
 * import type { EmailSettings } from "./config_alerts.ts";
 * const e: EmailSettings = {
 *   host: "127.0.0.1", port: 587, security: "starttls", from: "a@x", to: ["b@x"],
 * };
 * ```
 */
export interface EmailSettings {
  host: string;
  port: number;
  /** `starttls` (required upgrade), `tls` (implicit, port 465) or `none` (loopback relays only). */
  security: "starttls" | "tls" | "none";
  from: string;
  to: string[];
  username?: string;
  /** The password as written; prefer `passwordFile` or `passwordEnv`. */
  password?: string;
  /** A file holding the password, read at send time. */
  passwordFile?: string;
  /** An environment variable holding the password, read at send time. */
  passwordEnv?: string;
  /** A PEM file of CA certificates to trust for this server. */
  caFile?: string;
  /** Name sent in EHLO (default `netmon`). */
  helo?: string;
}

/**
 * When a maintenance window is open: once between two instants, or every
 * week on some days between two times of day (which may wrap past midnight).
 *
 * @example
 * ```ts
 * import type { MaintenanceSchedule } from "./config_alerts.ts";
 * const s: MaintenanceSchedule = {
 *   kind: "weekly", days: [0, 6], startMinute: 120, endMinute: 210, utc: false,
 * };
 * ```
 */
export type MaintenanceSchedule =
  | { kind: "once"; start: number; end: number }
  | {
    kind: "weekly";
    /** 0 = Sunday … 6 = Saturday, the day the window starts. */
    days: number[];
    /** Minutes after midnight. */
    startMinute: number;
    endMinute: number;
    /** Times are UTC rather than the manager's local time. */
    utc: boolean;
  };

/**
 * A maintenance window: no notifications for its targets while it is open.
 *
 * @example
 * ```ts
 * import type { MaintenanceWindow } from "./config_alerts.ts";
 * const w: MaintenanceWindow = {
 *   name: "upgrade", targets: ["web"], schedule: { kind: "once", start: 0, end: 1 },
 * };
 * ```
 */
export interface MaintenanceWindow {
  name: string;
  /** Target names, or `all`. */
  targets: string[] | "all";
  schedule: MaintenanceSchedule;
}

/**
 * Everything about alerting in one `tasks.yaml` (check-level rules live on
 * each `AssignedCheck.alert`).
 *
 * @example
 * ```ts
 * import type { AlertingConfig } from "./config_alerts.ts";
 * const a: AlertingConfig = { defaults: {}, targets: {}, notifiers: [], maintenance: [] };
 * ```
 */
export interface AlertingConfig {
  /** From the top-level `alerts:`. */
  defaults: AlertOverrides;
  /** From each target's `alert:`, by target name. */
  targets: Record<string, AlertOverrides>;
  notifiers: NotifierConfig[];
  maintenance: MaintenanceWindow[];
  /**
   * From `alerts.monitor_offline_after` (seconds, default 60): a monitor
   * whose link is not Online this long is an incident of its own.
   */
  monitorOfflineAfterMs?: number;
}

/** A mapping entry with its key node, as `config.ts` reads them. */
export interface YamlEntry {
  key: string;
  keyNode: Node;
  value: Node | null;
}

/**
 * The part of `config.ts`'s document reader these functions use: it raises
 * {@linkcode ConfigError}s with positions.
 *
 * @example
 * ```ts ignore
 * import type { YamlReader } from "./config_alerts.ts";
 * declare const r: YamlReader;
 * r.fail(null, "alerts", "must be a mapping");
 * ```
 */
export interface YamlReader {
  fail(node: Node | null | undefined, field: string, reason: string, fallback?: number): never;
  entries(node: Node | null, field: string, fallback: number): YamlEntry[];
  onlyKeys(entries: YamlEntry[], field: string, known: readonly string[], what: string): void;
  text(node: Node | null, field: string, fallback: number): string;
  textList(node: Node | null, field: string, fallback: number): { value: string; node: Node }[];
  seconds(node: Node | null, field: string, fallback: number): number;
}

const RULE_KEYS = [
  "down_after",
  "up_after",
  "quorum",
  "cert_expiry_days",
  "latency_ms",
  "latency_runs",
  "notify",
];
/** The top-level `alerts:` also says when a monitor offline is an incident. */
const TOP_RULE_KEYS = [...RULE_KEYS, "monitor_offline_after"];
const NOTIFIER_TYPES = [
  "webhook",
  "slack",
  "discord",
  "ntfy",
  "command",
  "email",
  "alertmanager",
  "pagerduty",
  "opsgenie",
  "telegram",
  "teams",
  "matrix",
  "pushover",
  "gotify",
] as const;
const secretKeys = (k: string) => [k, `${k}_file`, `${k}_env`];
const COMMON_NOTIFIER_KEYS = ["name", "type", "retries", "backoff", "timeout"];
const NOTIFIER_KEYS: Record<NotifierConfig["type"], string[]> = {
  webhook: ["url", "headers"],
  slack: ["url"],
  discord: ["url"],
  ntfy: ["url", "token", "priority"],
  command: ["command"],
  email: [
    "host",
    "port",
    "security",
    "from",
    "to",
    "username",
    "password",
    "password_file",
    "password_env",
    "ca_file",
    "helo",
  ],
  alertmanager: ["url", "labels", "resend"],
  pagerduty: ["url", ...secretKeys("routing_key"), "severity"],
  opsgenie: ["url", ...secretKeys("api_key"), "priority", "tags"],
  telegram: ["url", ...secretKeys("bot_token"), "chat_id"],
  teams: ["url"],
  matrix: ["url", ...secretKeys("access_token"), "room_id"],
  pushover: ["url", ...secretKeys("token"), ...secretKeys("user_key"), "priority"],
  gotify: ["url", ...secretKeys("token"), "priority"],
};
const MAINTENANCE_KEYS = ["name", "targets", "start", "end", "weekly"];
const WEEKLY_KEYS = ["days", "start", "end", "utc"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

function at(e: YamlEntry): number {
  return e.keyNode.range?.[0] ?? 0;
}

function wholeNumber(
  r: YamlReader,
  node: Node | null,
  field: string,
  min: number,
  max: number,
): number {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) r.fail(node, field, "must be a whole number");
  if (v < min) r.fail(node, field, `must be at least ${min}`);
  if (v > max) r.fail(node, field, `must be at most ${max}`);
  return v;
}

function positive(r: YamlReader, node: Node | null, field: string): number {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    r.fail(node, field, "must be a number above 0");
  }
  return v;
}

/** `off` / `false` turn an optional threshold off. */
function isOff(node: Node | null): boolean {
  return isScalar(node) && (node.value === false || node.value === "off");
}

/**
 * Reads one level of alert rules (`alerts:`, a target's or a check's
 * `alert:`). `notifiers` are the names a `notify:` list may use.
 *
 * @example
 * ```ts ignore
 * const rules = readAlertRules(r, entry, "alerts", ["ops"]);
 * ```
 */
export function readAlertRules(
  r: YamlReader,
  entry: YamlEntry,
  field: string,
  notifiers: readonly string[],
): AlertOverrides {
  const out: AlertOverrides = {};
  const entries = r.entries(entry.value, field, at(entry));
  r.onlyKeys(entries, field, field === "alerts" ? TOP_RULE_KEYS : RULE_KEYS, "alert rule");
  for (const e of entries) {
    const f = `${field}.${e.key}`;
    const v = e.value;
    switch (e.key) {
      case "down_after":
        out.downAfter = wholeNumber(r, v, f, 1, 10_000);
        break;
      case "up_after":
        out.upAfter = wholeNumber(r, v, f, 1, 10_000);
        break;
      case "latency_runs":
        out.latencyRuns = wholeNumber(r, v, f, 1, 10_000);
        break;
      case "cert_expiry_days":
        out.certExpiryDays = isOff(v) ? null : positive(r, v, f);
        break;
      case "latency_ms":
        out.latencyMs = isOff(v) ? null : positive(r, v, f);
        break;
      case "quorum":
        if (isScalar(v) && (v.value === "majority" || v.value === "all")) out.quorum = v.value;
        else if (isScalar(v) && typeof v.value === "number") {
          out.quorum = { count: wholeNumber(r, v, f, 1, 10_000) };
        } else r.fail(v, f, "must be majority, all, or a number of monitors", at(e));
        break;
      case "notify": {
        const items = isScalar(v) && v.value === "none" ? [] : r.textList(v, f, at(e));
        for (const { value, node } of items) {
          if (!notifiers.includes(value)) {
            r.fail(
              node,
              f,
              `no notifier is named "${value}"; known: ${
                notifiers.length ? notifiers.join(", ") : "(none: add notifiers:)"
              }`,
            );
          }
        }
        out.notify = items.map((i) => i.value);
      }
    }
  }
  return out;
}

function httpUrl(r: YamlReader, node: Node | null, field: string, fallback: number): string {
  const text = r.text(node, field, fallback);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // the URL may carry a token: never echo it back
    return r.fail(node, field, "must be an http:// or https:// URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    r.fail(node, field, "must be an http:// or https:// URL");
  }
  return text;
}

function readNotifier(r: YamlReader, item: Node | null, field: string, fallback: number) {
  const entries = r.entries(item, field, fallback);
  const get = (k: string) => entries.find((e) => e.key === k);
  const start = item?.range?.[0] ?? fallback;
  const typeEntry = get("type");
  if (!typeEntry) r.fail(item, `${field}.type`, `is required: one of ${NOTIFIER_TYPES.join(", ")}`);
  const typeText = r.text(typeEntry.value, `${field}.type`, at(typeEntry));
  const type = NOTIFIER_TYPES.find((t) => t === typeText.toLowerCase());
  if (type === undefined) {
    r.fail(typeEntry.value, `${field}.type`, `must be one of ${NOTIFIER_TYPES.join(", ")}`);
  }
  r.onlyKeys(entries, field, [...COMMON_NOTIFIER_KEYS, ...NOTIFIER_KEYS[type]], `${type} key`);
  const nameEntry = get("name");
  if (!nameEntry) r.fail(item, `${field}.name`, "is required: the name notify: lists use", start);
  const text = (k: string) => {
    const e = get(k);
    return e ? r.text(e.value, `${field}.${k}`, at(e)) : undefined;
  };
  const required = (k: string, what: string) => {
    const v = text(k);
    if (v === undefined) r.fail(item, `${field}.${k}`, `is required for ${type}: ${what}`, start);
    return v;
  };
  const retries = get("retries");
  const backoff = get("backoff");
  const timeout = get("timeout");
  const base = {
    name: r.text(nameEntry.value, `${field}.name`, at(nameEntry)),
    retries: retries ? wholeNumber(r, retries.value, `${field}.retries`, 0, 20) : 5,
    backoffMs: backoff ? r.seconds(backoff.value, `${field}.backoff`, at(backoff)) * 1000 : 2000,
    timeoutMs: timeout ? r.seconds(timeout.value, `${field}.timeout`, at(timeout)) * 1000 : 10_000,
  };
  const urlEntry = get("url");
  const url = (dflt?: string) => {
    if (!urlEntry && dflt !== undefined) return dflt;
    if (!urlEntry) r.fail(item, `${field}.url`, `is required for ${type}`, start);
    return httpUrl(r, urlEntry.value, `${field}.url`, at(urlEntry));
  };
  const secret = (k: string, what: string): SecretRef => {
    const given = secretKeys(k).filter((key) => get(key));
    if (given.length === 0) {
      r.fail(
        item,
        `${field}.${k}`,
        `is required for ${type} (or ${k}_file, ${k}_env): ${what}`,
        start,
      );
    }
    if (given.length > 1) r.fail(item, field, `give one of ${secretKeys(k).join(", ")}`, start);
    const v = text(given[0]!)!;
    return given[0] === k ? { value: v } : given[0]!.endsWith("_file") ? { file: v } : { env: v };
  };
  const choice = <T extends string>(k: string, choices: readonly T[], dflt: T): T => {
    const e = get(k);
    if (!e) return dflt;
    const v = r.text(e.value, `${field}.${k}`, at(e));
    const found = choices.find((c) => c === v);
    if (found === undefined) {
      r.fail(e.value, `${field}.${k}`, `must be one of ${choices.join(", ")}`);
    }
    return found;
  };
  const int = (k: string, min: number, max: number, dflt: number) => {
    const e = get(k);
    return e ? wholeNumber(r, e.value, `${field}.${k}`, min, max) : dflt;
  };
  switch (type) {
    case "webhook": {
      const headers: Record<string, string> = {};
      const h = get("headers");
      if (h) {
        for (const e of r.entries(h.value, `${field}.headers`, at(h))) {
          headers[e.key] = r.text(e.value, `${field}.headers.${e.key}`, at(e));
        }
      }
      return { ...base, type, url: url(), headers };
    }
    case "slack":
    case "discord":
      return { ...base, type, url: url() };
    case "ntfy": {
      const p = get("priority");
      const token = text("token");
      return {
        ...base,
        type,
        url: url(),
        ...(token ? { token } : {}),
        ...(p ? { priority: wholeNumber(r, p.value, `${field}.priority`, 1, 5) } : {}),
      };
    }
    case "command": {
      const c = get("command");
      if (!c) r.fail(item, `${field}.command`, "is required: the program and its arguments", start);
      const argv = isScalar(c.value)
        ? ["sh", "-c", r.text(c.value, `${field}.command`, at(c))]
        : r.textList(c.value, `${field}.command`, at(c)).map((i) => i.value);
      if (argv.length === 0) r.fail(c.value, `${field}.command`, "must name a program");
      return { ...base, type, command: argv };
    }
    case "alertmanager": {
      const labels: Record<string, string> = {};
      const l = get("labels");
      if (l) {
        for (const e of r.entries(l.value, `${field}.labels`, at(l))) {
          if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(e.key)) {
            r.fail(e.keyNode, `${field}.labels.${e.key}`, "must be a Prometheus label name");
          }
          labels[e.key] = r.text(e.value, `${field}.labels.${e.key}`, at(e));
        }
      }
      const resend = get("resend");
      return {
        ...base,
        type,
        url: url(),
        labels,
        resendMs: resend ? r.seconds(resend.value, `${field}.resend`, at(resend)) * 1000 : 60_000,
      };
    }
    case "pagerduty":
      return {
        ...base,
        type,
        url: url(VENDOR_URLS.pagerduty),
        routingKey: secret("routing_key", "the integration key of a PagerDuty service"),
        severity: choice("severity", ["critical", "error", "warning", "info"] as const, "critical"),
      };
    case "opsgenie": {
      const t = get("tags");
      return {
        ...base,
        type,
        url: url(VENDOR_URLS.opsgenie),
        apiKey: secret("api_key", "an Opsgenie API integration key"),
        priority: choice("priority", ["P1", "P2", "P3", "P4", "P5"] as const, "P3"),
        tags: t ? r.textList(t.value, `${field}.tags`, at(t)).map((i) => i.value) : ["netmon"],
      };
    }
    case "telegram":
      return {
        ...base,
        type,
        url: url(VENDOR_URLS.telegram),
        botToken: secret("bot_token", "the token @BotFather gave the bot"),
        chatId: required("chat_id", "the chat, group or channel to write to"),
      };
    case "teams":
      return { ...base, type, url: url() };
    case "matrix":
      return {
        ...base,
        type,
        url: url(),
        accessToken: secret("access_token", "the access token of the account that posts"),
        roomId: required("room_id", "the room's ID, e.g. !abc:example.org"),
      };
    case "pushover":
      return {
        ...base,
        type,
        url: url(VENDOR_URLS.pushover),
        token: secret("token", "the application's API token"),
        userKey: secret("user_key", "the user or group key to notify"),
        priority: int("priority", -2, 1, 0),
      };
    case "gotify":
      return {
        ...base,
        type,
        url: url(),
        token: secret("token", "an application token of the Gotify server"),
        priority: int("priority", 0, 10, 8),
      };
    case "email": {
      const sec = text("security") ?? "starttls";
      if (sec !== "starttls" && sec !== "tls" && sec !== "none") {
        r.fail(get("security")!.value, `${field}.security`, "must be starttls, tls or none");
      }
      const portEntry = get("port");
      const toEntry = get("to");
      if (!toEntry) r.fail(item, `${field}.to`, "is required for email: the recipients", start);
      const optional: Partial<EmailSettings> = {};
      for (
        const [k, key] of [
          ["username", "username"],
          ["password", "password"],
          ["password_file", "passwordFile"],
          ["password_env", "passwordEnv"],
          ["ca_file", "caFile"],
          ["helo", "helo"],
        ] as const
      ) {
        const v = text(k);
        if (v !== undefined) optional[key] = v;
      }
      const secrets = [optional.password, optional.passwordFile, optional.passwordEnv];
      if (secrets.filter((s) => s !== undefined).length > 1) {
        r.fail(item, field, "give one of password, password_file and password_env", start);
      }
      return {
        ...base,
        type,
        host: required("host", "the SMTP server"),
        port: portEntry
          ? wholeNumber(r, portEntry.value, `${field}.port`, 1, 65535)
          : sec === "tls"
          ? 465
          : sec === "starttls"
          ? 587
          : 25,
        security: sec,
        from: required("from", "the sender address"),
        to: r.textList(toEntry.value, `${field}.to`, at(toEntry)).map((i) => i.value),
        ...optional,
      };
    }
  }
}

/**
 * Reads the top-level `notifiers:` list. Names must be unique.
 *
 * @example
 * ```ts ignore
 * const notifiers = readNotifiers(r, entry);
 * ```
 */
export function readNotifiers(r: YamlReader, entry: YamlEntry): NotifierConfig[] {
  const v = entry.value;
  const items = v !== null && "items" in v && Array.isArray(v.items) ? v.items as Node[] : null;
  if (items === null || isScalar(v)) {
    r.fail(v, "notifiers", "must be a list of notifiers (- name: ..., type: ...)", at(entry));
  }
  const names = new Set<string>();
  return items.map((item, i) => {
    const field = `notifiers[${i}]`;
    const n = readNotifier(r, item, field, v?.range?.[0] ?? at(entry)) as NotifierConfig;
    if (names.has(n.name)) r.fail(item, `${field}.name`, `"${n.name}" is used by another notifier`);
    names.add(n.name);
    return n;
  });
}

function instant(r: YamlReader, node: Node | null, field: string, fallback: number): number {
  const text = r.text(node, field, fallback);
  const t = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$/.test(text)
    ? Date.parse(text.replace(" ", "T"))
    : NaN;
  if (!Number.isFinite(t)) {
    r.fail(node, field, `must be a date and time like 2025-01-10T22:00:00Z, got "${text}"`);
  }
  return t;
}

function timeOfDay(r: YamlReader, node: Node | null, field: string, fallback: number): number {
  const text = r.text(node, field, fallback);
  const m = /^(\d\d?):(\d\d)$/.exec(text);
  if (!m || Number(m[1]) > 24 || Number(m[2]) > 59 || (Number(m[1]) === 24 && m[2] !== "00")) {
    r.fail(node, field, `must be a time of day like "02:30", got "${text}"`);
  }
  return Number(m[1]) * 60 + Number(m[2]);
}

function readWeekly(r: YamlReader, entry: YamlEntry, field: string): MaintenanceSchedule {
  const entries = r.entries(entry.value, field, at(entry));
  r.onlyKeys(entries, field, WEEKLY_KEYS, "weekly key");
  const get = (k: string) => entries.find((e) => e.key === k);
  const daysEntry = get("days");
  const startEntry = get("start");
  const endEntry = get("end");
  for (const [k, e] of [["start", startEntry], ["end", endEntry]] as const) {
    if (!e) r.fail(entry.value, `${field}.${k}`, 'is required: a time of day like "02:30"');
  }
  let days = [0, 1, 2, 3, 4, 5, 6];
  if (daysEntry && !(isScalar(daysEntry.value) && daysEntry.value.value === "daily")) {
    days = r.textList(daysEntry.value, `${field}.days`, at(daysEntry)).map(({ value, node }) => {
      const d = DAYS.indexOf(value.toLowerCase().slice(0, 3));
      if (d < 0) {
        r.fail(node, `${field}.days`, `must be days like mon, tue ... sun, got "${value}"`);
      }
      return d;
    });
  }
  const startMinute = timeOfDay(r, startEntry!.value, `${field}.start`, at(startEntry!));
  const endMinute = timeOfDay(r, endEntry!.value, `${field}.end`, at(endEntry!));
  if (startMinute === endMinute) r.fail(endEntry!.value, `${field}.end`, "must differ from start");
  const utcEntry = get("utc");
  const utc = utcEntry ? isScalar(utcEntry.value) && utcEntry.value.value === true : false;
  if (utcEntry && !(isScalar(utcEntry.value) && typeof utcEntry.value.value === "boolean")) {
    r.fail(utcEntry.value, `${field}.utc`, "must be true or false");
  }
  return { kind: "weekly", days, startMinute, endMinute, utc };
}

/**
 * Reads the top-level `maintenance:` list; `targets` are the names its
 * windows may silence.
 *
 * @example
 * ```ts ignore
 * const windows = readMaintenance(r, entry, ["web"]);
 * ```
 */
export function readMaintenance(
  r: YamlReader,
  entry: YamlEntry,
  targets: readonly string[],
): MaintenanceWindow[] {
  const v = entry.value;
  const items = v !== null && "items" in v && Array.isArray(v.items) ? v.items as Node[] : null;
  if (items === null || isScalar(v)) {
    r.fail(v, "maintenance", "must be a list of windows (- targets: ..., start: ..., end: ...)");
  }
  return items.map((item, i) => {
    const field = `maintenance[${i}]`;
    const start = item?.range?.[0] ?? at(entry);
    const entries = r.entries(item, field, start);
    r.onlyKeys(entries, field, MAINTENANCE_KEYS, "maintenance key");
    const get = (k: string) => entries.find((e) => e.key === k);
    const nameEntry = get("name");
    const name = nameEntry ? r.text(nameEntry.value, `${field}.name`, at(nameEntry)) : `#${i + 1}`;
    const targetsEntry = get("targets");
    let picked: string[] | "all" = "all";
    if (targetsEntry && !(isScalar(targetsEntry.value) && targetsEntry.value.value === "all")) {
      picked = r.textList(targetsEntry.value, `${field}.targets`, at(targetsEntry)).map(
        ({ value, node }) => {
          if (!targets.includes(value)) {
            r.fail(node, `${field}.targets`, `no target is named "${value}" (or use all)`);
          }
          return value;
        },
      );
    }
    const weekly = get("weekly");
    const from = get("start"), to = get("end");
    let schedule: MaintenanceSchedule;
    if (weekly) {
      if (from || to) {
        r.fail((from ?? to)!.keyNode, field, "give start and end, or weekly, not both");
      }
      schedule = readWeekly(r, weekly, `${field}.weekly`);
    } else {
      if (!from || !to) {
        r.fail(item, `${field}.${from ? "end" : "start"}`, "is required (or give weekly:)", start);
      }
      const s = instant(r, from.value, `${field}.start`, at(from));
      const e = instant(r, to.value, `${field}.end`, at(to));
      if (e <= s) r.fail(to.value, `${field}.end`, "must be after start");
      schedule = { kind: "once", start: s, end: e };
    }
    return { name, targets: picked, schedule };
  });
}

/**
 * Reads the `alert:` key inside one check's mapping (`HTTP: {url: ..., alert: {...}}`),
 * or returns `undefined` when the check has none.
 *
 * @example
 * ```ts ignore
 * const rules = readCheckAlert(r, checkEntry, "targets.web.HTTP", ["ops"]);
 * ```
 */
export function readCheckAlert(
  r: YamlReader,
  check: YamlEntry,
  field: string,
  notifiers: readonly string[],
): AlertOverrides | undefined {
  if (check.value === null || isScalar(check.value)) return undefined;
  const alert = r.entries(check.value, field, at(check)).find((e) => e.key === "alert");
  return alert ? readAlertRules(r, alert, `${field}.alert`, notifiers) : undefined;
}

/**
 * Reads the top-level `alerts:` and `notifiers:` entries (either may be
 * missing). Target- and check-level rules and `maintenance:` come later,
 * once the targets are known.
 *
 * @example
 * ```ts ignore
 * const alerting = readAlerting(r, alertsEntry, notifiersEntry);
 * ```
 */
export function readAlerting(
  r: YamlReader,
  alerts: YamlEntry | undefined,
  notifiers: YamlEntry | undefined,
): AlertingConfig {
  const list = notifiers ? readNotifiers(r, notifiers) : [];
  const names = list.map((n) => n.name);
  const defaults = alerts ? readAlertRules(r, alerts, "alerts", names) : {};
  const offline = alerts
    ? r.entries(alerts.value, "alerts", at(alerts)).find((e) => e.key === "monitor_offline_after")
    : undefined;
  return {
    defaults,
    targets: {},
    notifiers: list,
    maintenance: [],
    monitorOfflineAfterMs: offline
      ? 1000 * r.seconds(offline.value, "alerts.monitor_offline_after", at(offline))
      : 60_000,
  };
}
