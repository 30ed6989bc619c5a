import { randomBytes } from "node:crypto";
import type { Clock, Timer } from "../clock/clock.js";
import type { EventBus } from "../events/events.js";
import type { Logger } from "../logging/logger.js";
import { ACK_DELAY_MS, SM_NS, type StreamManagementSettings } from "../sm/stream-management.js";
import { el, NS, type XmlElement } from "../xml/element.js";

/** XEP-0198 §5: counters are unsigned 32-bit and wrap. */
const MOD = 2 ** 32;

export interface Pair {
  readonly remote: string;
  readonly local: string;
}

/** What the SM side of an inbound stream uses of its stream (InboundS2sStream). */
export interface SmInboundStream {
  readonly id: string;
  readonly pairs: readonly Pair[];
  isAuthenticated(remoteDomain: string, localDomain: string): boolean;
  send(element: XmlElement): void;
  fail(condition: string, text?: string): void;
}

/**
 * Our side of XEP-0198 on inbound streams, as the receiver of stanzas: how many we handled (`h`),
 * and for which authenticated pairs it was enabled. Kept for the resume window after its stream is
 * gone, so a resumed stream tells the peer exactly where to restart.
 */
class InboundSmSession {
  /** Stanzas handled (passed on to local delivery, which delivers or bounces each), mod 2^32. */
  handled = 0;
  /** False after a clean close (XEP-0198 §5 ends the session); `<failed h/>` still says what arrived. */
  resumable = true;
  attachedTo?: InboundSm;
  timer?: Timer;

  constructor(
    readonly id: string,
    /** The pairs authenticated on the stream that enabled it: a resumption needs all of them again. */
    readonly pairs: readonly Pair[],
  ) {}
}

/**
 * The inbound SM sessions of one server, by SM id (built by S2sListeners when the
 * stream_management slot is filled). Bounded (`maxResumable`, oldest detached first) since peers
 * create them; ids are 128 random bits, so a peer cannot guess another's.
 */
export class InboundSmRegistry {
  readonly #sessions = new Map<string, InboundSmSession>();

  constructor(
    readonly settings: StreamManagementSettings,
    readonly deps: { readonly clock: Clock; readonly logger: Logger; readonly events: EventBus },
  ) {}

  /** XEP-0198 §3: advertised with the authentication features (dialback needs no later restart). */
  feature(): XmlElement {
    return el("sm", {}, SM_NS);
  }

  /** The SM side of one inbound stream, made when its first SM element arrives. */
  forStream(stream: SmInboundStream): InboundSm {
    return new InboundSm(this, stream);
  }

