/**
 * One try at delivering a message through one notifier, and the retrying
 * loop around it. Errors name the notifier and what failed, with every
 * secret of its configuration (webhook URLs, tokens, passwords) masked.
 *
 * @example
 * ```ts ignore
 * import { deliver } from "./notifiers.ts";
 * const outcome = await deliver(notifier, message, { signal, onAttempt: console.log });
 * ```
 *
 * @module
 */
import type { NotifierConfig, SecretRef } from "../../shared/config_alerts.ts";
import { errorText } from "../../shared/connection.ts";
import { maskSecrets } from "../../shared/secrets.ts";
import type { AlertMessage } from "./message.ts";
import { sendMail } from "./smtp.ts";
import { vendorRequest } from "./vendors.ts";

/**
 * A notifier's try failed; the message is safe to log and store.
 *
 * @example
 * ```ts
 * import { NotifyError } from "./notifiers.ts";
 * console.assert(new NotifyError("ops", "HTTP 503").message === "Notifier ops: HTTP 503");
 * ```
 */
export class NotifyError extends Error {
  /** @param notifier the notifier's name @param reason what failed, secrets masked */
  constructor(notifier: string, reason: string) {
    super(`Notifier ${notifier}: ${reason}`);
    this.name = "NotifyError";
  }
}

/**
 * The strings of `n`'s configuration that must never appear in a log.
 *
 * @example
 * ```ts
 * import { secretsOf } from "./notifiers.ts";
 * const s = secretsOf({
 *   name: "x", type: "slack", url: "https://hooks.example/T0/B0/abc", retries: 0,
 *   backoffMs: 0, timeoutMs: 1,
 * });
 * console.assert(s.includes("/T0/B0/abc"));
 * ```
 */
export function secretsOf(n: NotifierConfig): string[] {
  const out: string[] = [];
  // these vendors' URLs are the credential; the others carry theirs apart
  if ("url" in n && URL_IS_SECRET.has(n.type)) {
    out.push(n.url);
    const u = new URL(n.url);
    if (u.pathname.length > 1) out.push(u.pathname + u.search);
    if (u.search.length > 1) out.push(u.search);
    if (u.password) out.push(u.password);
  }
  if (n.type === "ntfy" && n.token) out.push(n.token);
  if (n.type === "webhook") out.push(...Object.values(n.headers));
  if (n.type === "email" && n.password) out.push(n.password);
  for (const ref of secretRefs(n)) if ("value" in ref) out.push(ref.value);
  // the longest first, so a secret inside another is masked whole
  return out.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

/** The credentials of a vendor notifier, as configured. */
function secretRefs(n: NotifierConfig): SecretRef[] {
  switch (n.type) {
    case "pagerduty":
      return [n.routingKey];
    case "opsgenie":
      return [n.apiKey];
    case "telegram":
      return [n.botToken];
    case "matrix":
      return [n.accessToken];
    case "pushover":
      return [n.token, n.userKey];
    case "gotify":
      return [n.token];
    default:
      return [];
  }
}

/**
 * `text` with every secret replaced by `***`.
 *
 * @example
 * ```ts
 * import { redact } from "./notifiers.ts";
 * console.assert(redact("GET /x?token=s3cret failed", ["s3cret"]) === "GET /x?token=*** failed");
 * ```
 */
export function redact(text: string, secrets: readonly string[]): string {
  return maskSecrets(text, { values: secrets });
}

const URL_IS_SECRET = new Set<NotifierConfig["type"]>([
  "webhook",
  "slack",
  "discord",
  "ntfy",
  "teams",
]);

/**
 * The credential `ref` points at, read now (a file is re-read on every try,
 * so a rotated key takes effect without a reload).
 *
 * @example
 * ```ts
 * import { readSecret } from "./notifiers.ts";
 * console.assert(await readSecret({ value: "k" }, "token") === "k");
 * ```
 */
export async function readSecret(ref: SecretRef, what: string): Promise<string> {
  if ("value" in ref) return ref.value;
  if ("env" in ref) {
    const v = Deno.env.get(ref.env);
    if (v === undefined) throw new Error(`${what}: the environment variable ${ref.env} is not set`);
    return v;
  }
  try {
    return (await Deno.readTextFile(ref.file)).trim();
  } catch (e) {
    throw new Error(`cannot read ${what} file ${ref.file}: ${errorText(e)}`);
  }
}

function origin(url: string): string {
  return new URL(url).origin;
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  method = "POST",
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method, body, headers, signal, redirect: "manual" });
  } catch (e) {
    // fetch's own message is a bare "fetch failed"; the reason is its cause
    const cause = e instanceof Error && e.cause !== undefined ? e.cause : e;
    throw new Error(
      `${method} to ${origin(url)} failed: ${signal.aborted ? "timed out" : errorText(cause)}`,
    );
  }
  // vendors say why in the body (a bad key, a missing field): keep a little of it
  const said = res.ok ? "" : (await res.text().catch(() => "")).replace(/\s+/g, " ").slice(0, 200);
  if (res.ok) await res.body?.cancel();
  if (!res.ok) {
    throw new Error(
      `${method} to ${origin(url)} answered HTTP ${res.status}${said ? `: ${said}` : ""}`,
    );
  }
}

