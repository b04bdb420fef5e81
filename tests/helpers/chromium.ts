/**
 * Headless Debian Chromium for browser tests, through playwright-core, with
 * a fresh profile and the flags that keep it off this machine's closed
 * network (without them it retries Google's hosts, many at a time).
 *
 * @example
 * ```ts ignore
 * import { hasChromium, launchChromium } from "./chromium.ts";
 * if (hasChromium) {
 *   await using browser = await launchChromium("/tmp", { viewport: { width: 390, height: 844 } });
 * }
 * ```
 *
 * @module
 */
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's Chromium (package chromium). */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed: browser tests are ignored without it. */
export const hasChromium: boolean = await Deno.stat(CHROMIUM).then(() => true, () => false);

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Starts Chromium with a new profile directory under `dir` (playwright
 * passes it as --user-data-dir). Close the context to stop it.
 */
export async function launchChromium(
  dir: string,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<BrowserContext> {
  const profile = await Deno.makeTempDir({ dir, prefix: "chromium-" });
  return await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ...options,
    args: FLAGS,
  });
}
