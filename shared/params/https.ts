/**
 * Parameters of the HTTPS check: those of the HTTP check, with an
 * `https://` URL required.
 *
 * @example
 * ```ts
 * import { parseHttpsParams } from "./https.ts";
 * const p = parseHttpsParams({ url: "https://www.google.com", cert_expiry_days: 14 }, "google.com");
 * console.assert(p.cert_expiry_days === 14);
 * ```
 *
 * @module
 */
import type { ParamParser } from "../checks.ts";
import { type HttpParams, parseHttpLike } from "./http.ts";

/** Fully defaulted parameters of an HTTPS check (the HTTP ones). */
export type HttpsParams = HttpParams;

/**
 * Parses the parameters of an HTTPS check; `url` is required and must be `https://`.
 *
 * @example
 * ```ts
 * import { parseHttpsParams } from "./https.ts";
 * const p = parseHttpsParams({ url: "https://oregonstate.edu/" }, "oregonstate.edu");
 * console.assert(p.tls_verify);
 * ```
 */
export const parseHttpsParams: ParamParser<HttpsParams> = (raw) => parseHttpLike(raw, ["https:"]);
