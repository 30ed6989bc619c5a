import type { InjectionToken } from "tsyringe";
import type { XmlElement } from "../xml/element.js";

/**
 * The Local delivery slot (many, ordered by `[plugins] local_delivery`). The router hands a stanza
 * addressed to a local domain to each delivery in order until one takes it; nobody taking it means
 * the router answers with a stanza error (RFC 6120 §10.5; README "Embedding": never dropped).
 */
export interface LocalDelivery {
  readonly name: string;
  /** Extra domains served beyond `general.hosts` (XEP-0114 components). */
  servesDomain?(domain: string): boolean;
  /** Return true when the stanza was taken (delivered or answered). */
  deliver(stanza: XmlElement): boolean;
  /**
   * Flow control for deliveries that forward (echo answers over S2S): right after `deliver`, a
   * promise when the way out is congested; the inbound stream that delivered stops reading until it
   * settles, instead of the delivery's answers overflowing an outbound queue.
   */
  backpressure?(): Promise<void> | undefined;
  /**
   * The congestion of what serves `stanza`'s address (a component that reads slower than it is
   * written to): a promise that settles when it drains. Asked only through Router.congestion, by
   * a deliverer that can hold back upstream without pausing a socket (the cluster's receiver
   * withholds its acknowledgement). An inbound S2S stream does not ask: paused, it would leave
   * what the peer already sent in kernel buffers, lost if the peer then dies
   * (test/faults/peer-killed.test.ts).
   */
  congestion?(stanza: XmlElement): Promise<void> | undefined;
}

export const LOCAL_DELIVERY: InjectionToken<LocalDelivery> = Symbol.for("xmpp-s2s.LocalDelivery");

/** Something with a lifecycle that the server starts after wiring and stops on shutdown (listeners, watchers). */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** `reason` is the stream error condition to send to connected peers (e.g. system-shutdown). */
  stop(reason: string): Promise<void>;
}

export const SERVICE: InjectionToken<Service> = Symbol.for("xmpp-s2s.Service");
