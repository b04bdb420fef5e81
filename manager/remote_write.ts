/**
 * Prometheus remote-write 1.0 out: every stored result's metrics, named and
 * labelled as `/metrics` names them ({@linkcode resultSamples}), stamped with
 * the result's own `startedAt`, sent as a snappy-compressed protobuf
 * `WriteRequest` to each `remote_write:` endpoint of `tasks.yaml`.
 *
 * Each endpoint has a bounded queue: samples wait there while the endpoint is
 * down and are sent oldest first once it is back; past the bound the oldest
 * are dropped and counted. 5xx, 429 and network errors are retried with
 * exponential backoff; any other 4xx means the endpoint refuses that data
 * for good (bad labels, a sample older than its series' newest): the batch
 * is halved until the refused samples are alone, and those are logged and
 * dropped.
 * The results themselves stay in the store either way.
 *
 * @example
 * ```ts ignore
 * import { RemoteWriteSink } from "./remote_write.ts";
 * const sink = new RemoteWriteSink([{ url: "http://127.0.0.1:9090/api/v1/write", headers: {} }]);
 * sink.write(results, "nyc-1", (checkId) => specs.get(checkId));
 * await sink.stop();
 * ```
 *
 * @module
 */
import protobuf from "protobufjs";
import { compress } from "snappyjs";
import type { CheckResult, CheckSpec } from "../shared/checks.ts";
import type { RemoteWriteConfig } from "../shared/config_remote_write.ts";
import { errorText } from "../shared/connection.ts";
import { logger } from "../shared/log.ts";
import { readSecret } from "./alerts/notifiers.ts";
import { resultSamples } from "./metrics.ts";

const log = logger("remote_write");

/** The messages of Prometheus' `prompb/remote.proto` and `types.proto` that 1.0 needs. */
const PROTO = `syntax = "proto3";
message WriteRequest { repeated TimeSeries timeseries = 1; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
`;
const WriteRequest = protobuf.parse(PROTO).root.lookupType("WriteRequest");

/**
 * One sample to send: the metric's name, its labels (without `__name__`),
 * the value and when it was measured (Unix milliseconds).
 *
 * @example
 * ```ts
 * import type { TimedSample } from "./remote_write.ts";
 * const s: TimedSample = { name: "probe_success", labels: { target: "web" }, value: 1, t: 0 };
 * ```
 */
export interface TimedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  t: number;
}

/**
 * The body of a remote-write request before compression: samples grouped
 * into series (labels sorted by name, `__name__` among them), each series'
 * samples in time order, as receivers require.
 *
 * @example
 * ```ts
 * import { encodeWriteRequest } from "./remote_write.ts";
 * const bytes = encodeWriteRequest([{ name: "up", labels: {}, value: 1, t: 1000 }]);
 * console.assert(bytes.length > 0);
 * ```
 */
export function encodeWriteRequest(samples: readonly TimedSample[]): Uint8Array {
  const series = new Map<
    string,
    { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[] }
  >();
  for (const s of samples) {
    const labels = Object.entries({ ...s.labels, __name__: s.name })
      .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
      .map(([name, value]) => ({ name, value }));
    const key = JSON.stringify(labels);
    let ts = series.get(key);
    if (!ts) series.set(key, ts = { labels, samples: [] });
    ts.samples.push({ value: s.value, timestamp: s.t });
  }
  for (const ts of series.values()) ts.samples.sort((a, b) => a.timestamp - b.timestamp);
  return WriteRequest.encode(WriteRequest.create({ timeseries: [...series.values()] })).finish();
}

/**
 * What one endpoint's sender has done since it started, for `/metrics`
 * (`netmon_remote_write_*`).
 *
 * @example
 * ```ts
 * import type { RemoteWriteStats } from "./remote_write.ts";
 * const s: RemoteWriteStats = { url: "http://p/api/v1/write", sent: 0, failedRequests: 0,
 *   dropped: 0, rejected: 0, queued: 0 };
 * ```
 */
export interface RemoteWriteStats {
  /** The endpoint without credentials or query (it may carry a token). */
  url: string;
  /** Samples the endpoint accepted. */
  sent: number;
  /** Requests that failed (network, 4xx or 5xx), whether retried or not. */
  failedRequests: number;
  /** Samples dropped from a full queue, oldest first. */
  dropped: number;
  /** Samples the endpoint refused with a 4xx other than 429, not retried. */
  rejected: number;
  /** Samples waiting to be sent, including the batch in flight. */
  queued: number;
}

