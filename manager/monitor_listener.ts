/**
 * The manager's `--listen-monitors` port: monitors started with `--connect`
 * dial in here (through NAT and firewalls that allow only outbound
 * connections). Each connection runs the same handshake as a dialed link,
 * with the manager as the listener (it speaks and proves first), within the
 * same pre-auth limits as a monitor's port (`monitor/preauth.ts`). An
 * authenticated monitor is handed to the link of the `monitors:` entry with
 * its `--name` and no address; one that is not in `tasks.yaml` is kept
 * connected without checks and shown as "unknown monitor NAME from ADDR".
 *
 * @example
 * ```ts ignore
 * import { MonitorListener } from "./monitor_listener.ts";
 * const l = await MonitorListener.start({ hostname: "0.0.0.0", port: 54320, token, managerId,
 *   linkFor: (name) => undefined, onUnknown: () => {} });
 * l.close();
 * ```
 *
 * @module
 */
import { formatAddr, FramedConn, type Transport } from "../shared/connection.ts";
import { handshake, HandshakeError, type MonitorFields } from "../shared/handshake.ts";
import { logger } from "../shared/log.ts";
import { isLoopback } from "../shared/net.ts";
import type { Message } from "../shared/protocol.ts";
import { PREAUTH_DEADLINE_MS, PreauthSlots } from "../monitor/preauth.ts";
import type { MonitorLink } from "./link.ts";

const log = logger("link");

/**
 * Pre-auth connections held at most, in total and from one address. A
 * monitor's port expects one manager and holds a few (`monitor/preauth.ts`);
 * this port expects the whole fleet back at once after a restart, many of it
 * from one address behind a NAT: with a monitor's bounds each new connection
 * would evict one mid-handshake, and the fleet would retry in a storm. Each is
 * still held at most `PREAUTH_DEADLINE_MS`.
 */
const PREAUTH_TOTAL = 1024;
const PREAUTH_PER_ADDRESS = 256;

/** A monitor that authenticated but has no `monitors:` entry, as the status and API show it. */
export interface UnknownMonitor {
  name: string;
  /** The address it dialed from. */
  address: string;
  monitorId: string;
  /** Wall-clock time it connected (epoch ms). */
  since: number;
  /** "unknown monitor NAME from ADDR". */
  message: string;
}

/** Options for {@linkcode MonitorListener.start}. */
export interface MonitorListenerOptions {
  hostname: string;
  port: number;
  token: string;
  managerId: string;
  /** PEM certificate and key files: the port then speaks TLS. */
  tlsCert?: string;
  tlsKey?: string;
  /** The dial-in link of the `monitors:` entry named `name`, if there is one. */
  linkFor: (name: string) => MonitorLink | undefined;
  /** Called when the set of unknown monitors changes. */
  onUnknown?: (unknown: UnknownMonitor[]) => void;
}

/** Refused at start: a listen address beyond loopback without a token. */
export class MonitorListenerError extends Error {
  /** @param message what to change */
  constructor(message: string) {
    super(message);
    this.name = "MonitorListenerError";
  }
}

/** The listening port for monitors that dial in. */
export class MonitorListener {
  readonly addr: Deno.NetAddr;
  #listener: Deno.Listener;
  #opts: MonitorListenerOptions;
  #preauth = new PreauthSlots({ total: PREAUTH_TOTAL, perAddress: PREAUTH_PER_ADDRESS });
  #unknown = new Map<FramedConn, UnknownMonitor>();
  #open = new Set<FramedConn>();
  #loop: Promise<void>;

  private constructor(listener: Deno.Listener, opts: MonitorListenerOptions) {
    this.#listener = listener;
    this.addr = listener.addr as Deno.NetAddr;
    this.#opts = opts;
    this.#loop = this.#accept();
  }

