/** netmon's version, sent in the protocol hello and shown by `--version`. @module */

/** The release version of this build. */
export const VERSION = "0.1.0";
