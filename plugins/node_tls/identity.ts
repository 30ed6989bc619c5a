/**
 * Is this certificate valid for that XMPP domain? RFC 6125 service identity verification as
 * RFC 6120 §13.7.1.2 and XEP-0178 profile it for server-to-server streams.
 *
 * Reference identifiers tried, in RFC 6125 order:
 * - DNS-ID (RFC 6125 §6.4): a subjectAltName dNSName equal to the domain, or a wildcard in the
 *   left-most label only (`*.b.example` covers `x.b.example`, not `b.example` nor `y.x.b.example`);
 *   OpenSSL's matcher (`X509Certificate.checkHost`) with the CN fallback and partial wildcards
 *   (`f*.b.example`) turned off.
 * - SRV-ID (RFC 6125 §6.5.1, RFC 4985): an SRVName otherName `_xmpp-server.<domain>`.
 * - XmppAddr (RFC 6120 §13.7.1.4): an id-on-xmppAddr otherName equal to the bare domain.
 *
 * The subject CN is never used: RFC 6125 §6.4.4 allows it only as a last resort for certificates
 * without any subjectAltName of a supported type, and every public CA has written SANs for a decade;
 * accepting CNs would let a certificate for a person ("CN=a.example" on an S/MIME certificate) pass.
 */
import type { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { normaliseDomain, parseSubjectAltName } from "../../core/index.js";

export type IdentityKind = "DNS-ID" | "SRV-ID" | "XmppAddr";

/** RFC 6120 §13.7.1.2.1: the service name of server-to-server SRV-IDs. */
const S2S_SERVICE = "_xmpp-server.";

/** The identities a certificate carries, for logs and error messages. */
export interface CertificateIdentities {
  readonly dns: readonly string[];
  readonly srv: readonly string[];
  readonly xmppAddr: readonly string[];
}

/**
 * Reads the subjectAltName with the tokeniser of the config layer: Node prints values with
 * special characters as JSON string literals (`othername:"XmppAddr:a, DNS:evil"`), so splitting on
 * ", " would let a crafted name inject entries.
 */
export function certificateIdentities(cert: X509Certificate): CertificateIdentities {
  const dns: string[] = [];
  const srv: string[] = [];
  const xmppAddr: string[] = [];
  for (const name of parseSubjectAltName(cert.subjectAltName)) {
    if (name.type === "DNS") dns.push(name.value);
    else if (name.type === "othername" && name.value.startsWith("SRVName:")) srv.push(name.value.slice("SRVName:".length));
    else if (name.type === "othername" && name.value.startsWith("XmppAddr:")) xmppAddr.push(name.value.slice("XmppAddr:".length));
  }
  return { dns, srv, xmppAddr };
}

/**
 * Which reference identifier of `domain` the certificate presents, or undefined when none does.
 * `domain` is normalised first (lower case, IDNA A-labels, trailing dot dropped); a string that is
 * not a domain name never matches (OpenSSL would read a leading "." as "any subdomain of").
 */
export function matchIdentity(cert: X509Certificate, domain: string): IdentityKind | undefined {
  const reference = normaliseDomain(domain);
  if (reference === undefined) return undefined;
  const ip = ipLiteral(reference);
  if (ip !== undefined) {
    // RFC 6125 §1.7.2 leaves IP addresses out of scope; an iPAddress SAN is the only sane match.
    return cert.checkIP(ip) !== undefined ? "DNS-ID" : undefined;
  }
  // RFC 6125 §6.4.3: wildcard only as the complete left-most label; subject CN never (see above).
  if (cert.checkHost(reference, { subject: "never", wildcards: true, partialWildcards: false, multiLabelWildcards: false }) !== undefined) {
    return "DNS-ID";
  }
  const ids = certificateIdentities(cert);
  // RFC 6125 §6.5.1: service type and DNS domain compared separately, the domain case-insensitively
  // after conversion to A-labels. No wildcards in SRV-IDs.
  for (const value of ids.srv) {
    if (value.slice(0, S2S_SERVICE.length).toLowerCase() !== S2S_SERVICE) continue;
    if (normaliseDomain(value.slice(S2S_SERVICE.length)) === reference) return "SRV-ID";
  }
  // RFC 6120 §13.7.1.4: an XmppAddr is a JID; for a server it is the bare domain (UTF-8, maybe U-labels).
  for (const value of ids.xmppAddr) {
    if (value.includes("@") || value.includes("/")) continue;
    if (normaliseDomain(value) === reference) return "XmppAddr";
  }
  return undefined;
}

/** Short description of the names a certificate carries, for "does not match" messages. */
export function describeIdentities(cert: X509Certificate): string {
  const ids = certificateIdentities(cert);
  const parts = [...ids.dns.map((d) => `DNS:${d}`), ...ids.srv.map((s) => `SRVName:${s}`), ...ids.xmppAddr.map((x) => `XmppAddr:${x}`)];
  return parts.length > 0 ? parts.join(", ") : "no DNS, SRVName or XmppAddr names";
}

function ipLiteral(domain: string): string | undefined {
  const inner = domain.startsWith("[") && domain.endsWith("]") ? domain.slice(1, -1) : domain;
  return isIP(inner) !== 0 ? inner : undefined;
}
