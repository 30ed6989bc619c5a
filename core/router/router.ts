import type { InjectionToken } from "tsyringe";
import type { XmlElement } from "../xml/element.js";

/** Stanza error types of RFC 6120 §8.3.2. */
export type StanzaErrorType = "cancel" | "wait" | "modify" | "auth" | "continue";

/** The core router: local vs remote (docs/architecture.md), local delivery chain, bounces. */
export interface Router {
  /**
   * A stanza from a local origin (component, API, echo, host services): deliver locally or federate.
   * Returns a promise when the way out is congested: a caller reading from a socket pauses until it
   * settles (flow control); undefined otherwise.
   */
  route(stanza: XmlElement): Promise<void> | undefined;
  /**
   * A stanza that arrived over S2S, already checked (from authenticated, to local): deliver locally.
   * Returns a promise when the delivery that took it is congested (LocalDelivery.backpressure).
   */
  deliverLocal(stanza: XmlElement): Promise<void> | undefined;
  /**
   * Right after deliverLocal: whether what serves `stanza`'s address here is congested
   * (LocalDelivery.congestion), for a deliverer that can hold back without stalling a peer's
   * stream (the cluster's receiver withholds its acknowledgement, docs/cluster.md).
   */
  congestion?(stanza: XmlElement): Promise<void> | undefined;
  /** Answer `stanza` to its sender with a stanza error (never for errors and IQ results, RFC 6120 §10.4.3). */
  bounce(stanza: XmlElement, condition: string, type: StanzaErrorType, text?: string): void;
  /** A host in `general.hosts` or a domain a local delivery serves (a connected component). */
  isLocalDomain(domain: string): boolean;
}

export const ROUTER: InjectionToken<Router> = Symbol.for("xmpp-s2s.Router");