/** Tuning of a {@linkcode RemoteWriter}; the defaults suit a manager. */
export interface RemoteWriterOptions {
  /** Samples the queue holds before it drops the oldest (default 100,000). */
  maxQueue?: number;
  /** Samples per request at most (default 2,000, as Prometheus' `max_samples_per_send`). */
  batchSize?: number;
  /** How long a partial batch waits for more samples (default 1 s). */
  batchWaitMs?: number;
  /** First retry delay, doubled per failure up to `maxBackoffMs` (defaults 250 ms and 5 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Deadline of one request (default 10 s). */
  timeoutMs?: number;
}

/** `scheme://host/path` of `url`, without user, password or query. */
function displayUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Sends samples to one remote-write endpoint through a bounded queue, in
 * order, retrying what may succeed later.
 *
 * @example
 * ```ts ignore
 * const w = new RemoteWriter({ url: "http://127.0.0.1:9090/api/v1/write", headers: {} });
 * w.enqueue([{ name: "probe_success", labels: { target: "web" }, value: 1, t: Date.now() }]);
 * await w.stop();
 * ```
 */
export class RemoteWriter {
  readonly config: RemoteWriteConfig;
  readonly #opts: Required<RemoteWriterOptions>;
  /** Waiting samples from `#head` on; the spent front is cut off now and then. */
  #queue: TimedSample[] = [];
  #head = 0;
  #inFlight = 0;
  #stats: RemoteWriteStats;
  #abort = new AbortController();
  #wake: (() => void) | null = null;
  #loop: Promise<void>;
  /** Whether the last try failed, so a run of failures is logged once. */
  #failing = false;

