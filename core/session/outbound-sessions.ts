import type { InjectionToken } from "tsyringe";
import type { XmlElement } from "../xml/element.js";
import type { OutboundStreamApi } from "../stream/streams.js";

/** One outbound session per (local domain, remote domain) pair (RFC 6120 §4.2 streams are one-way). */
export interface OutboundSessions {
  /**
   * Queue `stanza` on the (local, remote) session, creating and connecting it when needed.
   * Returns a promise when the session's stream is congested: the caller should stop reading its
   * source until it settles (flow control), or undefined.
   */
  send(localDomain: string, remoteDomain: string, stanza: XmlElement): Promise<void> | undefined;
  /**
   * An outbound stream to `remoteDomain` past TLS negotiation, authenticated or not: dialback
   * verification (XEP-0220 §2.3) rides on it. Reuses the pair's stream when there is one.
   */
  openStream(localDomain: string, remoteDomain: string): Promise<OutboundStreamApi>;
  /** An inbound stream just authenticated `remoteDomain` for `localDomain`: stop waiting to retry. */
  inboundAuthenticated(localDomain: string, remoteDomain: string): void;
  /** Close every session whose remote the predicate rejects (policy reload). */
  closeWhere(predicate: (localDomain: string, remoteDomain: string) => Promise<boolean> | boolean, condition: string): Promise<void>;
  /** Close all streams with `condition` and bounce what is queued. */
  stop(condition: string): Promise<void>;
}

export const OUTBOUND_SESSIONS: InjectionToken<OutboundSessions> = Symbol.for("xmpp-s2s.OutboundSessions");
