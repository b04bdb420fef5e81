/**
 * The manager's HTTP API as one function `(req: Request) => Promise<Response>`,
 * testable without a server. Routes (documented in `docs/openapi.yaml`):
 *
 * - `GET /api/v1/status`, `/monitors`, `/config`, `/targets` — current state
 * - `GET /api/v1/results`, `/rollups`, `/chart` — history, paged by `cursor`
 * - `GET /api/v1/events` — Server-Sent Events: `result` and `status`
 * - `GET /api/v1/incidents` — open and past incidents (`incidents.ts`)
 * - `GET /api/v1/heartbeats` — the newest results of every check, for the dashboard's strips
 * - `POST /api/v1/run`, `/pause`, `/resume`, `/reload` — control
 * - `GET /metrics` — Prometheus; `GET /` — the dashboard
 * - public, without the token: `GET /healthz` (`health.ts`), `/status`
 *   (`status_page.ts`), `/badge/{target}/{check}.svg` (`badges.ts`), the favicon
 *
 * @example
 * ```ts ignore
 * import { createApi } from "./api.ts";
 * const api = createApi(manager, { token: "" });
 * const res = await api.handle(new Request("http://x/api/v1/monitors"));
 * ```
 *
 * @module
 */
import { timingSafeEqual } from "../../shared/timing_safe.ts";
import type { CheckSpec } from "../../shared/checks.ts";
import { VERSION } from "../../shared/version.ts";
import type { Manager } from "../manager.ts";
import type { ReloadResponse, RunResponse, StatusResponse } from "./api_types.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "../metrics.ts";
import { type HistoryFilter, HistoryQueryError, type Resolution } from "../rollups.ts";
import { Live } from "./live.ts";
import { secretsOf } from "../alerts/notifiers.ts";
import { maskSecrets, secretRulesOfConfig } from "../../shared/secrets.ts";
import type { Config } from "../../shared/config.ts";
import { serveStatic } from "./static.ts";
import { type CheckState, freshnessOf, type Judge, staleAfterMs, stateOf } from "../freshness.ts";
import { IncidentQueryError, incidentsAnswer } from "./incidents.ts";
import { health } from "./health.ts";
import { badgeCheckId, badgeResponse, checkUptime } from "./badges.ts";
import { renderStatusPage } from "./status_page.ts";
import { heartbeats } from "./heartbeats.ts";
import { isPublicPath } from "./guard.ts";
import { isPublicTarget } from "../../shared/config_status_page.ts";

/** Options of {@linkcode createApi}. */
export interface ApiOptions {
  /** Bearer token required on `/api` and `/metrics` ("" for none). */
  token: string;
  /** Bytes each event stream may hold for a client that does not read (see `live.ts`). */
  sseQueueBytes?: number;
}

/** An API bound to a manager; {@linkcode Api.close} ends its event streams. */
export interface Api {
  handle(req: Request): Promise<Response>;
  /** The live results and event streams (the streams' queues are visible for tests). */
  live: Live;
  close(): void;
}

/** A request the API refuses, with its HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  /** @param status HTTP status @param message what to fix */
  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** One check on one monitor, as `GET /api/v1/targets` lists it. */
export interface TargetRow {
  checkId: string;
  target: string;
  type: string;
  monitor: string;
  monitorId: string | null;
  /** Whether the monitor is assigned the check now. */
  assigned: boolean;
  paused: boolean;
  /**
   * `up`/`down` from the newest result, `pending` before the first, `unknown`
   * once the monitor is offline or that result is stale (see `freshness.ts`).
   */
  state: CheckState;
  latencyMs: number | null;
  lastResultAt: number | null;
  /** When an `up`/`down` state turns `unknown` unless a newer result arrives; null before one. */
  freshUntil: number | null;
  summary: string | null;
  error: string | null;
  /** Days until the earliest certificate the newest result saw expires (HTTPS/TLS checks), else null. */
  certDaysLeft: number | null;
  /** The monitor's labels from `tasks.yaml`. */
  monitorLabels: string[];
  uptime: { h24: number | null; d7: number | null; d30: number | null };
}

const startedAt = Date.now();
const SECRET_KEY = /pass|secret|token|key/i;

