import { fromDomainOf, toDomainOf } from "../router/stanza.js";
import type { XmlElement } from "../xml/element.js";
import type { BidiNeeds } from "./bidi-links.js";

/** What the reverse direction uses of our outbound stream (OutboundS2sStream). */
export interface BidiReverseStream {
  readonly id: string;
  readonly localDomain: string;
  readonly remoteDomain: string;
  send(element: XmlElement): void;
  fail(condition: string, text?: string): void;
  /** Stop reading the socket until `until` settles (flow control). */
  pauseReadingUntil(until: Promise<void>): void;
}

/** Stanzas the peer may send before our authentication is known to have succeeded (a peer that answered at once sends a few). */
export const MAX_EARLY_STANZAS = 1000;

/**
 * The peer's stanzas on our outbound stream after we asked for bidi (XEP-0288 §2.2, §4).
 *
 * Only (remote -> local), the pair of the stream, is accepted: `remote` is the domain we resolved and
 * connected to (and whose certificate we checked under `required_trusted`), and `local` is the domain
 * we authenticated. Anything else is refused with a stream error, whatever the peer claims in a
 * `<db:result type='valid'/>` (XEP-0288 §4: such an answer, without our request, proves nothing).
 *
 * Stanzas that arrive before our negotiation has finished (the peer may send right after its
 * `<db:result type='valid'/>` or new stream features, in the same TCP segment, before our
 * authenticator has seen that answer) are held, at most MAX_EARLY_STANZAS, and delivered once it
 * has; if it fails, they are dropped with the stream, never delivered.
 */
export class BidiReverse {
  #state: "pending" | "open" | "closed" = "pending";
  #early: XmlElement[] = [];
  #accepted = 0;

  constructor(
    readonly stream: BidiReverseStream,
    private readonly needs: Pick<BidiNeeds, "router" | "traffic" | "logger" | "events">,
    private readonly onClosed: () => void = () => {},
  ) {}

  /** Stanzas accepted from the peer (tests). */
  get accepted(): number {
    return this.#accepted;
  }

  receive(stanza: XmlElement): void {
    if (this.#state === "closed") return;
    if (this.#state === "pending") {
      if (this.#early.length >= MAX_EARLY_STANZAS) {
        this.stream.fail("policy-violation", "stanzas sent before the stream was authenticated");
        return;
      }
      // Not a reason to stop reading: the answer that completes our authentication may come after it.
      this.#early.push(stanza);
      return;
    }
    this.#accept(stanza);
  }

  #accept(stanza: XmlElement): void {
    const { localDomain: local, remoteDomain: remote } = this.stream;
    const from = fromDomainOf(stanza);
    const to = toDomainOf(stanza);
    if (!from || !to) {
      // RFC 6120 §8.1.1.1 / §8.1.2.1: S2S stanzas carry both addresses.
      this.#state = "closed";
      this.stream.fail("improper-addressing", "stanza without a valid 'from' and 'to'");
      return;
    }
    if (from !== remote || to !== local) {
      // RFC 6120 §4.9.3.9 / §4.9.3.6: only the stream's own pair, reversed, is authenticated here (XEP-0288 §2.2).
      const served = this.needs.router.isLocalDomain(to);
      this.#state = "closed";
      this.stream.fail(served ? "invalid-from" : "host-unknown", served ? `'${from}' is not authenticated for '${to}' on this stream` : `'${to}' is not served here`);
      return;
    }
    this.#accepted++;
    this.needs.traffic.stanzasIn++;
    const backpressure = this.needs.router.deliverLocal(stanza);
    if (backpressure) this.stream.pauseReadingUntil(backpressure);
  }

  /** Our domain is authenticated on the stream: the peer's stanzas are accepted from now on, the held ones first. */
  open(): void {
    if (this.#state !== "pending") return;
    this.#state = "open";
    const { localDomain: local, remoteDomain: remote, id } = this.stream;
    this.needs.logger.info({ what: "bidi_up", local, remote, over: "outbound", streamId: id });
    this.needs.events.emit({ type: "bidi_up", local, remote, over: "outbound", streamId: id });
    const early = this.#early;
    this.#early = [];
    for (const stanza of early) if (this.#state === "open") this.#accept(stanza);
  }

  /** The stream is gone (or its negotiation failed): held stanzas were never accepted. */
  close(): void {
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    this.#early = [];
    this.onClosed();
    if (!wasOpen) return;
    const { localDomain: local, remoteDomain: remote, id } = this.stream;
    this.needs.events.emit({ type: "bidi_down", local, remote, over: "outbound", streamId: id });
  }
}
