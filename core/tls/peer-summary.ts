import type { SecureChannel, TlsProvider } from "./tls.js";

/** What an operator wants to know about a TLS peer, as plain data (events$, admin API, probe). */
export interface PeerSummary {
  readonly version: string | null;
  readonly cipher: string | null;
  readonly subject: string | null;
  readonly issuer: string | null;
  readonly validFrom: string | null;
  readonly validTo: string | null;
  /** RFC 6125 identities as the certificate carries them (DNS-ID, SRV-ID as SRVName, XmppAddr). */
  readonly identities: string | null;
  readonly chainTrusted: boolean;
  readonly chainError: string | null;
  /** Chain trusted and certificate valid for the remote domain, as `required_trusted` judges it. */
  readonly verified: boolean;
  /** Why not verified (null when verified). */
  readonly reason: string | null;
}

const oneLine = (dn: string | undefined): string | null => (dn === undefined ? null : dn.replace(/\n/g, ", "));

/** Reads the channel once: a few property reads and the TLS provider's own identity check. */
export function peerSummary(tls: TlsProvider, channel: SecureChannel, remote: string): PeerSummary {
  const cert = channel.peerCertificate;
  const check = remote ? tls.checkPeer(channel, remote) : { trusted: false, reason: "remote domain not known yet" };
  return {
    version: channel.socket.getProtocol() ?? null,
    cipher: channel.socket.getCipher()?.name ?? null,
    subject: oneLine(cert?.subject),
    issuer: oneLine(cert?.issuer),
    validFrom: cert?.validFrom ?? null,
    validTo: cert?.validTo ?? null,
    identities: cert?.subjectAltName ?? null,
    chainTrusted: channel.chainTrusted,
    chainError: channel.chainError ?? null,
    verified: check.trusted,
    reason: check.trusted ? null : check.reason ?? (cert ? "not trusted" : "no certificate presented"),
  };
}
