import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Socket } from "node:net";
import {
  checkStreamHeader,
  DEFAULT_MAX_DEPTH,
  domainOf,
  fromDomainOf,
  el,
  type EventBus,
  type Logger,
  NS,
  type Router,
  type ServiceListenerConfig,
  shaperFor,
  STANZA_NAMES,
  type StreamHeader,
  type StreamParserFactory,
  type Clock,
  type Timer,
  type XmlElement,
  XmlStream,
} from "../../core/index.js";

export interface ComponentRegistry {
  /** Claim `domain` for `stream`; false when another local host or component serves it and we must refuse. */
  claim(domain: string, stream: ComponentStream): boolean;
  release(domain: string, stream: ComponentStream): void;
}

/**
 * One XEP-0114 component connection: header (`to` = the component's domain), `<handshake/>` with
 * hex SHA-1(stream id + secret) (XEP-0114 §3), then stanzas both ways.
 */
export class ComponentStream {
  readonly id = randomBytes(16).toString("hex");
  #domain = "";
  #authenticated = false;
  readonly #xml: XmlStream;
  readonly #negotiationTimer: Timer;

  constructor(
    socket: Socket,
    private readonly listener: ServiceListenerConfig,
    parserFactory: StreamParserFactory,
    private readonly registry: ComponentRegistry,
    private readonly router: () => Router,
    private readonly logger: Logger,
    private readonly events: EventBus,
    clock: Clock,
  ) {
    this.#xml = new XmlStream(socket, parserFactory, {
      onHeader: (h) => this.#onHeader(h),
      onElement: (e) => this.#onElement(e),
      onStreamEnd: () => this.#xml.close("component closed the stream"),
      onParseError: (condition, text) => this.fail(condition, text),
      onClosed: () => this.#onClosed(),
    }, { contentNs: NS.COMPONENT, limits: { maxStanzaSize: listener.maxStanzaSize, maxDepth: DEFAULT_MAX_DEPTH }, idleTimeoutMs: listener.idleTimeoutMs, shaper: shaperFor(listener.shaper), clock });
    this.#negotiationTimer = clock.timer(listener.negotiationTimeoutMs, () => {
      if (!this.#authenticated) this.fail("connection-timeout", "no handshake in time");
    }, { unref: true });
  }

  get domain(): string {
    return this.#domain;
  }

  send(stanza: XmlElement): void {
    this.#xml.send(stanza);
  }

  /** The component does not read as fast as we write: a promise that settles when its socket drains. */
  backpressure(): Promise<void> | undefined {
    return this.#xml.congested ? this.#xml.drained() : undefined;
  }

  fail(condition: string, text?: string): void {
    this.logger.info({ what: "component_stream_error", domain: this.#domain, condition, text });
    this.#xml.fail(condition, text, { from: this.#domain || undefined, id: this.id });
  }

  #onHeader(header: StreamHeader): void {
    if (this.#domain) {
      this.fail("not-well-formed", "second stream header");
      return;
    }
    // XEP-0114 streams carry no version; the domain in 'to' is whatever the component wants to own.
    const problem = checkStreamHeader(header, NS.COMPONENT, () => true, false);
    const domain = domainOf(header.attrs.to);
    if (problem || !domain) {
      this.fail(problem?.condition ?? "improper-addressing", problem?.text ?? "invalid 'to' domain");
      return;
    }
    this.#domain = domain;
    this.#xml.sendHeader({ from: domain, id: this.id });
  }

  #onElement(element: XmlElement): void {
    if (!this.#authenticated) {
      if (element.name === "handshake" && element.ns === NS.COMPONENT) this.#handshake(element.text().trim());
      else this.fail("not-authorized", "handshake first");
      return;
    }
    if (!STANZA_NAMES.has(element.name) || element.ns !== NS.COMPONENT) {
      this.fail("unsupported-stanza-type", `unexpected <${element.name}/>`);
      return;
    }
    const from = fromDomainOf(element);
    if (this.listener.checkFrom && from !== this.#domain) {
      // XEP-0114: a component speaks only for its own domain.
      this.fail("invalid-from", `'from' must be in ${this.#domain}`);
      return;
    }
    if (!from) {
      this.fail("improper-addressing", "stanza without 'from'");
      return;
    }
    const backpressure = this.router().route(element);
    // The S2S link is slower than this component: stop reading it until the link drains.
    if (backpressure) this.#xml.pauseReadingUntil(backpressure);
  }

  #handshake(digest: string): void {
    const expected = Buffer.from(createHash("sha1").update(this.id + this.listener.password).digest("hex"));
    const given = Buffer.from(digest.toLowerCase());
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.fail("not-authorized", "handshake mismatch");
      return;
    }
    if (!this.registry.claim(this.#domain, this)) {
      this.fail("conflict", `${this.#domain} is already served here`);
      return;
    }
    this.#authenticated = true;
    this.#negotiationTimer.cancel();
    this.#xml.send(el("handshake", {}, NS.COMPONENT));
    this.logger.info({ what: "component_connected", domain: this.#domain });
    this.events.emit({ type: "component_connected", domain: this.#domain });
  }

  #onClosed(): void {
    this.#negotiationTimer.cancel();
    if (!this.#authenticated) return;
    this.registry.release(this.#domain, this);
    this.logger.info({ what: "component_disconnected", domain: this.#domain });
    this.events.emit({ type: "component_disconnected", domain: this.#domain });
  }
}
