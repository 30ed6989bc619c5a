import type { InjectionToken } from "tsyringe";
import type { XmlElement } from "../xml/element.js";
import type { OutboundStreamApi } from "../stream/streams.js";
import type { SecureChannel } from "../tls/tls.js";
import type { BidiCarrier, BidiLinks } from "./bidi-links.js";

/** A read-only view of one outbound pair, for the admin API and metrics (docs/operations.md). */
export interface OutboundPairView {
  readonly local: string;
  readonly remote: string;
  readonly state: "idle" | "connecting" | "established" | "closing";
  readonly queued: number;
  readonly method?: string;
  readonly establishedAt?: number;
  readonly stanzasOut: number;
  readonly tls?: SecureChannel;
  /** Waiting to retry after failed attempts (doubling backoff), and when the next attempt is due. */
  readonly backoff: { readonly waiting: boolean; readonly attempt: number; readonly retryAt?: number };
}

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
  /**
   * Resolve `remoteDomain`'s connect targets now, into the resolver's cache, when a connection to
   * it is likely soon (dialback: a peer claiming that domain will ask us to verify it, and the
   * verification connects back) and no session to it exists. Contacts no one (DNS only); the
   * connection itself still waits for the policy. Optional: stand-ins may omit it.
   */
  prepare?(localDomain: string, remoteDomain: string): void;
  /**
   * An inbound stream just authenticated `remoteDomain` for `localDomain`: stop waiting to retry.
   * `stream` is that inbound stream: with XEP-0288, our stanzas for the pair may ride on it.
   */
  inboundAuthenticated(localDomain: string, remoteDomain: string, stream?: BidiCarrier): void;
  /** XEP-0288 bidirectional streams (core/session/bidi-links.ts); absent in stand-ins without it. */
  readonly bidi?: Pick<BidiLinks, "feature" | "handleInbound" | "inboundClosed" | "withdraw">;
  /** Close every session whose remote the predicate rejects (policy reload, admin `close`). */
  closeWhere(predicate: (localDomain: string, remoteDomain: string) => Promise<boolean> | boolean, condition: string, text?: string): Promise<void>;
  /** Every pair, as a snapshot (admin `sessions`, metrics gauges). */
  list(): OutboundPairView[];
  /**
   * Admin `retry`: forget the backoff of every pair with `remoteDomain` and connect now; when
   * there is none, a pair from `localDomain` is created. Returns the pairs' local domains.
   */
  retryNow(remoteDomain: string, localDomain: string): string[];
  /** Close all streams with `condition` and bounce what is queued. */
  stop(condition: string): Promise<void>;
}

export const OUTBOUND_SESSIONS: InjectionToken<OutboundSessions> = Symbol.for("xmpp-s2s.OutboundSessions");
