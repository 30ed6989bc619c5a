/**
 * Our own certificate chain verification, used in one case only: an inbound peer presents, as
 * its TLS client certificate, a server certificate without the clientAuth extended key usage.
 * Public CAs are dropping clientAuth from server certificates, and such a certificate is exactly
 * what an XMPP server has; Prosody 13 and ejabberd accept it too. OpenSSL rejects it with
 * X509_V_ERR_INVALID_PURPOSE, and since node:tls only reports the LAST error OpenSSL saw, that code
 * can hide earlier ones: a self-signed certificate nobody trusts, without clientAuth, comes back as
 * INVALID_PURPOSE alone. So in that case we throw OpenSSL's verdict away and verify the whole
 * chain here: signatures, issuer/subject linkage, CA flags and validity dates up to a trust anchor.
 *
 * Not checked (OpenSSL would): path length constraints, name constraints, policy constraints and
 * revocation (node:tls checks revocation only with CRLs configured, which we never do). Those only
 * matter for intermediates a trusted CA issued with constraints, which is rare on the public web.
 */
import { X509Certificate } from "node:crypto";

export interface ChainVerdict {
  readonly trusted: boolean;
  /** OpenSSL-style code of the first problem, as node:tls reports them (`CERT_HAS_EXPIRED`, ...). */
  readonly error?: string;
}

/** RFC 5280 §4.2.1.12 key purposes that make sense on an XMPP server certificate. */
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const ANY_EKU = "2.5.29.37.0";

/** Chains longer than this are refused (OpenSSL's default depth limit is 100; real chains have 2-4). */
const MAX_DEPTH = 10;

/**
 * The trust anchors: system roots plus `s2s.cacertfile`. PEM strings are parsed on first use (the
 * system store has ~140 roots), then indexed by subject for issuer look-ups.
 */
export class TrustStore {
  #bySubject?: Map<string, X509Certificate[]>;
  #fingerprints?: Set<string>;

  constructor(private readonly pems: readonly string[]) {}

  /** Anchors whose subject is `issuerName`. */
  candidates(issuerName: string): readonly X509Certificate[] {
    return this.#index().get(issuerName) ?? [];
  }

  /** Whether this very certificate is an anchor (a pinned self-signed certificate, a root). */
  contains(cert: X509Certificate): boolean {
    this.#index();
    return this.#fingerprints!.has(cert.fingerprint256);
  }

  #index(): Map<string, X509Certificate[]> {
    if (this.#bySubject) return this.#bySubject;
    const bySubject = new Map<string, X509Certificate[]>();
    const fingerprints = new Set<string>();
    for (const pem of this.pems) {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(pem);
      } catch {
        continue; // a root Node ships but cannot parse is of no use to anyone
      }
      fingerprints.add(cert.fingerprint256);
      const list = bySubject.get(cert.subject);
      if (list) list.push(cert);
      else bySubject.set(cert.subject, [cert]);
    }
    this.#fingerprints = fingerprints;
    this.#bySubject = bySubject;
    return bySubject;
  }
}

/**
 * Verifies `leaf` up to an anchor of `store`, using `presented` (the intermediates the peer sent)
 * to bridge the gap. The leaf must carry serverAuth or clientAuth (or no EKU at all, or anyEKU): a
 * certificate issued only for, say, e-mail protection is not a server's.
 */
export function verifyChain(leaf: X509Certificate, presented: readonly X509Certificate[], store: TrustStore, now: number = Date.now()): ChainVerdict {
  const ekus = leaf.keyUsage; // Node names the extended key usage list `keyUsage`
  if (ekus !== undefined && ekus.length > 0 && !ekus.some((oid) => oid === SERVER_AUTH || oid === CLIENT_AUTH || oid === ANY_EKU)) {
    return { trusted: false, error: "INVALID_PURPOSE" };
  }
  let current = leaf;
  const used = new Set<string>([leaf.fingerprint256]);
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    const dates = checkDates(current, now);
    if (dates) return { trusted: false, error: dates };
    if (store.contains(current)) return { trusted: true };
    const anchor = store.candidates(current.issuer).find((c) => issuedBy(current, c));
    if (anchor) {
      const anchorDates = checkDates(anchor, now);
      return anchorDates ? { trusted: false, error: anchorDates } : { trusted: true };
    }
    const next = presented.find((c) => !used.has(c.fingerprint256) && c.subject === current.issuer && issuedBy(current, c));
    if (!next) {
      return { trusted: false, error: current.issuer === current.subject && current.verify(current.publicKey) ? (depth === 0 ? "DEPTH_ZERO_SELF_SIGNED_CERT" : "SELF_SIGNED_CERT_IN_CHAIN") : depth === 0 ? "UNABLE_TO_VERIFY_LEAF_SIGNATURE" : "UNABLE_TO_GET_ISSUER_CERT_LOCALLY" };
    }
    // RFC 5280 §4.2.1.9: only a CA certificate may sign certificates.
    if (!next.ca) return { trusted: false, error: "INVALID_CA" };
    used.add(next.fingerprint256);
    current = next;
  }
  return { trusted: false, error: "CERT_CHAIN_TOO_LONG" };
}

/** `issuer` names and signed `cert` (and may sign: checkIssued also checks its key usage). */
function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  if (!issuer.ca) return false;
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    // OpenSSL cannot check this pair (a key type it does not support for verify): not the issuer.
    return false;
  }
}

function checkDates(cert: X509Certificate, now: number): string | undefined {
  if (now < Date.parse(cert.validFrom)) return "CERT_NOT_YET_VALID";
  if (now > Date.parse(cert.validTo)) return "CERT_HAS_EXPIRED";
  return undefined;
}

/** The certificates of a peer, from one `getPeerCertificate(true)` answer: leaf first, then what follows it. */
export function chainFromDetailed(detail: { raw?: Buffer; issuerCertificate?: unknown } | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<unknown>();
  let node = detail as { raw?: Buffer; issuerCertificate?: unknown } | undefined;
  while (node && node.raw && !seen.has(node) && out.length <= MAX_DEPTH + 1) {
    seen.add(node);
    try {
      out.push(new X509Certificate(node.raw));
    } catch {
      break; // a certificate OpenSSL cannot parse ends the chain: what follows it cannot be verified
    }
    node = node.issuerCertificate as typeof node;
  }
  return out;
}
