import { inject, injectAll, injectable } from "../cjs/tsyringe.js";
import type { OutboundPairView, OutboundSessions } from "./outbound-sessions.js";
import type { OutboundStreamApi } from "../stream/streams.js";
import type { XmlElement } from "../xml/element.js";
import { OutboundSession, type OutboundSessionNeeds } from "./outbound-session.js";
import { RetryScheduler } from "./retry-scheduler.js";
import { BidiLinks, type BidiCarrier } from "./bidi-links.js";
import { ERROR_CODES, S2sError } from "../errors.js";
import { BurstLog } from "../limits/burst-log.js";
import { CONNECTOR, type Connector } from "../connector/connector.js";
import { SESSION_SETTINGS, type SessionSettings } from "./session-settings.js";
import type { Authenticator } from "../auth/authenticator.js";
import { CLOCK, type Clock } from "../clock/clock.js";
import type { S2sConfig } from "../config/types.js";
import { EVENTS, type EventBus } from "../events/events.js";
import { LOGGER, type Logger } from "../logging/logger.js";
import type { TrafficCounters } from "../metrics/traffic.js";
import { POLICY_CHAIN, type PolicyChain } from "../policy/chain.js";
import { RESOLVER, type Resolver } from "../resolver/resolver.js";
import { withAddressOverride } from "../resolver/address-override.js";
import { ROUTER, type Router } from "../router/router.js";
import { STREAM_PARSER_FACTORY, type StreamParserFactory } from "../stream/parser.js";
import { TLS_PROVIDER, type TlsProvider } from "../tls/tls.js";
import { CONFIG, TRAFFIC } from "../tokens.js";
import { STREAM_MANAGEMENT, type StreamManagementSettings } from "../sm/stream-management.js";

/** Owns every outbound (local, remote) session of one server instance. */
@injectable()
export class OutboundSessionManager implements OutboundSessions {
  readonly #sessions = new Map<string, OutboundSession>();
  readonly #retry: RetryScheduler;
  #stopped = false;
  readonly #refusals: BurstLog;
  /** XEP-0288: pairs whose stanzas ride on an inbound stream (core/session/bidi-links.ts). */
  readonly bidi: BidiLinks;

  /** What every session of this server uses; the authenticators join in authenticateWith(). */
  readonly #base: Omit<OutboundSessionNeeds, "authenticators">;
  #needs?: OutboundSessionNeeds;
  readonly #router: Router;

  constructor(
    @inject(CONFIG) config: S2sConfig,
    @inject(LOGGER) logger: Logger,
    @inject(EVENTS) events: EventBus,
    @inject(CLOCK) clock: Clock,
    @inject(TRAFFIC) traffic: TrafficCounters,
    @inject(STREAM_PARSER_FACTORY) parserFactory: StreamParserFactory,
    @inject(TLS_PROVIDER) tls: TlsProvider,
    @inject(POLICY_CHAIN) policy: PolicyChain,
    @inject(RESOLVER) resolver: Resolver,
    @inject(CONNECTOR) connector: Connector,
    @inject(ROUTER) router: Router,
    @inject(SESSION_SETTINGS) settings: SessionSettings,
    /** XEP-0198 settings: none when the operator disabled stream management. */
    @injectAll(STREAM_MANAGEMENT, { isOptional: true }) sm: StreamManagementSettings[],
  ) {
    // s2s.address first, once, whatever the Resolver plugin (MongooseIM semantics).
    this.bidi = new BidiLinks(
      settings.bidi !== false,
      { logger, events, policy, traffic, router, streamManagement: sm[0] !== undefined },
      (local, remote, stanza) => this.#sendOnSession(local, remote, stanza),
      (local, remote) => {
        const session = this.#sessions.get(`${local} ${remote}`);
        if (session?.state === "established") this.#closeIfCarriedByBidi(session);
      },
    );
    this.#base = { logger, events, clock, traffic, parserFactory, tls, policy, resolver: withAddressOverride(config.s2s, resolver), connector, router, settings, maxStanzaSize: config.s2s.outgoing.maxStanzaSize, bidi: this.bidi, ...(sm[0] ? { sm: sm[0] } : {}) };
    this.#router = router;
    this.#retry = new RetryScheduler(this.#base, (session) => this.#retryNow(session));
    this.#refusals = new BurstLog(logger, "outbound_session_limit");
    warmAbortSignals();
  }

  /**
   * Second phase of the composition (core/server/compose.ts): outbound streams authenticate with
   * the authenticators, and dialback's authenticator verifies over these sessions, so they cannot
   * be a constructor parameter. No session exists before this is called.
   */
  authenticateWith(authenticators: readonly Authenticator[]): void {
    this.#needs = { ...this.#base, authenticators };
  }

