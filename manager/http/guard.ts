/**
 * The checks every request to the manager's HTTP server passes before the
 * API sees it, and the headers every answer carries. They keep a page on
 * another origin from driving the API through the user's browser:
 *
 * - **DNS rebinding**: only a `Host` that names the bound address, a
 *   loopback address or name, or a name given with `--http-host` is served
 *   (421 otherwise), so a page at `evil.example` whose name was rebound to
 *   127.0.0.1 reads nothing.
 * - **CSRF**: a request that changes state (anything but GET, HEAD,
 *   OPTIONS) must carry `Content-Type: application/json` (415), which a
 *   form or a `no-cors` fetch cannot send, and must not come from another
 *   origin (`Origin`, `Sec-Fetch-Site`; 403).
 * - **Headers**: a Content-Security-Policy without inline script, frame
 *   denial, `nosniff` and no referrer on every answer.
 *
 * @example
 * ```ts
 * import { RequestGuard } from "./guard.ts";
 * const guard = new RequestGuard({ hostname: "127.0.0.1", extraHosts: [] });
 * const refused = guard.refuse(
 *   new Request("http://127.0.0.1:8080/api/v1/pause", {
 *     method: "POST",
 *     headers: { origin: "http://evil.example", "content-type": "text/plain" },
 *   }),
 * );
 * console.assert(refused?.status === 403);
 * ```
 *
 * @module
 */
import { isIP } from "node:net";
import { isLoopback } from "../../shared/net.ts";

/**
 * The dashboard's policy: its own scripts, styles and API only. uPlot sets
 * styles through the CSSOM, which `style-src 'self'` allows.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers every answer carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/**
 * Whether `pathname` is served without the API's token: the dashboard's
 * files (its data still needs the token), the favicon, `/healthz`, the
 * status page and badges (which show only what `status_page:` lists).
 * Everything else, `/api/` and `/metrics` included, needs it.
 *
 * @example
 * ```ts
 * import { isPublicPath } from "./guard.ts";
 * console.assert(isPublicPath("/status") && !isPublicPath("/api/v1/targets"));
 * ```
 */
export function isPublicPath(pathname: string): boolean {
  return PUBLIC_PATHS.has(pathname) || pathname.startsWith("/badge/") ||
    pathname.startsWith("/dashboard/") || pathname.startsWith("/vendor/");
}

const PUBLIC_PATHS = new Set([
  "/",
  "/index.html",
  "/favicon.svg",
  "/favicon.ico",
  "/healthz",
  "/status",
]);

/** Names that always mean this machine. */
const LOOPBACK_NAMES = new Set([
  "localhost",
  "localhost.localdomain",
  "ip6-localhost",
  "ip6-loopback",
]);

/** Methods that only read. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A bad `--http-host` value. */
export class HttpHostError extends Error {
  /** @param message what to change */
  constructor(message: string) {
    super(message);
    this.name = "HttpHostError";
  }
}

/**
 * Checks one `--http-host` value and returns it lower case: a DNS name or an
 * address, without a port.
 *
 * @example
 * ```ts
 * import { parseHttpHost } from "./guard.ts";
 * console.assert(parseHttpHost("Netmon.Example.") === "netmon.example");
 * ```
 */
export function parseHttpHost(name: string): string {
  const v = name.trim().toLowerCase().replace(/\.$/, "");
  const bare = v.startsWith("[") && v.endsWith("]") ? v.slice(1, -1) : v;
  if (isIP(bare) !== 0) return bare;
  if (
    !/^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/
      .test(v)
  ) {
    throw new HttpHostError(
      `--http-host must be a host name such as netmon.example.org (no port, no scheme), got "${name}"`,
    );
  }
  return v;
}

/** The host part of a `Host` header (`name`, `name:port`, `[v6]`, `[v6]:port`), lower case, or null. */
function hostOf(header: string): string | null {
  const m = header.trim().toLowerCase().match(
    /^(?:\[([0-9a-f:.]+)\]|([^:\[\]\s]+))(?::(\d{1,5}))?$/,
  );
  if (!m) return null;
  return (m[1] ?? m[2]!).replace(/\.$/, "");
}

