/**
 * The HTTPS check: the HTTP engine of `./http.ts`, worded as the seed's
 * HTTPS line, with the certificate's expiry and TLS version added.
 *
 * @example
 * ```ts ignore
 * import { checkHttps } from "./https.ts";
 * const o = await checkHttps(params, { signal: AbortSignal.timeout(5000), timeoutMs: 5000, target: "x" });
 * console.log(o.summary); // HTTPS URL: https://…, HTTPS server status: True, Status Code: 200, Description: Server is up, …
 * ```
 *
 * @module
 */
import type { CheckFn } from "../../shared/checks.ts";
import type { HttpsParams } from "../../shared/params/https.ts";
import {
  daysLeft,
  type HttpFailure,
  type HttpProbe,
  probeHttp,
  shownUrl,
  summaryTail,
} from "./http.ts";

const DESCRIPTIONS: Record<HttpFailure, string> = {
  timeout: "Server did not answer in time",
  resolve: "Host name not resolved",
  connect: "Server unreachable",
  tls: "TLS handshake failed",
  certificate: "Certificate not trusted",
  cert_expired: "Certificate expired",
  cert_not_yet_valid: "Certificate not yet valid",
  cert_expiry: "Certificate expires soon",
  protocol: "Invalid response",
  redirects: "Too many redirects",
  status: "Unexpected status code",
  http_version: "Unexpected HTTP version",
  body: "Body check failed",
  config: "Configuration problem",
};

/**
 * The seed's `Description` for a probe: `Server is up` or a few words on why not.
 *
 * @example
 * ```ts ignore
 * import { describeProbe } from "./https.ts";
 * console.log(describeProbe(probe)); // "Certificate not trusted"
 * ```
 */
export function describeProbe(probe: HttpProbe): string {
  return probe.failure ? DESCRIPTIONS[probe.failure] : "Server is up";
}

function certificateText(probe: HttpProbe): string {
  if (!probe.tls || Number.isNaN(probe.tls.earliestExpiry)) return "";
  const { earliestExpiry, earliestWhich, protocol } = probe.tls;
  const date = new Date(earliestExpiry).toISOString().slice(0, 10);
  const which = earliestWhich === null ? "" : `, ${earliestWhich}`;
  const when = earliestExpiry <= Date.now()
    ? `Certificate Expired: ${date} (${daysLeft(Date.now(), earliestExpiry)} days ago${which})`
    : `Certificate Expires: ${date} (${daysLeft(earliestExpiry)} days${which})`;
  return `, ${when}, TLS Version: ${protocol}`;
}

/**
 * Runs one HTTPS check. The summary starts as the seed's
 * `HTTPS URL: <url>, HTTPS server status: True, Status Code: 200, Description: Server is up`.
 *
 * @example
 * ```ts ignore
 * import { checkHttps } from "./https.ts";
 * const o = await checkHttps(params, { signal: AbortSignal.timeout(5000), timeoutMs: 5000, target: "x" });
 * console.log(o.metrics["probe_ssl_earliest_cert_expiry"]);
 * ```
 */
export const checkHttps: CheckFn<HttpsParams> = async (params, options) => {
  const probe = await probeHttp(params, options);
  return {
    up: probe.up,
    summary:
      `HTTPS URL: ${shownUrl(params.url)}, HTTPS server status: ${probe.up ? "True" : "False"}, ` +
      `Status Code: ${probe.statusCode ?? "N/A"}, Description: ${describeProbe(probe)}` +
      certificateText(probe) + summaryTail(probe),
    latencyMs: probe.latencyMs,
    metrics: probe.metrics,
    details: probe.details,
    ...(probe.error ? { error: probe.error } : {}),
  };
};
