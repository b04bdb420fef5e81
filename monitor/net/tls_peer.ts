/**
 * What the HTTPS and TCP checks need from a TLS client connection besides
 * the bytes: a secure context built once per set of TLS options (building it
 * costs 1–20 ms, which would otherwise land in the connect time), the peer's
 * certificate chain read with its distinguished names in the certificate's
 * own order, and the words for why the chain did not verify.
 *
 * Deno's `node:tls` reports expired and not-yet-valid certificates with the
 * generic code 21 (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, "unable to verify the
 * first certificate"), so the dates are read here and said as openssl and
 * curl say them.
 *
 * @example
 * ```ts ignore
 * import tls from "node:tls";
 * import { clientContext, peerChain, verifyProblem } from "./tls_peer.ts";
 * const socket = tls.connect({ host: "127.0.0.1", port: 443, secureContext: clientContext(undefined) });
 * socket.once("secureConnect", () => {
 *   console.log(verifyProblem(peerChain(socket), socket.authorizationError));
 * });
 * ```
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import tls from "node:tls";

/** How many distinct TLS option sets keep a cached context; older ones are dropped first. */
const CONTEXT_CACHE_SIZE = 32;

const contexts = new Map<string, tls.SecureContext>();

/**
 * The client secure context for these trusted CAs (PEM text; `undefined` for
 * the system store), built on first use and then reused, so that the check's
 * clock never includes building it.
 *
 * @example
 * ```ts
 * import { clientContext } from "./tls_peer.ts";
 * console.assert(clientContext(undefined) === clientContext(undefined));
 * ```
 */
export function clientContext(ca: string | undefined): tls.SecureContext {
  const key = ca === undefined ? "" : `ca:${ca}`;
  let context = contexts.get(key);
  if (context) {
    // refresh its place: the map iterates oldest first
    contexts.delete(key);
  } else {
    context = tls.createSecureContext(ca === undefined ? {} : { ca });
    if (contexts.size >= CONTEXT_CACHE_SIZE) contexts.delete(contexts.keys().next().value!);
  }
  contexts.set(key, context);
  return context;
}

/** One certificate of the peer's chain. */
export interface ChainCert {
  /** Subject in the certificate's RDN order, e.g. `CN=localhost, O=netmon test`. */
  subject: string;
  issuer: string;
  /** The subject's common name, or null when it has none. */
  cn: string | null;
  /** `notBefore` and `notAfter`, ms since the epoch. */
  notBefore: number;
  notAfter: number;
}

/** `CN=a\nO=b` (node:crypto's form) → `CN=a, O=b`. */
function dn(lines: string): string {
  return lines.split("\n").filter(Boolean).join(", ");
}

function commonName(lines: string): string | null {
  const line = lines.split("\n").find((l) => l.startsWith("CN="));
  return line === undefined ? null : line.slice(3);
}

function fromX509(x: X509Certificate): ChainCert {
  return {
    subject: dn(x.subject),
    issuer: dn(x.issuer),
    cn: commonName(x.subject),
    notBefore: Date.parse(x.validFrom),
    notAfter: Date.parse(x.validTo),
  };
}

/**
 * The chain the peer presented, leaf first (empty when it sent none). The
 * certificates are parsed from their DER bytes, because the
 * `getPeerCertificate()` objects reorder the names' RDNs.
 *
 * @example
 * ```ts ignore
 * import { peerChain } from "./tls_peer.ts";
 * const [leaf] = peerChain(socket);
 * console.log(leaf?.subject);
 * ```
 */
export function peerChain(socket: tls.TLSSocket): ChainCert[] {
  const leaf = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  const chain: ChainCert[] = [];
  const seen = new Set<string>();
  // the chain ends at a self-issued certificate whose issuerCertificate is itself
  for (let c = leaf; c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    chain.push(fromX509(new X509Certificate(c.raw)));
  }
  return chain;
}