/** Builds the API of `manager`. */
export function createApi(manager: Manager, options: ApiOptions): Api {
  const live = new Live(manager, {
    maxQueueBytes: options.sseQueueBytes,
  });
  const judge = freshnessOf(manager);

  const routes: Record<string, (req: Request, url: URL) => Response | Promise<Response>> = {
    "GET /api/v1/status": async () => json(await status(manager)),
    "GET /api/v1/monitors": () => json(manager.states()),
    "GET /api/v1/config": () => json(redactConfig(manager.config)),
    "GET /api/v1/targets": async () => json(await targets(manager, live, judge)),
    "GET /api/v1/results": async (_req, url) => json(await manager.history.results(filter(url))),
    "GET /api/v1/rollups": async (_req, url) => {
      const r = url.searchParams.get("resolution") ?? "minute";
      if (r !== "minute" && r !== "hour") {
        throw new ApiError(400, `resolution must be minute or hour, got "${r}"`);
      }
      return json(await manager.history.rollups(r as Resolution, filter(url)));
    },
    "GET /api/v1/chart": async (_req, url) => {
      const check = url.searchParams.get("check");
      if (!check) throw new ApiError(400, "check is required, e.g. check=web/HTTP");
      const to = time(url, "to") ?? Date.now();
      const from = time(url, "from") ?? to - 86_400_000;
      if (from >= to) throw new ApiError(400, "from must be before to");
      const spec = manager.config.checks.find((c) => c.spec.id === check)?.spec;
      // the dashboard breaks its lines where results are missing for longer than two intervals
      return json({
        ...await manager.history.chart(check, from, to),
        intervalMs: spec?.intervalMs ?? null,
      });
    },
    "GET /api/v1/incidents": async (_req, url) =>
      json(
        await incidentsAnswer(
          manager.store,
          url.searchParams,
          manager.config.alerting?.maintenance ?? [],
        ),
      ),
    "GET /api/v1/heartbeats": async (_req, url) => {
      const n = Number(url.searchParams.get("limit") ?? 30);
      if (!Number.isInteger(n) || n < 1 || n > 200) {
        throw new ApiError(400, "limit must be a whole number from 1 to 200");
      }
      return json(await heartbeats(manager.store, manager.config.checks.map((c) => c.spec.id), n));
    },
    "GET /healthz": async () => {
      const h = await health(manager.store);
      return json(h, h.ok ? 200 : 503);
    },
    "GET /status": async () => {
      const page = manager.config.statusPage;
      if (!page) {
        throw new ApiError(
          404,
          "no status page is configured: add status_page: with groups of targets to tasks.yaml",
        );
      }
      return new Response(await renderStatusPage(page, await publicSource(), Date.now()), {
        headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" },
      });
    },
    "GET /api/v1/events": () => live.stream({ managerId: manager.managerId, version: VERSION }),
    "POST /api/v1/run": async (req) => {
      const ids = select(manager, await body(req));
      const ran: RunResponse["ran"] = [];
      await Promise.all(
        [...manager.links.values()].flatMap((link) =>
          manager.assignedTo(link.config.name)
            .filter((c) => ids.includes(c.id))
            .map(async (c) => {
              if (await link.runNow(c.id)) ran.push({ checkId: c.id, monitor: link.config.name });
            })
        ),
      );
      return json({ checks: ids, ran } satisfies RunResponse, ran.length ? 202 : 409);
    },
    "POST /api/v1/pause": async (req) => {
      await manager.pause(select(manager, await body(req)), true);
      return json({ paused: [...manager.paused] });
    },
    "POST /api/v1/resume": async (req) => {
      await manager.pause(select(manager, await body(req)), false);
      return json({ paused: [...manager.paused] });
    },
    "POST /api/v1/reload": async () => {
      const r: ReloadResponse = await manager.reload();
      return json(r, r.ok ? 200 : 422);
    },
    "GET /metrics": async () =>
      new Response(
        renderMetrics({
          latest: live.latest().filter((r) =>
            manager.config.checks.some((c) => c.spec.id === r.checkId)
          ),
          isCurrent: (r) => judge(r.checkId, r.monitorName, r.startedAt, Date.now()) === "fresh",
          monitors: manager.states(),
          version: VERSION,
          storeBytes: await manager.store.bytes(),
          storeDiskFull: manager.store.diskFull !== null,
          checksConfigured: manager.config.checks.length,
          checksPaused: manager.paused.size,
          sseClients: live.clients,
          checks: manager.config.checks.map((c) => c.spec),
          incidents: await manager.store.incidents({ open: true, limit: 1000 }),
          remoteWrite: manager.remoteWrite.stats(),
          ...(manager.clustered
            ? { cluster: { managers: manager.clusterMembers().length, leader: manager.leads } }
            : {}),
        }),
        { headers: { "content-type": METRICS_CONTENT_TYPE } },
      ),
  };

  /** Each monitor's state of a check, for the status page and badges. */
  const publicSource = async () => {
    const rows = await targets(manager, live, judge, false);
    return {
      states: (checkId: string) => rows.filter((r) => r.checkId === checkId).map((r) => r.state),
      uptime: (checkId: string, since: number) => checkUptime(manager.store, checkId, since),
      store: manager.store,
      checks: manager.config.checks.map((c) => c.spec),
    };
  };

  const badge = async (req: Request, url: URL): Promise<Response> => {
    const checkId = badgeCheckId(url.pathname);
    const spec = manager.config.checks.find((c) => c.spec.id === checkId)?.spec;
    const open = !options.token || authorized(req, url, options.token);
    if (!spec || (!open && !isPublicTarget(manager.config.statusPage, spec.target))) {
      throw new ApiError(
        404,
        `no public badge at ${url.pathname}: badges are /badge/TARGET/CHECK.svg for the ` +
          `targets listed under status_page: in tasks.yaml`,
      );
    }
    return await badgeResponse(req, spec.id, await publicSource(), Date.now());
  };

  return {
    async handle(req: Request): Promise<Response> {
      const url = new URL(req.url);
      const protectedPath = !isPublicPath(url.pathname);
      try {
        if (protectedPath && options.token && !authorized(req, url, options.token)) {
          return new Response(JSON.stringify({ error: "a valid bearer token is required" }), {
            status: 401,
            headers: {
              "content-type": "application/json",
              "www-authenticate": 'Bearer realm="netmon"',
            },
          });
        }
        const safe = req.method === "GET" || req.method === "HEAD";
        if (safe && url.pathname.startsWith("/badge/")) return await badge(req, url);
        const route = routes[`${req.method === "HEAD" ? "GET" : req.method} ${url.pathname}`];
        if (route) return await route(req, url);
        if (!protectedPath && (req.method === "GET" || req.method === "HEAD")) {
          const res = await serveStatic(url.pathname);
          if (res) return res;
        }
        if (Object.keys(routes).some((k) => k.endsWith(` ${url.pathname}`))) {
          throw new ApiError(405, `${req.method} is not allowed on ${url.pathname}`);
        }
        throw new ApiError(404, `no such endpoint: ${url.pathname}; see docs/openapi.yaml`);
      } catch (e) {
        if (e instanceof ApiError) return json({ error: e.message }, e.status);
        if (e instanceof HistoryQueryError || e instanceof IncidentQueryError) {
          return json({ error: e.message }, 400);
        }
        throw e;
      }
    },
    live,
    close: () => live.close(),
  };
}

