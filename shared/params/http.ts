/** Parameters of the HTTP check. PLACEHOLDER: being written. @module */
import type { JsonObject, ParamParser } from "../checks.ts";

/** HTTP parameters. */
export type HttpParams = JsonObject;

/** Parses HTTP parameters. */
export const parseHttpParams: ParamParser<HttpParams> = (raw) => raw as JsonObject;
