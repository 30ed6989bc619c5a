import type { EventBus } from "../events/events.js";
import type { Logger } from "../logging/logger.js";
import type { TrafficCounters } from "../metrics/traffic.js";
import type { PolicyChain } from "../policy/chain.js";
import type { Router } from "../router/router.js";
import type { SecureChannel } from "../tls/tls.js";
import { el, type XmlElement } from "../xml/element.js";
import { SM_NS } from "../sm/stream-management.js";
import type { Subscription } from "rxjs";
import { BidiReverse, type BidiReverseStream } from "./bidi-reverse.js";

/** XEP-0288 §2.2: what the initiating server sends to ask for a bidirectional stream. */
export const BIDI_NS = "urn:xmpp:bidi";
/** XEP-0288 §2.1: the stream feature the receiving server offers. */
export const BIDI_FEATURE_NS = "urn:xmpp:features:bidi";

/** An inbound stream as a carrier of our own stanzas (InboundS2sStream). */
export interface BidiCarrier {
  readonly id: string;
  readonly tls?: SecureChannel;
  readonly writable: boolean;
  sendMany(elements: readonly XmlElement[]): void;
  /** A promise while the socket is congested (flow control), else undefined. */
  backpressure(): Promise<void> | undefined;
  /** (remote, local) pairs authenticated on the stream so far. */
  readonly pairs: ReadonlyArray<{ remote: string; local: string }>;
}

export interface BidiNeeds {
  readonly logger: Logger;
  readonly events: EventBus;
  readonly policy: PolicyChain;
  readonly traffic: TrafficCounters;
  /** Delivers what the peer sends on our outbound bidi streams. */
  readonly router: Router;
  /** Our XEP-0198 is on: we enable it on our outbound streams when the peer offers it. */
  readonly streamManagement?: boolean;
}

/** Where a stanza goes when no bidi link takes it, or when its link broke before it was written. */
export type BidiFallback = (local: string, remote: string, stanza: XmlElement) => Promise<void> | undefined;

/**
 * XEP-0288 Bidirectional Server-to-Server Connections, both roles (docs/architecture.md, "Bidirectional streams"):
 *
 * - receiving server (our inbound streams): we offer `<bidi xmlns='urn:xmpp:features:bidi'/>`; when the
 *   peer asks with `<bidi xmlns='urn:xmpp:bidi'/>`, each (remote, local) pair it then authenticates on the
 *   stream (SASL EXTERNAL or dialback, through the stream engine's checks) lets us send (local -> remote)
 *   over that same stream: a *link*. The pair's outbound session is used instead when it is established.
 * - initiating server (our outbound streams): when the peer offers the feature we ask for it
 *   (after TLS, before authenticating), and once our domain is authenticated the peer's stanzas from
 *   its domain to ours are accepted on our outbound stream (bidi-reverse.ts).
 *
 * Owned by the OutboundSessionManager (inbound streams reach it through `OutboundSessions.bidi`).
 */
export class BidiLinks {
  /** Streams whose peer asked for bidi, and whether the stream was under TLS when it asked. */
  readonly #requested = new WeakMap<BidiCarrier, boolean>();
  /** `${local} ${remote}` -> the inbound stream our stanzas for the pair ride on. */
  readonly #links = new Map<string, BidiLink>();
  readonly #byCarrier = new Map<BidiCarrier, Set<BidiLink>>();
  /** Our outbound streams on which the peer's stanzas are accepted (judged again on reload). */
  readonly #reverses = new Set<BidiReverse>();
  readonly #reloads?: Subscription;

