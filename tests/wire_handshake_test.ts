/**
 * The handshake of `shared/handshake.ts` both ways round, its refusals, and
 * the per-frame MACs of `shared/frame_auth.ts`, over real loopback sockets.
 */
import assert from "node:assert/strict";
import { FramedConn } from "../shared/connection.ts";
import { FrameAuthError, FrameOpener, FrameSealer } from "../shared/frame_auth.ts";
import {
  handshake,
  HandshakeError,
  type HandshakeOptions,
  type HandshakeResult,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
} from "../shared/handshake.ts";
import { encodeFrame, type Message, parseMessage, readFrames } from "../shared/protocol.ts";
import { VERSION } from "../shared/version.ts";
import { Proc, tempDir } from "./helpers/proc.ts";
import { NETMON, startManager, startMonitor } from "./helpers/netmon.ts";

const TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const MONITOR = {
  role: "monitor",
  monitorId: "m-1",
  name: "vp",
  epoch: "e-1",
  lastSeq: 41,
} as const;
const MANAGER = { role: "manager", managerId: "g-1", takeover: true } as const;

/** Two FramedConns joined by a loopback TCP connection. */
async function pair(): Promise<{ dialer: FramedConn; listener: FramedConn; close(): void }> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [a, b] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port }),
    l.accept(),
  ]);
  l.close();
  const dialer = new FramedConn(a, "listener");
  const listener = new FramedConn(b, "dialer");
  return {
    dialer,
    listener,
    close() {
      dialer.close("test done");
      listener.close("test done");
    },
  };
}

type Side = Omit<HandshakeOptions, "side">;

async function both(
  dialerOpts: Side,
  listenerOpts: Side,
): Promise<{
  dialer: PromiseSettledResult<HandshakeResult>;
  listener: PromiseSettledResult<HandshakeResult>;
  dialerNext: AsyncGenerator<Message>;
  listenerNext: AsyncGenerator<Message>;
  p: Awaited<ReturnType<typeof pair>>;
}> {
  const p = await pair();
  const dialerNext = p.dialer.messages();
  const listenerNext = p.listener.messages();
  const [dialer, listener] = await Promise.allSettled([
    handshake(p.dialer, dialerNext, { ...dialerOpts, side: "dialer" }),
    handshake(p.listener, listenerNext, { ...listenerOpts, side: "listener" }),
  ]);
  return { dialer, listener, dialerNext, listenerNext, p };
}

for (
  const [what, dialerFields, listenerFields] of [
    ["a manager dials a monitor", MANAGER, MONITOR],
    ["a monitor dials a manager", MONITOR, MANAGER],
  ] as const
) {
  Deno.test(`handshake: ${what}; each learns the other's fields and sealed frames flow both ways`, async () => {
    const r = await both(
      { token: TOKEN, fields: dialerFields },
      { token: TOKEN, fields: listenerFields },
    );
    try {
      assert.equal(r.dialer.status, "fulfilled");
      assert.equal(r.listener.status, "fulfilled");
      if (r.dialer.status !== "fulfilled" || r.listener.status !== "fulfilled") return;
      assert.deepEqual(r.dialer.value.peer, {
        ...listenerFields,
        version: VERSION,
        caps: r.dialer.value.caps,
      });
      assert.deepEqual(r.listener.value.peer, {
        ...dialerFields,
        version: VERSION,
        caps: r.listener.value.caps,
      });
      assert.equal(r.dialer.value.version, PROTOCOL_MAX);
      assert.ok(r.dialer.value.caps.includes("frame-mac"));
      assert.ok(r.p.dialer.authenticated && r.p.listener.authenticated);
      await r.p.dialer.send({ t: "run", checkId: "x/TCP" });
      await r.p.listener.send({ t: "ack", from: 1, to: 2 });
      assert.deepEqual((await r.listenerNext.next()).value, { t: "run", checkId: "x/TCP" });
      assert.deepEqual((await r.dialerNext.next()).value, { t: "ack", from: 1, to: 2 });
    } finally {
      r.p.close();
    }
  });
}

