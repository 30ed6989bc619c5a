import type { Connection } from "../connector/connector.js";
import { ERROR_CODES, S2sError } from "../errors.js";
import { DEFAULT_MAX_DEPTH, type StreamHeader } from "../stream/parser.js";
import type { OutboundStreamApi } from "../stream/streams.js";
import { XmlStream } from "../stream/xml-stream.js";
import { withTimeout } from "../time/with-timeout.js";
import type { SecureChannel } from "../tls/tls.js";
import { definedCondition, el, NS, type XmlElement } from "../xml/element.js";
import type { Authenticator } from "../auth/authenticator.js";
import type { SessionSettings } from "./session-settings.js";
import type { EventBus } from "../events/events.js";
import type { Logger } from "../logging/logger.js";
import type { StreamParserFactory } from "../stream/parser.js";
import type { TlsProvider } from "../tls/tls.js";
import { peerSummary } from "../tls/peer-summary.js";
import type { Clock, Timer } from "../clock/clock.js";
import type { BidiLinks } from "./bidi-links.js";
import type { BidiReverse } from "./bidi-reverse.js";
import { STANZA_NAMES } from "../router/stanza.js";

interface Waiter {
  match: (e: XmlElement) => boolean;
  resolve: (e: XmlElement) => void;
  reject: (err: Error) => void;
  timer: Timer;
}

/** What an outbound stream uses, handed over by its session (OutboundSessionManager gets each by @inject). */
export interface OutboundStreamNeeds {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly events: EventBus;
  readonly parserFactory: StreamParserFactory;
  readonly tls: TlsProvider;
  /** `[plugins] authenticators`, in order; empty when the operator enabled none. */
  readonly authenticators: readonly Authenticator[];
  /** `s2s.outgoing.max_stanza_size`. */
  readonly maxStanzaSize: number;
  readonly settings: Pick<SessionSettings, "negotiationTimeoutMs">;
  /** XEP-0288 (core/session/bidi-links.ts); absent: never asked for. */
  readonly bidi?: Pick<BidiLinks, "request">;
}

/**
 * The initiating side of an S2S stream (RFC 6120 §4.2-§6): header, features, STARTTLS per
 * `use_starttls`, then the authenticators in order. `tlsSettled` resolves once the stream is past
 * TLS negotiation, which is all dialback verification needs (XEP-0220 §2.3).
 */
export class OutboundS2sStream implements OutboundStreamApi {
  readonly direction = "outbound" as const;
  #id = "";
  #tls?: SecureChannel;
  #waiters: Waiter[] = [];
  #headerWaiter?: { resolve: (h: StreamHeader) => void; reject: (err: Error) => void };
  #closedError?: Error;
  /** The stream error the peer closed this stream with, if it did. */
  #peerError?: S2sError;
  #tlsSettled!: (ok: boolean) => void;
  /** True when the stream got past TLS negotiation; false when it failed before. */
  readonly tlsSettled: Promise<boolean> = new Promise((r) => (this.#tlsSettled = r));
  readonly #xml: XmlStream;
  /** XEP-0288: the peer's stanzas on this stream, once we asked for bidi. */
  #reverse?: BidiReverse;

  constructor(
    connection: Connection,
    readonly localDomain: string,
    readonly remoteDomain: string,
    private readonly deps: OutboundStreamNeeds,
    private readonly onClosed: (stream: OutboundS2sStream, reason: string) => void,
    private readonly onUnexpected: (stream: OutboundS2sStream, element: XmlElement) => void,
  ) {
    this.#tls = connection.tls;
    this.#xml = new XmlStream(connection.socket, deps.parserFactory, {
      onHeader: (h) => this.#onHeader(h),
      onElement: (e) => this.#onElement(e),
      onStreamEnd: () => this.#xml.close("peer closed the stream"),
      onParseError: (condition, text) => this.fail(condition, text),
      onClosed: (reason) => this.#onClosed(reason),
    }, { contentNs: NS.SERVER, limits: { maxStanzaSize: deps.maxStanzaSize, maxDepth: DEFAULT_MAX_DEPTH }, idleTimeoutMs: Infinity, clock: deps.clock });
  }

  #markClosed!: () => void;
  readonly #closed: Promise<void> = new Promise((r) => (this.#markClosed = r));

  whenClosed(): Promise<void> {
    return this.#closed;
  }

