/**
 * A small SMTP client over `Deno.connect` / `Deno.startTls`: EHLO, STARTTLS
 * (or implicit TLS), AUTH PLAIN or LOGIN, MAIL FROM, RCPT TO, DATA. It never
 * sends a password over an unencrypted connection, and its errors carry the
 * server's replies but never the credentials.
 *
 * @example
 * ```ts ignore
 * import { sendMail } from "./smtp.ts";
 * await sendMail({
 *   host: "127.0.0.1", port: 587, security: "starttls", from: "netmon@x", to: ["ops@x"],
 *   subject: "DOWN: web/TCP", text: "…", signal: AbortSignal.timeout(10_000),
 * });
 * ```
 *
 * @module
 */
import { isLoopback } from "../../shared/net.ts";

/**
 * An SMTP server refused a step, or the conversation broke.
 *
 * @example
 * ```ts
 * import { SmtpError } from "./smtp.ts";
 * const e = new SmtpError("AUTH", "535 5.7.8 Authentication failed");
 * console.assert(e.message === "SMTP AUTH failed: 535 5.7.8 Authentication failed");
 * ```
 */
export class SmtpError extends Error {
  /** The step that failed (`EHLO`, `STARTTLS`, `AUTH`, `RCPT TO`, …). */
  readonly step: string;
  /** @param step the command that failed @param reply the server's reply or the cause */
  constructor(step: string, reply: string) {
    super(`SMTP ${step} failed: ${reply}`);
    this.name = "SmtpError";
    this.step = step;
  }
}

/**
 * One message to send.
 *
 * @example
 * ```ts
 * import type { MailOptions } from "./smtp.ts";
 * const m: MailOptions = {
 *   host: "127.0.0.1", port: 25, security: "none", from: "a@x", to: ["b@x"],
 *   subject: "hi", text: "hello", signal: AbortSignal.timeout(5000),
 * };
 * ```
 */
export interface MailOptions {
  host: string;
  port: number;
  security: "starttls" | "tls" | "none";
  from: string;
  to: string[];
  subject: string;
  text: string;
  signal: AbortSignal;
  username?: string;
  password?: string;
  /** PEM CA certificates to trust besides the system's. */
  caCerts?: string[];
  /** EHLO name (default `netmon`). */
  helo?: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads SMTP replies (possibly multi-line) from a connection. */
class Replies {
  #conn: Deno.Conn;
  #buf = "";

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  set conn(c: Deno.Conn) {
    this.#conn = c;
    this.#buf = "";
  }

  async #line(): Promise<string> {
    const chunk = new Uint8Array(4096);
    for (;;) {
      const i = this.#buf.indexOf("\n");
      if (i >= 0) {
        const line = this.#buf.slice(0, i).replace(/\r$/, "");
        this.#buf = this.#buf.slice(i + 1);
        return line;
      }
      if (this.#buf.length > 65536) throw new SmtpError("read", "reply line too long");
      const n = await this.#conn.read(chunk);
      if (n === null) throw new SmtpError("read", "the server closed the connection");
      this.#buf += dec.decode(chunk.subarray(0, n));
    }
  }

