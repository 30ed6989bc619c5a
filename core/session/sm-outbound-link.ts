import type { Clock, Timer } from "../clock/clock.js";
import type { EventBus } from "../events/events.js";
import type { Logger } from "../logging/logger.js";
import type { Router } from "../router/router.js";
import { ACK_DELAY_MS, SM_NS, type StreamManagementSettings } from "../sm/stream-management.js";
import { el, type XmlElement } from "../xml/element.js";
import type { StreamParserFactory } from "../stream/parser.js";
import type { OutboundS2sStream } from "./outbound-stream.js";
import { OutboundSm } from "./sm-outbound.js";
import { rebuildStanzas } from "./sm-rebuild.js";

export interface OutboundSmNeeds {
  readonly settings: StreamManagementSettings;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly events: EventBus;
  /** Unacknowledged stanzas that cannot be resumed are bounced through it. */
  readonly router: Router;
  /** Rebuilds the kept texts of stanzas to bounce (sm-rebuild.ts). */
  readonly parserFactory: StreamParserFactory;
  /** How long `<enable/>`/`<resume/>` may wait for their answer (the session's negotiation deadline). */
  readonly answerTimeoutMs: number;
}

/**
 * XEP-0198 on the streams of one outbound session (local, remote): enables or resumes it after
 * authentication, requests and takes acks, keeps what a broken link left unacknowledged for the
 * resume window, and bounces it (`remote-server-timeout`, wait) when it cannot be resumed. The
 * session (outbound-session.ts) only calls it at a few points; peers that do not offer SM never
 * get past `start`, and their streams work as before.
 */