  /**
   * Listens on `hostname:port`. Throws {@linkcode MonitorListenerError}
   * beyond loopback without a token.
   */
  static async start(opts: MonitorListenerOptions): Promise<MonitorListener> {
    if (opts.token === "" && !isLoopback(opts.hostname)) {
      throw new MonitorListenerError(
        `--listen-monitors ${formatAddr(opts.hostname, opts.port)} is not a loopback address: ` +
          `monitors that dial in from elsewhere must prove a token; give --token-file FILE ` +
          `(make one with: openssl rand -hex 32)`,
      );
    }
    const l = opts.tlsCert
      ? Deno.listenTls({
        hostname: opts.hostname,
        port: opts.port,
        cert: await Deno.readTextFile(opts.tlsCert),
        key: await Deno.readTextFile(opts.tlsKey ?? ""),
      })
      : Deno.listen({ hostname: opts.hostname, port: opts.port });
    return new MonitorListener(l, opts);
  }

  /** `host:port` listened on. */
  get address(): string {
    return formatAddr(this.addr.hostname, this.addr.port);
  }

  /** Authenticated monitors without a `monitors:` entry, connected now. */
  unknown(): UnknownMonitor[] {
    return [...this.#unknown.values()];
  }

  async #accept() {
    try {
      for await (const conn of this.#listener) {
        if ("setNoDelay" in conn && typeof conn.setNoDelay === "function") conn.setNoDelay(true);
        if ("setKeepAlive" in conn && typeof conn.setKeepAlive === "function") {
          conn.setKeepAlive(true);
        }
        const r = conn.remoteAddr as Deno.NetAddr;
        this.#handle(conn, r.hostname, formatAddr(r.hostname, r.port)).catch((e) =>
          log.error("Connection from a monitor failed: {e}", { e })
        );
      }
    } catch { /* closed */ }
  }

  async #handle(conn: Transport, ip: string, peer: string) {
    const fc = new FramedConn(conn, peer);
    this.#open.add(fc);
    fc.onClose(() => this.#open.delete(fc));
    const ticket = this.#preauth.admit(ip, (reason) => fc.close(reason));
    ticket.onEvict((reason) => fc.close(reason), () => fc.bytesReceived === 0);
    const messages = fc.messages();
    let hello: MonitorFields;
    try {
      const done = await handshake(fc, messages, {
        side: "listener",
        token: this.#opts.token,
        timeoutMs: PREAUTH_DEADLINE_MS,
        fields: { role: "manager", managerId: this.#opts.managerId, takeover: true },
      });
      if (done.peer.role !== "monitor") return;
      hello = done.peer;
    } catch (e) {
      if (!(e instanceof HandshakeError)) throw e;
      const level = e.code === "closed" && !fc.closed?.local ? "debug" : "warn";
      log[level]("Monitor connection from {peer} refused: {reason}", { peer, reason: e.message });
      return;
    } finally {
      ticket.release();
    }
    const link = this.#opts.linkFor(hello.name);
    if (link) {
      await link.adopt(fc, messages, hello);
      return;
    }
    await this.#holdUnknown(fc, messages, hello);
  }

  /** Keeps an authenticated monitor with no entry connected, without checks, while shown. */
  async #holdUnknown(fc: FramedConn, messages: AsyncGenerator<Message>, hello: MonitorFields) {
    const message = `unknown monitor ${hello.name} from ${fc.peer}`;
    log.warn(
      "{message}: it authenticated, but tasks.yaml has no monitors entry named {name} " +
        "(add `- name: {name}` there to give it checks)",
      { message, name: hello.name },
    );
    this.#unknown.set(fc, {
      name: hello.name,
      address: fc.peer,
      monitorId: hello.monitorId,
      since: Date.now(),
      message,
    });
    this.#opts.onUnknown?.(this.unknown());
    // an empty assignment: it runs nothing for this manager; its results stay in its spool
    await fc.send({ t: "assign", rev: 1, checks: [] });
    for await (const _ of messages) { /* results are not acknowledged: the monitor keeps them */ }
    this.#unknown.delete(fc);
    this.#opts.onUnknown?.(this.unknown());
  }

  /** Stops listening and closes every connection not handed to a link. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const fc of this.#open) {
      if (this.#unknown.has(fc) || !fc.authenticated) fc.close("manager shutting down");
    }
    await this.#loop;
  }
}
