import type { DependencyContainer, InjectionToken } from "tsyringe";
import { container as rootContainer, Lifecycle } from "../cjs/tsyringe.js";
import { AUTHENTICATOR, type Authenticator } from "../auth/authenticator.js";
import { CLOCK, type Clock } from "../clock/clock.js";
import { CLUSTER, type EmbedderSubscribers } from "../cluster/cluster.js";
import { startCluster, type ClusterHandle } from "../cluster/wire.js";
import type { S2sConfig } from "../config/types.js";
import { LOCAL_DELIVERY, SERVICE, type LocalDelivery, type Service } from "../delivery/local-delivery.js";
import { EVENTS, type EventBus } from "../events/events.js";
import { LOGGER, type Logger } from "../logging/logger.js";
import { TrafficCounters } from "../metrics/traffic.js";
import { loadPlugins, type LoadedPlugins } from "../plugins/loader.js";
import { POLICY_CHAIN } from "../policy/chain.js";
import { OrderedPolicyChain } from "../policy/policy-chain.js";
import { POLICY, type Policy } from "../policy/policy.js";
import { CoreRouter } from "../router/core-router.js";
import { ROUTER } from "../router/router.js";
import { OutboundSessionManager } from "../session/outbound-session-manager.js";
import { OUTBOUND_SESSIONS } from "../session/outbound-sessions.js";
import { defaultSessionSettings, SESSION_SETTINGS } from "../session/session-settings.js";
import { CONFIG, TOKEN_CATALOG, TRAFFIC } from "../tokens.js";
import { ConfigError } from "../errors.js";
import type { XmlElement } from "../xml/element.js";
import { TLS_PROVIDER, type TlsProvider } from "../tls/tls.js";
import { S2sListeners } from "./s2s-listeners.js";

/** What every composition starts from: the config and the per-server values the core provides. */
export interface CompositionBase {
  readonly config: S2sConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly events: EventBus;
  /** Registrations this server inherits (the embedder's container); default tsyringe's root. */
  readonly parent?: DependencyContainer;
  /** Compose into this (empty) child of `parent` instead of a new one (createServer exposes it before start). */
  readonly into?: DependencyContainer;
}

/**
 * How far to go. `plugins`: the core values and every plugin loaded and checked (reload's scratch
 * copy). `core`: plus the core built and wired, nothing started, nothing connected (check-config).
 * `server`: plus the cluster backend connected when `[cluster]` is set (start).
 */
export type CompositionDepth = "plugins" | "core" | "server";

export interface PluginComposition {
  readonly container: DependencyContainer;
  readonly plugins: LoadedPlugins;
  /** `[plugins] policy`, in order. */
  readonly policies: readonly Policy[];
}

export interface CoreComposition extends PluginComposition {
  readonly traffic: TrafficCounters;
  readonly tls: TlsProvider;
  readonly policyChain: OrderedPolicyChain;
  readonly router: CoreRouter;
  readonly outbound: OutboundSessionManager;
  readonly listeners: S2sListeners;
  /** Every SERVICE, in registration order: started before the listeners, stopped after them. */
  readonly services: readonly Service[];
  readonly cluster?: ClusterHandle;
}

export interface CompositionOptions {
  /** Embedding API tap (`stanzas$`): offered what no local delivery took. */
  readonly unserved?: (stanza: XmlElement) => boolean;
  /** The same tap's subscribers: in cluster mode they are published as routes (docs/cluster.md). */
  readonly embedder?: EmbedderSubscribers;
}

/**
 * The one place a server is put together (docs/architecture.md), used by `start`, `reload`, `check-config`,
 * the embedding API and the tests, so all of them build the same thing. In order:
 *
 * 1. a child container of `parent` with the core values: CONFIG, LOGGER, CLOCK, EVENTS, TRAFFIC;
 * 2. the plugins (loader.ts): each `[plugins]` entry checked and registered, each one able to
 *    resolve only core tokens and what its `requires` lists;
 * 3. the core classes registered (policy chain, router, outbound sessions, S2S listeners), then
 *    every plugin slot resolved, so that a plugin's own problem surfaces as its ConfigError;
 * 4. the two cycles of the core closed by two-phase wiring, here and nowhere else (see below);
 * 5. (`server`) the cluster backend, when `[cluster]` is set, joins the router.
 *
 * Nothing is started: the caller starts services, listeners and operations.
 */
