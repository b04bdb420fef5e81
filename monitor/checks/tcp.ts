/** The TCP check. PLACEHOLDER: being written. @module */
import type { CheckFn } from "../../shared/checks.ts";
import type { TcpParams } from "../../shared/params/tcp.ts";

/** Runs one TCP check. */
export const checkTcp: CheckFn<TcpParams> = () =>
  Promise.resolve({
    up: false,
    summary: "TCP: not implemented yet",
    latencyMs: null,
    metrics: {},
    error: "not implemented",
  });
