/** The UDP check. PLACEHOLDER: being written. @module */
import type { CheckFn } from "../../shared/checks.ts";
import type { UdpParams } from "../../shared/params/udp.ts";

/** Runs one UDP check. */
export const checkUdp: CheckFn<UdpParams> = () =>
  Promise.resolve({
    up: false,
    summary: "UDP: not implemented yet",
    latencyMs: null,
    metrics: {},
    error: "not implemented",
  });