  get #maxSessions(): number {
    return this.#base.settings.maxSessions;
  }

  /** Sessions kept now (bounded by the connector's `max_sessions`). */
  get size(): number {
    return this.#sessions.size;
  }

  send(localDomain: string, remoteDomain: string, stanza: XmlElement): Promise<void> | undefined {
    // XEP-0288: an inbound bidi stream carries the pair unless its own outbound stream is up (no switching mid-flow).
    // Bulk traffic goes to the pair last used, whose stream is up: no key to build for the bidi check then.
    const last = this.#last;
    const up = last !== undefined && last.state === "established" && last.localDomain === localDomain && last.remoteDomain === remoteDomain;
    if (!up && this.bidi.has(localDomain, remoteDomain) && this.#sessions.get(`${localDomain} ${remoteDomain}`)?.state !== "established") return this.bidi.send(localDomain, remoteDomain, stanza);
    return this.#sendOnSession(localDomain, remoteDomain, stanza);
  }

  #sendOnSession(localDomain: string, remoteDomain: string, stanza: XmlElement): Promise<void> | undefined {
    if (this.#stopped) {
      this.#router.bounce(stanza, "remote-server-not-found", "cancel", "server is shutting down");
      return undefined;
    }
    const session = this.#session(localDomain, remoteDomain);
    if (!session) {
      this.#router.bounce(stanza, "resource-constraint", "wait", "too many remote servers in use at once; try again later");
      return undefined;
    }
    const backpressure = session.send(stanza);
    // Up: nothing to start and no retry waiting (a success ends the wait, retry-scheduler.ts).
    if (session.state === "established") return backpressure;
    if (session.state === "idle" && !this.#retry.isWaiting(session)) void session.connect();
    else if (this.#retry.isWaiting(session)) this.#retry.hold(session);
    return backpressure;
  }

  /** Remote domains being resolved ahead of a connection (prepare): one lookup each at a time. */
  readonly #preparing = new Set<string>();

  prepare(localDomain: string, remoteDomain: string): void {
    if (this.#stopped || this.#preparing.has(remoteDomain) || this.#sessions.has(`${localDomain} ${remoteDomain}`)) return;
    // Bounded like the sessions: a flood of streams claiming new domains cannot start more lookups
    // at once than we would keep sessions.
    if (this.#preparing.size >= this.#maxSessions) return;
    this.#preparing.add(remoteDomain);
    // The answers wait in the resolver's cache (the DNS plugin's TTLs) for the session that
    // connects; a failure is left for that session to meet and report.
    void this.#base.resolver.resolve(remoteDomain).then(
      () => this.#preparing.delete(remoteDomain),
      () => this.#preparing.delete(remoteDomain),
    );
  }

  async openStream(localDomain: string, remoteDomain: string): Promise<OutboundStreamApi> {
    const session = this.#session(localDomain, remoteDomain);
    if (!session) throw new S2sError(ERROR_CODES.LIMIT_REACHED, `more than ${this.#maxSessions} outbound sessions in use`, "resource-constraint");
    return session.openStream();
  }

  inboundAuthenticated(localDomain: string, remoteDomain: string, stream?: BidiCarrier): void {
    if (stream) this.bidi.inboundAuthenticated(stream, remoteDomain, localDomain);
    // The remote just reached us, so it is up: every pair waiting to retry it (ours and our
    // components') stops waiting and delivers now (nobody else would, so they would wait forever).
    for (const session of this.#sessions.values()) if (session.remoteDomain === remoteDomain) this.#retry.cancelWait(session);
    void localDomain;
  }

  async closeWhere(predicate: (local: string, remote: string) => Promise<boolean> | boolean, condition: string, text = "no longer allowed by policy"): Promise<void> {
    await this.bidi.dropWhere(predicate);
    for (const session of [...this.#sessions.values()]) {
      if (await predicate(session.localDomain, session.remoteDomain)) {
        this.#retry.forget(session);
        session.close(condition, text);
        this.#sessions.delete(session.key);
        this.#last = undefined;
      }
    }
  }

  list(): OutboundPairView[] {
    return [...this.#sessions.values()].map((s) => ({
      local: s.localDomain,
      remote: s.remoteDomain,
      state: s.state,
      queued: s.queued,
      method: s.method,
      establishedAt: s.establishedAt,
      stanzasOut: s.stanzasOut,
      tls: s.tls,
      backoff: this.#retry.backoffOf(s),
    }));
  }

  retryNow(remoteDomain: string, localDomain: string): string[] {
    if (this.#stopped) return [];
    const pairs = [...this.#sessions.values()].filter((s) => s.remoteDomain === remoteDomain);
    if (pairs.length === 0) {
      const created = this.#session(localDomain, remoteDomain);
      if (!created) throw new S2sError(ERROR_CODES.LIMIT_REACHED, `more than ${this.#maxSessions} outbound sessions in use`, "resource-constraint");
      pairs.push(created);
    }
    for (const session of pairs) {
      // A fresh pipeline: the next failure starts the doubling from the first delay again.
      this.#retry.forget(session);
      void session.connect();
    }
    return pairs.map((s) => s.localDomain);
  }

  async stop(condition: string): Promise<void> {
    this.#stopped = true;
    this.#retry.stop();
    // What bidi links have not written yet is bounced like the queues below ("server is shutting down").
    await this.bidi.dropWhere(() => true);
    this.bidi.stop();
    for (const session of this.#sessions.values()) session.close(condition, "server is shutting down");
    this.#sessions.clear();
    this.#last = undefined;
    this.#refusals.flush();
  }

  /** The last session looked up: bulk traffic goes to one pair, so skip building its key per stanza. */
  #last?: OutboundSession;

  /**
   * The pair's session, created when needed. The map is keyed by remote-chosen domains (dialback
   * verifications open sessions to any domain a peer claims), so it is bounded by `max_sessions`:
   * a new pair first evicts the least recently used session that has no stream and nothing queued
   * (its backoff state goes with it); when every session is busy there is no room (undefined).
   */
  #session(localDomain: string, remoteDomain: string): OutboundSession | undefined {
    const last = this.#last;
    if (last && last.localDomain === localDomain && last.remoteDomain === remoteDomain) return last;
    const key = `${localDomain} ${remoteDomain}`;
    let session = this.#sessions.get(key);
    if (session) {
      // Map order is recency order: move the pair to the young end.
      this.#sessions.delete(key);
      this.#sessions.set(key, session);
    } else {
      if (this.#sessions.size >= this.#maxSessions && !this.#evictIdle()) {
        this.#refusals.hit({ local: localDomain, remote: remoteDomain, limit: this.#maxSessions });
        return undefined;
      }
      if (!this.#needs) throw new Error("outbound sessions used before the server's composition gave them the authenticators (core/server/compose.ts)");
      session = new OutboundSession(localDomain, remoteDomain, this.#needs, {
        // After stop(): bounce what is left, never schedule a retry (its timer would outlive the server).
        onAttemptFailed: (s, err) => (this.#stopped ? s.bounceQueuedFor(err) : this.#retry.failed(s, err)),
        onEstablished: (s) => {
          this.#retry.succeeded(s);
          this.#closeIfCarriedByBidi(s);
        },
        onIdle: (s) => {
          if (this.#stopped) return;
          if (s.queued > 0 || s.awaitingResumption) {
            void s.connect();
            return;
          }
          // A pair whose stream closed after working has nothing to remember (no backoff): drop
          // it, so sessions do not pile up for every domain we ever talked to.
          this.#forget(s);
        },
      });
      this.#sessions.set(key, session);
    }
    this.#last = session;
    return session;
  }

  /**
   * XEP-0288 with dialback: the receiving server verifies over a connection of its own (XEP-0288
   * §2.2), and that is the pair's session. When it is up and the peer's bidi stream carries the
   * pair (whichever came first) and this session has carried nothing, it is closed, as XEP-0220
   * §2.1.2 advises for a connection opened only to verify: one connection is left for both directions.
   */
  #closeIfCarriedByBidi(session: OutboundSession): void {
    if (session.stanzasOut !== 0 || session.queued !== 0 || !this.bidi.has(session.localDomain, session.remoteDomain)) return;
    this.#base.logger.info({ what: "outbound_superseded", local: session.localDomain, remote: session.remoteDomain, reason: "the peer's bidi stream carries this pair" });
    session.close("closed", "the peer's bidi stream carries this pair");
    this.#forget(session);
  }

  #evictIdle(): boolean {
    for (const session of this.#sessions.values()) {
      if (session.state === "idle" && session.queued === 0 && !session.awaitingResumption) {
        this.#forget(session);
        return true;
      }
    }
    return false;
  }

  #forget(session: OutboundSession): void {
    if (this.#sessions.get(session.key) !== session) return;
    this.#retry.forget(session);
    this.#sessions.delete(session.key);
    if (this.#last === session) this.#last = undefined;
  }

  #retryNow(session: OutboundSession): void {
    if (this.#stopped) return;
    if (session.queued > 0 || session.awaitingResumption) void session.connect();
  }
}

/**
 * Every connection attempt runs under an AbortController (outbound-session.ts) whose signal the
 * resolver and the connector listen to. Node loads and compiles that machinery (its
 * AbortController, AbortSignal and EventTarget code) on first use, ~1.2 ms here, which the first
 * link of a process paid on its critical path, on each side (the initiating server's session and
 * the receiving server's dialback verification). One use at start-up pays it once, off that path
 * (docs/performance.md, "First message on a fresh link"); nothing is kept.
 */
function warmAbortSignals(): void {
  const { signal } = new AbortController();
  const listener = (): void => {};
  signal.addEventListener("abort", listener, { once: true });
  if (!signal.aborted) signal.removeEventListener("abort", listener);
}
