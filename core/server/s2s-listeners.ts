import { createServer, type Server, type Socket } from "node:net";
import { inject, injectAll, injectable } from "../cjs/tsyringe.js";
import type { S2sListenerConfig } from "../config/types.js";
import { InboundS2sStream, type InboundStreamNeeds } from "../session/inbound-stream.js";
import { AUTHENTICATOR, type Authenticator } from "../auth/authenticator.js";
import type { S2sConfig } from "../config/types.js";
import { EVENTS, type EventBus } from "../events/events.js";
import { CLOCK, type Clock } from "../clock/clock.js";
import { LOGGER, type Logger } from "../logging/logger.js";
import type { TrafficCounters } from "../metrics/traffic.js";
import { POLICY_CHAIN, type PolicyChain } from "../policy/chain.js";
import { ROUTER, type Router } from "../router/router.js";
import { OUTBOUND_SESSIONS, type OutboundSessions } from "../session/outbound-sessions.js";
import { STREAM_PARSER_FACTORY, type StreamParserFactory } from "../stream/parser.js";
import { TLS_PROVIDER, type TlsProvider } from "../tls/tls.js";
import { CONFIG, TRAFFIC } from "../tokens.js";
import { BurstLog } from "../limits/burst-log.js";
import { NS, escapeText } from "../xml/element.js";
import { CLOSE_GRACE_MS } from "../stream/xml-stream.js";
import { ConnectionAdmission } from "./inbound-limits.js";
import { STREAM_MANAGEMENT, type StreamManagementSettings } from "../sm/stream-management.js";
import { InboundSmRegistry } from "../session/sm-inbound.js";

/** Accepts TCP on every `[[listen.s2s]]` and runs an inbound stream per connection. */
@injectable()
export class S2sListeners {
  readonly #servers: Server[] = [];
  readonly #streams = new Set<InboundS2sStream>();
  readonly #refusals: BurstLog;

  /** What each inbound stream uses. */
  readonly #needs: InboundStreamNeeds;

  constructor(
    @inject(CONFIG) private readonly config: S2sConfig,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(EVENTS) private readonly events: EventBus,
    @inject(CLOCK) private readonly clock: Clock,
    @inject(TRAFFIC) traffic: TrafficCounters,
    @inject(STREAM_PARSER_FACTORY) parserFactory: StreamParserFactory,
    @inject(TLS_PROVIDER) private readonly tls: TlsProvider,
    @inject(POLICY_CHAIN) policy: PolicyChain,
    @inject(ROUTER) router: Router,
    @inject(OUTBOUND_SESSIONS) sessions: OutboundSessions,
    /** In `[plugins] authenticators` order; none when the operator enabled none. */
    @injectAll(AUTHENTICATOR, { isOptional: true }) authenticators: Authenticator[],
    /** XEP-0198 settings: none when the operator disabled stream management. */
    @injectAll(STREAM_MANAGEMENT, { isOptional: true }) sm: StreamManagementSettings[],
  ) {
    const smRegistry = sm[0] && new InboundSmRegistry(sm[0], { clock, logger, events });
    this.#needs = { logger, events, clock, traffic, parserFactory, tls, policy, router, sessions, authenticators, ...(smRegistry ? { sm: smRegistry } : {}) };
    this.#refusals = new BurstLog(logger, "inbound_connection_refused");
  }

  get streams(): ReadonlySet<InboundS2sStream> {
    return this.#streams;
  }

  /** Bound addresses, in listener order (port 0 in a config becomes the real port). */
  addresses(): Array<{ address: string; port: number }> {
    return this.#servers.map((s) => {
      const a = s.address();
      return typeof a === "object" && a ? { address: a.address, port: a.port } : { address: String(a), port: 0 };
    });
  }

  async start(): Promise<void> {
    for (const listener of this.config.listen.s2s) {
      const admission = new ConnectionAdmission(listener.maxConnections, listener.maxConnectionsPerIp);
      const server = createServer({ noDelay: true }, (socket) => this.#admit(socket, listener, admission));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(listener.port, listener.ipAddress, () => {
          server.off("error", reject);
          resolve();
        });
      });
      server.on("error", (err) => this.logger.error({ what: "listener_error", err }, "S2S listener error"));
      this.#servers.push(server);
      const a = server.address();
      const port = typeof a === "object" && a ? a.port : listener.port;
      this.logger.info({ what: "listening", kind: "s2s", address: listener.ipAddress, port, directTls: listener.directTls });
      this.events.emit({ type: "listening", kind: "s2s", address: listener.ipAddress, port });
    }
  }

  async stop(condition: string): Promise<void> {
    for (const server of this.#servers) server.close();
    for (const stream of this.#streams) stream.fail(condition, "server is shutting down");
    this.#servers.length = 0;
    this.#refusals.flush();
  }

  /** Issue 11: past `max_connections` / `max_connections_per_ip` a connection is told why and closed. */
  #admit(socket: Socket, listener: S2sListenerConfig, admission: ConnectionAdmission): void {
    const ip = socket.remoteAddress ?? "unknown";
    const verdict = admission.admit(ip);
    if (verdict.admitted) {
      // `on`, not `once`: close comes once, and `release` is idempotent; once's wrapper would be
      // kept for the life of the link (~0.1 KiB, docs/performance.md "Memory").
      socket.on("close", verdict.release);
      void this.#accept(socket, listener);
      return;
    }
    socket.on("error", () => {});
    this.#refusals.hit({ address: ip, condition: verdict.condition, text: verdict.text });
    this.events.emit({ type: "inbound_connection_refused", address: ip, condition: verdict.condition });
    if (listener.directTls) {
      // No TLS handshake is spent on a connection over the limit: there is no stream to carry an error.
      socket.destroy();
      return;
    }
    // RFC 6120 §4.9.1.2: the error may follow our header at once, before the peer's header is read.
    socket.end(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.SERVER}' xmlns:stream='${NS.STREAM}' version='1.0'>` +
        `<stream:error><${verdict.condition} xmlns='${NS.STREAM_ERRORS}'/><text xmlns='${NS.STREAM_ERRORS}' xml:lang='en'>${escapeText(verdict.text)}</text></stream:error></stream:stream>`,
    );
    this.clock.timer(CLOSE_GRACE_MS, () => socket.destroy(), { unref: true });
  }

  /** Every inbound stream's `onGone`: one function, not a closure kept by each link. */
  readonly #forget = (stream: InboundS2sStream): void => {
    this.#streams.delete(stream);
  };

  async #accept(socket: Socket, listener: S2sListenerConfig): Promise<void> {
    socket.on("error", ignoreError); // reported through the stream once it exists; never crash on ECONNRESET
    const address = `${socket.remoteAddress}:${socket.remotePort}`;
    let tls;
    if (listener.directTls) {
      // XEP-0368: TLS from the first byte; SNI picks the certificate.
      try {
        tls = await this.tls.acceptInbound(socket);
      } catch (err) {
        this.logger.info({ what: "inbound_tls_failed", address, reason: (err as Error).message });
        this.events.emit({ type: "tls_failed", direction: "inbound", local: "", remote: "", reason: (err as Error).message });
        socket.destroy();
        return;
      }
    }
    const stream = new InboundS2sStream(tls?.socket ?? socket, listener, this.#needs, this.#forget, tls);
    this.#streams.add(stream);
    if (!stream.checkDirectTls()) return;
    this.logger.debug({ what: "inbound_accepted", streamId: stream.id, address });
    this.events.emit({ type: "inbound_accepted", streamId: stream.id, address });
  }
}

/** One function for every socket's "never crash" error listener, not a closure per link. */
function ignoreError(): void {}