Deno.test("handshake: with different tokens the dialer refuses the listener's proof and never sends its own", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port });
  const raw = await l.accept();
  l.close();
  // the listener's side is raw, to see every frame the dialer sends
  const dialer = new FramedConn(conn, "listener");
  const frames: Message[] = [];
  const reading = (async () => {
    for await (const f of readFrames(raw.readable)) frames.push(parseMessage(f));
  })().catch(() => {});
  const listenerFc = new FramedConn(
    { readable: new ReadableStream(), writable: raw.writable, close: () => {} },
    "dialer",
  );
  // the listener speaks first: hello and its proof under another token
  const listening = (async () => {
    const hello = {
      t: "hello" as const,
      v: PROTOCOL_MAX,
      vmin: PROTOCOL_MIN,
      version: VERSION,
      nonce: "aa".repeat(16),
      caps: [],
      ...MONITOR,
    };
    await listenerFc.send(hello);
    while (!frames.some((f) => f.t === "hello")) await new Promise((r) => setTimeout(r, 5));
    await listenerFc.send({ t: "auth", mac: "00".repeat(32) });
  })();
  await assert.rejects(
    handshake(dialer, dialer.messages(), { side: "dialer", token: TOKEN, fields: MANAGER }),
    (e: unknown) =>
      e instanceof HandshakeError && e.code === "auth" && !e.remote && !e.proved &&
      /authentication failed: the monitor at listener holds another token/.test(e.message),
  );
  await listening;
  await reading; // to the dialer's close, which also closes our side

  assert.deepEqual(frames.map((f) => f.t), ["hello", "bye"], "no proof from the dialer");
  const bye = frames[1]!;
  assert.ok(bye.t === "bye" && bye.code === "auth");
  listenerFc.close("done");
});

Deno.test("handshake: a listener refuses a dialer with the wrong token, after its own proof", async () => {
  const r = await both({ token: "wrong", fields: MANAGER }, { token: TOKEN, fields: MONITOR });
  try {
    // the dialer sees the listener's proof fail first and refuses; the listener is told why
    assert.equal(r.dialer.status, "rejected");
    assert.equal(r.listener.status, "rejected");
    if (r.listener.status !== "rejected") return;
    const e = r.listener.reason;
    assert.ok(e instanceof HandshakeError);
    assert.equal(e.code, "auth");
    assert.ok(e.remote && e.proved, "the listener had proved, and counts this as a failure");
  } finally {
    r.p.close();
  }
});

Deno.test("handshake: no common version is refused with one line naming both builds and ranges", async () => {
  const r = await both(
    { token: "", fields: MANAGER },
    { token: "", fields: MONITOR, versions: { min: 4, max: 5 } },
  );
  try {
    const line = `monitor ${VERSION} speaks protocol 4–5; this manager (${VERSION}) needs ${
      PROTOCOL_MIN === PROTOCOL_MAX ? PROTOCOL_MAX : `${PROTOCOL_MIN}–${PROTOCOL_MAX}`
    }`;
    assert.equal(r.dialer.status, "rejected");
    if (r.dialer.status === "rejected") assert.equal(r.dialer.reason.message, line);
    assert.equal(r.listener.status, "rejected");
    if (r.listener.status === "rejected") {
      assert.ok(r.listener.reason instanceof HandshakeError && r.listener.reason.remote);
      assert.match(r.listener.reason.message, new RegExp(line.replace(/[().]/g, "\\$&")));
    }
  } finally {
    r.p.close();
  }
});

Deno.test("a real monitor refuses a manager of another protocol version with the one line, and keeps serving", async () => {
  await using tmp = await tempDir();
  await using mon = await startMonitor({ dataDir: tmp.path });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: mon.port });
  const w = conn.writable.getWriter();
  const frames = readFrames(conn.readable);
  const hello = parseMessage((await frames.next()).value!);
  assert.equal(hello.t, "hello");
  await w.write(encodeFrame({
    t: "hello",
    v: 9,
    vmin: 7,
    version: "9.0.0",
    nonce: "bb",
    role: "manager",
    managerId: "future",
    takeover: true,
  }));
  const bye = parseMessage((await frames.next()).value!);
  assert.ok(bye.t === "bye");
  assert.equal(
    bye.reason,
    `manager 9.0.0 speaks protocol 7–9; this monitor (${VERSION}) needs ${PROTOCOL_MAX}`,
  );
  await mon.proc.waitFor(/manager 9\.0\.0 speaks protocol 7–9; this monitor/);
  try {
    conn.close();
  } catch { /* closed */ }
  // still serving: a current manager's handshake succeeds
  const fc = new FramedConn(await Deno.connect({ hostname: "127.0.0.1", port: mon.port }), "mon");
  const done = await handshake(fc, fc.messages(), { side: "dialer", token: "", fields: MANAGER });
  assert.equal(done.peer.role, "monitor");
  fc.close("done");
});

