/**
 * What the API knows without asking the database: the newest result of
 * every (check, monitor) and the open Server-Sent Events streams, both fed
 * by the manager's result and status listeners.
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

/** Latest results and the SSE fan-out of one manager. */
export class Live {
  #latest = new Map<string, StoredResult>();
  #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #unsubscribe: (() => void)[];
  #keepalive: ReturnType<typeof setInterval>;

  /** Seeds the latest results from the store and subscribes to the manager. */
  constructor(manager: Manager, seed: StoredResult[]) {
    for (const r of seed) this.#latest.set(key(r.checkId, r.monitorId), r);
    this.#unsubscribe = [
      manager.onResult((r, monitorName) => {
        const stored = { ...r, monitorName };
        const k = key(r.checkId, r.monitorId);
        const prev = this.#latest.get(k);
        if (!prev || prev.startedAt <= r.startedAt) this.#latest.set(k, stored);
        this.#send("result", stored);
      }),
      manager.onStatus((state, previous) => this.#send("status", { ...state, previous })),
    ];
    this.#keepalive = setInterval(() => this.#write(": keepalive\n\n"), KEEPALIVE_MS);
  }

  /** The newest result of every (check, monitor) seen so far. */
  latest(): StoredResult[] {
    return [...this.#latest.values()];
  }

  /** The newest result of one check on one monitor. */
  latestOf(checkId: string, monitorId: string): StoredResult | undefined {
    return this.#latest.get(key(checkId, monitorId));
  }

  /** Number of open event streams. */
  get clients(): number {
    return this.#clients.size;
  }

  /**
   * A `text/event-stream` response carrying `result` events (a stored
   * result) and `status` events (a monitor's state and its `previous` status).
   */
  stream(hello: Record<string, unknown>): Response {
    let ctl: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        ctl = c;
        this.#clients.add(c);
        c.enqueue(enc.encode(`retry: 2000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`));
      },
      cancel: () => {
        this.#clients.delete(ctl);
      },
    });
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
    for (const c of this.#clients) {
      try {
        c.enqueue(bytes);
      } catch {
        this.#clients.delete(c);
      }
    }
  }

  /** Unsubscribes and ends every open stream (a server cannot shut down while they are open). */
  close(): void {
    clearInterval(this.#keepalive);
    for (const u of this.#unsubscribe) u();
    for (const c of this.#clients) {
      try {
        c.close();
      } catch { /* the client went away first */ }
    }
    this.#clients.clear();
  }
}

function key(checkId: string, monitorId: string): string {
  return `${checkId}\0${monitorId}`;
}
