/**
 * What the manager's API answers, declared once: `api.ts` builds its
 * answers as these types (or as the types named here, such as `LinkState`
 * and `TargetRow` in `api.ts`) and `ctl.ts` reads them as these types, so
 * the two cannot drift apart. `docs/openapi.yaml` describes the same shapes.
 *
 * @example
 * ```ts
 * import type { StatusResponse } from "./api_types.ts";
 * function online(s: StatusResponse): string {
 *   return `${s.monitors.online}/${s.monitors.total}`;
 * }
 * ```
 *
 * @module
 */
import type { LinkState } from "../link.ts";
import type { Page } from "../rollups.ts";
import type { StoredResult } from "../store.ts";

/** `GET /api/v1/status`: the manager, its monitors and checks at a glance. */
export interface StatusResponse {
  manager: { id: string; version: string; startedAt: number };
  monitors: { total: number; online: number; reconnecting: number; offline: number };
  checks: { configured: number; paused: string[] };
  storeBytes: number;
  store: { path: string; diskFull: string | null };
}

/** `GET /api/v1/monitors`: every monitor and its link. */
export type MonitorsResponse = LinkState[];

/** `GET /api/v1/results`: stored results, newest first, and the cursor of the next page. */
export type ResultsResponse = Page<StoredResult>;

/** `POST /api/v1/run`: the checks selected and where each ran now. */
export interface RunResponse {
  checks: string[];
  ran: { checkId: string; monitor: string }[];
}

/** `POST /api/v1/pause` and `POST /api/v1/resume`: every check paused now. */
export interface PauseResponse {
  paused: string[];
}

/** `POST /api/v1/reload`: whether the configuration was applied, and why not. */
export interface ReloadResponse {
  ok: boolean;
  error?: string;
}
