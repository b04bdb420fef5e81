/** The DNS check. PLACEHOLDER: being written. @module */
import type { CheckFn } from "../../shared/checks.ts";
import type { DnsParams } from "../../shared/params/dns.ts";

/** Runs one DNS check. */
export const checkDns: CheckFn<DnsParams> = () =>
  Promise.resolve({
    up: false,
    summary: "DNS: not implemented yet",
    latencyMs: null,
    metrics: {},
    error: "not implemented",
  });
