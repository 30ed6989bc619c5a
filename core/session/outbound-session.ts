import { ERROR_CODES, isS2sError, S2sError } from "../errors.js";
import type { StanzaErrorType } from "../router/router.js";
import type { OutboundStreamApi } from "../stream/streams.js";
import type { XmlElement } from "../xml/element.js";
import type { Connector } from "../connector/connector.js";
import type { SessionSettings } from "./session-settings.js";
import type { TrafficCounters } from "../metrics/traffic.js";
import type { PolicyChain } from "../policy/chain.js";
import type { Resolver } from "../resolver/resolver.js";
import type { Router } from "../router/router.js";
import type { SecureChannel } from "../tls/tls.js";
import type { ConnectTarget } from "../resolver/resolver.js";
import { OutboundS2sStream, type OutboundStreamNeeds } from "./outbound-stream.js";
import { withTimeout } from "../time/with-timeout.js";
import type { Timer } from "../clock/clock.js";
import type { StreamManagementSettings } from "../sm/stream-management.js";
import { OutboundSmLink } from "./sm-outbound-link.js";

type State = "idle" | "connecting" | "established" | "closing";

/** Which stanza error a failed attempt bounces with (RFC 6120 §8.3.3 stanza errors; docs/operations.md). */
function bounceFor(err: unknown): { condition: string; type: StanzaErrorType; text: string } {
  const text = err instanceof Error ? err.message : String(err);
  if (isS2sError(err)) {
    // Denied by our policy, or refused by the peer's (outbound-stream.ts bounceConditionForPeerError).
    if (err.code === ERROR_CODES.POLICY_DENIED || err.condition === "service-unavailable") return { condition: "service-unavailable", type: "cancel", text };
    if (err.code === ERROR_CODES.TIMEOUT || err.condition === "remote-server-timeout") return { condition: "remote-server-timeout", type: "wait", text };
  }
  return { condition: "remote-server-not-found", type: "cancel", text };
}

/** What a session uses, handed over by OutboundSessionManager (which gets each by @inject). */
export interface OutboundSessionNeeds extends OutboundStreamNeeds {
  readonly traffic: TrafficCounters;
  readonly settings: SessionSettings;
  readonly policy: PolicyChain;
  readonly resolver: Resolver;
  readonly connector: Connector;
  /** Bounces go back through the router (RFC 6120 §8.3). */
  readonly router: Router;
  /** XEP-0198 settings (sm-outbound-link.ts); absent when the stream_management slot is empty. */
  readonly sm?: StreamManagementSettings;
}

/**
 * The (local, remote) pair: queue while not established, one connection attempt at a time, flush
 * in order once authenticated, idle close, bounce on failure. Retry timing is decided by the
 * session manager's pipeline, not here.
 */
export class OutboundSession {
  #state: State = "idle";
  #queue: XmlElement[] = [];
  #stream?: OutboundS2sStream;
  #idleTimer?: Timer;
  #attempt?: Promise<void>;
  /** Aborts the running attempt (DNS queries, TCP/TLS connects) when the session is closed. */
  #abort?: AbortController;
  /** Read-only facts for the admin API and metrics (docs/operations.md). */
  #method?: string;
  #establishedAt?: number;
  stanzasOut = 0;
  /** XEP-0198 over this pair's streams; it outlives a stream while a resumption is possible. */
  readonly #sm?: OutboundSmLink;

  constructor(
    readonly localDomain: string,
    readonly remoteDomain: string,
    private readonly deps: OutboundSessionNeeds,
    private readonly hooks: {
      /** An attempt failed: the manager decides between bouncing now and holding for a retry. */
      onAttemptFailed(session: OutboundSession, err: unknown): void;
      onEstablished(session: OutboundSession): void;
      onIdle(session: OutboundSession): void;
    },
  ) {
    const { sm, clock, logger, events, router, settings, parserFactory } = deps;
    if (sm) this.#sm = new OutboundSmLink(localDomain, remoteDomain, { settings: sm, clock, logger, events, router, parserFactory, answerTimeoutMs: settings.negotiationTimeoutMs });
  }

