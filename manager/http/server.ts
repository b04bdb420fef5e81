/**
 * Serves the manager's API, `/metrics` and dashboard with `Deno.serve`.
 * Loopback by default; bound wider it requires a bearer token.
 *
 * @example
 * ```ts ignore
 * import { parseHttpAddress, startHttp } from "./server.ts";
 * const http = await startHttp(manager, { ...parseHttpAddress("127.0.0.1:8080"), token: "" });
 * console.log(http.url);
 * await http.close();
 * ```
 *
 * @module
 */
import { UsageError } from "../../shared/cli.ts";
import { isLoopback } from "../../shared/net.ts";
import type { Manager } from "../manager.ts";
import { type Api, createApi } from "./api.ts";
import { RequestGuard } from "./guard.ts";

/** A bad `--http` value or an unsafe combination of options; `netmon` exits 2 on it. */
export class HttpConfigError extends UsageError {
  /** @param message what to change */
  constructor(message: string) {
    super(message);
    this.name = "HttpConfigError";
  }
}

/**
 * The rule, stated once: the API can pause checks and reload the
 * configuration, so beyond loopback it is served only with a bearer token.
 * Throws {@linkcode HttpConfigError} otherwise.
 *
 * @example
 * ```ts
 * import { requireApiToken } from "./server.ts";
 * requireApiToken("127.0.0.1", ""); // loopback: no token needed
 * requireApiToken("0.0.0.0", "s3cret");
 * ```
 */
export function requireApiToken(hostname: string, token: string): void {
  if (isLoopback(hostname) || token !== "") return;
  throw new HttpConfigError(
    `--http ${hostname} is not a loopback address: the API can pause checks and reload the ` +
      `configuration, so it needs --http-token TOKEN (or NETMON_HTTP_TOKEN) there; clients ` +
      `then send "Authorization: Bearer TOKEN". Or bind 127.0.0.1`,
  );
}

/** Parses `HOST:PORT` or `[V6]:PORT` (port 0 picks a free one). */
export function parseHttpAddress(addr: string): { hostname: string; port: number } {
  const m = addr.match(/^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/);
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new HttpConfigError(
      `--http must be HOST:PORT such as 127.0.0.1:8080 or [::1]:8080, or "none"; got "${addr}"`,
    );
  }
  return { hostname: m[1] ?? m[2]!, port };
}

/** A running API server. */
export interface HttpServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  api: Api;
  close(): Promise<void>;
}

/**
 * Starts serving. Throws {@linkcode HttpConfigError} for a non-loopback
 * address without a token, since the API can pause checks and reload.
 */
export async function startHttp(
  manager: Manager,
  opts: {
    hostname: string;
    port: number;
    token: string;
    /** Host names served besides the bound address and loopback (`--http-host`). */
    hosts?: readonly string[];
    /** Bytes an event stream may hold for a client that does not read (tests make it small). */
    sseQueueBytes?: number;
  },
): Promise<HttpServer> {
  requireApiToken(opts.hostname, opts.token);
  const api = createApi(manager, { token: opts.token, sseQueueBytes: opts.sseQueueBytes });
  const guard = new RequestGuard({ hostname: opts.hostname, extraHosts: opts.hosts ?? [] });
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  let server: Deno.HttpServer;
  try {
    server = Deno.serve(
      { hostname: opts.hostname, port: opts.port, onListen: resolve },
      async (req) => guard.secure(guard.refuse(req) ?? await api.handle(req)),
    );
  } catch (e) {
    api.close();
    throw e;
  }
  const addr = await listening;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${host}:${addr.port}`,
    api,
    async close() {
      api.close();
      await server.shutdown();
    },
  };
}
