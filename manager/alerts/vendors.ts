/**
 * The request each vendor's API documents for an incident's opening or
 * resolution: method, URL, headers and body. `notifiers.ts` sends it with its
 * retries; this module only shapes it.
 *
 * - `alertmanager`: `POST {url}/api/v2/alerts`, a JSON list of one alert with
 *   labels `alertname` (`NetmonTargetDown`, `NetmonLatencyHigh`,
 *   `NetmonCertificateExpiring`), `target`, `check`, `check_type`,
 *   `condition` and the notifier's `labels`; `endsAt` three re-sends ahead
 *   while open, the resolution time once resolved.
 * - `pagerduty`: Events API v2 `POST /v2/enqueue` with `routing_key`,
 *   `event_action` trigger/resolve and `dedup_key` `netmon-{incident}`.
 * - `opsgenie`: `POST /v2/alerts` (`alias` `netmon-{incident}`), then
 *   `POST /v2/alerts/{alias}/close?identifierType=alias`; `Authorization: GenieKey KEY`.
 * - `telegram`: `POST /bot{token}/sendMessage` with `chat_id` and `text`.
 * - `teams`: `POST` of a message with one Adaptive Card to the webhook URL.
 * - `matrix`: `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}`
 *   (the transaction ID is the incident and event, so a retried try is not
 *   posted twice); `Authorization: Bearer TOKEN`.
 * - `pushover`: `POST /1/messages.json`, form-encoded `token`, `user`,
 *   `title`, `message`, `priority`.
 * - `gotify`: `POST {url}/message` with `X-Gotify-Key`, JSON `title`,
 *   `message`, `priority`.
 *
 * @example
 * ```ts ignore
 * import { vendorRequest } from "./vendors.ts";
 * const req = await vendorRequest(notifier, message, readSecret);
 * await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
 * ```
 *
 * @module
 */
import type { NotifierConfig, SecretRef } from "../../shared/config_alerts.ts";
import type { Condition } from "./engine.ts";
import type { AlertMessage } from "./message.ts";

/** The notifier types this module shapes requests for. */
export type VendorNotifier = Extract<
  NotifierConfig,
  {
    type:
      | "alertmanager"
      | "pagerduty"
      | "opsgenie"
      | "telegram"
      | "teams"
      | "matrix"
      | "pushover"
      | "gotify";
  }
>;