export class OutboundSmLink {
  #sm?: OutboundSm;
  /** The stream SM was enabled or resumed on: acks count only there. */
  #stream?: OutboundS2sStream;
  /** Asks for the ack of a quiet link's tail (ACK_DELAY_MS after the first stanza it covers). */
  #requestTimer?: Timer;
  readonly #requestLater = () => {
    this.#requestTimer = undefined;
    const request = this.#stream?.writable ? this.#sm?.pendingRequest() : undefined;
    if (request) this.#stream!.sendSerialized(request);
  };

  constructor(
    private readonly local: string,
    private readonly remote: string,
    private readonly needs: OutboundSmNeeds,
  ) {}

  /** Stanzas written to a broken link wait to be resumed: the session reconnects even with an empty queue. */
  get awaitingResumption(): boolean {
    return Boolean(this.#sm?.waiting && this.#sm.unacked > 0);
  }

  /**
   * After authentication (XEP-0198 §3, §5): resume the previous SM session when one waits and the
   * peer offers SM, else enable it with resumption. Returns the text to write again first ("" for none).
   */
  async start(stream: OutboundS2sStream): Promise<string> {
    const offered = stream.features?.getChild("sm", SM_NS) !== undefined;
    const previous = this.#sm;
    this.#sm = undefined;
    const answer = (names: readonly string[]) => stream.next((e) => e.ns === SM_NS && names.includes(e.name), this.needs.answerTimeoutMs);
    if (previous?.waiting && previous.resumable && offered) {
      // h: stanzas we handled on that session; we receive none on an outbound stream.
      stream.send(el("resume", { previd: previous.id!, h: "0" }, SM_NS));
      let reply: XmlElement;
      try {
        reply = await answer(["resumed", "failed"]);
      } catch (err) {
        // No answer (the new link broke too): still waiting, within the same window.
        this.#sm = previous;
        throw err;
      }
      if (reply.name === "resumed") return this.#resumed(stream, previous, reply);
      // XEP-0198 §5: not resumable; an `h` on <failed/> still tells what the peer handled.
      if (reply.attr("h") !== undefined) previous.acknowledged(reply.attr("h"));
      this.#bounce(previous.takeAll(), `${this.remote} could not resume the stream management session`);
    } else if (previous) {
      this.#bounce(previous.takeAll(), `${this.remote} no longer offers stream management`);
    }
    if (!offered) return "";
    stream.send(el("enable", { resume: "true" }, SM_NS));
    const reply = await answer(["enabled", "failed"]);
    if (reply.name !== "enabled") return "";
    const sm = (this.#sm = OutboundSm.fromEnabled(this.needs.settings, this.needs.clock, reply));
    this.#stream = stream;
    const { local, remote } = this;
    this.needs.logger.info({ what: "sm_enabled", direction: "outbound", local, remote, resume: sm.resumable });
    this.needs.events.emit({ type: "sm_enabled", direction: "outbound", local, remote, resume: sm.resumable });
    return "";
  }

  #resumed(stream: OutboundS2sStream, previous: OutboundSm, reply: XmlElement): string {
    const { local, remote } = this;
    const ack = previous.acknowledged(reply.attr("h"));
    if (ack.error) {
      stream.fail("undefined-condition", `handled-count-too-high: ${ack.error}`);
      this.#bounce(previous.takeAll(), `${remote} resumed with an impossible h`);
      return "";
    }
    this.#sm = previous;
    this.#stream = stream;
    const resend = previous.resumed();
    const h = Number(reply.attr("h"));
    this.needs.logger.info({ what: "sm_resumed", direction: "outbound", local, remote, h, resent: previous.unacked });
    this.needs.events.emit({ type: "sm_resumed", direction: "outbound", local, remote, h, resent: previous.unacked });
    return resend;
  }

  /**
   * Writes `batch` to `stream` when SM is on there, keeping each stanza's text until it is
   * acknowledged, and asks for an ack when it is time. False (nothing written) when SM is not on
   * that stream: the caller writes the batch itself.
   */
  write(stream: OutboundS2sStream, batch: readonly XmlElement[]): boolean {
    if (!this.#sm || stream !== this.#stream) return false;
    if (batch.length === 0) return true;
    const request = this.#sm.written(stream.sendManyKept(batch));
    if (request) stream.sendSerialized(request);
    else this.#requestTimer ??= this.needs.clock.timer(ACK_DELAY_MS, this.#requestLater, { unref: true });
    return true;
  }

  /** An SM element on an outbound stream (`<a/>`, `<r/>`); false for anything else. */
  handle(stream: OutboundS2sStream, e: XmlElement): boolean {
    if (e.ns !== SM_NS) return false;
    if (e.name === "r") {
      // XEP-0198 §4: we receive no stanzas on an outbound stream, so h is 0.
      stream.send(el("a", { h: "0" }, SM_NS));
    } else if (e.name === "a") {
      if (!this.#sm || stream !== this.#stream) return true;
      const { error } = this.#sm.acknowledged(e.attr("h"));
      // XEP-0198 §4: an h beyond what we sent is a stream error.
      if (error) stream.fail("undefined-condition", `handled-count-too-high: ${error}`);
    } else {
      stream.fail("unsupported-stanza-type", `unexpected <${e.name} xmlns='${SM_NS}'/>`);
    }
    return true;
  }

  /**
   * The session's stream closed. Written but unacknowledged stanzas wait for the resume window when
   * the peer allowed resumption and the session goes on (XEP-0198 §5); otherwise they bounce now.
   */
  streamClosed(stream: OutboundS2sStream, sessionClosing: boolean): void {
    const sm = this.#sm;
    if (!sm || stream !== this.#stream) return;
    this.#stream = undefined;
    this.#requestTimer?.cancel();
    this.#requestTimer = undefined;
    if (sm.unacked > 0 && sm.resumable && !sessionClosing) {
      sm.detach((stanzas) => {
        if (this.#sm === sm) this.#sm = undefined;
        this.#bounce(stanzas, `link to ${this.remote} not resumed within ${sm.resumeWindowMs / 1000} s`);
      });
      return;
    }
    this.#sm = undefined;
    this.#bounce(sm.takeAll(), `link to ${this.remote} closed before these were acknowledged`);
  }

  /** The session ends (shutdown, policy): what waits to be resumed will not be. */
  sessionClosed(text: string): void {
    const sm = this.#sm;
    if (!sm?.waiting) return;
    this.#sm = undefined;
    this.#bounce(sm.takeAll(), text);
  }

  /** Unacknowledged stanzas that cannot be resumed: each bounced once, remote-server-timeout (wait). */
  #bounce(texts: readonly string[], reason: string): void {
    if (texts.length === 0) return;
    const { local, remote } = this;
    const { stanzas, failed } = rebuildStanzas(texts, this.needs.parserFactory);
    this.needs.logger.info({ what: "sm_resume_failed", local, remote, bounced: texts.length, reason });
    this.needs.events.emit({ type: "sm_resume_failed", local, remote, bounced: texts.length, reason });
    // We wrote these texts ourselves, so they parse; one that does not is our bug, and it is
    // logged with its text rather than dropped without a trace.
    for (const f of failed) this.needs.logger.error({ what: "sm_bounce_unparsable", local, remote, reason: f.reason, text: f.text.slice(0, 512) });
    for (const stanza of stanzas) this.needs.router.bounce(stanza, "remote-server-timeout", "wait", reason);
  }
}
