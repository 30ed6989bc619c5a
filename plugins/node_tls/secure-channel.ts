import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { SecureChannel } from "../../core/index.js";

/**
 * A finished handshake, holding the peer's leaf certificate as DER (~1 KiB) rather than parsed:
 * a parsed X509Certificate costs ~7 KiB of native memory (measured for a small EC certificate;
 * more for RSA keys and long SAN lists), and an idle link reads its certificate only while it
 * authenticates (checkPeer, SASL EXTERNAL) and when an operator inspects it. The parsed object is
 * kept through a WeakRef: every reader during authentication gets the same object, and once the
 * link is idle the garbage collector takes it; a later read parses the DER again (tens of µs).
 * The verdicts (`chainTrusted`, `chainError`) were computed once, at the handshake (by OpenSSL, or
 * by chain.ts for a server certificate presented as a client certificate).
 */
export class NodeSecureChannel implements SecureChannel {
  readonly #der?: Buffer;
  #parsed?: WeakRef<X509Certificate>;

  constructor(
    readonly socket: TLSSocket,
    /** The peer's leaf certificate as node:tls returned it (`raw`), or undefined when it sent none. */
    der: Buffer | undefined,
    /** The same certificate when the handshake already had to parse it. */
    parsed: X509Certificate | undefined,
    readonly chainTrusted: boolean,
    readonly chainError: string | undefined,
    readonly servername: string | undefined,
  ) {
    this.#der = der;
    if (parsed) this.#parsed = new WeakRef(parsed);
  }

  get peerCertificate(): X509Certificate | undefined {
    if (!this.#der) return undefined;
    let cert = this.#parsed?.deref();
    if (!cert) {
      try {
        cert = new X509Certificate(this.#der);
      } catch {
        // OpenSSL accepted it in the handshake, so this does not happen; if it did, the peer has no
        // certificate we can read, which fails closed (no SASL EXTERNAL, checkPeer untrusted).
        return undefined;
      }
      this.#parsed = new WeakRef(cert);
    }
    return cert;
  }
}
