/**
 * The manager's own prompt: when `netmon manage` runs in a terminal, the
 * `netmon ctl` commands can be typed at it (`status`, `targets`, `run web`,
 * …). They go straight to the API's handler, without the network.
 *
 * @example
 * ```ts ignore
 * import { startPrompt } from "./prompt.ts";
 * const prompt = startPrompt(Deno.stdin.readable, (req) => api.handle(req), console.log);
 * ```
 *
 * @module
 */
import { UsageError } from "../shared/cli.ts";
import { CtlError, ctlText, type Transport } from "./ctl.ts";

/** Reads commands line by line from `input` until it ends; resolves then. */
export async function startPrompt(
  input: ReadableStream<Uint8Array>,
  transport: Transport,
  write: (text: string) => void,
): Promise<void> {
  let buf = "";
  for await (const chunk of input.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const words = buf.slice(0, i).trim().split(/\s+/).filter(Boolean);
      buf = buf.slice(i + 1);
      if (words[0] === "ctl") words.shift();
      if (words.length === 0) continue;
      try {
        // the URL only names the API; the transport answers in-process
        write(await ctlText([...words, "--url", "http://manager"], transport));
      } catch (e) {
        write(
          e instanceof CtlError || e instanceof UsageError
            ? e.message
            : `error: ${e instanceof Error ? e.message : e}`,
        );
      }
    }
  }
}
