/** The ICMP check. PLACEHOLDER: being written. @module */
import type { CheckFn } from "../../shared/checks.ts";
import type { IcmpParams } from "../../shared/params/icmp.ts";

/** Runs one ICMP check. */
export const checkIcmp: CheckFn<IcmpParams> = () =>
  Promise.resolve({
    up: false,
    summary: "ICMP: not implemented yet",
    latencyMs: null,
    metrics: {},
    error: "not implemented",
  });
