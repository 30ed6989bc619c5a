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