  constructor(config: RemoteWriteConfig, options: RemoteWriterOptions = {}) {
    this.config = config;
    this.#opts = {
      maxQueue: options.maxQueue ?? 100_000,
      batchSize: options.batchSize ?? 2_000,
      batchWaitMs: options.batchWaitMs ?? 1_000,
      minBackoffMs: options.minBackoffMs ?? 250,
      maxBackoffMs: options.maxBackoffMs ?? 5_000,
      timeoutMs: options.timeoutMs ?? 10_000,
    };
    this.#stats = {
      url: displayUrl(config.url),
      sent: 0,
      failedRequests: 0,
      dropped: 0,
      rejected: 0,
      queued: 0,
    };
    this.#loop = this.#run();
  }

  /** Counters and the queue's length now. */
  get stats(): RemoteWriteStats {
    return { ...this.#stats, queued: this.#queue.length - this.#head + this.#inFlight };
  }

  /** Adds samples to the queue, dropping the oldest waiting ones past the bound. */
  enqueue(samples: readonly TimedSample[]): void {
    if (this.#abort.signal.aborted) return;
    for (const s of samples) this.#queue.push(s);
    const excess = this.#queue.length - this.#head - this.#opts.maxQueue;
    if (excess > 0) {
      if (this.#stats.dropped === 0) {
        log.warn("Remote-write queue for {url} is full: dropping the oldest samples", {
          url: this.#stats.url,
        });
      }
      this.#head += excess;
      this.#stats.dropped += excess;
    }
    if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#wake?.();
  }

  /** Stops sending; what is still queued is not sent (the results stay in the store). */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#loop;
  }

  #waiting(): number {
    return this.#queue.length - this.#head;
  }

  async #run() {
    const signal = this.#abort.signal;
    let backoff = this.#opts.minBackoffMs;
    while (!signal.aborted) {
      if (this.#waiting() === 0) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        this.#wake = null;
        continue;
      }
      // a partial batch waits a little for the rest of its results
      if (this.#waiting() < this.#opts.batchSize) {
        await sleep(this.#opts.batchWaitMs, signal);
        if (signal.aborted) break;
      }
      const n = Math.min(this.#waiting(), this.#opts.batchSize);
      const batch = this.#queue.slice(this.#head, this.#head + n);
      this.#head += n;
      this.#inFlight = n;
      // retried until sent; a refused batch is halved until the samples refused are alone,
      // so that one sample out of order costs only itself (Prometheus refuses the whole request)
      const parts = [batch];
      let refused = 0;
      let reason = "";
      while (parts.length && !signal.aborted) {
        const part = parts[0]!;
        const outcome = await this.#send(part, signal);
        if (outcome === "retry") {
          await sleep(backoff, signal);
          backoff = Math.min(backoff * 2, this.#opts.maxBackoffMs);
          continue;
        }
        backoff = this.#opts.minBackoffMs;
        parts.shift();
        this.#inFlight -= outcome === "sent" || part.length === 1 ? part.length : 0;
        if (outcome === "sent") continue;
        reason ||= outcome.refused;
        if (part.length > 1) {
          const mid = Math.ceil(part.length / 2);
          parts.unshift(part.slice(0, mid), part.slice(mid));
        } else {
          refused++;
          this.#stats.rejected++;
        }
      }
      if (refused > 0) {
        log.warn("Remote-write to {url} refused {refused} of {n} samples, dropped: {reason}", {
          url: this.#stats.url,
          refused,
          n,
          reason,
        });
      }
      this.#inFlight = 0;
    }
  }

  /** One try: "sent", "retry", or refused for good with the endpoint's answer. */
  async #send(
    batch: TimedSample[],
    signal: AbortSignal,
  ): Promise<"sent" | "retry" | { refused: string }> {
    const url = this.#stats.url;
    let res: Response;
    try {
      const headers: Record<string, string> = {
        ...this.config.headers,
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
        "User-Agent": "netmon",
      };
      const auth = this.config.basicAuth;
      if (auth) {
        const password = await readSecret(auth.password, `remote_write ${url} password`);
        headers.Authorization = `Basic ${btoa(`${auth.username}:${password}`)}`;
      }
      res = await fetch(this.config.url, {
        method: "POST",
        headers,
        // a copy: fetch takes a Uint8Array over a plain ArrayBuffer only
        body: new Uint8Array(compress(encodeWriteRequest(batch))),
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.#opts.timeoutMs)]),
      });
    } catch (e) {
      if (signal.aborted) return "retry";
      return this.#failed(`${errorText(e)}; retrying`);
    }
    const body = await res.text().catch(() => "");
    if (res.ok) {
      this.#stats.sent += batch.length;
      if (this.#failing) log.info("Remote-write to {url} works again", { url });
      this.#failing = false;
      return "sent";
    }
    if (res.status === 429 || res.status >= 500) {
      return this.#failed(`HTTP ${res.status} ${body.slice(0, 200).trim()}; retrying`);
    }
    this.#stats.failedRequests++;
    return { refused: `HTTP ${res.status} ${body.slice(0, 200).trim()}` };
  }

  #failed(reason: string): "retry" {
    this.#stats.failedRequests++;
    if (!this.#failing) {
      log.warn("Remote-write to {url} failed: {reason}", { url: this.#stats.url, reason });
    }
    this.#failing = true;
    return "retry";
  }
}

/**
 * The remote-write sink: one {@linkcode RemoteWriter} per configured
 * endpoint, fed with every stored batch of results.
 *
 * @example
 * ```ts
 * import { RemoteWriteSink } from "./remote_write.ts";
 * const sink = new RemoteWriteSink([]);
 * sink.write([], "nyc-1", () => undefined);
 * console.assert(sink.stats().length === 0);
 * await sink.stop();
 * ```
 */
export class RemoteWriteSink {
  #writers = new Map<string, RemoteWriter>();
  readonly #options: RemoteWriterOptions;

  constructor(configs: readonly RemoteWriteConfig[], options: RemoteWriterOptions = {}) {
    this.#options = options;
    void this.update(configs);
  }

  /**
   * Follows a reloaded configuration: endpoints whose settings did not
   * change keep their queue; removed or changed ones are stopped.
   */
  async update(configs: readonly RemoteWriteConfig[]): Promise<void> {
    const next = new Map(configs.map((c) => [JSON.stringify(c), c]));
    const stopping: Promise<void>[] = [];
    for (const [key, w] of this.#writers) {
      if (!next.has(key)) {
        this.#writers.delete(key);
        stopping.push(w.stop());
      }
    }
    for (const [key, c] of next) {
      if (!this.#writers.has(key)) this.#writers.set(key, new RemoteWriter(c, this.#options));
    }
    await Promise.all(stopping);
  }

  /**
   * Queues the samples of results stored from the monitor shown as
   * `monitorName`; `specOf` gives each check's spec for `instance`.
   */
  write(
    results: readonly CheckResult[],
    monitorName: string,
    specOf: (checkId: string) => CheckSpec | undefined,
  ): void {
    // nothing to send to: no sample, no copy of a result
    if (this.#writers.size === 0) return;
    const samples: TimedSample[] = [];
    for (const r of results) {
      for (const s of resultSamples({ ...r, monitorName }, specOf(r.checkId))) {
        samples.push({ name: s.name, labels: s.labels, value: s.value, t: r.startedAt });
      }
    }
    for (const w of this.#writers.values()) w.enqueue(samples);
  }

  /** Every endpoint's counters. */
  stats(): RemoteWriteStats[] {
    return [...this.#writers.values()].map((w) => w.stats);
  }

  /** Stops every sender. */
  async stop(): Promise<void> {
    await this.update([]);
  }
}
