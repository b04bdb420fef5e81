/**
 * Separate hosts for tests: a network namespace joined to this host by a veth
 * pair, with its own address, that a test can cut off (`down()`) and bring
 * back (`up()`). Needs root (CI and the dev machines run as root).
 *
 * Addresses are 10.77.N.1 (host side) and 10.77.N.2 (namespace side), N picked
 * per namespace; traffic goes only to these test-made hosts.
 *
 * @example
 * ```ts ignore
 * import { makeNetns } from "./netns.ts";
 * await using ns = await makeNetns();
 * await ns.down(); // partition
 * await ns.up();
 * ```
 *
 * @module
 */

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** A test host in its own network namespace. */
export interface NetNs extends AsyncDisposable {
  /** Namespace name, for `ip netns exec`. */
  name: string;
  /** This host's address on the link. */
  hostAddr: string;
  /** The namespace's address on the link. */
  nsAddr: string;
  /** This host's IPv6 address on the link. */
  hostAddr6: string;
  /** The namespace's IPv6 address on the link. */
  nsAddr6: string;
  /** Cuts the link (the namespace's side of the veth goes down). */
  down(): Promise<void>;
  /** Restores the link. */
  up(): Promise<void>;
  /**
   * Makes what the namespace sends pass a token bucket of `rate` (tc's
   * syntax, e.g. "256kbit"): a slow link, with `tc tbf` since netem is not
   * available.
   */
  limitRate(rate: string): Promise<void>;
  /** `cmd` prefixed so that it runs inside the namespace. */
  wrap(cmd: string[]): string[];
}

/** Whether this process may create namespaces (root with iproute2). */
export async function canMakeNetns(): Promise<boolean> {
  try {
    const name = `nmchk${Math.floor(Math.random() * 1e6)}`;
    await ip("netns", "add", name);
    await ip("netns", "del", name);
    return true;
  } catch {
    return false;
  }
}

/**
 * A safety net: test subnets never leave this machine. Without it, a test
 * link whose host side is down would send its traffic out of the default route.
 */
async function fenceTestSubnets(): Promise<void> {
  await ip("route", "replace", "blackhole", "10.77.0.0/16", "metric", "9999").catch(() => {});
  await ip("-6", "route", "replace", "blackhole", "fd77::/16", "metric", "9999").catch(() => {});
}

/** Creates a namespace and its veth link, with a free 10.77.N.0/30 subnet. */
export async function makeNetns(): Promise<NetNs> {
  await fenceTestSubnets();
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = 1 + Math.floor(Math.random() * 250);
    const name = `nmtest${n}`;
    try {
      await ip("netns", "add", name);
    } catch {
      continue; // taken by a parallel test; pick another N
    }
    const hostIf = `nmh${n}`, nsIf = `nmn${n}`;
    const hostAddr = `10.77.${n}.1`, nsAddr = `10.77.${n}.2`;
    const hex = n.toString(16);
    const hostAddr6 = `fd77:0:0:${hex}::1`, nsAddr6 = `fd77:0:0:${hex}::2`;
    try {
      await ip("link", "del", hostIf).catch(() => {});
      await ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
      await ip("link", "set", nsIf, "netns", name);
      await ip("addr", "add", `${hostAddr}/30`, "dev", hostIf);
      await ip("-6", "addr", "add", `${hostAddr6}/64`, "dev", hostIf, "nodad");
      await ip("link", "set", hostIf, "up");
      await ip("-n", name, "addr", "add", `${nsAddr}/30`, "dev", nsIf);
      await ip("-n", name, "-6", "addr", "add", `${nsAddr6}/64`, "dev", nsIf, "nodad");
      await ip("-n", name, "link", "set", nsIf, "up");
      await ip("-n", name, "link", "set", "lo", "up");
    } catch (e) {
      await ip("netns", "del", name).catch(() => {});
      await ip("link", "del", hostIf).catch(() => {});
      throw e;
    }
    return {
      name,
      hostAddr,
      nsAddr,
      hostAddr6,
      nsAddr6,
      // the namespace's side goes down: the host keeps its route to the dead link, so packets are
      // dropped here in silence (a partition), never routed elsewhere
      down: () => ip("-n", name, "link", "set", nsIf, "down"),
      up: async () => {
        await ip("-n", name, "link", "set", nsIf, "up");
        // a downed link may lose its IPv6 address; restore it
        await ip("-n", name, "-6", "addr", "add", `${nsAddr6}/64`, "dev", nsIf, "nodad").catch(
          () => {},
        );
      },
      limitRate: async (rate) => {
        const args = ["netns", "exec", name, "tc", "qdisc", "add", "dev", nsIf, "root", "tbf"];
        const out = await new Deno.Command("ip", {
          args: [...args, "rate", rate, "burst", "16kbit", "latency", "400ms"],
          stdout: "null",
          stderr: "piped",
        }).output();
        if (!out.success) {
          throw new Error(`tc tbf in ${name}: ${new TextDecoder().decode(out.stderr).trim()}`);
        }
      },
      wrap: (cmd) => ["ip", "netns", "exec", name, ...cmd],
      async [Symbol.asyncDispose]() {
        await ip("netns", "del", name).catch(() => {});
        await ip("link", "del", hostIf).catch(() => {});
      },
    };
  }
  throw new Error("Could not create a test network namespace after 20 attempts");
}
