import type { InjectionToken } from "tsyringe";
import type { S2sConfig } from "../config/types.js";
import type { XmlElement } from "../xml/element.js";
import type { InboundStreamApi, OutboundStreamApi } from "../stream/streams.js";

export type OutboundAuthResult =
  /** The pair is authenticated on this stream. */
  | { readonly outcome: "authenticated" }
  /** The method is not offered or not usable here: try the next authenticator. */
  | { readonly outcome: "unavailable"; readonly reason: string }
  /** The method was tried and failed. `fatal` means the stream is unusable (no fallback on it). */
  | { readonly outcome: "failed"; readonly reason: string; readonly fatal: boolean; readonly condition?: string };

/**
 * The Authenticators slot (many, ordered by `[plugins] authenticators`). The stream engine never
 * hard-codes a method: inbound it collects features and offers each top-level element to every
 * authenticator; outbound it asks them in order until one authenticates the pair.
 */
export interface Authenticator {
  readonly name: string;
  /**
   * This method authenticates inbound peers with their TLS client certificate (SASL EXTERNAL).
   * The TLS slot asks peers for a certificate only when an enabled authenticator says so (or
   * use_starttls = "required_trusted"): asking costs memory on every link.
   */
  readonly usesPeerCertificate?: boolean;
  /** Stream features to advertise inbound (called after TLS negotiation state is known). */
  inboundFeatures(stream: InboundStreamApi): XmlElement[];
  /**
   * Optional: an inbound stream just answered a header with this authenticator's features (its
   * `headerFrom` is the domain the peer claims, not yet authenticated). For preparation that
   * contacts no one: dialback resolves that domain ahead of its `db:result`.
   */
  inboundStreamOpened?(stream: InboundStreamApi): void;
  /** Offer an inbound top-level element; return true when it was consumed. */
  handleInbound(stream: InboundStreamApi, element: XmlElement): boolean;
  /** Try to authenticate (local -> remote) on an outbound stream, given the peer's features. */
  authenticateOutbound(stream: OutboundStreamApi, features: XmlElement): Promise<OutboundAuthResult>;
  /** Offer an outbound element that nobody waits for (e.g. db:verify answers); true when consumed. */
  handleOutbound?(stream: OutboundStreamApi, element: XmlElement): boolean;
  /**
   * Optional: apply a reloaded config in place (dialback: new `s2s.shared` secrets), without
   * touching authenticated streams. Returns the `[s2s]` keys (TOML names, e.g. `shared`) it applied,
   * which the reload then does not report as needing a restart.
   */
  reload?(next: S2sConfig): readonly string[];
}

export const AUTHENTICATOR: InjectionToken<Authenticator> = Symbol.for("xmpp-s2s.Authenticator");