async function passwordOf(
  n: Extract<NotifierConfig, { type: "email" }>,
): Promise<string | undefined> {
  if (n.password !== undefined) return n.password;
  if (n.passwordEnv !== undefined) {
    const v = Deno.env.get(n.passwordEnv);
    if (v === undefined) throw new Error(`the environment variable ${n.passwordEnv} is not set`);
    return v;
  }
  if (n.passwordFile !== undefined) {
    try {
      return (await Deno.readTextFile(n.passwordFile)).trim();
    } catch (e) {
      throw new Error(`cannot read password_file ${n.passwordFile}: ${errorText(e)}`);
    }
  }
  return undefined;
}

async function runCommand(argv: string[], m: AlertMessage, signal: AbortSignal): Promise<void> {
  const [bin, ...args] = argv;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(bin!, {
      args,
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
      signal,
      env: {
        NETMON_EVENT: m.event,
        NETMON_TITLE: m.title,
        NETMON_CHECK: m.incident.check,
        NETMON_TARGET: m.incident.target,
        NETMON_CONDITION: m.incident.condition,
        NETMON_INCIDENT_ID: m.incident.id,
      },
    }).spawn();
  } catch (e) {
    throw new Error(`cannot run ${bin}: ${errorText(e)}`);
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(m) + "\n")).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  if (signal.aborted) throw new Error(`${bin} timed out`);
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" / ");
    throw new Error(`${bin} exited with status ${out.code}${stderr ? `: ${stderr}` : ""}`);
  }
}

