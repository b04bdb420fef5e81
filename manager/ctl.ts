/**
 * `netmon ctl`: asks a running manager over its HTTP API, printing tables
 * for people or, with `--json`, the API's JSON for scripts.
 *
 * @example
 * ```ts ignore
 * import { ctl } from "./ctl.ts";
 * Deno.exit(await ctl(["status", "--url", "http://127.0.0.1:8080"]));
 * ```
 *
 * @module
 */
import { CHECK_TYPES } from "../shared/checks.ts";
import { errorText } from "../shared/error_text.ts";
import type {
  MonitorsResponse,
  PauseResponse,
  ReloadResponse,
  ResultsResponse,
  RunResponse,
  StatusResponse,
} from "./http/api_types.ts";
import type { TargetRow } from "./http/api.ts";
import {
  type Command,
  HELP_OPTION,
  helpText,
  parseOptions,
  suggest,
  UsageError,
} from "../shared/cli.ts";

const options = {
  url: {
    type: "string",
    value: "URL",
    help: "the manager's API (default NETMON_URL or http://127.0.0.1:8080)",
  },
  token: { type: "string", value: "T", help: "bearer token (default NETMON_HTTP_TOKEN)" },
  json: { type: "boolean", help: "print the API's JSON instead of a table" },
  check: { type: "string", value: "ID", help: "results, incidents: only this check" },
  target: { type: "string", value: "T", help: "results, targets, incidents: only this target" },
  type: { type: "string", value: "TYPE", help: "results, targets: only this check type" },
  monitor: { type: "string", value: "NAME", help: "results, targets: only this monitor" },
  since: {
    type: "string",
    value: "DURATION",
    help: "results: only newer ones (e.g. 30m, 2h, 7d)",
  },
  limit: { type: "string", value: "N", help: "results, incidents: at most N (default 20)" },
  cursor: { type: "string", value: "C", help: "results: the page after this cursor" },
  state: { type: "string", value: "S", help: "incidents: open, closed or all (default all)" },
  before: { type: "string", value: "NEXT", help: "incidents: the page after this one" },
  ...HELP_OPTION,
} as const;

/** `netmon ctl COMMAND [options]`. */
export const ctlCommand = {
  name: "ctl",
  summary: "ask a running manager: status, monitors, targets, results, incidents,\n" +
    "run, pause, resume, reload ('netmon help ctl')",
  usage: "COMMAND [options]",
  commands: [
    ["status", "the manager, its monitors and checks at a glance"],
    ["monitors", "every monitor and its link status"],
    ["targets", "every check on every monitor: state, latency, uptime"],
    ["results", "stored results, newest first"],
    ["incidents", "open and past incidents and what each monitor saw"],
    ["run TARGET[/TYPE]", "run the check(s) now on the monitors that have them"],
    ["pause TARGET[/TYPE]", "stop assigning the check(s) until resumed"],
    ["resume TARGET[/TYPE]", "assign them again"],
    ["reload", "re-read the manager's configuration file"],
  ],
  options,
  footer: "Exit status: 0 done, 1 the manager refused or is unreachable, 2 wrong usage.",
  run: ctl,
} satisfies Command;

/** The manager refused, or answered something the command cannot use (exit 1). */
export class CtlError extends Error {
  /** The process's exit status. */
  readonly exitCode = 1;
  /** @param message what went wrong and what to do */
  constructor(message: string) {
    super(message);
    this.name = "CtlError";
  }
}

/** Runs `netmon ctl ARGS`; resolves with the exit code. Output goes to stdout, errors to stderr. */
export async function ctl(args: string[]): Promise<number> {
  try {
    console.log(await ctlText(args));
    return 0;
  } catch (e) {
    if (!(e instanceof CtlError || e instanceof UsageError)) throw e;
    console.error(`netmon ctl: ${e.message}`);
    return e.exitCode;
  }
}

/** How {@linkcode ctlText} reaches the manager: `fetch`, or the API's handler in-process. */
export type Transport = (req: Request) => Promise<Response>;

/**
 * What `netmon ctl ARGS` prints. Throws {@linkcode CtlError}, or
 * {@linkcode UsageError} for a wrong command line. `transport`
 * replaces the network, for the prompt of a manager that asks itself.
 */
