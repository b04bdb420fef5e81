/** Parameters of the TCP check. PLACEHOLDER: being written. @module */
import type { JsonObject, ParamParser } from "../checks.ts";

/** TCP parameters. */
export type TcpParams = JsonObject;

/** Parses TCP parameters. */
export const parseTcpParams: ParamParser<TcpParams> = (raw) => raw as JsonObject;
