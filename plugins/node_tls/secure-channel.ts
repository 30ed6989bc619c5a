import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { SecureChannel } from "../../core/index.js";

/**
 * Where a channel reads its peer's leaf certificate from:
 * - `"connection"` (the server side of a handshake): OpenSSL keeps the certificate the client
 *   presented for the life of the connection anyway; `getPeerX509Certificate()` wraps that same
 *   parsed object (no copy, no new parse: ~1.6 KiB for the wrapper against ~6 KiB for parsing the
 *   DER again, measured for a small EC certificate). On a server socket the call can be repeated
 *   and changes nothing (on a client socket node 20 takes the leaf out of the chain it reads).
 * - a DER copy (the client side, see above): ~1 KiB kept, parsed when read.
 * - undefined: the peer sent no certificate.
 */
export type PeerCertificateSource = "connection" | Buffer | undefined;

/**
 * A finished handshake. The peer's certificate is read only while the link authenticates
 * (checkPeer, SASL EXTERNAL) and when an operator inspects it, so an idle link keeps no parsed
 * copy: the parsed object is held through a WeakRef, every reader during authentication gets the
 * same object, and once the link is idle the garbage collector takes it (a later read builds it
 * again, tens of µs). The verdicts (`chainTrusted`, `chainError`) were computed once, at the
 * handshake (by OpenSSL, or by chain.ts for a server certificate presented as a client certificate).
 */
export class NodeSecureChannel implements SecureChannel {
  readonly #source: PeerCertificateSource;
  #parsed?: WeakRef<X509Certificate>;

  constructor(
    readonly socket: TLSSocket,
    source: PeerCertificateSource,
    /** The same certificate when the handshake already had to parse it. */
    parsed: X509Certificate | undefined,
    readonly chainTrusted: boolean,
    readonly chainError: string | undefined,
    readonly servername: string | undefined,
  ) {
    this.#source = source;
    if (parsed) this.#parsed = new WeakRef(parsed);
  }

  get peerCertificate(): X509Certificate | undefined {
    const source = this.#source;
    if (source === undefined) return undefined;
    let cert = this.#parsed?.deref();
    if (!cert) {
      cert = source === "connection" ? this.socket.getPeerX509Certificate() : parseDer(source);
      // A closed connection has no certificate left to read; an idle link has not closed.
      if (!cert) return undefined;
      this.#parsed = new WeakRef(cert);
    }
    return cert;
  }
}

function parseDer(der: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    // OpenSSL accepted it in the handshake, so this does not happen; if it did, the peer has no
    // certificate we can read, which fails closed (no SASL EXTERNAL, checkPeer untrusted).
    return undefined;
  }
}
