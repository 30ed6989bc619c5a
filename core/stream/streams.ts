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

/** What an authenticator claims: `remote` is proven for `local` on this stream, by `method`. */
export interface AuthClaim {
  readonly remote: string;
  readonly local: string;
  /** Shown in logs, events and the admin API (`dialback`, `sasl_external`). */
  readonly method: string;
}

/**
 * `authenticated`: the pair is marked. `refused`: the engine refused the claim (policy, limits,
 * required_trusted) or the stream closed meanwhile; the stream is closing, nothing more to send.
 * `unproven`: `prove` said no (or threw); the authenticator answers the peer as its protocol says.
 */
export type InboundAuthOutcome = "authenticated" | "refused" | "unproven";

export interface InboundStreamApi extends S2sStreamApi {
  readonly direction: "inbound";
  /** `to` of the current stream header (a local domain, checked). */
  readonly localDomain: string;
  /** `from` of the current stream header, when the peer sent one. */
  readonly headerFrom?: string;
  /**
   * The only way to authenticate a (remote, local) pair on an inbound stream. The stream engine
   * decides first, whatever the method: the per-stream domain limit, `required_trusted`
   * (certificate valid for `remote`, RFC 6125) and the policy chain (an authenticator
   * cannot skip `host_policy`, the defect MongooseIM's SASL EXTERNAL has). A refusal closes the
   * stream (`invalid-from` for a policy denial, MongooseIM's choice for a denied dialback) and
   * `prove` never runs; a policy that throws denies. Then `prove` gives the authenticator's own
   * verdict (asking the authoritative server, checking a certificate): only `true` marks the pair
   * authenticated, so its stanzas are accepted from then on.
   */
  authenticate(claim: AuthClaim, prove: () => boolean | Promise<boolean>): Promise<InboundAuthOutcome>;
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