/**
 * The certificate of `chain` that expires first, and its place (0 = leaf), or
 * null for an empty chain.
 *
 * @example
 * ```ts
 * import { earliestExpiring } from "./tls_peer.ts";
 * const c = (notAfter: number) => ({ subject: "", issuer: "", cn: null, notBefore: 0, notAfter });
 * console.assert(earliestExpiring([c(5), c(3)])?.index === 1);
 * ```
 */
export function earliestExpiring(chain: ChainCert[]): { cert: ChainCert; index: number } | null {
  let best: { cert: ChainCert; index: number } | null = null;
  chain.forEach((cert, index) => {
    if (best === null || cert.notAfter < best.cert.notAfter) best = { cert, index };
  });
  return best;
}

/**
 * `2026-12-02 07:35:18 UTC`: a certificate date as the checks print it.
 *
 * @example
 * ```ts
 * import { certDate } from "./tls_peer.ts";
 * console.assert(certDate(0) === "1970-01-01 00:00:00 UTC");
 * ```
 */
export function certDate(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/**
 * Which certificate of the chain `index` is, for a message: null for the
 * leaf (messages are about the leaf unless they say otherwise),
 * `certificate "<its CN>" in the chain` for the others.
 *
 * @example
 * ```ts
 * import { whichCert } from "./tls_peer.ts";
 * const c = { subject: "CN=Int, O=x", issuer: "", cn: "Int", notBefore: 0, notAfter: 0 };
 * console.assert(whichCert(c, 1) === 'certificate "Int" in the chain');
 * ```
 */
export function whichCert(cert: ChainCert, index: number): string | null {
  return index === 0 ? null : `certificate "${cert.cn ?? cert.subject}" in the chain`;
}

/** Why a chain's dates make it invalid now. */
export interface DateProblem {
  kind: "expired" | "not_yet_valid";
  /** `certificate expired on 2026-11-01 12:00:00 UTC`, naming a certificate other than the leaf. */
  message: string;
}

/**
 * The first certificate of `chain` that is expired or not yet valid at
 * `now`, worded as openssl and curl word it, or null when all dates are good.
 *
 * @example
 * ```ts
 * import { dateProblem } from "./tls_peer.ts";
 * const leaf = { subject: "CN=x", issuer: "", cn: "x", notBefore: 0, notAfter: 1000 };
 * console.assert(dateProblem([leaf], 2000)?.message === "certificate expired on 1970-01-01 00:00:01 UTC");
 * ```
 */
export function dateProblem(chain: ChainCert[], now = Date.now()): DateProblem | null {
  for (const [index, cert] of chain.entries()) {
    const which = whichCert(cert, index);
    const note = which === null ? "" : ` (${which})`;
    if (now > cert.notAfter) {
      return {
        kind: "expired",
        message: `certificate expired on ${certDate(cert.notAfter)}${note}`,
      };
    }
    if (now < cert.notBefore) {
      return {
        kind: "not_yet_valid",
        message: `certificate not valid until ${certDate(cert.notBefore)}${note}`,
      };
    }
  }
  return null;
}

const VERIFY_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in the chain",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "issuer unknown, unable to verify the certificate",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "issuer unknown, unable to verify the certificate",
  UNABLE_TO_GET_ISSUER_CERT: "issuer certificate not found",
  CERT_HAS_EXPIRED: "certificate has expired",
  CERT_NOT_YET_VALID: "certificate is not yet valid",
  ERR_TLS_CERT_ALTNAME_INVALID: "certificate does not match the host name",
};

/**
 * OpenSSL's (or Node's) code for a failed verification in words, with the
 * code: `self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`. Say the
 * chain's {@linkcode dateProblem} first: Deno reports bad dates as code 21.
 *
 * @example
 * ```ts
 * import { verifyReason } from "./tls_peer.ts";
 * console.assert(verifyReason("DEPTH_ZERO_SELF_SIGNED_CERT") === "self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)");
 * ```
 */
export function verifyReason(code: string | null): string {
  const reason = code ? VERIFY_REASONS[code] : undefined;
  return reason ? `${reason} (${code})` : code ?? "unknown reason";
}
