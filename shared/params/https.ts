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
import { ParamError, type ParamParser } from "./types.ts";
import { HTTP_SHAPE, type HttpParams, parseHttpLike } from "./http.ts";
import { type Shape, text } from "./shape.ts";

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

/**
 * The parsed form of {@linkcode HttpsParams}: the HTTP one, with an `https:` URL.
 *
 * @example
 * ```ts
 * import { checkShape } from "./shape.ts";
 * import { HTTPS_SHAPE, parseHttpsParams } from "./https.ts";
 * const p = parseHttpsParams({ url: "https://127.0.0.1/" }, "x");
 * console.assert(checkShape(HTTPS_SHAPE, p).tls_verify);
 * ```
 */
export const HTTPS_SHAPE: Shape<HttpsParams> = {
  ...HTTP_SHAPE,
  url: (v, field) => {
    const url = text(v, field);
    if (URL.parse(url)?.protocol !== "https:") {
      throw new ParamError(field, `must be an https:// URL, got "${url.slice(0, 80)}"`);
    }
    return url;
  },
};
