/** Parameters of the NTP check. PLACEHOLDER: being written. @module */
import type { JsonObject, ParamParser } from "../checks.ts";

/** NTP parameters. */
export type NtpParams = JsonObject;

/** Parses NTP parameters. */
export const parseNtpParams: ParamParser<NtpParams> = (raw) => raw as JsonObject;
