/**
 * Dispatch from check type to check function, like blackbox_exporter's
 * `Probers` map. Every entry has the one {@linkcode CheckFn} shape.
 *
 * @example
 * ```ts ignore
 * import { CHECKS } from "./mod.ts";
 * const outcome = await CHECKS.TCP({ host: "127.0.0.1", port: 22 }, { signal, timeoutMs: 1000, target: "x" });
 * ```
 *
 * @module
 */
import type { CheckFn, CheckType, JsonObject } from "../../shared/checks.ts";
import { checkHttp } from "./http.ts";
import { checkHttps } from "./https.ts";
import { checkIcmp } from "./icmp.ts";
import { checkDns } from "./dns.ts";
import { checkNtp } from "./ntp.ts";
import { checkTcp } from "./tcp.ts";
import { checkUdp } from "./udp.ts";

/** Check type → the function that runs it. Parameters were validated by `shared/params/`. */
export const CHECKS: Record<CheckType, CheckFn<JsonObject>> = {
  HTTP: checkHttp as unknown as CheckFn<JsonObject>,
  HTTPS: checkHttps as unknown as CheckFn<JsonObject>,
  ICMP: checkIcmp as unknown as CheckFn<JsonObject>,
  DNS: checkDns as unknown as CheckFn<JsonObject>,
  NTP: checkNtp as unknown as CheckFn<JsonObject>,
  TCP: checkTcp as unknown as CheckFn<JsonObject>,
  UDP: checkUdp as unknown as CheckFn<JsonObject>,
};
