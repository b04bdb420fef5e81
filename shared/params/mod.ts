/**
 * The parameter parser of every check type, by the name used in `tasks.yaml`.
 *
 * @example
 * ```ts
 * import { PARAM_PARSERS } from "./mod.ts";
 * const params = PARAM_PARSERS.TCP({ port: 80 }, "example.com");
 * console.assert(params.port === 80);
 * ```
 *
 * @module
 */
import type { CheckType, JsonObject, ParamParser } from "../checks.ts";
import { parseHttpParams } from "./http.ts";
import { parseHttpsParams } from "./https.ts";
import { parseIcmpParams } from "./icmp.ts";
import { parseDnsParams } from "./dns.ts";
import { parseNtpParams } from "./ntp.ts";
import { parseTcpParams } from "./tcp.ts";
import { parseUdpParams } from "./udp.ts";

/** Check type → parser of its parameters. */
export const PARAM_PARSERS: Record<CheckType, ParamParser<JsonObject>> = {
  HTTP: parseHttpParams as ParamParser<JsonObject>,
  HTTPS: parseHttpsParams as ParamParser<JsonObject>,
  ICMP: parseIcmpParams as ParamParser<JsonObject>,
  DNS: parseDnsParams as ParamParser<JsonObject>,
  NTP: parseNtpParams as ParamParser<JsonObject>,
  TCP: parseTcpParams as ParamParser<JsonObject>,
  UDP: parseUdpParams as ParamParser<JsonObject>,
};
