import type { Clock } from "../../core/clock/clock.js";
import type { Authenticator } from "../../core/auth/authenticator.js";
import type { Connector } from "../../core/connector/connector.js";
import type { SessionSettings } from "../../core/session/session-settings.js";
import { EventBus } from "../../core/events/events.js";
import { createLogger } from "../../core/logging/logger.js";
import { TrafficCounters } from "../../core/metrics/traffic.js";
import type { Resolver } from "../../core/resolver/resolver.js";
import type { InboundStreamNeeds } from "../../core/session/inbound-stream.js";
import type { OutboundSessionNeeds } from "../../core/session/outbound-session.js";
import { SaxesStreamParserFactory } from "../../plugins/saxes/saxes-stream-parser.js";

type Needs = OutboundSessionNeeds & InboundStreamNeeds & { events: EventBus };

/**
 * What a session or stream needs (InboundStreamNeeds, OutboundSessionNeeds), for unit tests of one object on a given clock: the real XML
 * parser and event bus, plaintext TLS mode, a policy that allows, `b.example` as the local domain.
 * One place to adapt when the session classes change how they receive their dependencies.
 */
export function streamDeps(clock: Clock, parts: { settings?: Partial<SessionSettings>; authenticators?: Authenticator[]; resolver?: Resolver; connector?: Partial<Connector> } = {}): Needs {
  const settings: SessionSettings = { queueLimit: 100, idleTimeoutMs: Infinity, negotiationTimeoutMs: 30_000, initialRetryDelayMs: 1000, maxRetryDelayMs: 8000, holdWindowMs: 300, maxSessions: 10_000, ...parts.settings };
  return {
    maxStanzaSize: 65_536,
    logger: createLogger("silent"),
    events: new EventBus(),
    clock,
    parserFactory: new SaxesStreamParserFactory(),
    tls: { mode: "false", offersStartTls: () => false },
    policy: { decide: async () => "allow" },
    resolver: parts.resolver,
    connector: parts.connector,
    router: { isLocalDomain: (d: string) => d === "b.example", deliverLocal: () => undefined, bounce: () => {} },
    sessions: { inboundAuthenticated: () => {} },
    authenticators: parts.authenticators ?? [],
    settings,
    traffic: new TrafficCounters(),
  } as unknown as Needs;
}
