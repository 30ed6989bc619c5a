import type { Observable } from "rxjs";
import type { InjectionToken } from "tsyringe";
import type { XmlElement } from "../xml/element.js";

/**
 * Cluster mode (docs/cluster.md): the seam between the core and a cluster backend.
 * Registered only when `[cluster]` is set; a single node has no provider and pays nothing.
 *
 * Routes to addresses served on other nodes enter through the local delivery chain (the backend
 * is also a LocalDelivery that serves those domains); outbound pairs enter through
 * `sendOutbound`, which the router calls instead of OutboundSessions.send.
 */
export interface Cluster {
  /** This node's name. */
  readonly node: string;
  /**
   * Send `stanza` on the (local, remote) pair: over this node's outbound session when this node
   * owns the pair (no Redis round trip once the lease is held), else forwarded to the owner.
   * Same contract as OutboundSessions.send (a promise means "congested, pause the producer").
   */
  sendOutbound(local: string, remote: string, stanza: XmlElement): Promise<void> | undefined;
  /** Which node serves or owns what, for the admin view. */
  snapshot(): ClusterSnapshot;
  /**
   * Optional: XEP-0220 §2.1.2 / §2.3 verification under pair ownership (docs/cluster.md#dialback).
   * A receiving node that does not own (request.local, request.remote) has the owner send the
   * db:verify on the pair's one outbound stream and resolves with its verdict. Resolves undefined:
   * verify here (this node owns the pair, has just taken its lease, or the backend is unreachable:
   * availability first). `deadlineMs`: the dialback timeout, after which the answer is
   * remote-server-timeout (§2.4). A backend without it: every node verifies for itself.
   */
  verifyDialback?(request: DialbackVerifyRequest, deadlineMs: number): Promise<DialbackVerdict | undefined>;
}

/** One db:verify (XEP-0220 §2.1.2): `local` asks the authoritative server `remote` about `key`, generated for stream `id`. */
export interface DialbackVerifyRequest {
  readonly local: string;
  readonly remote: string;
  readonly id: string;
  readonly key: string;
}

/** The authoritative server's answer, or the dialback error (§2.4 condition) the receiving side reports. */
export type DialbackVerdict = "valid" | "invalid" | { readonly error: string };

/**
 * The owner's side of Cluster.verifyDialback: send one db:verify on this node's own outbound
 * stream for the pair (opening it if needed) and wait for the answer. Provided by the dialback
 * plugin; the cluster backend runs it for the requests other nodes send to this one.
 */
export interface DialbackVerifier {
  verifyHere(request: DialbackVerifyRequest): Promise<DialbackVerdict>;
}

export interface ClusterSnapshot {
  readonly node: string;
  readonly nodes: readonly string[];
  /** Domains served by another node: domain -> node. */
  readonly routes: Readonly<Record<string, string>>;
  /** Hosts whose unserved addresses an embedding-API subscriber takes on other nodes: domain -> nodes. */
  readonly embedders: Readonly<Record<string, readonly string[]>>;
  /** Domains this node publishes: its components, and `general.hosts` while an embedder subscribes. */
  readonly served: Readonly<Record<string, "component" | "embedder">>;
  /** Pairs "local|remote" this node owns. */
  readonly ownedPairs: readonly string[];
  /** Every pair "local|remote" this node has met: its owner when known (this node or another), stanzas held for it. */
  readonly pairs: Readonly<Record<string, { readonly owner: string | null; readonly held: number }>>;
  /** The backend (Redis) is reachable now. */
  readonly connected: boolean;
  /**
   * Stanzas forwarded to other nodes (Redis confirmed a listener) and received from them. Summed
   * over the cluster, forwarded - received counts what a crash of Redis or of a receiving node
   * lost in memory between the two (pub/sub is at most once).
   */
  readonly forwarded: number;
  readonly received: number;
}

/**
 * The embedding API's `stanzas$` (architecture.md §5): while it has subscribers, this node serves
 * the addresses of `general.hosts` that no delivery plugin takes, and publishes that as a route.
 */
export interface EmbedderSubscribers {
  readonly subscribers: number;
  /** The count now and at each change. */
  readonly subscribers$: Observable<number>;
}

export const CLUSTER: InjectionToken<Cluster> = Symbol.for("xmpp-s2s.Cluster");
export const DIALBACK_VERIFIER: InjectionToken<DialbackVerifier> = Symbol.for("xmpp-s2s.DialbackVerifier");