  get id(): string { return this.#id; }
  get tls(): SecureChannel | undefined { return this.#tls; }
  get closed(): boolean { return this.#xml.closed; }
  get writable(): boolean { return this.#xml.writable; }
  /** The latest `<stream:features/>` the peer sent (after a SASL restart: the post-authentication ones; XEP-0198 reads them). */
  get features(): XmlElement | undefined { return this.#features; }
  #features?: XmlElement;

  send(element: XmlElement): void {
    this.#xml.send(element);
  }

  sendMany(elements: readonly XmlElement[]): void {
    this.#xml.sendMany(elements);
  }

  /** XEP-0198: write and return each stanza's text (XmlStream.sendManyKept). */
  sendManyKept(elements: readonly XmlElement[]): string[] {
    return this.#xml.sendManyKept(elements);
  }

  /** XEP-0198 resend: text from `sendManyKept`, written as is. */
  sendSerialized(text: string): void {
    this.#xml.sendSerialized(text);
  }

  /** Backpressure for whoever feeds this stream: undefined, or a promise that settles when it drained. */
  backpressure(): Promise<void> | undefined {
    return this.#xml.congested ? this.#xml.drained() : undefined;
  }

  /** Flow control on what the peer sends us (XEP-0288 stanzas): stop reading until `until` settles. */
  pauseReadingUntil(until: Promise<void>): void {
    this.#xml.pauseReadingUntil(until);
  }

  fail(condition: string, text?: string): void {
    this.deps.logger.info({ what: "outbound_stream_error", local: this.localDomain, remote: this.remoteDomain, condition, text, sent: true });
    this.#xml.fail(condition, text, { from: this.localDomain, to: this.remoteDomain });
  }

  close(reason = "closed by us"): void {
    this.#xml.close(reason);
  }

  destroy(reason: string): void {
    this.#xml.destroy(reason);
  }

  next(match: (element: XmlElement) => boolean, timeoutMs: number): Promise<XmlElement> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: this.deps.clock.timer(timeoutMs, () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(new S2sError(ERROR_CODES.TIMEOUT, `no answer from ${this.remoteDomain} within ${timeoutMs} ms`, "remote-server-timeout"));
        }),
      };
      this.#waiters.push(waiter);
    });
  }

  async restart(timeoutMs = this.deps.settings.negotiationTimeoutMs): Promise<XmlElement> {
    this.#xml.restart();
    return this.#openStream(timeoutMs);
  }

