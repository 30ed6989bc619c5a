import { inject, injectable } from "tsyringe";
import { AUTHENTICATOR, type Authenticator } from "../auth/authenticator.js";
import { CLOCK, type Clock } from "../clock/clock.js";
import type { S2sConfig } from "../config/types.js";
import { EVENTS, type EventBus } from "../events/events.js";
import { LOGGER, type Logger } from "../logging/logger.js";
import { POLICY_CHAIN, type PolicyChain } from "../policy/chain.js";
import { ROUTER, type Router } from "../router/router.js";
import { STREAM_PARSER_FACTORY, type StreamParserFactory } from "../stream/parser.js";
import { TLS_PROVIDER, type TlsProvider } from "../tls/tls.js";
import { CONFIG } from "../tokens.js";
import { LATE, type Late } from "../late.js";
import { RESOLVER, type Resolver } from "../resolver/resolver.js";
import { CONNECTOR, type Connector, type SessionSettings } from "../connector/connector.js";
import { OUTBOUND_SESSIONS, type OutboundSessions } from "./outbound-sessions.js";
import { TrafficCounters } from "../metrics/traffic.js";

/** Everything a stream needs, resolved once per server so streams are cheap to create. */
@injectable()
export class StreamDeps {
  /** Stanza counters of this server (issue 12 metrics): plain increments on the hot path. */
  readonly traffic = new TrafficCounters();

  constructor(
    @inject(CONFIG) readonly config: S2sConfig,
    @inject(LOGGER) readonly logger: Logger,
    @inject(EVENTS) readonly events: EventBus,
    @inject(CLOCK) readonly clock: Clock,
    @inject(STREAM_PARSER_FACTORY) readonly parserFactory: StreamParserFactory,
    @inject(TLS_PROVIDER) readonly tls: TlsProvider,
    @inject(POLICY_CHAIN) readonly policy: PolicyChain,
    @inject(RESOLVER) readonly resolver: Resolver,
    @inject(CONNECTOR) readonly connector: Connector,
    @inject(LATE) private readonly late: Late,
  ) {}

  /** Resolved on first use: the router and the sessions themselves depend on StreamDeps. */
  get router(): Router {
    return (this.#router ??= this.late.get(ROUTER));
  }

  get sessions(): OutboundSessions {
    return (this.#sessions ??= this.late.get(OUTBOUND_SESSIONS));
  }

  /** In `[plugins] authenticators` order; empty when the operator enabled none. */
  get authenticators(): Authenticator[] {
    return (this.#authenticators ??= this.late.all(AUTHENTICATOR));
  }

  #authenticators?: Authenticator[];

  get settings(): SessionSettings {
    return this.connector.sessionSettings;
  }

  #router?: Router;
  #sessions?: OutboundSessions;
}
