import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { S2sListenerConfig } from "../config/types.js";
import type { ParserErrorCondition, StreamHeader } from "../stream/parser.js";
import type { AuthClaim, InboundAuthOutcome, InboundStreamApi } from "../stream/streams.js";
import { XmlStream, type XmlStreamHandlers, type XmlStreamOptions } from "../stream/xml-stream.js";
import type { SecureChannel } from "../tls/tls.js";
import { definedCondition, el, NS, type XmlElement } from "../xml/element.js";
import { DEFAULT_MAX_DEPTH } from "../stream/parser.js";
import { fromDomainOf, STANZA_NAMES, toDomainOf } from "../router/stanza.js";
import type { Authenticator } from "../auth/authenticator.js";
import type { EventBus } from "../events/events.js";
import type { Logger } from "../logging/logger.js";
import type { TrafficCounters } from "../metrics/traffic.js";
import type { PolicyChain } from "../policy/chain.js";
import type { Router } from "../router/router.js";
import type { StreamParserFactory } from "../stream/parser.js";
import type { TlsProvider } from "../tls/tls.js";
import type { OutboundSessions } from "./outbound-sessions.js";
import { checkStreamHeader } from "./header-checks.js";
import { AuthenticatedPairs } from "./authenticated-pairs.js";
import { shaperFor } from "../shaper/token-bucket.js";
import type { Clock, Timer } from "../clock/clock.js";
import { SM_NS } from "../sm/stream-management.js";
import type { InboundSm, InboundSmRegistry } from "./sm-inbound.js";

type Phase = "header" | "open" | "closed";

/** What an inbound stream uses, handed over by S2sListeners (which gets each by @inject). */
export interface InboundStreamNeeds {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly events: EventBus;
  readonly traffic: TrafficCounters;
  readonly parserFactory: StreamParserFactory;
  readonly tls: TlsProvider;
  /** Run on every authentication, whatever the method (authenticate()). */
  readonly policy: PolicyChain;
  readonly router: Router;
  /** Told when a remote authenticates, so a pair waiting to retry it delivers at once. */
  readonly sessions: OutboundSessions;
  /** `[plugins] authenticators`, in order; empty when the operator enabled none. */
  readonly authenticators: readonly Authenticator[];
  /** XEP-0198 (sm-inbound.ts); absent when the stream_management slot is empty. */
  readonly sm?: InboundSmRegistry;
}

/**
 * The receiving side of an S2S stream (RFC 6120 §4, §5, §6; XEP-0220 receiving/authoritative roles
 * live in the dialback authenticator). Stanzas are accepted only for (remote, local) pairs
 * authenticated on this stream (RFC 6120 §4.3, §13.1: nothing from a remote domain before it is
 * authenticated).
 */
export class InboundS2sStream implements InboundStreamApi {
  readonly direction = "inbound" as const;
  #id = newStreamId();
  #phase: Phase = "header";
  #localDomain = "";
  #headerFrom?: string;
  #tls?: SecureChannel;
  #restartExpected = true;
  #headers = 0;
  /** Pairs authenticated on this stream, each with how and when (admin API, docs/operations.md). */
  readonly #authenticated = new AuthenticatedPairs();
  readonly #xml: XmlStream;
  /** Dropped once cancelled: an authenticated link keeps no timer object for it. */
  #negotiationTimer?: Timer;
  /** Read-only facts for the admin API (docs/operations.md), in clock time. */
  readonly openedAt: number;
  stanzasIn = 0;
  /** XEP-0198, from the peer's first SM element on. */
  #sm?: InboundSm;

