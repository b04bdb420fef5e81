/** Parameters of the DNS check. PLACEHOLDER: being written. @module */
import type { JsonObject, ParamParser } from "../checks.ts";

/** DNS parameters. */
export type DnsParams = JsonObject;

/** Parses DNS parameters. */
export const parseDnsParams: ParamParser<DnsParams> = (raw) => raw as JsonObject;
