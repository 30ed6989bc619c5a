import type { DependencyContainer } from "tsyringe";
import type { S2sConfig } from "../config/types.js";
import { LOCAL_DELIVERY } from "../delivery/local-delivery.js";
import { EVENTS } from "../events/events.js";
import { LOGGER } from "../logging/logger.js";
import { ROUTER } from "../router/router.js";
import { OUTBOUND_SESSIONS } from "../session/outbound-sessions.js";
import { STREAM_PARSER_FACTORY } from "../stream/parser.js";
import { CLUSTER, DIALBACK_VERIFIER, type EmbedderSubscribers } from "./cluster.js";

/** A started cluster backend, stopped last (after outbound sessions bounced their queues through it). */
export interface ClusterHandle {
  stop(): Promise<void>;
}

/**
 * Cluster mode seam of `server.start()` (docs/cluster.md): with `[cluster]`, connect to the backend
 * (failing start when Redis is unreachable or the node name is taken, before any listener opens)
 * and register it as CLUSTER and as the last local delivery (domains served on other nodes).
 * `embedder`: the embedding API's `stanzas$` subscribers, published as routes for `general.hosts`.
 * Without `[cluster]` nothing is imported: a single node never loads the Redis client.
 */
export async function startCluster(container: DependencyContainer, config: S2sConfig, embedder?: EmbedderSubscribers): Promise<ClusterHandle | undefined> {
  if (!config.cluster) return undefined;
  const { RedisCluster } = await import("../../plugins/cluster-redis/redis-cluster.js");
  const cluster = new RedisCluster({
    config: config.cluster,
    hosts: config.general.hosts,
    embedder,
    logger: container.resolve(LOGGER),
    events: container.resolve(EVENTS),
    router: () => container.resolve(ROUTER),
    outbound: () => container.resolve(OUTBOUND_SESSIONS),
    parsers: () => container.resolve(STREAM_PARSER_FACTORY),
    verifier: () => (container.isRegistered(DIALBACK_VERIFIER, true) ? container.resolve(DIALBACK_VERIFIER) : undefined),
  });
  await cluster.start();
  container.register(CLUSTER, { useValue: cluster });
  container.register(LOCAL_DELIVERY, { useValue: cluster });
  return cluster;
}