export async function compose(base: CompositionBase, depth: "plugins"): Promise<PluginComposition>;
export async function compose(base: CompositionBase, depth: "core" | "server", options?: CompositionOptions): Promise<CoreComposition>;
export async function compose(base: CompositionBase, depth: CompositionDepth, options: CompositionOptions = {}): Promise<PluginComposition | CoreComposition> {
  const { config, logger } = base;
  const container = base.into ?? (base.parent ?? rootContainer).createChildContainer();
  const traffic = new TrafficCounters();
  container.register(CONFIG, { useValue: config });
  container.register(LOGGER, { useValue: logger });
  container.register(CLOCK, { useValue: base.clock });
  container.register(EVENTS, { useValue: base.events });
  container.register(TRAFFIC, { useValue: traffic });

  const plugins = await loadPlugins(container, config, logger);
  // Tokens the core fills with its default when no plugin provides them (tokens.ts `defaulted`).
  if (!container.isRegistered(SESSION_SETTINGS, true)) container.register(SESSION_SETTINGS, { useValue: defaultSessionSettings(config) });
  // XEP-0198 settings are one set per server: a second provider would be silently ignored.
  if (plugins.slots.sm.length > 1) throw new ConfigError([`plugins.sm: more than one provider (got ${JSON.stringify(plugins.slots.sm)}, expected at most one plugin)`]);
  if (depth === "plugins") return { container, plugins, policies: all(container, POLICY) };

  const scoped = { lifecycle: Lifecycle.ContainerScoped } as const;
  container.register(OrderedPolicyChain, { useClass: OrderedPolicyChain }, scoped);
  container.register(POLICY_CHAIN, { useToken: OrderedPolicyChain });
  container.register(CoreRouter, { useClass: CoreRouter }, scoped);
  container.register(ROUTER, { useToken: CoreRouter });
  container.register(OutboundSessionManager, { useClass: OutboundSessionManager }, scoped);
  container.register(OUTBOUND_SESSIONS, { useToken: OutboundSessionManager });
  container.register(S2sListeners, { useClass: S2sListeners }, scoped);

  // Plugin slots first, in catalog order: a plugin that fails while being built (e.g. resolving a
  // token its `requires` lacks) throws its own ConfigError here, not wrapped by tsyringe in the
  // constructor error of a core class that happened to need it.
  for (const info of TOKEN_CATALOG) {
    if (info.core) continue;
    if (!container.isRegistered(info.token, true)) continue;
    if (info.cardinality === "one") container.resolve(info.token);
    else container.resolveAll(info.token);
  }

  const policyChain = container.resolve(OrderedPolicyChain);
  // Cycle 1: the router sends over outbound sessions and delivers to local deliveries (echo,
  // components), which send (and bounce) through the router. The router's constructor takes
  // neither; it is built first, they receive it, and it is wired to them here.
  const router = container.resolve(CoreRouter);
  const outbound = container.resolve(OutboundSessionManager);
  // Cycle 2: outbound streams authenticate with the authenticators, and dialback's authenticator
  // verifies keys over outbound sessions (XEP-0220 §2.3). The sessions are built first, the
  // authenticators receive them, and the sessions get the authenticators here.
  const authenticators: readonly Authenticator[] = all(container, AUTHENTICATOR);
  outbound.authenticateWith(authenticators);
  const deliveries = (): readonly LocalDelivery[] => all(container, LOCAL_DELIVERY);
  router.wire({ deliveries: deliveries(), outbound, unserved: options.unserved });

  let cluster: ClusterHandle | undefined;
  if (depth === "server") {
    // Wired before it starts: a node may receive forwarded stanzas while it connects. It then
    // joins as the cluster seam and the last local delivery (domains served on other nodes).
    cluster = await startCluster(container, config, options.embedder);
    if (cluster) router.wire({ deliveries: deliveries(), outbound, cluster: container.resolve(CLUSTER), unserved: options.unserved });
  }

  return {
    container,
    plugins,
    policies: all(container, POLICY),
    traffic,
    tls: container.resolve(TLS_PROVIDER),
    policyChain,
    router,
    outbound,
    listeners: container.resolve(S2sListeners),
    services: all(container, SERVICE),
    cluster,
  };
}

/** Every provider of a many-token, in registration order; none registered is an empty list. */
function all<T>(container: DependencyContainer, token: InjectionToken<T>): T[] {
  return container.isRegistered(token, true) ? container.resolveAll(token) : [];
}
