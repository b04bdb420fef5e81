/**
 * Which monitor runs which check, as a pure function of the configuration and
 * of which monitors are online: checks placed on `all` run everywhere, a
 * chosen set (monitor names and labels, resolved when the configuration is
 * read) on those monitors whether online or not, and `spread` checks on one
 * online monitor each, picked by rendezvous hashing so that a monitor going
 * offline hands on only its own checks and gets them back when it returns.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../shared/config.ts";
 * import { assignedChecks } from "./placement.ts";
 * const config = parseConfig(
 *   "monitors: [{address: 'h:1', name: a}, {address: 'h:2', name: b}]\n" +
 *     "targets: {x: {monitors: spread, TCP: {port: 80}}}\n",
 *   "tasks.yaml",
 * );
 * const online = ["a", "b"];
 * const state = { config, monitors: online, online, starting: false };
 * const owners = online.filter((m) => assignedChecks(m, state).length === 1);
 * console.assert(owners.length === 1);
 * ```
 *
 * @module
 */
import type { CheckSpec } from "../shared/checks.ts";
import { checksForMonitor, type Config, spreadChecks } from "../shared/config.ts";
import { fnv1a32, mix32 } from "../shared/hash.ts";

/** What placement depends on, at one moment. */
export interface PlacementState {
  config: Config;
  /** Every monitor the manager has a link to, by name. */
  monitors: readonly string[];
  /** The names of the monitors online now. */
  online: readonly string[];
  /**
   * True in the manager's first moments, while monitors are still coming up:
   * `spread` checks wait until then (or until every monitor is online), so
   * that they do not hop from the first monitor online to their owners.
   */
  starting: boolean;
  /** IDs of checks that run nowhere until resumed. */
  paused?: ReadonlySet<string>;
}

/**
 * The checks the monitor named `name` runs in `state` (or would run once
 * online): its `all` and chosen checks, then the `spread` checks it owns;
 * paused ones left out.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../shared/config.ts";
 * import { assignedChecks } from "./placement.ts";
 * const config = parseConfig(
 *   "monitors: [{address: 'h:1', name: a, labels: [eu]}, {address: 'h:2', name: b}]\n" +
 *     "targets: {x: {monitors: [eu], TCP: {port: 80}}}\n",
 *   "tasks.yaml",
 * );
 * const state = { config, monitors: ["a", "b"], online: [], starting: false };
 * console.assert(assignedChecks("a", state).length === 1);
 * console.assert(assignedChecks("b", state).length === 0);
 * ```
 */
export function assignedChecks(name: string, state: PlacementState): CheckSpec[] {
  const { config, monitors, online, starting, paused } = state;
  const settled = !starting || online.length === monitors.length;
  const spread = !settled
    ? []
    : spreadChecks(config).filter((c) => spreadOwner(c.spec.id, online) === name);
  return [...checksForMonitor(config, name), ...spread.map((c) => c.spec)]
    .filter((c) => !paused?.has(c.id));
}

/**
 * Every check the monitor named `name` may run under `config`, whatever the
 * placement of the moment: its `all` and chosen checks and every `spread`
 * check (it may have owned any of them), paused ones included (results
 * measured before a pause are still true). The manager accepts results of
 * these checks only.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../shared/config.ts";
 * import { eligibleChecks } from "./placement.ts";
 * const config = parseConfig(
 *   "monitors: [{address: 'h:1', name: a}, {address: 'h:2', name: b}]\n" +
 *     "targets: {x: {monitors: spread, TCP: {port: 80}}}\n",
 *   "tasks.yaml",
 * );
 * console.assert(eligibleChecks("a", config).length === 1);
 * console.assert(eligibleChecks("b", config).length === 1);
 * ```
 */
export function eligibleChecks(name: string, config: Config): CheckSpec[] {
  return [
    ...checksForMonitor(config, name),
    ...spreadChecks(config).map((c) => c.spec),
  ];
}

/**
 * The monitor that runs a `spread` check: the highest rendezvous hash of
 * (check, monitor) among the online ones, so each check has one owner,
 * the load is balanced, and a returning monitor gets its checks back.
 * Undefined when no monitor is online.
 *
 * @example
 * ```ts
 * import { spreadOwner } from "./placement.ts";
 * const owner = spreadOwner("x/TCP", ["a", "b", "c"]);
 * console.assert(owner !== undefined && spreadOwner("x/TCP", ["c", "b", "a"]) === owner);
 * ```
 */
export function spreadOwner(checkId: string, online: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const name of online) {
    const score = mix32(fnv1a32(`${checkId}\0${name}`));
    if (score > bestScore) {
      bestScore = score;
      best = name;
    }
  }
  return best;
}
