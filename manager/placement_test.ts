import assert from "node:assert/strict";
import { type Config, parseConfig } from "../shared/config.ts";
import { assignedChecks, eligibleChecks, type PlacementState, spreadOwner } from "./placement.ts";

const MONITORS = `monitors:
  - { address: "127.0.0.1:1", name: a, labels: [eu] }
  - { address: "127.0.0.1:2", name: b, labels: [eu, lab] }
  - { address: "127.0.0.1:3", name: c, labels: [us] }
`;

function config(targets: string, monitors = MONITORS): Config {
  return parseConfig(`${monitors}targets:\n${targets}`, "tasks.yaml");
}

/** `n` targets placed with `monitors: spread`, one TCP check each (`t0/TCP` …). */
function spreadTargets(n: number): string {
  return Array.from({ length: n }, (_, i) => `  t${i}: { monitors: spread, TCP: { port: 80 } }\n`)
    .join("");
}

function monitorsNamed(names: string[]): string {
  return `monitors:\n${
    names.map((n, i) => `  - { address: "127.0.0.1:${i + 1}", name: ${n} }\n`).join("")
  }`;
}

const ids = (name: string, state: PlacementState) =>
  assignedChecks(name, state).map((c) => c.id).sort();

/** Each monitor's spread checks, by monitor name. */
function spreadMap(state: PlacementState): Map<string, string[]> {
  return new Map(state.monitors.map((m) => [m, ids(m, state)]));
}

Deno.test("checks placed on all run on every monitor, online or not", () => {
  const cfg = config("  x: { TCP: { port: 80 }, UDP: { port: 53, monitors: all } }\n");
  for (const online of [[], ["a"], ["a", "b", "c"]]) {
    for (const starting of [true, false]) {
      const state = { config: cfg, monitors: ["a", "b", "c"], online, starting };
      for (const m of ["a", "b", "c"]) assert.deepEqual(ids(m, state), ["x/TCP", "x/UDP"]);
    }
  }
});

Deno.test("checks placed by name or label run on exactly those monitors, online or not", () => {
  const cfg = config(
    "  byLabel: { monitors: [eu], TCP: { port: 80 } }\n" +
      "  byName: { monitors: [c], TCP: { port: 80 } }\n" +
      "  mixed: { monitors: [lab, c], TCP: { port: 80 } }\n",
  );
  const state = { config: cfg, monitors: ["a", "b", "c"], online: ["a"], starting: false };
  assert.deepEqual(ids("a", state), ["byLabel/TCP"]);
  assert.deepEqual(ids("b", state), ["byLabel/TCP", "mixed/TCP"]);
  assert.deepEqual(ids("c", state), ["byName/TCP", "mixed/TCP"]);
  assert.deepEqual(ids("stranger", state), [], "a monitor the configuration does not name");
});

Deno.test("spread checks have exactly one owner each, balanced over the online monitors", () => {
  for (const [n, checks] of [[3, 300], [5, 1000], [2, 50]] as const) {
    const names = Array.from({ length: n }, (_, i) => `m${i}`);
    const cfg = config(spreadTargets(checks), monitorsNamed(names));
    const state = { config: cfg, monitors: names, online: names, starting: false };
    const map = spreadMap(state);
    const all = [...map.values()].flat();
    assert.equal(all.length, checks, "every check placed once");
    assert.equal(new Set(all).size, checks, "no check on two monitors");
    const mean = checks / n;
    for (const [m, got] of map) {
      // rendezvous hashing: binomial spread around the mean, well inside ±30 %
      assert.ok(
        Math.abs(got.length - mean) <= 0.3 * mean,
        `${n} monitors, ${checks} checks: ${m} has ${got.length}, mean ${mean}`,
      );
    }
  }
});

