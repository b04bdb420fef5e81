/** Parameters of the ICMP check. PLACEHOLDER: being written. @module */
import type { JsonObject, ParamParser } from "../checks.ts";

/** ICMP parameters. */
export type IcmpParams = JsonObject;

/** Parses ICMP parameters. */
export const parseIcmpParams: ParamParser<IcmpParams> = (raw) => raw as JsonObject;