function json(data: unknown, status = 200): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

function authorized(req: Request, url: URL, token: string): boolean {
  const header = req.headers.get("authorization") ?? "";
  // EventSource cannot set headers, so the stream also takes the token in the query
  const given = header.startsWith("Bearer ")
    ? header.slice(7)
    : url.searchParams.get("access_token") ?? "";
  return timingSafeEqual(given, token);
}

async function status(manager: Manager): Promise<StatusResponse> {
  const states = manager.states();
  return {
    manager: { id: manager.managerId, version: VERSION, startedAt },
    monitors: {
      total: states.length,
      online: states.filter((s) => s.status === "Online").length,
      reconnecting: states.filter((s) => s.status === "Reconnecting").length,
      offline: states.filter((s) => s.status === "Offline").length,
    },
    checks: { configured: manager.config.checks.length, paused: [...manager.paused] },
    storeBytes: await manager.store.bytes(),
    store: { path: manager.store.path, diskFull: manager.store.diskFull },
  };
}

/** Every check on every monitor; without `withUptime` (badges, status page) uptime is left null. */
async function targets(
  manager: Manager,
  live: Live,
  judge: Judge,
  withUptime = true,
): Promise<TargetRow[]> {
  const now = Date.now();
  const [series, uptime] = await Promise.all([
    manager.history.series(),
    withUptime ? manager.history.uptime() : new Map(),
  ]);
  const rows: TargetRow[] = [];
  // in a cluster, the monitors other managers serve too (their latest results are shared)
  const labels = new Map(manager.config.monitors.map((m) => [m.name, m.labels]));
  for (const st of manager.states()) {
    const name = st.name;
    const assigned = new Set(manager.assignedTo(name).map((c) => c.id));
    for (const { spec } of manager.config.checks) {
      const s = series.find((x) => x.checkId === spec.id && x.monitorName === name);
      const paused = manager.paused.has(spec.id);
      // a paused check is no one's assignment, yet still listed where it would run
      if (!assigned.has(spec.id) && !s && !(paused && wouldRun(manager, name, spec))) continue;
      const monitorId = s?.monitorId ?? st.monitorId;
      const last = monitorId ? live.latestOf(spec.id, monitorId) : undefined;
      rows.push({
        checkId: spec.id,
        target: spec.target,
        type: spec.type,
        monitor: name,
        monitorId,
        assigned: assigned.has(spec.id),
        paused,
        state: stateOf(judge(spec.id, name, last?.startedAt ?? null, now), last?.up),
        latencyMs: last?.latencyMs ?? null,
        lastResultAt: last?.startedAt ?? null,
        freshUntil: last ? last.startedAt + staleAfterMs(spec.intervalMs, spec.timeoutMs) : null,
        summary: last?.summary ?? null,
        error: last?.error ?? null,
        certDaysLeft: last?.metrics.netmon_ssl_cert_days_left ?? null,
        monitorLabels: labels.get(name) ?? [],
        uptime: (s && uptime.get(s.id)) ?? { h24: null, d7: null, d30: null },
      });
    }
  }
  return rows;
}