  create(pairs: readonly Pair[], owner: InboundSm): InboundSmSession {
    if (this.#sessions.size >= this.settings.maxResumable) this.#evictOne();
    const session = new InboundSmSession(randomBytes(16).toString("hex"), pairs);
    session.attachedTo = owner;
    this.#sessions.set(session.id, session);
    return session;
  }

  get(id: string): InboundSmSession | undefined {
    return this.#sessions.get(id);
  }

  /** Its stream is gone: keep it for the resume window, then forget it. */
  detach(session: InboundSmSession, cleanClose: boolean): void {
    session.attachedTo = undefined;
    if (cleanClose) session.resumable = false;
    session.timer?.cancel();
    session.timer = this.deps.clock.timer(this.settings.resumeWindowMs, () => this.#sessions.delete(session.id), { unref: true });
  }

  /** Taken over by a new stream (resumed). */
  attach(session: InboundSmSession, owner: InboundSm): void {
    session.timer?.cancel();
    session.timer = undefined;
    session.attachedTo = owner;
  }

  forget(session: InboundSmSession): void {
    session.timer?.cancel();
    this.#sessions.delete(session.id);
  }

  #evictOne(): void {
    // Map order is insertion order: the oldest detached session goes first, else the oldest.
    for (const s of this.#sessions.values()) if (!s.attachedTo) return this.forget(s);
    const first = this.#sessions.values().next().value;
    if (first) this.forget(first);
  }
}

/** XEP-0198 on one inbound stream: we receive stanzas, so we count and acknowledge them. */
export class InboundSm {
  #session?: InboundSmSession;
  #peerClosed = false;
  /** The `h` of our last `<a/>`: an unrequested one goes only when it moved. */
  #lastAcked = 0;
  #ackTimer?: Timer;
  readonly #ackLater = () => {
    this.#ackTimer = undefined;
    if (this.#session && this.#session.handled !== this.#lastAcked) this.stream.send(this.#ack());
  };

  constructor(
    private readonly registry: InboundSmRegistry,
    private readonly stream: SmInboundStream,
  ) {}

  /**
   * A stanza was handed to local delivery (XEP-0198 §4 "handled"). §4 allows an unrequested `<a/>`
   * at any time: one ACK_DELAY_MS after the first stanza it covers keeps the sender's
   * unacknowledged list short even when its requests stop reaching us (a link dying one way), so a
   * peer that dies leaves few stanzas whose fate is unknown; under a burst it is one small element
   * per ACK_DELAY_MS.
   */
  countHandled(): void {
    const session = this.#session;
    if (!session) return;
    session.handled = (session.handled + 1) % MOD;
    this.#ackTimer ??= this.registry.deps.clock.timer(ACK_DELAY_MS, this.#ackLater, { unref: true });
  }

  handle(element: XmlElement): void {
    switch (element.name) {
      case "r":
        if (this.#session) this.stream.send(this.#ack());
        else this.stream.fail("unsupported-stanza-type", "<r/> before stream management was enabled");
        return;
      case "a":
        // We send no stanzas on an inbound stream, so there is nothing to acknowledge.
        return;
      case "enable":
        return this.#enable(element);
      case "resume":
        return this.#resume(element);
      default:
        this.stream.fail("unsupported-stanza-type", `unexpected <${element.name} xmlns='${SM_NS}'>`);
    }
  }

  /** The peer closed the stream: XEP-0198 §4 lets us say what we handled before our closing tag. */
  streamEnded(): void {
    this.#peerClosed = true;
    if (this.#session) this.stream.send(this.#ack());
  }

  /** The stream is gone: the session waits for a resumption (not after a clean close, §5). */
  closed(): void {
    this.#ackTimer?.cancel();
    if (this.#session) this.registry.detach(this.#session, this.#peerClosed);
    this.#session = undefined;
  }

  #enable(element: XmlElement): void {
    // XEP-0198 §3: only after authentication, and once per stream.
    if (this.stream.pairs.length === 0 || this.#session) return this.#failed("unexpected-request");
    const session = (this.#session = this.registry.create(this.stream.pairs, this));
    const resume = isTrue(element.attr("resume"));
    if (!resume) session.resumable = false;
    const max = String(Math.floor(this.registry.settings.resumeWindowMs / 1000));
    this.stream.send(el("enabled", resume ? { id: session.id, resume: "true", max } : {}, SM_NS));
    const { remote, local } = session.pairs[0]!;
    this.registry.deps.logger.info({ what: "sm_enabled", direction: "inbound", streamId: this.stream.id, remote, resume });
    this.registry.deps.events.emit({ type: "sm_enabled", direction: "inbound", local, remote, resume });
  }

  #resume(element: XmlElement): void {
    if (this.stream.pairs.length === 0 || this.#session) return this.#failed("unexpected-request");
    const previous = this.registry.get(element.attr("previd") ?? "");
    // XEP-0198 §9 applied to S2S: a session is resumed only on a stream authenticated for every
    // pair it was enabled for, so another domain cannot take it over; an unknown id and a foreign
    // one get the same answer, so ids cannot be probed.
    if (!previous || !previous.pairs.every((p) => this.stream.isAuthenticated(p.remote, p.local))) return this.#failed("item-not-found");
    if (!previous.resumable) {
      this.registry.forget(previous);
      return this.#failed("item-not-found", previous.handled);
    }
    // XEP-0198 §5: the old stream may still look alive to us (half-open TCP): it is replaced.
    const old = previous.attachedTo;
    if (old && old !== this) old.#replaced();
    this.registry.attach(previous, this);
    this.#session = previous;
    this.#lastAcked = previous.handled;
    this.stream.send(el("resumed", { previd: previous.id, h: String(previous.handled) }, SM_NS));
    const { remote, local } = previous.pairs[0]!;
    this.registry.deps.logger.info({ what: "sm_resumed", direction: "inbound", streamId: this.stream.id, remote, h: previous.handled });
    this.registry.deps.events.emit({ type: "sm_resumed", direction: "inbound", local, remote, h: previous.handled });
  }

  /** Another stream resumed our session: this one stops counting and is closed. */
  #replaced(): void {
    this.#session = undefined;
    this.stream.fail("conflict", "stream management session resumed on another stream");
  }

  #ack(): XmlElement {
    this.#lastAcked = this.#session!.handled;
    return el("a", { h: String(this.#lastAcked) }, SM_NS);
  }

  #failed(condition: string, h?: number): void {
    this.stream.send(el("failed", h === undefined ? {} : { h: String(h) }, SM_NS, el(condition, {}, NS.STANZA_ERRORS)));
  }
}

/** XEP-0198 booleans are xs:boolean. */
export function isTrue(value: string | undefined): boolean {
  return value === "true" || value === "1";
}
