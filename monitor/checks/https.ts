/** The HTTPS check. PLACEHOLDER: being written. @module */
import type { CheckFn } from "../../shared/checks.ts";
import type { HttpsParams } from "../../shared/params/https.ts";

/** Runs one HTTPS check. */
export const checkHttps: CheckFn<HttpsParams> = () =>
  Promise.resolve({
    up: false,
    summary: "HTTPS: not implemented yet",
    latencyMs: null,
    metrics: {},
    error: "not implemented",
  });