  constructor(
    readonly enabled: boolean,
    private readonly needs: BidiNeeds,
    private readonly fallback: BidiFallback,
    /** A link started writing for (local -> remote). */
    private readonly onUp: (local: string, remote: string) => void = () => {},
  ) {
    // A reload swaps the policies in place (core/server/reload.ts) and then says so: the inbound
    // direction we accepted on our outbound streams is judged again, like inbound streams are.
    if (enabled) {
      this.#reloads = needs.events.events$.subscribe((e) => {
        if (e.type === "config_reloaded") void this.#judgeReverses();
      });
    }
  }

  /** Links in use now (tests, admin). */
  get size(): number {
    return this.#links.size;
  }

  // --- Receiving server: our inbound streams -------------------------------------------------

  /** XEP-0288 §2.1: the feature, with every feature list (before and after TLS), when enabled. */
  feature(): XmlElement | undefined {
    return this.enabled ? el("bidi", {}, BIDI_FEATURE_NS) : undefined;
  }

  /** XEP-0288 §2.2: the peer asks for bidi. False when this is not that request (or bidi is off: the stream engine rejects it then). */
  handleInbound(carrier: BidiCarrier, element: XmlElement): boolean {
    if (!this.enabled || element.name !== "bidi" || element.ns !== BIDI_NS) return false;
    this.#requested.set(carrier, carrier.tls !== undefined);
    this.needs.logger.debug({ what: "bidi_requested", streamId: carrier.id });
    // Asked after authenticating (XEP-0288 says SHOULD before): the pairs already proven count too.
    for (const { remote, local } of carrier.pairs) this.#open(carrier, remote, local);
    return true;
  }

  /** The stream engine authenticated (remote, local) on `carrier` (after policy and proof). */
  inboundAuthenticated(carrier: BidiCarrier, remote: string, local: string): void {
    const secureAtRequest = this.#requested.get(carrier);
    if (secureAtRequest === undefined) return;
    // XEP-0288 §2.1: STARTTLS completes before bidi is enabled; a request made before TLS does not survive it.
    if (!secureAtRequest && carrier.tls) return;
    this.#open(carrier, remote, local);
  }

  /**
   * The link exists from the moment the pair is authenticated (so the answer to the peer's first
   * stanza already takes it), but writes nothing until the policy chain allows (local -> remote):
   * sending this way is an outbound decision, judged like a connection (fail closed). Denied, its
   * stanzas take the normal path, where the same policy bounces them.
   */
  #open(carrier: BidiCarrier, remote: string, local: string): void {
    if (!carrier.writable) return;
    const key = `${local} ${remote}`;
    const current = this.#links.get(key);
    if (current?.carrier === carrier) return;
    const link = new BidiLink(local, remote, carrier, this.needs.traffic, this.fallback);
    this.#links.set(key, link);
    let links = this.#byCarrier.get(carrier);
    if (!links) this.#byCarrier.set(carrier, (links = new Set()));
    links.add(link);
    // A second bidi stream from the same peer: the newer one wins (the older may be on its way
    // out), and takes what the older had not written yet, in order.
    if (current) this.#remove(current, current.allowed, link);
    void this.#judge(link);
  }

  async #judge(link: BidiLink): Promise<void> {
    const { logger, events } = this.needs;
    const { local, remote, carrier } = link;
    const verdict = await this.#decide(local, remote, "outbound", "bidi");
    if (link.detached) return;
    if (verdict !== "allow") {
      logger.info({ what: "bidi_refused", local, remote, streamId: carrier.id, reason: "denied by policy" });
      this.#remove(link, false);
      return;
    }
    logger.info({ what: "bidi_up", local, remote, over: "inbound", streamId: carrier.id });
    events.emit({ type: "bidi_up", local, remote, over: "inbound", streamId: carrier.id });
    link.allow();
    this.onUp(local, remote);
  }

  /**
   * The peer enabled (or resumed) XEP-0198 on `carrier`: those acks cover only its direction, so
   * our stanzas leave the stream, what the links had not written takes the pair's own session in
   * order, and no new link opens on it.
   */
  withdraw(carrier: BidiCarrier): void {
    if (!this.#requested.delete(carrier)) return;
    this.needs.logger.debug({ what: "bidi_withdrawn", streamId: carrier.id, reason: "stream management enabled on the stream" });
    this.inboundClosed(carrier);
  }

  /** The inbound stream closed: its links go, and what they had not written yet takes the normal path. */
  inboundClosed(carrier: BidiCarrier): void {
    const links = this.#byCarrier.get(carrier);
    if (!links) return;
    for (const link of [...links]) this.#remove(link);
  }

  #remove(link: BidiLink, wasUp = link.allowed, successor?: BidiLink): void {
    const key = `${link.local} ${link.remote}`;
    if (this.#links.get(key) === link) this.#links.delete(key);
    const links = this.#byCarrier.get(link.carrier);
    links?.delete(link);
    if (links?.size === 0) this.#byCarrier.delete(link.carrier);
    if (wasUp) {
      this.needs.logger.info({ what: "bidi_down", local: link.local, remote: link.remote, over: "inbound", streamId: link.carrier.id });
      this.needs.events.emit({ type: "bidi_down", local: link.local, remote: link.remote, over: "inbound", streamId: link.carrier.id });
    }
    link.detach(successor);
  }

  // --- Routing (OutboundSessionManager.send) ---------------------------------------------------

  /** Whether (local -> remote) has a link now. Cheap when there is none (the hot path asks per stanza). */
  has(local: string, remote: string): boolean {
    return this.#links.size !== 0 && this.#links.has(`${local} ${remote}`);
  }

  /** Send over the pair's link (call `has` first); the fallback takes it when there is none. */
  send(local: string, remote: string, stanza: XmlElement): Promise<void> | undefined {
    const link = this.#links.get(`${local} ${remote}`);
    return link ? link.send(stanza) : this.fallback(local, remote, stanza);
  }

  async #judgeReverses(): Promise<void> {
    for (const reverse of [...this.#reverses]) {
      const { localDomain: local, remoteDomain: remote } = reverse.stream;
      if ((await this.#decide(local, remote, "inbound", "reload")) !== "allow") reverse.stream.fail("policy-violation", `'${remote}' is no longer allowed to send to '${local}'`);
    }
  }

  /** The policy chain's verdict; one that throws denies (fail closed). */
  async #decide(local: string, remote: string, direction: "inbound" | "outbound", via: string): Promise<string> {
    try {
      return await this.needs.policy.decide({ localDomain: local, remoteDomain: remote, direction, via });
    } catch (err) {
      this.needs.logger.error({ what: "policy_failed", local, remote, reason: (err as Error).message }, "policy chain threw: no bidi");
      return "deny";
    }
  }

  /** Shutdown: no more reload judgements. */
  stop(): void {
    this.#reloads?.unsubscribe();
  }

  /** Drop the links the predicate rejects (policy reload, admin close, shutdown): their stanzas take the normal path. */
  async dropWhere(predicate: (local: string, remote: string) => Promise<boolean> | boolean): Promise<void> {
    for (const link of [...this.#links.values()]) if (await predicate(link.local, link.remote)) this.#remove(link);
  }

  // --- Initiating server: our outbound streams -------------------------------------------------

  /**
   * XEP-0288 §2.2: asks for bidi on an outbound stream when the peer offers it, once TLS is settled
   * (§2.1) and before any authentication. Returns what then receives the peer's stanzas, or
   * undefined (off, not offered, or our policy does not accept the peer's domain inbound).
   */
  async request(stream: BidiReverseStream, features: XmlElement): Promise<BidiReverse | undefined> {
    if (!this.enabled || !features.getChild("bidi", BIDI_FEATURE_NS)) return undefined;
    // XEP-0198 on this stream would acknowledge only our direction: the peer's stanzas riding on it
    // could be lost unseen when the link breaks. Where both are on offer, stream management wins and
    // each direction keeps its own acknowledged stream (docs/architecture.md, "Bidirectional streams").
    if (this.needs.streamManagement && features.getChild("sm", SM_NS)) return undefined;
    // What the peer will send us is inbound traffic from `remote`: judged as such before we ask for it.
    if ((await this.#decide(stream.localDomain, stream.remoteDomain, "inbound", "bidi")) !== "allow") return undefined;
    stream.send(el("bidi", {}, BIDI_NS));
    const reverse = new BidiReverse(stream, this.needs, () => this.#reverses.delete(reverse));
    this.#reverses.add(reverse);
    return reverse;
  }
}

/**
 * One (local -> remote) direction riding on an inbound stream. Like an outbound session's outbox,
 * the stanzas of one tick are written together, and kept as elements until then: when the stream
 * turns out to be gone, they take the normal outbound path in order instead of vanishing.
 */
class BidiLink {
  #outbox: XmlElement[] = [];
  /** The policy chain allowed (local -> remote): until then the outbox only fills. */
  allowed = false;
  detached = false;

  constructor(
    readonly local: string,
    readonly remote: string,
    readonly carrier: BidiCarrier,
    private readonly traffic: TrafficCounters,
    private readonly fallback: BidiFallback,
  ) {}

  send(stanza: XmlElement): Promise<void> | undefined {
    if (this.#outbox.length === 0 && this.allowed) process.nextTick(this.#flush);
    this.#outbox.push(stanza);
    return this.carrier.backpressure();
  }

  allow(): void {
    this.allowed = true;
    this.#flush();
  }

  readonly #flush = () => {
    if (this.detached) return;
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length === 0) return;
    if (this.carrier.writable) {
      this.carrier.sendMany(batch);
      this.traffic.stanzasOut += batch.length;
      return;
    }
    for (const stanza of batch) void this.fallback(this.local, this.remote, stanza);
  };

  /** The link is gone: what was not written yet goes to its successor, or back to the normal path, in order. */
  detach(successor?: BidiLink): void {
    this.detached = true;
    const batch = this.#outbox;
    this.#outbox = [];
    for (const stanza of batch) void (successor ? successor.send(stanza) : this.fallback(this.local, this.remote, stanza));
  }
}