export async function ctlText(args: string[], transport: Transport = fetch): Promise<string> {
  const { values: o, positionals: [cmd, ...rest] } = parseOptions(ctlCommand, args);
  if (o.help || cmd === undefined || cmd === "help") return helpText(ctlCommand);
  const client = new Client(
    (o.url ?? Deno.env.get("NETMON_URL") ?? "http://127.0.0.1:8080").replace(/\/+$/, ""),
    o.token ?? Deno.env.get("NETMON_HTTP_TOKEN") ?? "",
    transport,
  );
  const out = (data: unknown, table: () => string) =>
    o.json ? JSON.stringify(data, null, 2) : table();
  const needs = (n: number) => {
    if (rest.length !== n) {
      throw new UsageError(
        `${cmd} takes ${n ? "one check, e.g. web or web/HTTP" : "no arguments"}`,
      );
    }
  };

  switch (cmd) {
    case "status": {
      needs(0);
      const [s, monitors] = await Promise.all([
        client.get<StatusResponse>("/api/v1/status"),
        client.get<MonitorsResponse>("/api/v1/monitors"),
      ]);
      return out({ ...s, monitorStates: monitors }, () =>
        [
          `Manager ${s.manager.id} (netmon ${s.manager.version}), up since ${
            time(s.manager.startedAt)
          }`,
          `Monitors: ${s.monitors.online}/${s.monitors.total} online, ` +
          `${s.monitors.reconnecting} reconnecting, ${s.monitors.offline} offline`,
          `Checks: ${s.checks.configured} configured, ${s.checks.paused.length} paused` +
          (s.checks.paused.length ? ` (${s.checks.paused.join(", ")})` : ""),
          `Store: ${(s.storeBytes / 1048576).toFixed(1)} MiB` +
          (s.store?.diskFull ? `, disk full at ${s.store.diskFull}` : ""),
          "",
          monitorTable(monitors),
        ].join("\n"));
    }
    case "monitors": {
      needs(0);
      const monitors = await client.get<MonitorsResponse>("/api/v1/monitors");
      return out(monitors, () => monitorTable(monitors));
    }
    case "targets": {
      needs(0);
      const rows = (await client.get<TargetRow[]>("/api/v1/targets")).filter((r) =>
        (!o.target || r.target === o.target) && (!o.type || r.type === o.type.toUpperCase()) &&
        (!o.monitor || r.monitor === o.monitor)
      );
      return out(rows, () =>
        table(
          ["TARGET", "TYPE", "MONITOR", "STATE", "LATENCY", "24H", "7D", "30D", "LAST RESULT"],
          rows.map((r) => [
            r.target,
            r.type,
            r.monitor,
            r.paused ? `${r.state} (paused)` : r.state,
            ms(r.latencyMs),
            pct(r.uptime.h24),
            pct(r.uptime.d7),
            pct(r.uptime.d30),
            r.lastResultAt === null ? "-" : time(r.lastResultAt),
          ]),
        ));
    }
    case "results": {
      needs(0);
      const q = new URLSearchParams();
      for (const k of ["check", "target", "monitor", "cursor"] as const) {
        if (o[k]) q.set(k, o[k]);
      }
      if (o.type) q.set("type", o.type.toUpperCase());
      if (o.since) q.set("from", String(Date.now() - duration(o.since)));
      q.set("limit", o.limit ?? "20");
      const page = await client.get<ResultsResponse>(`/api/v1/results?${q}`);
      return out(page, () =>
        table(
          ["TIME", "TARGET", "TYPE", "MONITOR", "UP", "LATENCY", "SUMMARY"],
          page.items.map((r) => [
            time(r.startedAt),
            r.target,
            r.type,
            r.monitorName,
            r.up ? "up" : "DOWN",
            ms(r.latencyMs),
            r.summary,
          ]),
        ) + (page.next ? `\n(more: --cursor ${page.next})` : ""));
    }
    case "incidents": {
      needs(0);
      const q = new URLSearchParams({ limit: o.limit ?? "20" });
      for (const k of ["state", "target", "check", "before"] as const) if (o[k]) q.set(k, o[k]);
      const page = await client.get<IncidentPage>(`/api/v1/incidents?${q}`);
      return out(page, () => incidentTable(page));
    }
    case "run":
    case "pause":
    case "resume": {
      needs(1);
      const res = await client.post<Partial<PauseResponse> & Partial<RunResponse>>(
        `/api/v1/${cmd}`,
        selector(rest[0]!),
        cmd === "run" ? [409] : [],
      );
      return out(res, () => {
        if (cmd !== "run") return `Paused now: ${res.paused?.join(", ") || "none"}`;
        if (!res.ran?.length) {
          throw new CtlError(
            `no online monitor runs ${
              res.checks?.join(", ")
            } now (paused, or its monitors are offline)`,
          );
        }
        return res.ran.map((r) => `Ran ${r.checkId} on ${r.monitor}`).join("\n");
      });
    }
    case "reload": {
      needs(0);
      const res = await client.post<ReloadResponse>("/api/v1/reload", {}, [422]);
      if (!res.ok) throw new CtlError(`the configuration was not applied: ${res.error}`);
      return out(res, () => "Configuration reloaded");
    }
    default:
      throw new UsageError(
        `unknown command "${cmd}"${
          suggest(cmd, ctlCommand.commands.map(([c]) => c.split(" ")[0]!))
        }; ` +
          `run 'netmon help ctl'`,
      );
  }
}

