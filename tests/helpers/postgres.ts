/**
 * A real PostgreSQL server for tests, from Debian's `postgresql` package:
 * `initdb` in a fresh temporary directory and `postgres` on a free loopback
 * port, run as the `postgres` system user (the server refuses to run as
 * root). Stopped and removed when disposed.
 *
 * @example
 * ```ts ignore
 * import { startPostgres } from "./postgres.ts";
 * await using pg = await startPostgres();
 * console.log(pg.url); // postgres://netmon@127.0.0.1:PORT/netmon
 * ```
 *
 * @module
 */
import { freeTcpPort } from "./ports.ts";
import { Proc } from "./proc.ts";

/** A running test PostgreSQL. */
export interface TestPostgres extends AsyncDisposable {
  /** `postgres://netmon@127.0.0.1:PORT/netmon`, trust authentication on loopback. */
  url: string;
  port: number;
  /** Creates another empty database owned by `netmon` and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** The server process (for its log lines); a new one after {@linkcode restart}. */
  proc: Proc;
  /** Stops the server (fast shutdown: clients are cut off), waits `downMs`, starts it again on the same port and data. */
  restart(downMs: number): Promise<void>;
}

/** Directory holding `initdb` and `postgres`, or null when the package is missing. */
export function postgresBinDir(): string | null {
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((e) => e.name)
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = `/usr/lib/postgresql/${v}/bin`;
      try {
        Deno.statSync(`${dir}/initdb`);
        return dir;
      } catch { /* next */ }
    }
  } catch { /* not installed */ }
  return null;
}

async function run(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd.join(" ")} failed:\n${text}`);
  return text;
}

/** `cmd` run as the postgres user when this process is root. */
function asPostgres(cmd: string[]): string[] {
  return Deno.uid() === 0 ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd;
}

/** Starts a throwaway PostgreSQL with a `netmon` superuser and a `netmon` database. */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  const dir = await Deno.makeTempDir({ prefix: "netmon-pg-" });
  await Deno.chmod(dir, 0o755);
  const data = `${dir}/data`;
  if (Deno.uid() === 0) await run(["chown", "postgres:postgres", dir]);
  await run(asPostgres([
    `${bin}/initdb`,
    "-D",
    data,
    "-U",
    "netmon",
    "--auth=trust",
    "--no-sync",
    "-E",
    "UTF8",
  ]));
  const port = freeTcpPort();
  const serve = () =>
    Proc.start(
      asPostgres([
        `${bin}/postgres`,
        "-D",
        data,
        "-p",
        String(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        `unix_socket_directories=${dir}`,
        "-c",
        "fsync=off",
        "-c",
        "max_connections=200",
      ]),
      { name: "postgres" },
    );
  let proc = serve();
  await proc.waitFor(/database system is ready to accept connections/, 30_000);
  const stop = () => run(asPostgres([`${bin}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop"]));
  const psql = (sql: string, db = "postgres") =>
    run(
      asPostgres([
        `${bin}/psql`,
        "-h",
        dir,
        "-p",
        String(port),
        "-U",
        "netmon",
        "-d",
        db,
        "-c",
        sql,
      ]),
    );
  await psql("CREATE DATABASE netmon");
  const base = `postgres://netmon@127.0.0.1:${port}`;
  const pg: TestPostgres = {
    url: `${base}/netmon`,
    port,
    proc,
    async restart(downMs: number) {
      await stop();
      await proc.exited();
      await new Promise((r) => setTimeout(r, downMs));
      pg.proc = proc = serve();
      await proc.waitFor(/database system is ready to accept connections/, 30_000);
    },
    async createDatabase(name: string) {
      await psql(`CREATE DATABASE "${name.replaceAll('"', "")}"`);
      return `${base}/${name}`;
    },
    async [Symbol.asyncDispose]() {
      // runuser does not pass signals on: ask the server itself to stop
      await stop().catch(() => proc.stop("SIGKILL"));
      await proc.exited();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return pg;
}
