/**
 * The dashboard's files (`manager/dashboard/`) and the chart library it
 * uses (uPlot, from the installed npm package), served as they are: no
 * build step.
 *
 * @example
 * ```ts ignore
 * import { serveStatic } from "./static.ts";
 * const res = await serveStatic("/"); // the dashboard's index.html
 * ```
 *
 * @module
 */

const FILES: Record<string, { url: URL; type: string }> = {
  "/": { url: new URL("../dashboard/index.html", import.meta.url), type: "text/html" },
  "/dashboard/app.js": {
    url: new URL("../dashboard/app.js", import.meta.url),
    type: "text/javascript",
  },
  "/dashboard/style.css": {
    url: new URL("../dashboard/style.css", import.meta.url),
    type: "text/css",
  },
  "/dashboard/status.css": {
    url: new URL("../dashboard/status.css", import.meta.url),
    type: "text/css",
  },
  "/favicon.svg": {
    url: new URL("../dashboard/favicon.svg", import.meta.url),
    type: "image/svg+xml",
  },
  // browsers ask for /favicon.ico on their own; an SVG answer serves them all the same
  "/favicon.ico": {
    url: new URL("../dashboard/favicon.svg", import.meta.url),
    type: "image/svg+xml",
  },
  "/vendor/uplot.js": {
    url: new URL("../../node_modules/uplot/dist/uPlot.iife.min.js", import.meta.url),
    type: "text/javascript",
  },
  "/vendor/uplot.css": {
    url: new URL("../../node_modules/uplot/dist/uPlot.min.css", import.meta.url),
    type: "text/css",
  },
};

/** The file at `pathname`, or null when there is none by that name. */
export async function serveStatic(pathname: string): Promise<Response | null> {
  const f = FILES[pathname === "/index.html" ? "/" : pathname];
  if (!f) return null;
  try {
    return new Response(await Deno.readFile(f.url), {
      headers: { "content-type": `${f.type}; charset=utf-8`, "cache-control": "no-cache" },
    });
  } catch {
    // uPlot is missing when the npm packages are not installed; the page still works without charts
    return new Response(`${pathname} is not installed with this netmon\n`, { status: 404 });
  }
}