  get state(): State { return this.#state; }
  get queued(): number { return this.#queue.length; }
  get key(): string { return `${this.localDomain} ${this.remoteDomain}`; }
  get method(): string | undefined { return this.#state === "established" ? this.#method : undefined; }
  get establishedAt(): number | undefined { return this.#state === "established" ? this.#establishedAt : undefined; }
  get tls(): SecureChannel | undefined { return this.#stream?.tls; }
  /** XEP-0198: stanzas written to a broken link wait to be resumed, so reconnect even with an empty queue. */
  get awaitingResumption(): boolean { return this.#sm?.awaitingResumption ?? false; }

  /**
   * Stanzas for the established stream gathered during this tick, written together by #sendOutbox.
   * Kept as elements (not bytes) until the write, so that when the stream turns out to be dead by
   * then they go back to the queue in order instead of vanishing (a stanza is delivered or bounced, never silently lost).
   */
  #outbox: XmlElement[] = [];
  /** The stream's backpressure when this tick's batch began (see send). */
  #outboxBackpressure: Promise<void> | undefined;
  readonly #sendOutbox = () => {
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length === 0) return;
    if (this.#stream?.writable) {
      this.#write(this.#stream, batch);
      this.#countOut(batch.length);
      return;
    }
    // The stream died since these were accepted: they were never written; they go first.
    this.#queue = batch.concat(this.#queue);
    if (this.#state === "closing") this.bounceQueued("remote-server-not-found", "cancel", "session closed");
  };

  /** Flow control while not established: settles when the queue has room again (flushed or bounced). */
  #room?: { promise: Promise<void>; release: () => void };

  /**
   * Returns a backpressure promise when the stanza cannot move on at once (see Router.route): the
   * established stream is congested, or the queue is half full while (re)connecting. A sender that
   * honours it (a XEP-0114 component) is paused instead of being bounced `resource-constraint`.
   */
  send(stanza: XmlElement): Promise<void> | undefined {
    if (this.#outbox.length !== 0 && this.#state === "established") {
      // Not the batch's first stanza: the stream was writable for that one this same tick, and
      // #sendOutbox checks again (a stream that died since puts the whole batch back in the
      // queue, in order). Its congestion cannot have changed either: nothing of this tick's
      // batch is written yet, and a 'drain' is an event of a later tick.
      this.#outbox.push(stanza);
      return this.#outboxBackpressure;
    }
    if (this.#state === "established" && this.#stream?.writable) {
      process.nextTick(this.#sendOutbox);
      // Once per batch, not per stanza: restarting a timer reads the clock and moves it in Node's timer list.
      this.#idleTimer?.restart();
      this.#outbox.push(stanza);
      return (this.#outboxBackpressure = this.#stream.backpressure());
    }
    if (this.#queue.length >= this.deps.settings.queueLimit) {
      // Bounded queue: a dead peer must not eat our memory (RFC 6120 §8.3.3.18 resource-constraint).
      // Only senders that ignore flow control get here (the embedding API, local services).
      this.deps.router.bounce(stanza, "resource-constraint", "wait", `outbound queue for ${this.remoteDomain} is full`);
      return undefined;
    }
    this.#queue.push(stanza);
    if (this.#queue.length < Math.ceil(this.deps.settings.queueLimit / 2)) return this.#room?.promise;
    if (!this.#room) {
      let release!: () => void;
      const promise = new Promise<void>((r) => (release = r));
      this.#room = { promise, release };
    }
    return this.#room.promise;
  }

  /** The queue emptied (flushed or bounced): senders paused on it may go on. */
  #releaseRoom(): void {
    const room = this.#room;
    this.#room = undefined;
    room?.release();
  }

  /** Start an attempt unless one is running or the session is up. */
  connect(): Promise<void> {
    if (this.#state === "established" || this.#attempt) return this.#attempt ?? Promise.resolve();
    this.#attempt = this.#run().finally(() => (this.#attempt = undefined));
    return this.#attempt;
  }

  /** The pair's stream once it is past TLS (XEP-0220 §2.3 verification rides on it), connecting if needed. */
  async openStream(): Promise<OutboundStreamApi> {
    if (!this.#stream || this.#stream.closed) {
      void this.connect();
      // #run creates the stream synchronously after resolving and connecting: wait for it.
      await this.#streamCreated;
    }
    const stream = this.#stream;
    if (!stream || !(await stream.tlsSettled)) throw new S2sError(ERROR_CODES.CONNECT_FAILED, `no usable stream to ${this.remoteDomain}`, "remote-server-not-found");
    return stream;
  }

  #streamCreated: Promise<void> = Promise.resolve();
  #markStreamCreated?: () => void;

  /** Bounce everything queued (the attempt failed and nobody will retry in time). */
  bounceQueued(condition: string, type: StanzaErrorType, text: string): void {
    const queued = this.#queue;
    this.#queue = [];
    for (const stanza of queued) this.deps.router.bounce(stanza, condition, type, text);
    this.#releaseRoom();
  }

  bounceQueuedFor(err: unknown): void {
    const b = bounceFor(err);
    this.bounceQueued(b.condition, b.type, b.text);
  }

  /** Close the stream (policy reload, shutdown) and bounce what is left. */
  close(condition: string, text?: string): void {
    this.#state = "closing";
    this.#idleTimer?.cancel();
    // An attempt still resolving or connecting must not finish afterwards and hold a socket open
    // (otherwise the process stays alive for the idle timeout after stop()).
    this.#abort?.abort(new S2sError(ERROR_CODES.CONNECT_FAILED, text ?? "session closed", "remote-server-not-found"));
    this.#sm?.sessionClosed(text ?? "session closed");
    // What this tick accepted goes out before the closing tag (or back to the queue, to be bounced).
    this.#sendOutbox();
    if (this.#stream && !this.#stream.closed) {
      if (condition === "closed") this.#stream.close();
      else this.#stream.fail(condition, text);
    }
    this.bounceQueued("remote-server-not-found", "cancel", text ?? "session closed");
  }

  async #run(): Promise<void> {
    const { deps, localDomain: local, remoteDomain: remote } = this;
    this.#state = "connecting";
    const abort = (this.#abort = new AbortController());
    const { signal } = abort;
    /** After each step: a session closed meanwhile stops here (what the step opened is released below). */
    const stillWanted = () => {
      if (signal.aborted) throw signal.reason;
    };
    this.#streamCreated = new Promise((r) => (this.#markStreamCreated = r));
    deps.events.emit({ type: "connecting", local, remote });
    deps.logger.debug({ what: "connecting", local, remote });
    try {
      const verdict = await deps.policy.decide({ localDomain: local, remoteDomain: remote, direction: "outbound", via: "connect" });
      // Denied: no connection at all (policy refusal; MongooseIM does the same), `service-unavailable` to senders.
      if (verdict !== "allow") throw new S2sError(ERROR_CODES.POLICY_DENIED, `${remote} is denied by policy`, "service-unavailable");
      stillWanted();
      const resolveStarted = deps.clock.now();
      // Observation only (the DNS histogram, docs/operations.md); a failure still throws as before.
      const targets = await deps.resolver.resolve(remote, signal).then(
        (found) => (this.#resolveDone(resolveStarted, found), found),
        (err: unknown) => {
          this.#resolveDone(resolveStarted, undefined, err instanceof Error ? err.message : String(err));
          throw err;
        },
      );
      stillWanted();
      if (targets.length === 0) throw new S2sError(ERROR_CODES.NO_SERVICE, `${remote} has no address for XMPP`, "remote-server-not-found");
      const connection = await deps.connector.connect({
        localDomain: local,
        remoteDomain: remote,
        targets,
        secure: (socket) => deps.tls.connectOutbound(socket, local, remote),
        signal,
      });
      if (signal.aborted) {
        connection.socket.destroy();
        stillWanted();
      }
      const target = `${connection.target.host}:${connection.target.port}`;
      deps.events.emit({ type: "connected", local, remote, target });
      deps.logger.debug({ what: "connected", local, remote, target, directTls: connection.target.directTls });
      const stream = new OutboundS2sStream(connection, local, remote, deps, (s, reason) => this.#onStreamClosed(s, reason), (s, e) => {
        if (this.#sm?.handle(s, e)) return;
        // Stanzas never flow on our outbound stream without XEP-0288; tell the peer instead of dropping silently.
        s.fail("unsupported-stanza-type", `unexpected <${e.name}/> on an outbound stream`);
      });
      this.#stream = stream;
      this.#markStreamCreated?.();
      // The whole negotiation (TLS, authentication) within the deadline, not just each step; a
      // close() meanwhile ends it at once (the stream was failed by close(), nothing to wait for).
      const deadline = deps.settings.negotiationTimeoutMs;
      const closed = new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
      closed.catch(() => {}); // raced below, where its rejection is handled; unraced it must not be reported as unhandled
      const method = await withTimeout(Promise.race([stream.negotiate(deadline), closed]), deadline, () => {
        stream.destroy("negotiation deadline");
        return new S2sError(ERROR_CODES.TIMEOUT, `stream to ${remote} not usable within ${deadline} ms`, "remote-server-timeout");
      }, deps.clock);
      if (stream.closed) throw new S2sError(ERROR_CODES.CONNECT_FAILED, `stream to ${remote} closed during negotiation`, "remote-server-not-found");
      deps.events.emit({ type: "authenticated", direction: "outbound", local, remote, method });
      const resend = this.#sm ? await this.#sm.start(stream) : "";
      if (stream.closed) throw new S2sError(ERROR_CODES.CONNECT_FAILED, `stream to ${remote} closed while enabling stream management`, "remote-server-not-found");
      deps.logger.info({ what: "established", local, remote, method, target, tls: Boolean(stream.tls) });
      this.#state = "established";
      this.#method = method;
      this.#establishedAt = deps.clock.now();
      deps.events.emit({ type: "established", local, remote, method });
      // XEP-0198 §5: what the peer's h left unhandled goes first, then what queued meanwhile.
      stream.sendSerialized(resend);
      this.#flush();
      this.#armIdle();
      this.hooks.onEstablished(this);
    } catch (err) {
      this.#markStreamCreated?.();
      // close() may have run while we awaited: keep "closing" then.
      if ((this.#state as State) !== "closing") this.#state = "idle";
      const reason = err instanceof Error ? err.message : String(err);
      const condition = isS2sError(err) ? err.condition ?? "remote-server-not-found" : "internal-server-error";
      if (this.#stream && !this.#stream.closed) this.#stream.destroy(reason);
      this.#stream = undefined;
      deps.events.emit({ type: "failed", local, remote, condition, reason });
      deps.logger.info({ what: "failed", local, remote, condition, reason });
      this.hooks.onAttemptFailed(this, err);
    } finally {
      if (this.#abort === abort) this.#abort = undefined;
    }
  }

  #resolveDone(started: number, targets?: readonly ConnectTarget[], reason?: string): void {
    const { localDomain: local, remoteDomain: remote } = this;
    this.deps.events.emit({ type: "resolve_done", local, remote, durationMs: this.deps.clock.now() - started, ...(targets === undefined ? { reason } : { targets }) });
  }

  #flush(): void {
    const queued = this.#queue;
    this.#queue = [];
    if (this.#stream) {
      this.#write(this.#stream, queued);
      this.#countOut(queued.length);
    }
    this.#releaseRoom();
  }

  /** XEP-0198 keeps what it writes until acknowledged (sm-outbound-link.ts); without it, a plain write. */
  #write(stream: OutboundS2sStream, batch: readonly XmlElement[]): void {
    if (!this.#sm?.write(stream, batch)) stream.sendMany(batch);
  }

  /** Stanzas written to the stream (admin `sessions`, `xmpp_s2s_stanzas_total`). */
  #countOut(n: number): void {
    this.stanzasOut += n;
    this.deps.traffic.stanzasOut += n;
  }

  #armIdle(): void {
    const ms = this.deps.settings.idleTimeoutMs;
    if (ms === Infinity) return;
    // Idle means nothing *sent* for a while: incoming traffic (acks, verifies) does not keep it open
    // (as MongooseIM does: its outbound timer is reset by incoming data).
    this.#idleTimer = this.deps.clock.timer(ms, () => {
      this.deps.logger.debug({ what: "outbound_idle", local: this.localDomain, remote: this.remoteDomain });
      this.#stream?.close("idle");
    }, { unref: true });
  }

  #onStreamClosed(stream: OutboundS2sStream, reason: string): void {
    if (stream !== this.#stream) return;
    this.#idleTimer?.cancel();
    const wasEstablished = this.#state === "established";
    this.#stream = undefined;
    // Accepted this tick but not written yet: they lead the queue for the next stream.
    if (this.#outbox.length > 0) {
      this.#queue = this.#outbox.concat(this.#queue);
      this.#outbox = [];
    }
    if (this.#state !== "closing") this.#state = "idle";
    this.#sm?.streamClosed(stream, this.#state === "closing");
    this.deps.events.emit({ type: "closed", local: this.localDomain, remote: this.remoteDomain, reason });
    this.deps.logger.debug({ what: "closed", local: this.localDomain, remote: this.remoteDomain, reason });
    // Stanzas that queued meanwhile get a new attempt right away.
    if (wasEstablished) this.hooks.onIdle(this);
  }
}

