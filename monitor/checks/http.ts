/** The HTTP check. PLACEHOLDER: being written. @module */
import type { CheckFn } from "../../shared/checks.ts";
import type { HttpParams } from "../../shared/params/http.ts";

/** Runs one HTTP check. */
export const checkHttp: CheckFn<HttpParams> = () =>
  Promise.resolve({
    up: false,
    summary: "HTTP: not implemented yet",
    latencyMs: null,
    metrics: {},
    error: "not implemented",
  });
