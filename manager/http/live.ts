/**
 * The open Server-Sent Events streams, fed by the manager's result and
 * status listeners, and the manager's newest result of every (check,
 * monitor) (its `LatestIndex`, `../latest.ts`).
 *
 * @example
 * ```ts ignore
 * import { Live } from "./live.ts";
 * const live = new Live(manager);
 * const res = live.stream(); // a text/event-stream Response
 * live.close();
 * ```
 *
 * @module
 */
import type { Manager } from "../manager.ts";
import type { StoredResult } from "../store.ts";

const enc = new TextEncoder();
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
/**
 * What one client's stream may hold unsent: some minutes of results at a
 * normal rate, a few seconds at hundreds per second. A client that falls
 * further behind is closed (and its EventSource reconnects) rather than
 * holding the manager's memory.
 */
export const DEFAULT_SSE_QUEUE_BYTES = 1024 * 1024;
/** How long a closed slow client has to read its last event before its queue is dropped. */
const CLOSE_GRACE_MS = 5_000;
/** The last event a slow client gets; room for it is kept in every queue. */
const SLOW_NOTICE = enc.encode(
  `event: overflow\ndata: ${
    JSON.stringify({
      error: "this client read the stream too slowly and was disconnected; reconnect",
    })
  }\n\n`,
);

/** One open event stream. */
interface Client {
  ctl: ReadableStreamDefaultController<Uint8Array>;
  /** Set while a closed slow client has its grace period to read the notice. */
  drop?: ReturnType<typeof setTimeout>;
}

/** Options of {@linkcode Live}. */
export interface LiveOptions {
  /** Bytes each client's stream may hold unsent (default {@linkcode DEFAULT_SSE_QUEUE_BYTES}). */
  maxQueueBytes?: number;
}

/** Latest results and the SSE fan-out of one manager. */
export class Live {
  #manager: Manager;
  #clients = new Set<Client>();
  /** Slow clients closed but still given time to read their last event. */
  #closing = new Set<Client>();
  #unsubscribe: (() => void)[];
  #keepalive: ReturnType<typeof setInterval>;
  #maxQueue: number;
  #slowClosed = 0;

  /** Subscribes to the manager. */
  constructor(manager: Manager, options: LiveOptions = {}) {
    this.#manager = manager;
    this.#maxQueue = Math.max(options.maxQueueBytes ?? DEFAULT_SSE_QUEUE_BYTES, 4096);
    this.#unsubscribe = [
      manager.onResult((r, monitorName) => this.#send("result", { ...r, monitorName })),
      manager.onStatus((state, previous) => this.#send("status", { ...state, previous })),
    ];
    this.#keepalive = setInterval(() => this.#write(": keepalive\n\n"), KEEPALIVE_MS);
  }

  /** The newest result of every (check, monitor) seen so far. */
  latest(): StoredResult[] {
    return this.#manager.latest.all();
  }

  /** The newest result of one check on one monitor. */
  latestOf(checkId: string, monitorId: string): StoredResult | undefined {
    return this.#manager.latest.of(checkId, monitorId);
  }

  /** Number of open event streams. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Bytes queued unsent for each open stream, and for the slow ones being closed. */
  queuedBytes(): number[] {
    return [...this.#clients, ...this.#closing].map((c) =>
      this.#maxQueue - (c.ctl.desiredSize ?? 0)
    );
  }

  /** The bound on {@linkcode Live.queuedBytes}. */
  get maxQueueBytes(): number {
    return this.#maxQueue;
  }

  /** How many clients were closed for reading too slowly. */
  get slowClosed(): number {
    return this.#slowClosed;
  }

  /**
   * A `text/event-stream` response carrying `result` events (a stored
   * result) and `status` events (a monitor's state and its `previous` status).
   */
  stream(hello: Record<string, unknown>): Response {
    let client: Client;
    const body = new ReadableStream<Uint8Array>({
      start: (ctl) => {
        client = { ctl };
        this.#clients.add(client);
        this.#enqueue(
          client,
          enc.encode(`retry: 2000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`),
        );
      },
      cancel: () => this.#forget(client),
    }, new ByteLengthQueuingStrategy({ highWaterMark: this.#maxQueue }));
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  #send(event: string, data: unknown) {
    this.#write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #write(text: string) {
    const bytes = enc.encode(text);
    for (const c of this.#clients) this.#enqueue(c, bytes);
  }

  /** Queues `bytes` for `c`, or closes `c` when they would not fit beside the closing notice. */
  #enqueue(c: Client, bytes: Uint8Array) {
    try {
      if ((c.ctl.desiredSize ?? 0) - bytes.byteLength >= SLOW_NOTICE.byteLength) {
        c.ctl.enqueue(bytes);
        return;
      }
      this.#slowClosed++;
      this.#clients.delete(c);
      c.ctl.enqueue(SLOW_NOTICE);
      c.ctl.close();
      this.#closing.add(c);
      // a client that reads nothing at all never drains even the notice: drop its queue
      c.drop = setTimeout(() => {
        this.#forget(c);
        try {
          c.ctl.error(slowClientError(this.#maxQueue));
        } catch { /* already drained and closed */ }
      }, CLOSE_GRACE_MS);
    } catch {
      this.#forget(c);
    }
  }

  #forget(c: Client) {
    clearTimeout(c.drop);
    this.#clients.delete(c);
    this.#closing.delete(c);
  }

  /** Unsubscribes and ends every open stream (a server cannot shut down while they are open). */
  close(): void {
    clearInterval(this.#keepalive);
    for (const u of this.#unsubscribe) u();
    for (const c of this.#clients) {
      try {
        c.ctl.close();
      } catch { /* the client went away first */ }
    }
    for (const c of this.#closing) {
      clearTimeout(c.drop);
      try {
        c.ctl.error(new Error("the manager is stopping"));
      } catch { /* already closed */ }
    }
    this.#clients.clear();
    this.#closing.clear();
  }
}

/**
 * Deno's server prints the error that ends a response body; this one reads
 * as one line that says what happened rather than as a stack trace.
 */
function slowClientError(maxQueue: number): Error {
  const e = new Error(
    `netmon: an event-stream client left over ${Math.round(maxQueue / 1024)} KiB unread for ${
      CLOSE_GRACE_MS / 1000
    } s and was disconnected`,
  );
  e.stack = e.message;
  return e;
}
