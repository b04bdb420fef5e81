/**
 * Name resolution shared by every check: a hostname becomes one address of
 * the family `ip_protocol` asks for, like blackbox_exporter's
 * `chooseProtocol`. Literal addresses, `localhost` and `/etc/hosts` entries
 * need no DNS; other names are looked up with `Deno.resolveDns`.
 *
 * @example
 * ```ts
 * import { resolveHost } from "./resolve.ts";
 * const r = await resolveHost("127.0.0.1", "auto", AbortSignal.timeout(1000));
 * console.assert(r.address === "127.0.0.1" && r.family === 4);
 * ```
 *
 * @module
 */
import { isIP } from "node:net";
import type { IpProtocol } from "../../shared/checks.ts";

/** One resolved address. */
export interface Resolved {
  /** The address, without brackets. */
  address: string;
  family: 4 | 6;
  /** Monotonic time spent resolving, 0 for a literal address. */
  lookupMs: number;
}

/**
 * A name that could not be resolved to an address of the wanted family. The
 * message is meant for the user, e.g. `cannot resolve "x.invalid": no such host`.
 *
 * @example
 * ```ts
 * import { ResolveError } from "./resolve.ts";
 * const e = new ResolveError('cannot resolve "x.invalid": no such host');
 * console.assert(e.name === "ResolveError");
 * ```
 */
export class ResolveError extends Error {
  /** @param message what went wrong, for the user */
  constructor(message: string) {
    super(message);
    this.name = "ResolveError";
  }
}

function pick(
  v4: string[],
  v6: string[],
  ipProtocol: IpProtocol,
): Omit<Resolved, "lookupMs"> | null {
  if (ipProtocol !== "ip6" && v4[0] !== undefined) return { address: v4[0], family: 4 };
  if (ipProtocol !== "ip4" && v6[0] !== undefined) return { address: v6[0], family: 6 };
  return null;
}

function wanted(ipProtocol: IpProtocol): string {
  return ipProtocol === "ip4" ? "IPv4 " : ipProtocol === "ip6" ? "IPv6 " : "";
}

async function fromHostsFile(name: string): Promise<{ v4: string[]; v6: string[] }> {
  const v4: string[] = [], v6: string[] = [];
  let text = "";
  try {
    text = await Deno.readTextFile("/etc/hosts");
  } catch {
    // no hosts file (or no permission): DNS alone decides
  }
  for (const line of text.split("\n")) {
    const [addr, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (!addr || !names.some((n) => n.toLowerCase() === name)) continue;
    const family = isIP(addr);
    if (family === 4) v4.push(addr);
    else if (family === 6) v6.push(addr);
  }
  return { v4, v6 };
}

async function queryDns(
  name: string,
  type: "A" | "AAAA",
  signal: AbortSignal,
): Promise<string[]> {
  try {
    return await Deno.resolveDns(name, type, { signal });
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    if (e instanceof Deno.errors.NotFound) return [];
    throw new ResolveError(`cannot resolve "${name}": ${e instanceof Error ? e.message : e}`);
  }
}

/**
 * Resolves `host` to one address. `auto` prefers IPv4 when the name has an A
 * record and falls back to IPv6. Throws {@linkcode ResolveError} when there is
 * no usable address, and `signal.reason` when `signal` aborts first.
 *
 * @example
 * ```ts
 * import { resolveHost } from "./resolve.ts";
 * const r = await resolveHost("localhost", "ip6", AbortSignal.timeout(1000));
 * console.assert(r.address === "::1" && r.family === 6);
 * ```
 */
export async function resolveHost(
  host: string,
  ipProtocol: IpProtocol,
  signal: AbortSignal,
): Promise<Resolved> {
  const name = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const literal = isIP(name);
  if (literal !== 0) {
    const family = literal as 4 | 6;
    if ((ipProtocol === "ip4" && family === 6) || (ipProtocol === "ip6" && family === 4)) {
      throw new ResolveError(`address ${name} is not ${wanted(ipProtocol).trim()}`);
    }
    return { address: name, family, lookupMs: 0 };
  }
  const start = performance.now();
  if (name === "localhost" || name.endsWith(".localhost")) {
    // RFC 6761: loopback without asking anyone, whatever /etc/hosts says
    const found = pick(["127.0.0.1"], ["::1"], ipProtocol)!;
    return { ...found, lookupMs: performance.now() - start };
  }
  const hosts = await fromHostsFile(name);
  const local = pick(hosts.v4, hosts.v6, ipProtocol);
  if (local) return { ...local, lookupMs: performance.now() - start };

  signal.throwIfAborted();
  const [v4, v6] = await Promise.all([
    ipProtocol === "ip6" ? [] : queryDns(name, "A", signal),
    ipProtocol === "ip4" ? [] : queryDns(name, "AAAA", signal),
  ]);
  const found = pick(v4, v6, ipProtocol);
  if (!found) {
    throw new ResolveError(`cannot resolve "${name}": no ${wanted(ipProtocol)}address found`);
  }
  return { ...found, lookupMs: performance.now() - start };
}
