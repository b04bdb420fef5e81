/** Parameters of the UDP check. PLACEHOLDER: being written. @module */
import type { JsonObject, ParamParser } from "../checks.ts";

/** UDP parameters. */
export type UdpParams = JsonObject;

/** Parses UDP parameters. */
export const parseUdpParams: ParamParser<UdpParams> = (raw) => raw as JsonObject;
