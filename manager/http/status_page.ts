/**
 * The public status page at `/status`: what `status_page:` in `tasks.yaml`
 * lists (title, groups of targets), each target's current state over all
 * its checks and monitors, 90 days of daily uptime bars, and the open
 * incidents of those targets. Rendered on the server as plain HTML (no
 * script, so nothing of the API is reachable from it), refreshed by the
 * browser every minute. Monitor names and error texts stay off the page:
 * customers see whether a service works, not the network's insides.
 *
 * @example
 * ```ts ignore
 * import { renderStatusPage } from "./status_page.ts";
 * const html = renderStatusPage(manager.config.statusPage!, {
 *   states: (checkId) => ["up"], db: manager.store.db, checks: manager.config.checks.map((c) => c.spec),
 * }, Date.now());
 * ```
 *
 * @module
 */
import type { Store } from "../store.ts";
import type { CheckSpec } from "../../shared/checks.ts";
import type { StatusPageConfig } from "../../shared/config_status_page.ts";
import { type OverallState, overallState } from "./badges.ts";

const DAY = 86_400_000;
/** Days of uptime bars. */
export const STATUS_DAYS = 90;

/**
 * What the status page reads of the manager.
 *
 * @example
 * ```ts ignore
 * const source: StatusSource = { states: () => [], store: manager.store, checks: [] };
 * ```
 */
export interface StatusSource {
  /** Each monitor's state of a check (as `/api/v1/targets` gives it). */
  states(checkId: string): string[];
  /** Daily uptime and open incidents come from the store. */
  store: Pick<Store, "dailyUptime" | "selectIncidents">;
  /** The configured checks. */
  checks: readonly CheckSpec[];
}

/**
 * A target's state from its checks' overall states: down when every check
 * is down, degraded when some check is down or degraded, unknown when none
 * is known.
 *
 * @example
 * ```ts
 * import { targetState } from "./status_page.ts";
 * console.assert(targetState(["up", "down"]) === "degraded");
 * console.assert(targetState(["unknown", "up"]) === "up");
 * ```
 */
export function targetState(checks: readonly OverallState[]): OverallState {
  const known = checks.filter((s) => s !== "unknown");
  if (known.length === 0) return "unknown";
  if (known.every((s) => s === "down")) return "down";
  if (known.some((s) => s !== "up")) return "degraded";
  return "up";
}

const WORDS: Record<OverallState, string> = {
  up: "Operational",
  degraded: "Degraded",
  down: "Down",
  unknown: "No data",
};

function esc(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function barClass(pct: number | null): string {
  if (pct === null) return "none";
  return pct >= 99.9 ? "up" : pct >= 95 ? "degraded" : "down";
}

/**
 * The page's HTML.
 *
 * @example
 * ```ts
 * import { openStore } from "../store.ts";
 * import { renderStatusPage } from "./status_page.ts";
 * const store = await openStore(":memory:");
 * const html = await renderStatusPage({ title: "Acme", groups: [] }, {
 *   states: () => [], store, checks: [],
 * }, Date.now());
 * console.assert(html.includes("<h1>Acme</h1>"));
 * await store.close();
 * ```
 */
export async function renderStatusPage(
  page: StatusPageConfig,
  src: StatusSource,
  now: number,
): Promise<string> {
  const today = Math.floor(now / DAY);
  const targets = page.groups.flatMap((g) => g.targets);
  const checksOf = (t: string) => src.checks.filter((c) => c.target === t);
  const stateOf = new Map(
    targets.map((t) => [
      t,
      targetState(checksOf(t).map((c) => overallState(src.states(c.id)))),
    ]),
  );
  const all = [...stateOf.values()];
  const banner = all.every((s) => s === "up")
    ? ["up", "All systems operational"]
    : all.some((s) => s === "down")
    ? ["down", "Some systems are down"]
    : all.some((s) => s === "degraded")
    ? ["degraded", "Some systems are degraded"]
    : ["unknown", "Some systems have no current data"];

  const since = (today - STATUS_DAYS + 1) * DAY;
  const perCheck = await src.store.dailyUptime(src.checks.map((c) => c.id), since);
  const groups = page.groups.map((g) => {
    const rows = g.targets.map((t) => {
      const days = sumDays(checksOf(t).map((c) => perCheck.get(c.id) ?? new Map()));
      let n = 0, f = 0;
      const bars: string[] = [];
      for (let d = today - STATUS_DAYS + 1; d <= today; d++) {
        const x = days.get(d);
        const pct = x ? 100 * (1 - x.failures / x.count) : null;
        if (x) n += x.count, f += x.failures;
        bars.push(
          `<i class="bar ${barClass(pct)}" title="${day(d * DAY)}: ${
            pct === null ? "no data" : `${pct.toFixed(2)}% up`
          }"></i>`,
        );
      }
      const state = stateOf.get(t)!;
      return `<li class="target" data-target="${esc(t)}" data-state="${state}">
  <div class="line"><span class="name">${esc(t)}</span>
    <span class="state ${state}">${WORDS[state]}</span></div>
  <div class="bars" aria-label="daily uptime, last ${STATUS_DAYS} days">${bars.join("")}</div>
  <div class="scale"><span>${STATUS_DAYS} days ago</span><span>${
        n ? `${(100 * (1 - f / n)).toFixed(2)}% uptime` : "no data"
      }</span><span>today</span></div>
</li>`;
    });
    return `<section class="group"><h2>${esc(g.name)}</h2><ul>${rows.join("\n")}</ul></section>`;
  });

  const open = (await src.store.selectIncidents({ state: "open", limit: 200 }))
    .filter((i) => targets.includes(i.target) && i.type !== "monitor");
  const incidents = open.length === 0
    ? `<p class="muted">No open incidents.</p>`
    : `<ul class="incidents">${
      open.map((i) =>
        `<li data-check="${esc(i.checkId)}"><span class="state ${
          i.condition === "down" ? "down" : "degraded"
        }">${esc(i.condition)}</span> <b>${esc(i.checkId)}</b> since <time datetime="${
          new Date(i.openedAt).toISOString()
        }">${new Date(i.openedAt).toISOString().replace("T", " ").slice(0, 16)} UTC</time></li>`
      ).join("")
    }</ul>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="refresh" content="60">
<title>${esc(page.title)}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/status.css">
</head>
<body>
<main>
<h1>${esc(page.title)}</h1>
<p class="banner ${banner[0]}" id="banner">${banner[1]}</p>
${groups.join("\n")}
<section><h2>Open incidents</h2>${incidents}</section>
<footer class="muted">Updated ${
    new Date(now).toISOString().replace("T", " ").slice(0, 19)
  } UTC</footer>
</main>
</body>
</html>
`;
}

/** Day counts of several checks added up. */
function sumDays(
  maps: Map<number, { count: number; failures: number }>[],
): Map<number, { count: number; failures: number }> {
  const out = new Map<number, { count: number; failures: number }>();
  for (const m of maps) {
    for (const [d, x] of m) {
      const sum = out.get(d) ?? { count: 0, failures: 0 };
      out.set(d, { count: sum.count + x.count, failures: sum.failures + x.failures });
    }
  }
  return out;
}