class Client {
  #base: string;
  #token: string;
  #transport: Transport;
  constructor(base: string, token: string, transport: Transport) {
    this.#base = base;
    this.#token = token;
    this.#transport = transport;
  }

  get<T>(path: string): Promise<T> {
    return this.#call<T>("GET", path, undefined, []);
  }

  post<T>(path: string, body: unknown, okStatuses: number[]): Promise<T> {
    return this.#call<T>("POST", path, body, okStatuses);
  }

  async #call<T>(method: string, path: string, body: unknown, ok: number[]): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.#transport(
        new Request(`${this.#base}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        }),
      );
    } catch (e) {
      throw new CtlError(
        `no manager answers at ${this.#base} (${errorText(e)}): is 'netmon manage' running ` +
          `with its API there? Set --url or NETMON_URL`,
      );
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new CtlError(`${this.#base} answered ${res.status} with something that is not JSON`);
    }
    if (!res.ok && !ok.includes(res.status)) {
      const why = (data as { error?: string }).error ?? text;
      throw new CtlError(
        res.status === 401 ? `${why}: pass --token or set NETMON_HTTP_TOKEN` : why,
      );
    }
    return data as T;
  }
}

function selector(arg: string): Record<string, string> {
  const i = arg.lastIndexOf("/");
  const type = arg.slice(i + 1).toUpperCase();
  if (i > 0 && (CHECK_TYPES as readonly string[]).includes(type)) {
    return { target: arg.slice(0, i), type };
  }
  return { target: arg };
}

function monitorTable(monitors: MonitorsResponse): string {
  return table(
    [
      "MONITOR",
      "ADDRESS",
      "STATUS",
      "DIRECTION",
      "SINCE",
      "LAST SEEN",
      "HELD BACK",
      "RECEIVED",
      "SPOOLED",
      "DROPPED",
      "LAST ERROR",
    ],
    monitors.map((m) => [
      m.name,
      m.remoteAddress ?? m.address,
      m.status,
      m.direction,
      time(m.since),
      m.lastSeen === null ? "-" : time(m.lastSeen),
      String(m.heldBack),
      String(m.received),
      m.spool ? String(m.spool.pending) : "-",
      m.spool ? String(m.spool.dropped) : "-",
      [m.spool?.diskFull ? `monitor disk full at ${m.spool.diskFull}` : "", m.lastError ?? ""]
        .filter(Boolean).join("; "),
    ]),
  );
}

/** Columns padded to their widest cell; the last column is not padded. */
function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows]
    .map((r) => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join("  "))
    .join("\n");
}

function time(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function ms(v: number | null): string {
  return v === null ? "-" : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
}

function pct(v: number | null): string {
  return v === null ? "-" : `${v.toFixed(v === 100 ? 0 : 2)}%`;
}

function duration(s: string): number {
  const m = s.match(/^(\d+)(s|m|h|d)$/);
  if (!m) throw new UsageError(`--since takes a duration such as 30m, 2h or 7d, got "${s}"`);
  return Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as "s" | "m" | "h" | "d"];
}

// `ctl incidents`: the answer of /api/v1/incidents and its table
interface IncidentPage {
  incidents: {
    checkId: string;
    condition: string;
    openedAt: number;
    closedAt: number | null;
    silenced: boolean;
    monitors: { name: string; up: boolean | null; error?: string }[];
  }[];
  next: string | null;
}

function incidentTable(page: IncidentPage): string {
  if (page.incidents.length === 0) return "No incidents";
  return table(
    ["OPENED", "CLOSED", "CHECK", "CONDITION", "MONITORS"],
    page.incidents.map((i) => [
      time(i.openedAt),
      i.closedAt === null ? "open" : time(i.closedAt),
      i.checkId,
      i.condition + (i.silenced ? " (silenced)" : ""),
      i.monitors.map((m) =>
        `${m.name} ${m.up === null ? "unknown" : m.up ? "up" : "DOWN"}${
          m.error ? ` (${m.error})` : ""
        }`
      ).join("; "),
    ]),
  ) + (page.next ? `\n(more: --before ${page.next})` : "");
}