/** One HTTP request to a vendor. */
export interface VendorRequest {
  method: "POST" | "PUT";
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** Alertmanager's `alertname` for each condition. */
export const ALERT_NAMES: Record<Condition, string> = {
  down: "NetmonTargetDown",
  latency: "NetmonLatencyHigh",
  cert: "NetmonCertificateExpiring",
  offline: "NetmonMonitorOffline",
};

const JSON_TYPE = { "Content-Type": "application/json" };

/** `base` + `path` with exactly one slash between them. */
function join(base: string, path: string): string {
  return base.replace(/\/+$/, "") + path;
}

/**
 * Shapes `m` for `n`; `secret` reads a credential (see `readSecret` in `notifiers.ts`).
 *
 * @example
 * ```ts
 * import { vendorRequest } from "./vendors.ts";
 * import { buildMessage } from "./message.ts";
 * import { DEFAULT_RULE } from "./rules.ts";
 * const m = buildMessage({ kind: "opened", rule: { ...DEFAULT_RULE }, incident: {
 *   id: "i1", checkId: "web/TCP", target: "web", type: "TCP", condition: "down", openedAt: 0,
 *   resolvedAt: null, quorum: 1, running: 1, vantage: [], detail: "1 of 1 monitors see it down" } });
 * const r = await vendorRequest({ name: "t", type: "teams", url: "https://x.example/hook",
 *   retries: 0, backoffMs: 0, timeoutMs: 1000 }, m, async () => "");
 * console.assert(r.method === "POST" && r.url === "https://x.example/hook");
 * ```
 */
export async function vendorRequest(
  n: VendorNotifier,
  m: AlertMessage,
  secret: (ref: SecretRef, what: string) => Promise<string>,
): Promise<VendorRequest> {
  const i = m.incident;
  const opened = m.event === "opened";
  const key = `netmon-${i.id}`;
  switch (n.type) {
    case "alertmanager": {
      const labels = {
        alertname: ALERT_NAMES[i.condition],
        target: i.target,
        check: i.check,
        check_type: i.type,
        condition: i.condition,
        ...n.labels,
      };
      const alert = {
        labels,
        annotations: { summary: m.title, description: m.text, incident_id: i.id },
        startsAt: i.openedAt,
        // while open, far enough ahead that a late re-send does not let it lapse
        endsAt: i.resolvedAt ?? new Date(Date.now() + 3 * n.resendMs).toISOString(),
      };
      return {
        method: "POST",
        url: join(n.url, "/api/v2/alerts"),
        headers: JSON_TYPE,
        body: JSON.stringify([alert]),
      };
    }
    case "pagerduty": {
      const body = {
        routing_key: await secret(n.routingKey, "routing_key"),
        event_action: opened ? "trigger" : "resolve",
        dedup_key: key,
        client: "netmon",
        ...(opened
          ? {
            payload: {
              summary: m.title.slice(0, 1024),
              source: i.target,
              severity: n.severity,
              timestamp: i.openedAt,
              component: i.check,
              group: i.target,
              class: i.condition,
              custom_details: { detail: i.detail, monitors: m.monitors },
            },
          }
          : {}),
      };
      return { method: "POST", url: n.url, headers: JSON_TYPE, body: JSON.stringify(body) };
    }
    case "opsgenie": {
      const headers = {
        ...JSON_TYPE,
        Authorization: `GenieKey ${await secret(n.apiKey, "api_key")}`,
      };
      if (!opened) {
        return {
          method: "POST",
          url: join(n.url, `/v2/alerts/${encodeURIComponent(key)}/close?identifierType=alias`),
          headers,
          body: JSON.stringify({ source: "netmon", note: m.title }),
        };
      }
      const body = {
        message: m.title.slice(0, 130),
        alias: key,
        description: m.text.slice(0, 15_000),
        source: "netmon",
        entity: i.target,
        tags: n.tags,
        priority: n.priority,
        details: { check: i.check, type: i.type, condition: i.condition, detail: i.detail },
      };
      return {
        method: "POST",
        url: join(n.url, "/v2/alerts"),
        headers,
        body: JSON.stringify(body),
      };
    }
    case "telegram": {
      const token = await secret(n.botToken, "bot_token");
      return {
        method: "POST",
        url: join(n.url, `/bot${token}/sendMessage`),
        headers: JSON_TYPE,
        body: JSON.stringify({
          chat_id: n.chatId,
          text: m.text.slice(0, 4096),
          disable_web_page_preview: true,
        }),
      };
    }
    case "teams": {
      const card = {
        $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
        type: "AdaptiveCard",
        version: "1.4",
        body: [
          {
            type: "TextBlock",
            text: m.title,
            weight: "Bolder",
            size: "Medium",
            wrap: true,
            color: opened ? "Attention" : "Good",
          },
          { type: "TextBlock", text: m.text.split("\n").slice(2).join("\n\n"), wrap: true },
        ],
      };
      const body = {
        type: "message",
        attachments: [
          {
            contentType: "application/vnd.microsoft.card.adaptive",
            contentUrl: null,
            content: card,
          },
        ],
      };
      return { method: "POST", url: n.url, headers: JSON_TYPE, body: JSON.stringify(body) };
    }
    case "matrix": {
      const txn = encodeURIComponent(`${key}-${m.event}`);
      return {
        method: "PUT",
        url: join(
          n.url,
          `/_matrix/client/v3/rooms/${encodeURIComponent(n.roomId)}/send/m.room.message/${txn}`,
        ),
        headers: {
          ...JSON_TYPE,
          Authorization: `Bearer ${await secret(n.accessToken, "access_token")}`,
        },
        body: JSON.stringify({ msgtype: "m.text", body: m.text }),
      };
    }
    case "pushover": {
      const form = new URLSearchParams({
        token: await secret(n.token, "token"),
        user: await secret(n.userKey, "user_key"),
        title: m.title.slice(0, 250),
        message: m.text.slice(0, 1024),
        priority: String(n.priority),
        timestamp: String(Math.floor(Date.parse(i.resolvedAt ?? i.openedAt) / 1000)),
      });
      return {
        method: "POST",
        url: n.url,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      };
    }
    case "gotify":
      return {
        method: "POST",
        url: join(n.url, "/message"),
        headers: { ...JSON_TYPE, "X-Gotify-Key": await secret(n.token, "token") },
        body: JSON.stringify({
          title: m.title,
          message: m.text,
          priority: n.priority,
          extras: { "client::display": { contentType: "text/plain" } },
        }),
      };
  }
}
