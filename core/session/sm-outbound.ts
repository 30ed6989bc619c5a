import type { Clock, Timer } from "../clock/clock.js";
import { SM_NS, type StreamManagementSettings } from "../sm/stream-management.js";
import type { XmlElement } from "../xml/element.js";
import { isTrue } from "./sm-inbound.js";

/** XEP-0198 §5: counters are unsigned 32-bit and wrap. */
const MOD = 2 ** 32;

/** XEP-0198 §4 `<r/>`, as written on an S2S stream (its default namespace is jabber:server). */
const REQUEST = `<r xmlns='${SM_NS}'/>`;

/**
 * Our side of XEP-0198 on one outbound session, as the sender of stanzas: what was written and not
 * yet acknowledged, in order, and whether the peer lets us resume. It outlives a stream: when the
 * link breaks, the unacknowledged stanzas stay here for the resume window, so the next stream can
 * resend exactly what the peer's `h` says it did not handle (no loss, no duplicate).
 *
 * It keeps each stanza as the text that was written (sm-outbound-link.ts), not as its element:
 * under load thousands of stanzas wait for an ack, and element trees (a dozen objects each) that
 * live that long survive young-generation collections and are copied to the old generation, which
 * doubled the CPU per stanza (docs/performance.md, "Stream management"). A text is one small
 * object (a slice of its write's string). Elements are rebuilt only to bounce (sm-rebuild.ts);
 * a resend writes the text as it is.
 */
export class OutboundSm {
  /** Written, not acknowledged: `#unacked[#head..]` (a head index, so an ack costs no copy). */
  #unacked: string[] = [];
  #head = 0;
  /** The peer's last `h`, mod 2^32. */
  #acked = 0;
  /** Stanzas written since the last `<r/>`. */
  #sinceRequest = 0;
  #window?: Timer;
  /** The window ran out and its stanzas were handed over: a late `<resumed h/>` only resyncs the count. */
  #spent = false;

  constructor(
    private readonly settings: StreamManagementSettings,
    private readonly clock: Clock,
    /** The SM id from `<enabled id/>`; resumption needs it and `resume='true'`. */
    readonly id: string | undefined,
    /** Resume window agreed: ours, or the peer's `max` when shorter (XEP-0198 §5). */
    readonly resumeWindowMs: number,
  ) {}

  static fromEnabled(settings: StreamManagementSettings, clock: Clock, enabled: XmlElement): OutboundSm {
    const max = Number(enabled.attr("max"));
    const window = Number.isInteger(max) && max > 0 ? Math.min(settings.resumeWindowMs, max * 1000) : settings.resumeWindowMs;
    return new OutboundSm(settings, clock, isTrue(enabled.attr("resume")) ? enabled.attr("id") : undefined, window);
  }

  get unacked(): number { return this.#unacked.length - this.#head; }
  /** Resumption is possible: the peer gave an id with resume='true'. */
  get resumable(): boolean { return this.id !== undefined; }
  /** Detached from a broken stream and waiting to be resumed. */
  get waiting(): boolean { return this.#window !== undefined; }

  /**
   * `batch` (each stanza's text as written) was written: it joins the unacknowledged list. Returns an `<r/>` to write after it once
   * `ackEvery` stanzas went out since the last request (at most one per write): a burst costs one
   * request per `ackEvery` stanzas. The rest waits for `pendingRequest` (OutboundSmLink's timer).
   */
  written(batch: readonly string[]): string | undefined {
    for (const s of batch) this.#unacked.push(s);
    this.#sinceRequest += batch.length;
    return this.#sinceRequest >= this.settings.ackEvery ? this.#request() : undefined;
  }

  /** An `<r/>` for stanzas written since the last request, if any (a quiet link's tail). */
  pendingRequest(): string | undefined {
    return this.#sinceRequest > 0 && this.unacked > 0 ? this.#request() : undefined;
  }

  #request(): string {
    this.#sinceRequest = 0;
    return REQUEST;
  }

  /**
   * `<a h/>` (or the `h` of `<resumed/>`/`<failed/>`): drop what it acknowledges. Returns an error
   * text when `h` acknowledges more than was sent (XEP-0198 §4 handled-count-too-high).
   */
  acknowledged(hAttr: string | undefined): { error?: string } {
    const h = Number(hAttr);
    if (!Number.isInteger(h) || h < 0 || h >= MOD) return { error: `invalid h '${hAttr}'` };
    const delta = (h - this.#acked + MOD) % MOD;
    this.#acked = h;
    if (this.#spent) return {};
    if (delta > this.unacked) return { error: `h=${h} acknowledges ${delta} stanzas, only ${this.unacked} are unacknowledged` };
    this.#head += delta;
    if (this.#head === this.#unacked.length) {
      this.#unacked = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#unacked.length) {
      this.#unacked = this.#unacked.slice(this.#head);
      this.#head = 0;
    }
    return {};
  }

  /** The link broke: keep the stanzas for the resume window, then hand them to `expired`. */
  detach(expired: (stanzas: string[]) => void): void {
    // The window runs from the first break: failed reconnection attempts do not extend it.
    if (this.#window) return;
    this.#window = this.clock.timer(this.resumeWindowMs, () => expired(this.takeAll()), { unref: true });
  }

  /** Resumed on a new stream: the text to write again (the unacknowledged stanzas in order, then a request), or "". */
  resumed(): string {
    this.#window?.cancel();
    this.#window = undefined;
    // Spent while the resumption was under way: the peer's `h` has resynced the count, nothing to resend.
    this.#spent = false;
    const resend = this.#unacked.slice(this.#head);
    this.#sinceRequest = resend.length;
    if (resend.length > 0) resend.push(this.#request());
    return resend.join("");
  }

  /** Give up: every unacknowledged stanza, to be bounced once; the state is spent. */
  takeAll(): string[] {
    this.#window?.cancel();
    this.#window = undefined;
    this.#spent = true;
    const all = this.#unacked.slice(this.#head);
    this.#unacked = [];
    this.#head = 0;
    return all;
  }
}
