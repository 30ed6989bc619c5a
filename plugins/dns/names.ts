import { isIP } from "node:net";
import { domainToASCII } from "node:url";

/** What a remote domain is, before any DNS query. */
export type DomainKind =
  /** An IP literal (RFC 7622 §3.2 allows them as domainparts; IPv6 in brackets). */
  | { readonly kind: "ip"; readonly address: string; readonly family: 4 | 6 }
  /** A DNS name in its ASCII (A-label) form, lower case, without a trailing dot. */
  | { readonly kind: "name"; readonly ascii: string }
  /** Not representable in DNS (IDNA conversion failed, empty label...): no such name. */
  | { readonly kind: "invalid" };

/**
 * Stanzas may carry internationalised domains (RFC 7622 §3.2 uses U-labels); DNS only knows
 * A-labels, so `bücher.example` is asked as `xn--bcher-kva.example` (UTS #46 via url.domainToASCII).
 */
export function classifyDomain(domain: string): DomainKind {
  let d = domain.trim().toLowerCase();
  if (d.endsWith(".")) d = d.slice(0, -1);
  const unbracketed = d.startsWith("[") && d.endsWith("]") ? d.slice(1, -1) : d;
  const family = isIP(unbracketed);
  if (family === 4 || family === 6) return { kind: "ip", address: unbracketed, family };
  if (d === "" || d.startsWith("[")) return { kind: "invalid" };
  const ascii = domainToASCII(d);
  // domainToASCII returns "" for names UTS #46 refuses; a 253-octet limit holds for DNS names.
  if (!ascii || ascii.length > 253 || ascii.split(".").some((label) => label === "" || label.length > 63)) return { kind: "invalid" };
  return { kind: "name", ascii };
}