  /** The code and the lines of the next reply. */
  async next(): Promise<{ code: number; lines: string[] }> {
    const lines: string[] = [];
    for (let n = 0; n < 1000; n++) {
      const line = await this.#line();
      lines.push(line.slice(4));
      if (!/^\d{3}[ -]/.test(line) && !/^\d{3}$/.test(line)) {
        throw new SmtpError("read", `not an SMTP reply: ${line.slice(0, 80)}`);
      }
      if (line[3] !== "-") return { code: Number(line.slice(0, 3)), lines };
    }
    throw new SmtpError("read", "reply has too many lines");
  }
}

function b64(text: string): string {
  const bytes = enc.encode(text);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** RFC 2047 encoding for a header with non-ASCII text. */
function header(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : `=?UTF-8?B?${b64(text)}?=`;
}

/**
 * The RFC 5322 message, base64-bodied so any text survives any relay.
 *
 * @example
 * ```ts
 * import { formatMessage } from "./smtp.ts";
 * const m = formatMessage({ from: "a@x", to: ["b@x"], subject: "hi", text: "hello" });
 * console.assert(m.includes("Subject: hi\r\n"));
 * ```
 */
export function formatMessage(o: Pick<MailOptions, "from" | "to" | "subject" | "text">): string {
  const body = b64(o.text.replace(/\r?\n/g, "\r\n")).replace(/.{76}/g, "$&\r\n");
  const domain = o.from.includes("@") ? o.from.slice(o.from.lastIndexOf("@") + 1) : "netmon";
  return [
    `From: ${o.from}`,
    `To: ${o.to.join(", ")}`,
    `Subject: ${header(o.subject.replace(/[\r\n]+/g, " "))}`,
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${crypto.randomUUID()}@${domain}>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    body,
  ].join("\r\n");
}

/**
 * Sends one message. Rejects with {@linkcode SmtpError} naming the step the
 * server refused, or with the connection error; aborting `signal` closes the
 * connection.
 *
 * @example
 * ```ts ignore
 * await sendMail({ host: "127.0.0.1", port: 25, security: "none", from: "a@x", to: ["b@x"],
 *   subject: "hi", text: "hello", signal: AbortSignal.timeout(5000) });
 * ```
 */
export async function sendMail(o: MailOptions): Promise<void> {
  o.signal.throwIfAborted();
  let conn: Deno.Conn = o.security === "tls"
    ? await Deno.connectTls({ hostname: o.host, port: o.port, caCerts: o.caCerts })
    : await Deno.connect({ hostname: o.host, port: o.port });
  const onAbort = () => conn.close();
  o.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const replies = new Replies(conn);
    const expect = async (step: string, ok: (code: number) => boolean) => {
      const r = await replies.next();
      if (!ok(r.code)) throw new SmtpError(step, `${r.code} ${r.lines.join(" ").slice(0, 300)}`);
      return r;
    };
    const send = (line: string) => conn.write(enc.encode(`${line}\r\n`));
    const ehlo = async () => {
      await send(`EHLO ${o.helo ?? "netmon"}`);
      const r = await expect("EHLO", (c) => c === 250);
      return r.lines.map((l) => l.toUpperCase());
    };
    await expect("greeting", (c) => c === 220);
    let caps = await ehlo();
    let encrypted = o.security === "tls";
    if (o.security === "starttls") {
      if (!caps.some((c) => c.startsWith("STARTTLS"))) {
        throw new SmtpError(
          "STARTTLS",
          "the server does not offer STARTTLS (set security: tls or none)",
        );
      }
      await send("STARTTLS");
      await expect("STARTTLS", (c) => c === 220);
      conn = await Deno.startTls(conn as Deno.TcpConn, { hostname: o.host, caCerts: o.caCerts });
      replies.conn = conn;
      encrypted = true;
      caps = await ehlo();
    }
    if (o.username !== undefined) {
      if (!encrypted && !isLoopback(o.host)) {
        throw new SmtpError("AUTH", "refusing to send the password without TLS");
      }
      const auth = caps.find((c) => c.startsWith("AUTH"))?.split(/[ =]/).slice(1) ?? [];
      const password = o.password ?? "";
      // the failure message quotes the server, never these lines
      if (auth.includes("PLAIN")) {
        await send(`AUTH PLAIN ${b64(`\0${o.username}\0${password}`)}`);
      } else if (auth.includes("LOGIN")) {
        await send("AUTH LOGIN");
        await expect("AUTH", (c) => c === 334);
        await send(b64(o.username));
        await expect("AUTH", (c) => c === 334);
        await send(b64(password));
      } else {
        throw new SmtpError("AUTH", "the server offers neither AUTH PLAIN nor AUTH LOGIN");
      }
      await expect("AUTH", (c) => c === 235);
    }
    await send(`MAIL FROM:<${o.from}>`);
    await expect("MAIL FROM", (c) => c === 250);
    for (const rcpt of o.to) {
      await send(`RCPT TO:<${rcpt}>`);
      await expect(`RCPT TO <${rcpt}>`, (c) => c === 250 || c === 251);
    }
    await send("DATA");
    await expect("DATA", (c) => c === 354);
    const data = formatMessage(o).split("\r\n").map((l) => l.startsWith(".") ? `.${l}` : l);
    await conn.write(enc.encode(`${data.join("\r\n")}\r\n.\r\n`));
    await expect("DATA", (c) => c === 250);
    await send("QUIT");
    await replies.next().catch(() => {});
  } catch (e) {
    if (o.signal.aborted) throw new SmtpError("send", "timed out");
    throw e;
  } finally {
    o.signal.removeEventListener("abort", onAbort);
    try {
      conn.close();
    } catch { /* closed by the abort */ }
  }
}