  /** Run the whole negotiation; resolves when the pair is authenticated, rejects with an S2sError otherwise. */
  async negotiate(timeoutMs: number): Promise<string> {
    try {
      // Direct TLS (XEP-0368): the channel is up before the first byte of XML; verify it first.
      if (this.#tls) {
        this.#emitTlsPeer(this.#tls);
        this.#verifyBeforeUse(this.#tls);
      }
      let features = await this.#openStream(timeoutMs);
      if (!this.#tls) features = await this.#negotiateTls(features, timeoutMs);
      this.#tlsSettled(true);
      // XEP-0288 §2.1-§2.2: after TLS, before authenticating.
      this.#reverse = await this.deps.bidi?.request(this, features);
      const method = await this.#authenticate(features);
      this.#reverse?.open();
      return method;
    } catch (err) {
      this.#tlsSettled(false);
      throw err;
    }
  }

  async #openStream(timeoutMs: number): Promise<XmlElement> {
    const header = new Promise<StreamHeader>((resolve, reject) => (this.#headerWaiter = { resolve, reject }));
    // RFC 6120 §4.3.2: version 1.0 peers send <stream:features/> right after their header, often in
    // the same TCP segment: wait for both from the start.
    const features = this.next((e) => e.name === "features" && e.ns === NS.STREAM, timeoutMs);
    features.catch(() => {}); // awaited below; this only keeps an early rejection from being reported as unhandled
    this.#xml.sendHeader({ from: this.localDomain, to: this.remoteDomain, version: "1.0", "xml:lang": "en" });
    await withTimeout(header, timeoutMs, () => new S2sError(ERROR_CODES.TIMEOUT, `no stream header from ${this.remoteDomain} within ${timeoutMs} ms`, "remote-server-timeout"), this.deps.clock);
    const offered = (this.#features = await features);
    // Observation only (probe timings for the metrics): once per stream (re)start, never per stanza.
    this.deps.events.emit({ type: "stream_features", local: this.localDomain, remote: this.remoteDomain, streamId: this.#id, secure: Boolean(this.#tls), features: offered.children.filter((c): c is XmlElement => typeof c !== "string").map((c) => c.name) });
    return offered;
  }

  #emitTlsPeer(channel: SecureChannel): void {
    // Once per handshake; plain data so that events$ stays serialisable.
    this.deps.events.emit({ type: "tls_peer", direction: "outbound", local: this.localDomain, remote: this.remoteDomain, peer: peerSummary(this.deps.tls, channel, this.remoteDomain) });
  }

  /** RFC 6120 §5.4: STARTTLS as `use_starttls` says; verification before anything else is sent. */
  async #negotiateTls(features: XmlElement, timeoutMs: number): Promise<XmlElement> {
    const tls = this.deps.tls;
    const mode = tls.mode;
    const offer = features.getChild("starttls", NS.TLS);
    const mandatory = mode === "required" || mode === "required_trusted";
    if (!offer || mode === "false") {
      if (mandatory) {
        this.fail("policy-violation", "STARTTLS is required by this server's policy");
        throw new S2sError(ERROR_CODES.TLS_FAILED, `${this.remoteDomain} does not offer STARTTLS and use_starttls is ${mode}`, "remote-server-not-found");
      }
      if (offer?.getChild("required", NS.TLS)) {
        this.close("peer requires TLS");
        throw new S2sError(ERROR_CODES.TLS_FAILED, `${this.remoteDomain} requires STARTTLS and use_starttls is "false"`, "remote-server-not-found");
      }
      return features;
    }
    this.send(el("starttls", {}, NS.TLS));
    const answer = await this.next((e) => e.ns === NS.TLS && (e.name === "proceed" || e.name === "failure"), timeoutMs);
    if (answer.name === "failure") {
      this.destroy("starttls failure");
      throw new S2sError(ERROR_CODES.TLS_FAILED, `${this.remoteDomain} answered STARTTLS with <failure/>`, "remote-server-not-found");
    }
    const raw = this.#xml.detachForUpgrade();
    let channel: SecureChannel;
    try {
      channel = await tls.connectOutbound(raw, this.localDomain, this.remoteDomain);
    } catch (err) {
      raw.destroy();
      this.deps.events.emit({ type: "tls_failed", direction: "outbound", local: this.localDomain, remote: this.remoteDomain, reason: (err as Error).message });
      throw new S2sError(ERROR_CODES.TLS_FAILED, `TLS handshake with ${this.remoteDomain} failed: ${(err as Error).message}`, "remote-server-not-found", { cause: err });
    }
    this.#emitTlsPeer(channel);
    this.#verifyBeforeUse(channel);
    this.#tls = channel;
    this.#xml.upgraded(channel.socket);
    this.deps.events.emit({ type: "tls_up", direction: "outbound", local: this.localDomain, remote: this.remoteDomain });
    return this.#openStream(timeoutMs);
  }

  /** required_trusted: verified before a single byte of XML goes over the channel (MongooseIM never checks it; we fail closed). */
  #verifyBeforeUse(channel: SecureChannel): void {
    if (this.deps.tls.mode !== "required_trusted") return;
    const check = this.deps.tls.checkPeer(channel, this.remoteDomain);
    if (check.trusted) return;
    channel.socket.destroy();
    throw new S2sError(ERROR_CODES.TLS_FAILED, `certificate of ${this.remoteDomain} refused: ${check.reason}`, "remote-server-not-found");
  }

  async #authenticate(features: XmlElement): Promise<string> {
    const reasons: string[] = [];
    let condition = "remote-server-not-found";
    const authenticators = this.deps.authenticators;
    for (const [i, authenticator] of authenticators.entries()) {
      const result = await authenticator.authenticateOutbound(this, features);
      if (result.outcome === "authenticated") return authenticator.name;
      reasons.push(`${authenticator.name}: ${result.reason}`);
      const next = authenticators[i + 1]?.name;
      // A method the peer does not offer (EXTERNAL without a usable certificate, before dialback) is
      // the normal path to the next one, not a failure (XEP-0178 §3, XEP-0220 §2.1).
      if (result.outcome === "unavailable" && next !== undefined) this.deps.logger.info({ what: "auth_fallback", direction: "outbound", local: this.localDomain, remote: this.remoteDomain, method: authenticator.name, next, reason: result.reason });
      else this.deps.logger.info({ what: "auth_failed", direction: "outbound", local: this.localDomain, remote: this.remoteDomain, method: authenticator.name, reason: result.reason, outcome: result.outcome });
      if (result.outcome === "failed") {
        condition = result.condition ?? condition;
        this.deps.events.emit({ type: "auth_failed", direction: "outbound", local: this.localDomain, remote: this.remoteDomain, method: authenticator.name, reason: result.reason });
        if (result.fatal || this.closed) break;
      }
    }
    if (!this.closed) this.close("authentication failed");
    // The peer ended the stream with an error: that, not each authenticator's guess at why its
    // answer never came, says what happened (one refusal, one bounce, whatever the method).
    const peer = this.#peerError;
    if (peer) throw new S2sError(ERROR_CODES.AUTH_FAILED, peer.message, peer.condition, { cause: peer });
    throw new S2sError(ERROR_CODES.AUTH_FAILED, `could not authenticate to ${this.remoteDomain} (${reasons.join("; ") || "no authenticator"})`, condition);
  }

  #onHeader(header: StreamHeader): void {
    const waiter = this.#headerWaiter;
    this.#headerWaiter = undefined;
    if (header.name !== "stream" || header.ns !== NS.STREAM || header.defaultNs !== NS.SERVER) {
      this.fail("invalid-namespace", "expected an S2S stream header");
      return;
    }
    // RFC 6120 §4.7.3 / XEP-0220 §2.1.1: the id the receiving server chose is what dialback keys bind to.
    this.#id = header.attrs.id ?? "";
    waiter?.resolve(header);
  }

