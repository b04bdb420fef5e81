/** The NTP check. PLACEHOLDER: being written. @module */
import type { CheckFn } from "../../shared/checks.ts";
import type { NtpParams } from "../../shared/params/ntp.ts";

/** Runs one NTP check. */
export const checkNtp: CheckFn<NtpParams> = () =>
  Promise.resolve({
    up: false,
    summary: "NTP: not implemented yet",
    latencyMs: null,
    metrics: {},
    error: "not implemented",
  });