Deno.test("a monitor going offline hands on only its own spread checks; coming back restores them", () => {
  const cfg = config(spreadTargets(60));
  const monitors = ["a", "b", "c"];
  const up = spreadMap({ config: cfg, monitors, online: monitors, starting: false });
  const bGone = spreadMap({ config: cfg, monitors, online: ["a", "c"], starting: false });
  assert.deepEqual(bGone.get("b"), [], "an offline monitor owns no spread check");
  for (const m of ["a", "c"]) {
    const kept = up.get(m)!.filter((id) => bGone.get(m)!.includes(id));
    assert.deepEqual(kept, up.get(m), `${m} keeps every check it had`);
  }
  const moved = [...bGone.get("a")!, ...bGone.get("c")!].filter((id) => up.get("b")!.includes(id));
  assert.deepEqual(moved.sort(), up.get("b")!, "b's checks, and only they, moved");
  assert.ok(up.get("b")!.length > 0, "b had checks to hand on");
  assert.ok(
    bGone.get("a")!.length > up.get("a")!.length && bGone.get("c")!.length > up.get("c")!.length,
    "both remaining monitors take some of b's checks",
  );
  const back = spreadMap({ config: cfg, monitors, online: ["c", "a", "b"], starting: false });
  assert.deepEqual(back, up, "b returns: the same placement as before it left");
});

Deno.test("spread placement is deterministic: the same owners as before the move, whatever the order", () => {
  // owners of t0/TCP … t11/TCP computed by manager.ts before placement moved here
  const checkIds = Array.from({ length: 12 }, (_, i) => `t${i}/TCP`);
  assert.equal(
    checkIds.map((id) => spreadOwner(id, ["a", "b", "c"])).join(),
    "a,a,c,c,a,b,c,b,c,c,c,c",
  );
  assert.equal(
    checkIds.map((id) => spreadOwner(id, ["c", "b", "a"])).join(),
    "a,a,c,c,a,b,c,b,c,c,c,c",
  );
  assert.equal(checkIds.map((id) => spreadOwner(id, ["a", "c"])).join(), "a,a,c,c,a,a,c,a,c,c,c,c");
  assert.equal(spreadOwner("t0/TCP", []), undefined);
  const cfg = config(spreadTargets(12));
  const state = {
    config: cfg,
    monitors: ["a", "b", "c"],
    online: ["a", "b", "c"],
    starting: false,
  };
  assert.deepEqual(spreadMap(state), spreadMap({ ...state }));
});

Deno.test("while the manager starts, spread checks wait until every monitor is online", () => {
  const cfg = config(spreadTargets(9) + "  fixed: { monitors: [a], TCP: { port: 80 } }\n");
  const monitors = ["a", "b", "c"];
  const early = { config: cfg, monitors, online: ["a"], starting: true };
  assert.deepEqual(ids("a", early), ["fixed/TCP"], "no spread check hops to the first monitor up");
  const allUp = spreadMap({ config: cfg, monitors, online: monitors, starting: true });
  assert.equal([...allUp.values()].flat().length, 10, "all online: spread at once");
  const later = spreadMap({ config: cfg, monitors, online: ["a"], starting: false });
  assert.equal(later.get("a")!.length, 10, "once settled, spread over whoever is online");
  const none = spreadMap({ config: cfg, monitors, online: [], starting: false });
  assert.deepEqual(none.get("a"), ["fixed/TCP"], "no monitor online: spread checks run nowhere");
});

Deno.test("paused checks are left out of every placement", () => {
  const cfg = config(spreadTargets(6) + "  x: { TCP: { port: 80 } }\n");
  const paused = new Set(["x/TCP", "t0/TCP", "t1/TCP"]);
  const state = {
    config: cfg,
    monitors: ["a", "b", "c"],
    online: ["a", "b", "c"],
    starting: false,
  };
  const all = [...spreadMap({ ...state, paused }).values()].flat();
  assert.deepEqual(all.sort(), ["t2/TCP", "t3/TCP", "t4/TCP", "t5/TCP"]);
  assert.equal([...spreadMap(state).values()].flat().length, 9);
});

Deno.test("eligibleChecks: a monitor's own checks and every spread check, paused or owned elsewhere", () => {
  const c = config(spreadTargets(6) + "  eu-only: { monitors: [eu], TCP: { port: 81 } }\n");
  const online = ["a", "b", "c"];
  const state = {
    config: c,
    monitors: online,
    online,
    starting: false,
    paused: new Set(["t0/TCP"]),
  };
  for (const name of online) {
    const eligible = new Set(eligibleChecks(name, c).map((s) => s.id));
    // whatever it runs now is eligible, and so is every spread check another monitor runs now
    for (const s of assignedChecks(name, state)) assert.ok(eligible.has(s.id), `${name}: ${s.id}`);
    for (let i = 0; i < 6; i++) assert.ok(eligible.has(`t${i}/TCP`), `${name}: t${i}/TCP`);
    assert.equal(eligible.has("eu-only/TCP"), name !== "c");
  }
});
