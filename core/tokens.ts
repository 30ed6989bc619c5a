/**
 * The catalog of extension points: every DI token of the framework, with what it is and whether
 * a server takes one provider or many. Start here to learn what a plugin can provide or use.
 */
import type { InjectionToken } from "tsyringe";
import { RESOLVER } from "./resolver/resolver.js";
import { CONNECTOR } from "./connector/connector.js";
import { TLS_PROVIDER } from "./tls/tls.js";
import { POLICY } from "./policy/policy.js";
import { STREAM_PARSER_FACTORY } from "./stream/parser.js";
import { AUTHENTICATOR } from "./auth/authenticator.js";
import { LOCAL_DELIVERY, SERVICE } from "./delivery/local-delivery.js";
import { LOGGER } from "./logging/logger.js";
import { CLOCK } from "./clock/clock.js";
import { EVENTS } from "./events/events.js";
import { ROUTER } from "./router/router.js";
import { POLICY_CHAIN } from "./policy/chain.js";
import { OUTBOUND_SESSIONS } from "./session/outbound-sessions.js";
import { CLUSTER, DIALBACK_VERIFIER } from "./cluster/cluster.js";
import { SESSION_SETTINGS } from "./session/session-settings.js";
import { STREAM_MANAGEMENT } from "./sm/stream-management.js";
import type { S2sConfig } from "./config/types.js";
import type { TrafficCounters } from "./metrics/traffic.js";

export { CLUSTER, DIALBACK_VERIFIER, SESSION_SETTINGS, STREAM_MANAGEMENT, ROUTER, POLICY_CHAIN, OUTBOUND_SESSIONS, RESOLVER, CONNECTOR, TLS_PROVIDER, POLICY, STREAM_PARSER_FACTORY, AUTHENTICATOR, LOCAL_DELIVERY, SERVICE, LOGGER, CLOCK, EVENTS };

/** The validated, frozen configuration of this server instance. */
export const CONFIG: InjectionToken<S2sConfig> = Symbol.for("xmpp-s2s.Config");

/** This server's stanza counters (Prometheus metrics and admin `status`, docs/operations.md): plain increments on the hot path. */
export const TRAFFIC: InjectionToken<TrafficCounters> = Symbol.for("xmpp-s2s.Traffic");

/** Slot names as written in `[plugins]`. */
export type SlotName = "resolver" | "connector" | "tls" | "stream" | "policy" | "authenticators" | "local_delivery" | "sm";

export interface TokenInfo {
  readonly token: InjectionToken<unknown>;
  /** The `[plugins]` key that chooses providers, for slots filled by plugins. */
  readonly slot?: SlotName;
  readonly cardinality: "one" | "many";
  /** Filled by the core itself (plugins may use it but not provide it). */
  readonly core: boolean;
  /** A plugin may provide it; when none does, the core registers its default (so it is always there). */
  readonly defaulted?: boolean;
  readonly doc: string;
}

export const TOKEN_CATALOG: readonly TokenInfo[] = [
  { token: RESOLVER, slot: "resolver", cardinality: "one", core: false, doc: "remote domain -> ordered connect targets (RFC 6120 §3.2, XEP-0368)" },
  { token: CONNECTOR, slot: "connector", cardinality: "one", core: false, doc: "connect targets -> socket, one attempt after another, each with a timeout" },
  { token: TLS_PROVIDER, slot: "tls", cardinality: "one", core: false, doc: "STARTTLS / direct TLS both ways, certificates, SNI, peer verification" },
  { token: POLICY, slot: "policy", cardinality: "many", core: false, doc: "may this remote domain talk to this local domain? first verdict wins" },
  { token: STREAM_PARSER_FACTORY, slot: "stream", cardinality: "one", core: false, doc: "restricted-XML stream parser with size and depth limits" },
  { token: AUTHENTICATOR, slot: "authenticators", cardinality: "many", core: false, doc: "stream authentication methods (SASL EXTERNAL, dialback), tried in order" },
  { token: LOCAL_DELIVERY, slot: "local_delivery", cardinality: "many", core: false, doc: "where stanzas for local domains go (echo, components, host services, API)" },
  { token: STREAM_MANAGEMENT, slot: "sm", cardinality: "many", core: false, doc: "XEP-0198 acks and resumption settings (at most one provider); none: SM neither offered nor enabled" },
  { token: SESSION_SETTINGS, cardinality: "one", core: false, defaulted: true, doc: "outbound session queue, idle, negotiation and retry settings: from the connector plugin's table, else the core's defaults" },
  { token: DIALBACK_VERIFIER, cardinality: "one", core: false, doc: "sends one db:verify on this node's own outbound stream (dialback provides it): what a cluster node runs when another asks it as the pair's owner" },
  { token: SERVICE, cardinality: "many", core: false, doc: "things with a start/stop lifecycle (listeners of plugins, file watchers)" },
  { token: LOGGER, cardinality: "one", core: true, doc: "pino logger of this server instance" },
  { token: CLOCK, cardinality: "one", core: true, doc: "time source and RxJS scheduler (virtual in tests)" },
  { token: EVENTS, cardinality: "one", core: true, doc: "the events$ bus of this server instance" },
  { token: CONFIG, cardinality: "one", core: true, doc: "the validated, frozen configuration" },
  { token: ROUTER, cardinality: "one", core: true, doc: "routes stanzas: local delivery chain or federation; bounces" },
  { token: POLICY_CHAIN, cardinality: "one", core: true, doc: "runs the policy plugins, then s2s.default_policy; fail closed" },
  { token: OUTBOUND_SESSIONS, cardinality: "one", core: true, doc: "one outbound session per (local, remote) pair; queue, connect, retry" },
  { token: CLUSTER, cardinality: "one", core: true, doc: "cluster mode ([cluster], docs/cluster.md): routes and outbound pairs shared with other nodes; absent on a single node" },
  { token: TRAFFIC, cardinality: "one", core: true, doc: "stanza counters in and out (metrics, admin status)" },
];

export function tokenName(token: InjectionToken<unknown>): string {
  if (typeof token === "symbol") return Symbol.keyFor(token) ?? token.toString();
  if (typeof token === "function") return token.name;
  return String(token);
}