Deno.test("frame MACs: an altered, replayed, reordered, reflected or unsealed frame is refused", () => {
  const k1 = crypto.getRandomValues(new Uint8Array(32));
  const k2 = crypto.getRandomValues(new Uint8Array(32));
  const seal = new FrameSealer(k1);
  const a = seal.seal('{"t":"ack","from":1,"to":2}');
  const b = seal.seal('{"t":"ack","from":3,"to":4}');
  const refused = (line: string, opener: FrameOpener, why: RegExp) =>
    assert.throws(
      () => opener.open(line),
      (e: unknown) => e instanceof FrameAuthError && why.test(e.message),
    );
  // altered: one digit of the JSON
  refused(a.replace('"to":2', '"to":9'), new FrameOpener(k1), /frame 0 failed its MAC check/);
  // reordered: the second frame first
  refused(b, new FrameOpener(k1), /frame 0 failed its MAC check/);
  // replayed: the first frame twice
  const o = new FrameOpener(k1);
  assert.equal(o.open(a), '{"t":"ack","from":1,"to":2}');
  refused(a, o, /frame 1 failed its MAC check/);
  // reflected: a frame sealed for the other direction
  refused(a, new FrameOpener(k2), /frame 0 failed its MAC check/);
  // unsealed
  refused('{"t":"hb"}', new FrameOpener(k1), /frame 0 carries no MAC/);
  const ok = new FrameOpener(k1);
  assert.equal(ok.open(a), '{"t":"ack","from":1,"to":2}');
  assert.equal(ok.open(b), '{"t":"ack","from":3,"to":4}');
});

/** A fake peer that answers every connection with a hello of protocol 8–9 and reads what comes. */
function futurePeer(role: "manager" | "monitor") {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const byes: string[] = [];
  let connections = 0;
  const loop = (async () => {
    for await (const conn of l) {
      connections++;
      (async () => {
        const w = conn.writable.getWriter();
        const fields = role === "monitor"
          ? { monitorId: "f", name: "future", epoch: "e", lastSeq: 0 }
          : { managerId: "f", takeover: true };
        await w.write(
          encodeFrame({
            t: "hello",
            v: 9,
            vmin: 8,
            version: "9.0.0",
            nonce: "dd",
            role,
            ...fields,
          }),
        );
        for await (const f of readFrames(conn.readable)) {
          const msg = parseMessage(f);
          if (msg.t === "bye") byes.push(msg.reason);
        }
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    port: (l.addr as Deno.NetAddr).port,
    byes,
    get connections() {
      return connections;
    },
    async close() {
      l.close();
      await loop;
    },
  };
}

Deno.test("a real manager dialing a monitor of another protocol logs the one line and keeps running", async () => {
  await using tmp = await tempDir();
  const peer = futurePeer("monitor");
  const cfg = `${tmp.path}/tasks.yaml`;
  await Deno.writeTextFile(
    cfg,
    `monitors:\n  - address: 127.0.0.1:${peer.port}\ntargets:\n  x:\n    TCP: { host: 127.0.0.1, port: 9 }\n`,
  );
  await using manager = startManager(cfg, { db: `${tmp.path}/m.db` });
  const line = `monitor 9.0.0 speaks protocol 8–9; this manager (${VERSION}) needs ${PROTOCOL_MAX}`;
  await manager.waitFor(new RegExp(`refused us: ${line.replace(/[().]/g, "\\$&")}`));
  while (peer.byes.length === 0) await new Promise((r) => setTimeout(r, 20));
  assert.equal(peer.byes[0], line, "the monitor is told the same line");
  await manager.stop("SIGTERM");
  assert.equal(manager.matching(/Connected to monitoring service/).length, 0);
  await peer.close();
});

Deno.test("a real dialing monitor meeting a manager of another protocol logs the one line and backs off", async () => {
  await using tmp = await tempDir();
  const peer = futurePeer("manager");
  const mon = Proc.start(
    [NETMON, "monitor", "--connect", `127.0.0.1:${peer.port}`, "--data", tmp.path, "--name", "m"],
    { name: "dialer" },
  );
  const line = `manager 9.0.0 speaks protocol 8–9; this monitor (${VERSION}) needs ${PROTOCOL_MAX}`;
  await mon.waitFor(new RegExp(`${line.replace(/[().]/g, "\\$&")}; dialing again in 10\\.0 s`));
  while (peer.byes.length === 0) await new Promise((r) => setTimeout(r, 20));
  assert.equal(peer.byes[0], line);
  await mon.stop("SIGTERM");
  assert.equal(peer.connections, 1, "no second attempt before the refusal's back-off");
  await peer.close();
});