/** One try, throwing with a message that may still hold secrets (the caller masks them). */
async function attempt(n: NotifierConfig, m: AlertMessage, signal: AbortSignal): Promise<void> {
  const json = { "Content-Type": "application/json" };
  switch (n.type) {
    case "webhook":
      return post(n.url, JSON.stringify(m), { ...json, ...n.headers }, signal);
    case "slack":
      return post(n.url, JSON.stringify({ text: m.text }), json, signal);
    case "discord":
      // Discord rejects content over 2000 characters
      return post(n.url, JSON.stringify({ content: m.text.slice(0, 2000) }), json, signal);
    case "ntfy":
      return post(n.url, m.text, {
        "Content-Type": "text/plain; charset=utf-8",
        // header values must be ISO-8859-1: keep the title ASCII
        Title: m.title.replace(/[^\x20-\x7e]/g, "?"),
        Tags: m.event === "opened" ? "rotating_light" : "white_check_mark",
        ...(n.priority ? { Priority: String(n.priority) } : {}),
        ...(n.token ? { Authorization: `Bearer ${n.token}` } : {}),
      }, signal);
    case "command":
      return runCommand(n.command, m, signal);
    case "alertmanager":
    case "pagerduty":
    case "opsgenie":
    case "telegram":
    case "teams":
    case "matrix":
    case "pushover":
    case "gotify": {
      const r = await vendorRequest(n, m, readSecret);
      return post(r.url, r.body, r.headers, signal, r.method);
    }
    case "email": {
      let caCerts: string[] | undefined;
      if (n.caFile) {
        try {
          caCerts = [await Deno.readTextFile(n.caFile)];
        } catch (e) {
          throw new Error(`cannot read ca_file ${n.caFile}: ${errorText(e)}`);
        }
      }
      const password = await passwordOf(n);
      return sendMail({
        host: n.host,
        port: n.port,
        security: n.security,
        from: n.from,
        to: n.to,
        subject: m.title,
        text: m.text,
        signal,
        ...(n.username !== undefined ? { username: n.username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(caCerts ? { caCerts } : {}),
        ...(n.helo ? { helo: n.helo } : {}),
      });
    }
  }
}

/**
 * Sends `m` through `n` once, within `n.timeoutMs` and `signal`. Rejects
 * with {@linkcode NotifyError}, secrets masked.
 *
 * @example
 * ```ts ignore
 * await notifyOnce(notifier, message, AbortSignal.timeout(30_000));
 * ```
 */
export async function notifyOnce(
  n: NotifierConfig,
  m: AlertMessage,
  signal: AbortSignal,
): Promise<void> {
  const s = AbortSignal.any([signal, AbortSignal.timeout(n.timeoutMs)]);
  try {
    await attempt(n, m, s);
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    throw new NotifyError(n.name, redact(text, secretsOf(n)));
  }
}

/**
 * The result of {@linkcode deliver}.
 *
 * @example
 * ```ts
 * import type { Delivery } from "./notifiers.ts";
 * const d: Delivery = { ok: false, attempts: 6, error: "Notifier ops: POST ... HTTP 503" };
 * ```
 */
export interface Delivery {
  ok: boolean;
  attempts: number;
  /** The last failure (masked), or null. */
  error: string | null;
}

/** Longest wait between tries. */
const MAX_BACKOFF_MS = 300_000;

/**
 * Sends `m` through `n`, retrying `n.retries` times with doubling waits from
 * `n.backoffMs`. `onAttempt` sees each failed try. Stops early (as failed)
 * when `signal` aborts.
 *
 * @example
 * ```ts ignore
 * const d = await deliver(notifier, message, { signal, onAttempt: (n, err) => {} });
 * ```
 */
export async function deliver(
  n: NotifierConfig,
  m: AlertMessage,
  options: { signal: AbortSignal; onAttempt?: (attempts: number, error: string) => void },
): Promise<Delivery> {
  let error: string | null = null;
  for (let i = 0; i <= n.retries; i++) {
    if (i > 0) {
      const wait = Math.min(n.backoffMs * 2 ** (i - 1), MAX_BACKOFF_MS);
      const stopped = await new Promise<boolean>((resolve) => {
        const timer: ReturnType<typeof setTimeout> = setTimeout(() => resolve(false), wait);
        options.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(true);
        }, { once: true });
      });
      if (stopped) return { ok: false, attempts: i, error: error ?? "stopped" };
    }
    try {
      await notifyOnce(n, m, options.signal);
      if (n.type === "alertmanager") keepFiring(n, m, options.signal);
      return { ok: true, attempts: i + 1, error: null };
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      options.onAttempt?.(i + 1, error);
      if (options.signal.aborted) return { ok: false, attempts: i + 1, error };
    }
  }
  return { ok: false, attempts: n.retries + 1, error };
}

/** Open incidents re-sent to an Alertmanager, by notifier and incident. */
const firing = new Map<string, AbortController>();

/**
 * Alertmanager resolves an alert nobody repeats (its `endsAt` passes), as
 * Prometheus repeats its firing alerts: re-sends an opening every
 * `resendMs` until its resolution is delivered or `signal` (the manager's
 * shutdown) aborts. A failed re-send is tried again at the next one.
 */
function keepFiring(
  n: Extract<NotifierConfig, { type: "alertmanager" }>,
  m: AlertMessage,
  signal: AbortSignal,
): void {
  const key = `${n.name}\0${m.incident.id}`;
  firing.get(key)?.abort();
  firing.delete(key);
  if (m.event !== "opened" || signal.aborted) return;
  const stop = new AbortController();
  firing.set(key, stop);
  const both = AbortSignal.any([signal, stop.signal]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const again = () => {
    timer = setTimeout(() => {
      notifyOnce(n, m, both).catch(() => {}).finally(() => both.aborted || again());
    }, n.resendMs);
  };
  both.addEventListener("abort", () => {
    clearTimeout(timer);
    if (firing.get(key) === stop) firing.delete(key);
  }, { once: true });
  again();
}