  constructor(
    socket: Socket,
    listener: S2sListenerConfig,
    private readonly deps: InboundStreamNeeds,
    private readonly onGone: (stream: InboundS2sStream) => void,
    tls?: SecureChannel,
  ) {
    this.#tls = tls;
    this.#xml = new XmlStream(socket, deps.parserFactory, new InboundS2sStream.#XmlEvents(this), xmlOptions(listener, deps.clock));
    this.openedAt = deps.clock.now();
    // A stream that does not authenticate anything in time is dropped (resource exhaustion guard).
    this.#negotiationTimer = deps.clock.timer(listener.negotiationTimeoutMs, () => {
      if (this.#authenticated.empty) this.#streamError("connection-timeout", "stream negotiation took too long");
    }, { unref: true });
  }

  /**
   * The XML stream's events, handed to this stream's private methods: one small object per
   * stream, where five closures and the object holding them cost ~0.3 KiB for the life of every
   * link (docs/performance.md, "Memory"). Declared inside the class to reach its private members.
   */
  static readonly #XmlEvents = class implements XmlStreamHandlers {
    constructor(private readonly stream: InboundS2sStream) {}

    onHeader(header: StreamHeader): void {
      this.stream.#onHeader(header);
    }

    onElement(element: XmlElement): void {
      this.stream.#onElement(element);
    }

    onStreamEnd(): void {
      this.stream.#sm?.streamEnded();
      this.stream.#xml.close("peer closed the stream");
    }

    onParseError(condition: ParserErrorCondition, text: string): void {
      this.stream.#streamError(condition, text);
    }

    onClosed(reason: string): void {
      this.stream.#onClosed(reason);
    }
  };

  get id(): string { return this.#id; }
  get localDomain(): string { return this.#localDomain; }
  get headerFrom(): string | undefined { return this.#headerFrom; }
  get tls(): SecureChannel | undefined { return this.#tls; }
  get remoteAddress(): string { return `${this.#xml.socket.remoteAddress}:${this.#xml.socket.remotePort}`; }
  /** Authenticated (remote, local) pairs, for policy reload. */
  get pairs(): Array<{ remote: string; local: string }> {
    return [...this.#authenticated.pairs()];
  }

  /** How (remote, local) authenticated on this stream, for the admin API. */
  authOf(remote: string, local: string): { method: string; at: number } | undefined {
    return this.#authenticated.get(remote, local);
  }

  send(element: XmlElement): void {
    this.#xml.send(element);
  }

  /** XEP-0288: our stanzas ride on this stream (core/session/bidi-links.ts). */
  get writable(): boolean { return this.#xml.writable; }
  sendMany(elements: readonly XmlElement[]): void { this.#xml.sendMany(elements); }
  backpressure(): Promise<void> | undefined { return this.#xml.congested ? this.#xml.drained() : undefined; }

  fail(condition: string, text?: string): void {
    this.#streamError(condition, text);
  }

  close(): void {
    this.#xml.close("closed by us");
  }

  isLocalDomain(domain: string): boolean {
    return this.deps.router.isLocalDomain(domain);
  }

  isAuthenticated(remoteDomain: string, localDomain: string): boolean {
    return this.#authenticated.has(remoteDomain, localDomain);
  }

  async authenticate(claim: AuthClaim, prove: () => boolean | Promise<boolean>): Promise<InboundAuthOutcome> {
    const { remote, local, method } = claim;
    if (!(await this.#admit(remote, local, method))) return "refused";
    let proven: boolean;
    try {
      proven = (await prove()) === true;
    } catch (err) {
      // An authenticator's bug is ours to log, and never a reason to let the peer in.
      this.deps.logger.error({ what: "auth_prove_failed", local, remote, method, streamId: this.#id, err }, "authenticator threw while proving a claim");
      proven = false;
    }
    if (this.#xml.closed) return "refused";
    if (!proven) return "unproven";
    this.#markAuthenticated(remote, local, method);
    return "authenticated";
  }

  /**
   * The core's checks before any authenticator's proof counts (so that no plugin can bypass them): limits, required_trusted,
   * then the policy chain. Fail closed: a chain that throws denies like a "deny" verdict.
   */
  async #admit(remoteDomain: string, localDomain: string, method: string): Promise<boolean> {
    if (this.#xml.closed) return false;
    if (!this.#authenticated.hasRemote(remoteDomain) && this.#authenticated.remoteCount >= MAX_REMOTE_DOMAINS_PER_STREAM) {
      // The map of authenticated domains is keyed by names the peer chooses: bounded, or a peer could grow it without limit.
      // RFC 6120 §4.9.3.16: beyond local policy.
      this.#streamError("policy-violation", `more than ${MAX_REMOTE_DOMAINS_PER_STREAM} remote domains on one stream`);
      return false;
    }
    if (this.deps.tls.mode === "required_trusted") {
      // required_trusted: whatever the method, the certificate must be valid for the claimed domain
      // (RFC 6125); MongooseIM accepts peers without one; we do not.
      const check = this.#tls ? this.deps.tls.checkPeer(this.#tls, remoteDomain) : { trusted: false, reason: "no TLS" };
      if (!check.trusted) {
        this.#streamError("not-authorized", `certificate not valid for '${remoteDomain}': ${check.reason ?? "untrusted"}`);
        return false;
      }
    }
    let verdict: string;
    try {
      verdict = await this.deps.policy.decide({ localDomain, remoteDomain, direction: "inbound", via: method });
    } catch (err) {
      this.deps.logger.error({ what: "policy_failed", local: localDomain, remote: remoteDomain, reason: (err as Error).message }, "policy chain threw: denying");
      verdict = "deny";
    }
    if (this.#xml.closed) return false;
    if (verdict !== "allow") {
      this.deps.events.emit({ type: "auth_failed", direction: "inbound", local: localDomain, remote: remoteDomain, method, reason: "denied by policy", denied: true });
      this.#streamError("invalid-from", `'${remoteDomain}' is not allowed to federate with '${localDomain}'`);
      return false;
    }
    return true;
  }

  /** Private on purpose: reachable only through authenticate(), after the core's checks. */
  #markAuthenticated(remoteDomain: string, localDomain: string, method: string): void {
    if (this.#xml.closed) return;
    this.#authenticated.set(remoteDomain, localDomain, { method, at: this.deps.clock.now() });
    this.#negotiationTimer?.cancel();
    this.#negotiationTimer = undefined;
    this.deps.logger.info({ what: "authenticated", direction: "inbound", local: localDomain, remote: remoteDomain, method, streamId: this.#id });
    this.deps.events.emit({ type: "authenticated", direction: "inbound", local: localDomain, remote: remoteDomain, method, streamId: this.#id });
    this.deps.sessions.inboundAuthenticated(localDomain, remoteDomain, this);
  }

  expectRestart(): void {
    this.#xml.restart();
    this.#restartExpected = true;
    this.#phase = "header";
  }

  #onHeader(header: StreamHeader): void {
    if (!this.#restartExpected) {
      // A second header without a restart is not well-formed XML (two roots); the parser would catch it,
      // but say what happened.
      this.#streamError("not-well-formed", "unexpected stream header");
      return;
    }
    this.#restartExpected = false;
    const to = header.attrs.to;
    const problem = checkStreamHeader(header, NS.SERVER, (d) => this.isLocalDomain(d));
    if (problem) {
      this.#xml.fail(problem.condition, problem.text, { from: to && this.isLocalDomain(to.toLowerCase()) ? to : undefined, id: this.#id });
      this.#logError(problem.condition, problem.text);
      return;
    }
    // After a restart (TLS, SASL) the header must name the same local domain (RFC 6120 §4.3.3).
    const local = to!.toLowerCase();
    if (this.#localDomain && local !== this.#localDomain) {
      this.#streamError("host-unknown", "stream restart changed the 'to' domain");
      return;
    }
    this.#localDomain = local;
    this.#headerFrom = header.attrs.from?.toLowerCase();
    // RFC 6120 §4.3.3: every restarted stream gets a fresh id (dialback keys bind to it).
    if (this.#headers++ > 0) this.#id = newStreamId();
    this.#xml.sendHeader({ from: this.#localDomain, to: this.#headerFrom, id: this.#id, version: "1.0", "xml:lang": "en" });
    this.#phase = "open";
    this.#xml.send(this.#features());
    // Under required TLS a plaintext stream offers STARTTLS alone: the authenticators hear of the
    // stream once their features are on offer.
    if (this.#tls || !this.#tlsRequired()) for (const a of this.deps.authenticators) a.inboundStreamOpened?.(this);
  }

  #features(): XmlElement {
    const features = el("features", {}, NS.STREAM);
    const tls = this.deps.tls;
    if (!this.#tls && tls.offersStartTls(this.#localDomain)) {
      // RFC 6120 §5.3.1: <required/> tells the peer TLS is mandatory-to-negotiate here.
      features.append(el("starttls", {}, NS.TLS, this.#tlsRequired() && el("required", {}, NS.TLS)));
    }
    // Under required TLS nothing but STARTTLS is on offer on a plaintext stream.
    if (!this.#tls && this.#tlsRequired()) return features;
    for (const a of this.deps.authenticators) features.append(...a.inboundFeatures(this));
    if (this.deps.sm) features.append(this.deps.sm.feature());
    const bidi = this.deps.sessions.bidi?.feature();
    if (bidi) features.append(bidi);
    return features;
  }

  #tlsRequired(): boolean {
    const mode = this.deps.tls.mode;
    return mode === "required" || mode === "required_trusted";
  }

  #onElement(element: XmlElement): void {
    if (this.#phase !== "open") return;
    if (element.name === "error" && element.ns === NS.STREAM) {
      // RFC 6120 §4.9.1.1: the peer gave up on this stream; close our side too.
      const condition = definedCondition(element, NS.STREAM_ERRORS);
      this.deps.logger.info({ what: "inbound_stream_error", streamId: this.#id, condition, sent: false, remote: this.#headerFrom });
      this.#xml.close("peer sent a stream error");
      return;
    }
    if (element.name === "starttls" && element.ns === NS.TLS) {
      void this.#startTls();
      return;
    }
    if (!this.#tls && this.#tlsRequired()) {
      // RFC 6120 §5.3.1: TLS is mandatory-to-negotiate here; anything else first is a policy violation.
      this.#streamError("policy-violation", "STARTTLS is required before anything else");
      return;
    }
    // Stanzas first: they are nearly all the traffic, and no authenticator handles jabber:server.
    if (element.ns === NS.SERVER && STANZA_NAMES.has(element.name)) {
      this.#onStanza(element);
      return;
    }
    if (element.ns === SM_NS && this.deps.sm) {
      // XEP-0198 acknowledges only what the initiator sends on this stream: once it enables or
      // resumes stream management here, our own stanzas stop riding on it (XEP-0288) and take the
      // pair's own outbound session, where stream management covers them (docs/architecture.md).
      if (element.name === "enable" || element.name === "resume") this.deps.sessions.bidi?.withdraw(this);
      (this.#sm ??= this.deps.sm.forStream(this)).handle(element);
      return;
    }
    if (this.deps.sessions.bidi?.handleInbound(this, element)) return;
    for (const a of this.deps.authenticators) if (a.handleInbound(this, element)) return;
    // RFC 6120 §4.9.3.24: a first-level element we do not understand.
    this.#streamError("unsupported-stanza-type", `unexpected <${element.name} xmlns='${element.ns ?? ""}'>`);
  }

  #onStanza(stanza: XmlElement): void {
    const from = fromDomainOf(stanza);
    const to = toDomainOf(stanza);
    if (this.#authenticated.empty) {
      // RFC 6120 §4.9.3.12: stanzas before authentication.
      this.#streamError("not-authorized", "stanza sent before the stream was authenticated");
      return;
    }
    if (!from || !to) {
      // RFC 6120 §8.1.1.1 / §8.1.2.1: S2S stanzas must carry both addresses.
      this.#streamError("improper-addressing", "stanza without a valid 'from' and 'to'");
      return;
    }
    if (!this.isLocalDomain(to)) {
      this.#streamError("host-unknown", `'${to}' is not served here`);
      return;
    }
    if (!this.isAuthenticated(from, to)) {
      // RFC 6120 §4.9.3.9: the 'from' domain is not authenticated on this stream (for this 'to').
      this.#streamError("invalid-from", `'${from}' is not authenticated for '${to}' on this stream`);
      return;
    }
    this.stanzasIn++;
    this.deps.traffic.stanzasIn++;
    const backpressure = this.deps.router.deliverLocal(stanza);
    this.#sm?.countHandled();
    // What the delivery forwards cannot leave as fast as this peer sends: stop reading it for now.
    if (backpressure) this.#xml.pauseReadingUntil(backpressure);
  }

  async #startTls(): Promise<void> {
    const tls = this.deps.tls;
    if (this.#tls || !tls.offersStartTls(this.#localDomain)) {
      // RFC 6120 §5.4.2.2: STARTTLS not offered -> <failure/> and close.
      this.#xml.send(el("failure", {}, NS.TLS));
      this.#xml.close("starttls not offered");
      return;
    }
    this.#xml.send(el("proceed", {}, NS.TLS));
    const raw = this.#xml.detachForUpgrade();
    try {
      const channel = await tls.acceptInbound(raw, this.#localDomain);
      if (!this.#acceptableChannel(channel)) return;
      this.#tls = channel;
      this.#restartExpected = true;
      this.#phase = "header";
      this.#xml.upgraded(channel.socket);
      this.deps.events.emit({ type: "tls_up", direction: "inbound", local: this.#localDomain, remote: this.#headerFrom ?? "", streamId: this.#id });
    } catch (err) {
      // RFC 6120 §5.4.3.2: a failed handshake closes the TCP connection at once.
      this.deps.logger.info({ what: "inbound_tls_failed", streamId: this.#id, reason: (err as Error).message });
      this.deps.events.emit({ type: "tls_failed", direction: "inbound", local: this.#localDomain, remote: this.#headerFrom ?? "", reason: (err as Error).message });
      this.#xml.destroy("tls handshake failed");
    }
  }

  /**
   * required_trusted: a peer without a certificate chaining to a trusted CA is refused right after
   * the handshake (the domain match is checked when it authenticates a domain).
   */
  #acceptableChannel(channel: SecureChannel): boolean {
    if (this.deps.tls.mode !== "required_trusted") return true;
    if (channel.peerCertificate && channel.chainTrusted) return true;
    const reason = channel.peerCertificate ? `certificate not trusted: ${channel.chainError ?? "unknown issuer"}` : "no client certificate";
    this.deps.logger.info({ what: "inbound_tls_refused", streamId: this.#id, reason });
    this.#tls = channel;
    this.#xml.upgraded(channel.socket);
    this.#restartExpected = true;
    this.#phase = "header";
    // The peer sends its new header next; answer it with the error (RFC 6120 §4.9.1.2 allows either order).
    this.#xml.fail("not-authorized", reason, { from: this.#localDomain, id: newStreamId() });
    return false;
  }

  /** Direct-TLS listener: the channel exists before the first header. */
  checkDirectTls(): boolean {
    return this.#tls ? this.#acceptableChannel(this.#tls) : true;
  }

  #streamError(condition: string, text?: string): void {
    this.#logError(condition, text);
    this.#xml.fail(condition, text, { from: this.#localDomain || undefined, id: this.#id });
  }

  #logError(condition: string, text?: string): void {
    this.deps.logger.info({ what: "inbound_stream_error", streamId: this.#id, condition, text, remote: this.#headerFrom });
    this.deps.events.emit({ type: "inbound_stream_error", streamId: this.#id, condition, text });
  }

  #onClosed(reason: string): void {
    this.#negotiationTimer?.cancel();
    this.#negotiationTimer = undefined;
    this.#sm?.closed();
    this.#phase = "closed";
    this.deps.logger.debug({ what: "inbound_closed", streamId: this.#id, reason });
    this.deps.events.emit({ type: "inbound_closed", streamId: this.#id });
    this.deps.sessions.bidi?.inboundClosed(this);
    this.onGone(this);
  }
}

/**
 * The XML stream options of a listener's streams. Without a shaper (whose token bucket is per
 * stream) every stream of the listener shares one object (~0.15 KiB less per link).
 */
function xmlOptions(listener: S2sListenerConfig, clock: Clock): XmlStreamOptions {
  const build = (): XmlStreamOptions => ({ contentNs: NS.SERVER, limits: { maxStanzaSize: listener.maxStanzaSize, maxDepth: DEFAULT_MAX_DEPTH }, idleTimeoutMs: listener.idleTimeoutMs, shaper: shaperFor(listener.shaper), clock });
  if (listener.shaper) return build();
  const cached = sharedXmlOptions.get(listener);
  if (cached?.clock === clock && cached.idleTimeoutMs === listener.idleTimeoutMs && cached.limits.maxStanzaSize === listener.maxStanzaSize) return cached;
  const options = build();
  sharedXmlOptions.set(listener, options);
  return options;
}

const sharedXmlOptions = new WeakMap<S2sListenerConfig, XmlStreamOptions>();

/** Remote domains one inbound stream may authenticate (XEP-0220 §2.1.3 lets a stream carry several). */
export const MAX_REMOTE_DOMAINS_PER_STREAM = 1000;

export function newStreamId(): string {
  // RFC 6120 §4.7.3: unique and unpredictable (XEP-0185 keys depend on it).
  return randomBytes(16).toString("hex");
}
