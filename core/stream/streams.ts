import type { XmlElement } from "../xml/element.js";
import type { SecureChannel } from "../tls/tls.js";

/** What authenticators and other plugins may do with a live S2S stream. */
export interface S2sStreamApi {
  /** Inbound: the id we issued. Outbound: the id the remote issued (XEP-0220 binds keys to it). */
  readonly id: string;
  readonly direction: "inbound" | "outbound";
  /** The TLS channel once TLS is up. */
  readonly tls?: SecureChannel;
  send(element: XmlElement): void;
  /** Close with a stream error (RFC 6120 §4.9): the error, `</stream:stream>`, then the socket. */
  fail(condition: string, text?: string): void;
}

export interface InboundStreamApi extends S2sStreamApi {
  readonly direction: "inbound";
  /** `to` of the current stream header (a local domain, checked). */
  readonly localDomain: string;
  /** `from` of the current stream header, when the peer sent one. */
  readonly headerFrom?: string;
  /**
   * Run the policy chain for (remote -> local). Every authentication path calls this before it
   * accepts a domain (issue 6: MongooseIM lets SASL EXTERNAL bypass policy). On deny the stream
   * is closed with `invalid-from` (MongooseIM's choice for a denied dialback) and false returned.
   */
  authorize(remoteDomain: string, localDomain: string, method: string): Promise<boolean>;
  /** The pair is proven (and authorized): accept its stanzas from now on. */
  markAuthenticated(remoteDomain: string, localDomain: string, method: string): void;
  isAuthenticated(remoteDomain: string, localDomain: string): boolean;
  /** Whether `domain` is served here (a host in `general.hosts` or a connected component). */
  isLocalDomain(domain: string): boolean;
  /** After SASL success the peer opens a new stream on the same transport (RFC 6120 §6.4.6). */
  expectRestart(): void;
}

export interface OutboundStreamApi extends S2sStreamApi {
  readonly direction: "outbound";
  readonly localDomain: string;
  readonly remoteDomain: string;
  /**
   * Resolves with the next top-level element for which `match` is true (it is then consumed), or
   * rejects after `timeoutMs` or when the stream closes.
   */
  next(match: (element: XmlElement) => boolean, timeoutMs: number): Promise<XmlElement>;
  /** Send a new stream header on the same transport and resolve with the new `<stream:features/>`. */
  restart(): Promise<XmlElement>;
  /** Resolves when the stream is gone (closed by either side or broken). */
  whenClosed(): Promise<void>;
}
