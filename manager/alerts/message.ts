/**
 * What notifiers send. The generic `webhook` notifier POSTs
 * {@linkcode AlertMessage} as JSON (`Content-Type: application/json`):
 *
 * ```json
 * {
 *   "version": 1,
 *   "event": "opened",                 // or "resolved"
 *   "title": "DOWN: web/TCP (2 of 3 monitors)",
 *   "text": "web/TCP is down ...",     // the same lines an email carries
 *   "incident": {
 *     "id": "3b0c…", "check": "web/TCP", "target": "web", "type": "TCP",
 *     "condition": "down",             // "down", "latency", "cert", or "offline" (a monitor)
 *     "openedAt": "2025-01-10T22:00:03.120Z",
 *     "resolvedAt": null,              // ISO time once resolved
 *     "durationSeconds": null,         // whole seconds once resolved
 *     "quorum": 2, "running": 3,
 *     "detail": "2 of 3 monitors see it down (quorum 2)"
 *   },
 *   "monitors": [
 *     {"name": "eu", "state": "bad", "why": null, "summary": "TCP Port: ... Closed, Error: ...",
 *      "error": "connection refused", "latencyMs": null, "at": "2025-01-10T22:00:02.900Z"}
 *   ]
 * }
 * ```
 *
 * @example
 * ```ts
 * import { formatDuration } from "./message.ts";
 * console.assert(formatDuration(3_725_000) === "1h 2m 5s");
 * ```
 *
 * @module
 */
import type { AlertEvent, Condition } from "./engine.ts";

/**
 * The JSON body of the generic webhook, and the source of every other format.
 *
 * @example
 * ```ts
 * import type { AlertMessage } from "./message.ts";
 * const title = (m: AlertMessage) => m.title;
 * ```
 */
export interface AlertMessage {
  version: 1;
  event: "opened" | "resolved";
  title: string;
  text: string;
  incident: {
    id: string;
    check: string;
    target: string;
    type: string;
    condition: Condition;
    openedAt: string;
    resolvedAt: string | null;
    durationSeconds: number | null;
    quorum: number;
    running: number;
    detail: string;
  };
  monitors: {
    name: string;
    state: "bad" | "good" | "unknown";
    /** Why an unknown one is: `offline`, `stale` or `pending` (not judged yet); else null. */
    why: "offline" | "stale" | "pending" | null;
    summary: string;
    error: string | null;
    latencyMs: number | null;
    at: string | null;
  }[];
}

/**
 * `1h 2m 5s` for a duration in milliseconds.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./message.ts";
 * console.assert(formatDuration(42_000) === "42s");
 * ```
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const parts = [[Math.floor(s / 86400), "d"], [Math.floor(s / 3600) % 24, "h"], [
    Math.floor(s / 60) % 60,
    "m",
  ], [s % 60, "s"]] as const;
  const shown = parts.filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`);
  return shown.length ? shown.join(" ") : "0s";
}

const OPEN_WORD: Record<Condition, string> = {
  down: "DOWN",
  latency: "SLOW",
  cert: "CERTIFICATE EXPIRING",
  offline: "MONITOR OFFLINE",
};

/**
 * Builds the message for an incident event.
 *
 * @example
 * ```ts ignore
 * const message = buildMessage(event);
 * console.log(message.title);
 * ```
 */
export function buildMessage(e: AlertEvent): AlertMessage {
  const i = e.incident;
  const duration = i.resolvedAt === null ? null : i.resolvedAt - i.openedAt;
  const bad = i.vantage.filter((v) => v.state === "bad").length;
  const fresh = i.vantage.filter((v) => v.state !== "unknown").length;
  const unknown = i.vantage.filter((v) => v.state === "unknown" && v.why !== "pending").length;
  // the quorum was taken over the monitors with fresh results: say so
  const of = unknown === 0
    ? `${bad} of ${i.running} monitors`
    : `${bad} of ${fresh} monitors with fresh results; ${unknown} unknown`;
  const offline = i.condition === "offline";
  const title = e.kind === "opened"
    ? offline
      ? `${OPEN_WORD.offline}: ${i.target} (since ${new Date(i.openedAt).toISOString()})`
      : `${OPEN_WORD[i.condition]}: ${i.checkId} (${of})`
    : offline
    ? `RESOLVED: monitor ${i.target} is back online after ${formatDuration(duration ?? 0)}`
    : `RESOLVED: ${i.checkId} ${i.condition === "down" ? "is up" : "is fine"} again after ${
      formatDuration(duration ?? 0)
    }`;
  const lines = [
    title,
    "",
    i.detail,
    `Opened: ${new Date(i.openedAt).toISOString()}`,
    ...(i.resolvedAt === null ? [] : [
      `Resolved: ${new Date(i.resolvedAt).toISOString()} (lasted ${formatDuration(duration!)})`,
    ]),
    "",
    "Monitors:",
    ...i.vantage.map((v) =>
      `- ${v.monitor}: ${v.state}${v.why ? ` (${v.why})` : ""}${
        v.summary ? ` — ${v.summary}` : " (no result yet)"
      }`
    ),
  ];
  return {
    version: 1,
    event: e.kind,
    title,
    text: lines.join("\n"),
    incident: {
      id: i.id,
      check: i.checkId,
      target: i.target,
      type: i.type,
      condition: i.condition,
      openedAt: new Date(i.openedAt).toISOString(),
      resolvedAt: i.resolvedAt === null ? null : new Date(i.resolvedAt).toISOString(),
      durationSeconds: duration === null ? null : Math.round(duration / 1000),
      quorum: i.quorum,
      running: i.running,
      detail: i.detail,
    },
    monitors: i.vantage.map((v) => ({
      name: v.monitor,
      state: v.state,
      why: v.why ?? null,
      summary: v.summary,
      error: v.error ?? null,
      latencyMs: v.latencyMs,
      at: v.at ? new Date(v.at).toISOString() : null,
    })),
  };
}
