/**
 * Badges: `GET /badge/{target}/{check}.svg` draws a check's state across its
 * monitors (up, degraded, down, unknown), `?uptime=24h|7d|30d` its uptime
 * over that window, as a small SVG in the usual two-part shape. Answers
 * carry an ETag and a short `Cache-Control`, so a README or a wiki that
 * embeds one asks again cheaply. Public for the targets `status_page:`
 * lists; any other target's badge needs the API's token.
 *
 * @example
 * ```ts
 * import { badgeSvg } from "./badges.ts";
 * console.assert(badgeSvg("web/HTTP", "up", "up").startsWith("<svg"));
 * ```
 *
 * @module
 */
import type { Store } from "../store.ts";
import { fnv1a32 } from "../../shared/hash.ts";
import { CHECK_TYPES } from "../../shared/checks.ts";

/**
 * A check's state over all the monitors that run it: `degraded` when some
 * of them see it down but not all.
 *
 * @example
 * ```ts
 * import type { OverallState } from "./badges.ts";
 * const s: OverallState = "degraded";
 * ```
 */
export type OverallState = "up" | "down" | "degraded" | "unknown";

/**
 * The overall state from each monitor's state of one check (`up`, `down`,
 * `unknown`, `pending`): monitors that have no current verdict are left out.
 *
 * @example
 * ```ts
 * import { overallState } from "./badges.ts";
 * console.assert(overallState(["up", "down"]) === "degraded");
 * console.assert(overallState(["down", "unknown"]) === "down");
 * console.assert(overallState(["pending"]) === "unknown");
 * ```
 */
export function overallState(states: readonly string[]): OverallState {
  const known = states.filter((s) => s === "up" || s === "down");
  if (known.length === 0) return "unknown";
  const down = known.filter((s) => s === "down").length;
  return down === 0 ? "up" : down === known.length ? "down" : "degraded";
}

/** Badge windows and their length. */
export const UPTIME_WINDOWS: Readonly<Record<string, number>> = {
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
};

const COLORS: Record<string, string> = {
  up: "#2e7d32",
  degraded: "#e65100",
  down: "#c62828",
  unknown: "#616161",
};

/** Approximate advance of 11 px Verdana per character, for the box widths. */
function textWidth(s: string): number {
  let w = 0;
  for (const c of s) {
    w += /[il.:|!'1 ]/.test(c) ? 4 : /[mwMW%@]/.test(c) ? 10 : /[A-Z]/.test(c) ? 8 : 7;
  }
  return w;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The SVG of a badge: `label` on grey, `message` on the colour of `tone`
 * (an {@linkcode OverallState}).
 *
 * @example
 * ```ts
 * import { badgeSvg } from "./badges.ts";
 * console.assert(badgeSvg("web/HTTP", "99.95%", "up").includes("99.95%"));
 * ```
 */
export function badgeSvg(label: string, message: string, tone: string): string {
  const lw = textWidth(label) + 12, mw = textWidth(message) + 12, w = lw + mw;
  const l = escapeXml(label), m = escapeXml(message);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" ` +
    `aria-label="${l}: ${m}"><title>${l}: ${m}</title>` +
    `<clipPath id="r"><rect width="${w}" height="20" rx="3" fill="#fff"/></clipPath>` +
    `<g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/>` +
    `<rect x="${lw}" width="${mw}" height="20" fill="${COLORS[tone] ?? COLORS.unknown}"/></g>` +
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" ` +
    `font-size="11"><text x="${lw / 2}" y="14">${l}</text>` +
    `<text x="${lw + mw / 2}" y="14">${m}</text></g></svg>`;
}

/**
 * The check a badge path names: `/badge/web/HTTP.svg` is `web/HTTP`; the
 * target may be URL-encoded. Null for a path that is not a badge's.
 *
 * @example
 * ```ts
 * import { badgeCheckId } from "./badges.ts";
 * console.assert(badgeCheckId("/badge/example.com/https.svg") === "example.com/HTTPS");
 * console.assert(badgeCheckId("/badge/x.svg") === null);
 * ```
 */
export function badgeCheckId(pathname: string): string | null {
  const m = pathname.match(/^\/badge\/(.+)\/([A-Za-z0-9]+)\.svg$/);
  if (!m) return null;
  const type = m[2]!.toUpperCase();
  if (!(CHECK_TYPES as readonly string[]).includes(type)) return null;
  let target: string;
  try {
    target = decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
  return `${target}/${type}`;
}

/**
 * What a badge request needs of the manager.
 *
 * @example
 * ```ts ignore
 * const source: BadgeSource = { states: (id) => ["up"], uptime: (id, since) => Promise.resolve(100) };
 * ```
 */
export interface BadgeSource {
  /** Each monitor's state of the check (as `/api/v1/targets` gives it). */
  states(checkId: string): string[];
  /** Percent of the check's results that were up since `since`, null without results. */
  uptime(checkId: string, since: number): Promise<number | null>;
}

/**
 * Answers a badge request for `checkId` (known to exist and allowed).
 *
 * @example
 * ```ts
 * import { badgeResponse } from "./badges.ts";
 * const res = await badgeResponse(new Request("http://x/badge/web/TCP.svg"), "web/TCP", {
 *   states: () => ["up"], uptime: () => Promise.resolve(null),
 * }, Date.now());
 * console.assert(res.headers.get("content-type")?.startsWith("image/svg+xml"));
 * ```
 */
export async function badgeResponse(
  req: Request,
  checkId: string,
  source: BadgeSource,
  now: number,
): Promise<Response> {
  const window = new URL(req.url).searchParams.get("uptime");
  let svg: string;
  if (window === null) {
    const state = overallState(source.states(checkId));
    svg = badgeSvg(checkId, state, state);
  } else {
    const span = UPTIME_WINDOWS[window];
    if (span === undefined) {
      return new Response(
        JSON.stringify({ error: `uptime must be 24h, 7d or 30d, got "${window}"` }),
        { status: 400, headers: { "content-type": "application/json; charset=utf-8" } },
      );
    }
    const pct = await source.uptime(checkId, now - span);
    const text = pct === null ? "no data" : `${pct >= 99.995 ? "100" : pct.toFixed(2)}%`;
    const tone = pct === null ? "unknown" : pct >= 99 ? "up" : pct >= 95 ? "degraded" : "down";
    svg = badgeSvg(`uptime ${window}`, text, tone);
  }
  const etag = `"${fnv1a32(svg).toString(16)}-${svg.length.toString(16)}"`;
  const headers = {
    "content-type": "image/svg+xml; charset=utf-8",
    "cache-control": "public, max-age=60",
    etag,
    // other sites embed badges: let them load it
    "cross-origin-resource-policy": "cross-origin",
  };
  if (req.headers.get("if-none-match")?.split(/\s*,\s*/).includes(etag)) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(req.method === "HEAD" ? null : svg, { headers });
}

/**
 * Percent of a check's results (every monitor together) that were up since
 * `since`, from the hour rollups (`Store.checkUptime`); null without results.
 *
 * @example
 * ```ts ignore
 * import { checkUptime } from "./badges.ts";
 * console.log(await checkUptime(manager.store, "web/HTTP", Date.now() - 86_400_000));
 * ```
 */
export function checkUptime(store: Store, checkId: string, since: number): Promise<number | null> {
  return store.checkUptime(checkId, since);
}
