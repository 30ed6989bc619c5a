import type { InjectionToken } from "tsyringe";
import type { Socket, } from "node:net";
import type { TLSSocket } from "node:tls";
import type { X509Certificate } from "node:crypto";
import type { StartTlsMode } from "../config/types.js";

/** A TLS channel once the handshake is done, with what we learned about the peer. */
export interface SecureChannel {
  readonly socket: TLSSocket;
  /** The peer's leaf certificate, read once (node:tls returns it only on the first call). */
  readonly peerCertificate?: X509Certificate;
  /** The peer chain verified against our trust store (system roots + s2s.cacertfile). */
  readonly chainTrusted: boolean;
  readonly chainError?: string;
  /** SNI name the peer asked for (inbound). */
  readonly servername?: string;
}

export interface PeerIdentityCheck {
  readonly trusted: boolean;
  readonly reason?: string;
}

/** The TLS slot: STARTTLS both ways, certificates, SNI, trust and identity (RFC 6120 §5, RFC 6125). */
export interface TlsProvider {
  readonly mode: StartTlsMode;
  /** Whether STARTTLS is advertised on an inbound stream addressed to `localDomain`. */
  offersStartTls(localDomain: string): boolean;
  /** Server side of the handshake (after `<proceed/>`, or at once on a direct-TLS listener). */
  acceptInbound(socket: Socket, hintDomain?: string): Promise<SecureChannel>;
  /** Client side of the handshake; SNI is the remote domain, the certificate the local domain's. */
  connectOutbound(socket: Socket, localDomain: string, remoteDomain: string): Promise<SecureChannel>;
  /** Chain trusted and certificate valid for `domain` by RFC 6125 (DNS-ID, SRV-ID, XmppAddr). */
  checkPeer(channel: SecureChannel, domain: string): PeerIdentityCheck;
  /** Whether we hold a certificate for `localDomain` (SASL EXTERNAL outbound needs one). */
  hasCertificateFor(localDomain: string): boolean;
  /** Re-read certificate files (reload without restart). */
  reload?(): Promise<void>;
}

export const TLS_PROVIDER: InjectionToken<TlsProvider> = Symbol.for("xmpp-s2s.TlsProvider");
