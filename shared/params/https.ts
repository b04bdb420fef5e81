/** Parameters of the HTTPS check. PLACEHOLDER: being written. @module */
import type { JsonObject, ParamParser } from "../checks.ts";

/** HTTPS parameters. */
export type HttpsParams = JsonObject;

/** Parses HTTPS parameters. */
export const parseHttpsParams: ParamParser<HttpsParams> = (raw) => raw as JsonObject;
