/**
 * Child processes for tests: start one, read its output line by line, wait
 * for a line that matches, and always stop it.
 *
 * @example
 * ```ts ignore
 * import { Proc } from "./proc.ts";
 * await using p = Proc.start(["sleep", "30"]);
 * ```
 *
 * @module
 */

/** A running child process whose stdout and stderr lines are collected. */
export class Proc implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly name: string;
  /** Every line seen so far, stdout and stderr interleaved as they arrived. */
  readonly lines: string[] = [];
  #waiters: { re: RegExp; from: number; resolve: (l: string) => void }[] = [];
  #done: Promise<void>;
  #status: Deno.CommandStatus | undefined;

  private constructor(child: Deno.ChildProcess, name: string) {
    this.child = child;
    this.name = name;
    this.#done = Promise.all([this.#pump(child.stdout), this.#pump(child.stderr)]).then(
      async () => {
        this.#status = await child.status;
      },
    );
  }

  /** Starts `cmd` with piped output. */
  static start(
    cmd: string[],
    options: { env?: Record<string, string>; cwd?: string; name?: string } = {},
  ): Proc {
    const [bin, ...args] = cmd;
    const child = new Deno.Command(bin!, {
      args,
      env: options.env,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new Proc(child, options.name ?? bin!);
  }

  async #pump(stream: ReadableStream<Uint8Array>) {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        this.#line(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
    if (buf) this.#line(buf);
  }

  #line(line: string) {
    this.lines.push(line);
    if (Deno.env.get("NETMON_TEST_VERBOSE")) console.error(`[${this.name}] ${line}`);
    const idx = this.lines.length - 1;
    this.#waiters = this.#waiters.filter((w) => {
      if (idx >= w.from && w.re.test(line)) {
        w.resolve(line);
        return false;
      }
      return true;
    });
  }

  /** Number of lines so far; pass it as `from` to wait only for newer lines. */
  get mark(): number {
    return this.lines.length;
  }

  /** Resolves with the first line at index `from` or later that matches `re`. */
  waitFor(re: RegExp, timeoutMs = 15_000, from = 0): Promise<string> {
    const found = this.lines.slice(from).find((l) => re.test(l));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(
            `${this.name}: no line matching ${re} within ${timeoutMs} ms; last lines:\n` +
              this.lines.slice(-30).join("\n"),
          ),
        );
      }, timeoutMs);
      const done = (l: string) => {
        clearTimeout(timer);
        resolve(l);
      };
      this.#waiters.push({ re, from, resolve: done });
    });
  }

  /** Lines at index `from` or later that match `re`. */
  matching(re: RegExp, from = 0): string[] {
    return this.lines.slice(from).filter((l) => re.test(l));
  }

  /** Sends a signal (default SIGTERM) and waits for the process and its output to end. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    if (this.#status === undefined) {
      try {
        this.child.kill(signal);
      } catch { /* already gone */ }
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 5_000);
    await this.#done;
    clearTimeout(timer);
    return this.#status!;
  }

  /** Waits for the process to exit by itself. */
  async exited(): Promise<Deno.CommandStatus> {
    await this.#done;
    return this.#status!;
  }

  async [Symbol.asyncDispose]() {
    await this.stop("SIGKILL");
  }
}

/** A test peer: a process serving on `host:port`, stopped (then `cleanup` run) when disposed. */
export interface ServedPeer extends AsyncDisposable {
  port: number;
  host: string;
  proc: Proc;
}

/**
 * The {@linkcode ServedPeer} of `proc`, listening on `host:port`.
 *
 * @example
 * ```ts ignore
 * return servedPeer(port, "127.0.0.1", Proc.start(["socat", ...]), () => Deno.remove(script));
 * ```
 */
export function servedPeer(
  port: number,
  host: string,
  proc: Proc,
  cleanup?: () => Promise<unknown>,
): ServedPeer {
  return {
    port,
    host,
    proc,
    async [Symbol.asyncDispose]() {
      await proc.stop();
      await cleanup?.().catch(() => {});
    },
  };
}

/** A fresh temporary directory removed when disposed. */
export async function tempDir(
  prefix = "netmon-test-",
): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}