  #onElement(element: XmlElement): void {
    if (element.name === "error" && element.ns === NS.STREAM) {
      const condition = definedCondition(element, NS.STREAM_ERRORS);
      const text = element.getChildText("text", NS.STREAM_ERRORS) ?? undefined;
      this.deps.logger.info({ what: "outbound_stream_error", local: this.localDomain, remote: this.remoteDomain, condition, text, sent: false });
      // The peer's own explanation (RFC 6120 §4.9.2 <text/>) goes into the bounce text.
      const explained = text ? `${condition}: ${text}` : condition;
      this.#peerError = new S2sError(ERROR_CODES.STREAM_ERROR, `${this.remoteDomain} sent stream error ${explained}`, bounceConditionForPeerError(condition));
      this.#closedError = this.#peerError;
      this.#xml.close(`stream error from peer: ${condition}`);
      return;
    }
    if (this.#reverse && element.ns === NS.SERVER && STANZA_NAMES.has(element.name)) {
      this.#reverse.receive(element);
      return;
    }
    const index = this.#waiters.findIndex((w) => w.match(element));
    if (index !== -1) {
      const [waiter] = this.#waiters.splice(index, 1);
      waiter!.timer.cancel();
      waiter!.resolve(element);
      return;
    }
    for (const a of this.deps.authenticators) if (a.handleOutbound?.(this, element)) return;
    this.onUnexpected(this, element);
  }

  #onClosed(reason: string): void {
    const err = this.#closedError ?? new S2sError(ERROR_CODES.CONNECT_FAILED, `stream to ${this.remoteDomain} closed: ${reason}`, "remote-server-not-found");
    this.#closedError = err;
    this.#headerWaiter?.reject(err);
    for (const w of this.#waiters) {
      w.timer.cancel();
      w.reject(err);
    }
    this.#waiters = [];
    this.#tlsSettled(false);
    this.#reverse?.close();
    this.#markClosed();
    this.onClosed(this, reason);
  }
}

/**
 * What a stream error the peer sent (RFC 6120 §4.9.3) means for the stanzas waiting on the pair
 * (RFC 6120 §8.3.3 stanza errors; docs/operations.md). A refusal by the peer's policy is bounced like a refusal by ours,
 * `service-unavailable` (cancel, RFC 6120 §8.3.3.19): `policy-violation` (§4.9.3.14), and
 * `invalid-from` / `not-authorized` (§4.9.3.9, §4.9.3.12), which MongooseIM and xmpp-s2s send when
 * their policy denies the pair during dialback or SASL EXTERNAL. A peer going away or overloaded
 * (§4.9.3.4, .16, .17, and `remote-connection-failed` §4.9.3.15 when it could not reach our
 * authoritative server) may work later: `remote-server-timeout` (wait). Anything else:
 * `remote-server-not-found` (cancel).
 */
export function bounceConditionForPeerError(condition: string): string {
  switch (condition) {
    case "policy-violation":
    case "invalid-from":
    case "not-authorized":
      return "service-unavailable";
    case "connection-timeout":
    case "resource-constraint":
    case "system-shutdown":
    case "remote-connection-failed":
      return "remote-server-timeout";
    default:
      return "remote-server-not-found";
  }
}