/** Where the server listens and the extra names it answers to. */
export interface GuardOptions {
  /** The bound address, e.g. `127.0.0.1`, `::1` or `0.0.0.0`. */
  hostname: string;
  /** Names given with `--http-host`, already checked by {@linkcode parseHttpHost}. */
  extraHosts: readonly string[];
}

/** Decides which requests reach the API and adds the security headers to every answer. */
export class RequestGuard {
  #bound: string;
  #extra: Set<string>;
  #wildcard: boolean;

  /** @param opts the bound address and the extra names */
  constructor(opts: GuardOptions) {
    this.#bound = opts.hostname.toLowerCase();
    this.#extra = new Set(opts.extraHosts.map((h) => h.toLowerCase()));
    this.#wildcard = this.#bound === "0.0.0.0" || this.#bound === "::";
  }

  /** Whether a `Host` header value names this server. */
  hostAllowed(header: string): boolean {
    const host = hostOf(header);
    if (host === null) return false;
    if (host === this.#bound || this.#extra.has(host)) return true;
    if (LOOPBACK_NAMES.has(host) || host.endsWith(".localhost") || isLoopback(host)) return true;
    // bound to every address, any address is ours; a rebinding attack needs a name
    return this.#wildcard && isIP(host) !== 0;
  }

  /** The refusal for `req`, or null when it may reach the API. */
  refuse(req: Request): Response | null {
    const host = req.headers.get("host");
    // a request without Host is not from a browser (every browser sends it)
    if (host !== null && !this.hostAllowed(host)) {
      return refusal(
        421,
        `this manager does not answer to the host name in "Host: ${host}" (a page whose name ` +
          `points at this address must not read or drive the API); use http://${
            this.#bound.includes(":") ? `[${this.#bound}]` : this.#bound
          }:PORT/ or localhost, or start the manager with --http-host ${
            hostOf(host) ?? "NAME"
          } to serve that name`,
      );
    }
    if (SAFE_METHODS.has(req.method)) return null;
    const site = req.headers.get("sec-fetch-site");
    if (site !== null && site !== "same-origin" && site !== "none") {
      return refusal(
        403,
        `refusing a ${req.method} from another site (Sec-Fetch-Site: ${site}): only the ` +
          `dashboard itself and non-browser clients may change the manager's state`,
      );
    }
    const origin = req.headers.get("origin");
    if (origin !== null && origin.toLowerCase() !== selfOrigin(req, host)) {
      return refusal(
        403,
        `refusing a ${req.method} from the origin ${origin}: only pages of this manager ` +
          `(${selfOrigin(req, host)}) and non-browser clients may change its state`,
      );
    }
    const type = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") {
      return refusal(
        415,
        `a ${req.method} must have Content-Type: application/json (got ${
          type === "" ? "none" : `"${type}"`
        }); with curl add -H 'Content-Type: application/json' -d '{}'`,
      );
    }
    return null;
  }

  /**
   * `res` with {@linkcode SECURITY_HEADERS} set; a response that other
   * sites may embed (a badge) keeps its `cross-origin` resource policy.
   */
  secure(res: Response): Response {
    const embeddable = res.headers.get("cross-origin-resource-policy") === "cross-origin";
    const set = (r: Response) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) r.headers.set(k, v);
      if (embeddable) r.headers.set("cross-origin-resource-policy", "cross-origin");
      return r;
    };
    try {
      return set(res);
    } catch {
      // an immutable response (Response.error, Response.redirect): copy it
      return set(new Response(res.body, res));
    }
  }
}

/** The origin a page served by this request's Host would have. */
function selfOrigin(req: Request, host: string | null): string {
  const url = new URL(req.url);
  return host === null ? url.origin : `${url.protocol}//${host.trim().toLowerCase()}`;
}

function refusal(status: number, error: string): Response {
  return new Response(JSON.stringify({ error }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}