function wouldRun(manager: Manager, monitor: string, spec: CheckSpec): boolean {
  const p = manager.config.checks.find((c) => c.spec.id === spec.id)?.placement;
  return p?.mode === "all" || (p?.mode === "select" && p.names.includes(monitor));
}

function time(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) {
    throw new ApiError(400, `${name} must be epoch milliseconds or an ISO 8601 time, got "${v}"`);
  }
  return n;
}

function filter(url: URL): HistoryFilter {
  const p = url.searchParams;
  const limit = p.get("limit");
  return {
    checkId: p.get("check") ?? undefined,
    target: p.get("target") ?? undefined,
    type: p.get("type") ?? undefined,
    monitor: p.get("monitor") ?? undefined,
    from: time(url, "from"),
    to: time(url, "to"),
    limit: limit === null ? undefined : Number(limit),
    cursor: p.get("cursor") ?? undefined,
  };
}

async function body(req: Request): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (!text) return {};
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch { /* answered below */ }
  throw new ApiError(
    400,
    'the body must be a JSON object such as {"target": "web", "type": "HTTP"}',
  );
}

/** The check IDs a control request names: `check`, or `target` with an optional `type`. */
function select(manager: Manager, b: Record<string, unknown>): string[] {
  const all = manager.config.checks.map((c) => c.spec);
  const { check, target, type } = b;
  let ids: string[];
  if (typeof check === "string") ids = all.filter((c) => c.id === check).map((c) => c.id);
  else if (typeof target === "string") {
    ids = all.filter((c) => c.target === target && (type === undefined || c.type === type))
      .map((c) => c.id);
  } else throw new ApiError(400, 'name the checks: {"check": "web/HTTP"} or {"target": "web"}');
  if (ids.length === 0) {
    throw new ApiError(404, `no configured check matches ${JSON.stringify(b)}`);
  }
  return ids;
}

/**
 * The configuration with every secret masked: values under secret-looking
 * keys, notifier URLs' paths and tokens (a Slack webhook URL is a password),
 * HTTP check header values, passwords inside URLs and credential-looking
 * query parameters (`shared/secrets.ts`).
 */
function redactConfig(config: Config): unknown {
  const secrets = (config.alerting?.notifiers ?? []).flatMap(secretsOf);
  for (const { spec } of config.checks) {
    if (spec.type === "HTTP" || spec.type === "HTTPS") {
      secrets.push(...Object.values(spec.params.headers));
    }
  }
  const rules = secretRulesOfConfig(config);
  const values = [...secrets, ...(rules.values ?? [])].map((x) => JSON.stringify(x).slice(1, -1));
  return JSON.parse(maskSecrets(JSON.stringify(redact(config)), { params: rules.params, values }));
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map((
        [k, v],
      ) => [k, SECRET_KEY.test(k) && typeof v === "string" ? "***" : redact(v)]),
    );
  }
  return value;
}
