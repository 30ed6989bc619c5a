import type { Socket } from "node:net";
import type { Clock, Timer } from "../clock/clock.js";
import { el, escapeAttr, NS, serialize, type XmlElement } from "../xml/element.js";
import type { ParserErrorCondition, StreamHeader, StreamParser, StreamParserFactory, StreamParserHandlers, StreamParserLimits } from "./parser.js";

export interface XmlStreamHandlers {
  onHeader(header: StreamHeader): void;
  onElement(element: XmlElement): void;
  onStreamEnd(): void;
  onParseError(condition: ParserErrorCondition, text: string): void;
  /** The transport is gone (after our close, the peer's, or an error). Called once. */
  onClosed(reason: string): void;
}

export interface XmlStreamOptions {
  /** Default namespace of the stream content: jabber:server or jabber:component:accept. */
  readonly contentNs: string;
  readonly limits: StreamParserLimits;
  /** Idle timeout in ms (Infinity: none); any received byte resets it (RFC 6120 §4.6.4 keepalives). */
  readonly idleTimeoutMs: number;
  /** Traffic shaper (`[shaper.<name>]`): after each chunk read, how many ms to stop reading. Never drops bytes. */
  readonly shaper?: { take(bytes: number): number };
  /** Where the idle, shaper and close-grace timers run (virtual time in tests). */
  readonly clock: Clock;
}

/**
 * Characters gathered for one socket write (see #write): about what one read of a socket brings
 * (Node reads 64 KiB at a time). Larger writes cost more per byte here, not less: the string is
 * flattened, measured and converted in one piece, and the kernel takes it in parts.
 */
const WRITE_BATCH_CHARS = 64 * 1024;

/** Bytes queued in a socket beyond which senders feeding it are paused (flow control). */
const WRITE_HIGH_WATER = 256 * 1024;

/** How long we wait for the peer's `</stream:stream>` after ours before dropping the socket (RFC 6120 §4.4). */
export const CLOSE_GRACE_MS = 2000;

const CONTENT_NAMESPACES: ReadonlySet<string> = new Set([NS.SERVER, NS.CLIENT, NS.COMPONENT]);

/** The prefixes our header declares (`sendHeader`): `db` only on S2S streams (XEP-0220 §2.1). */
const STREAM_PREFIXES: ReadonlyMap<string, string> = new Map([
  [NS.STREAM, "stream"],
  [NS.DIALBACK, "db"],
]);
const STREAM_ONLY_PREFIX: ReadonlyMap<string, string> = new Map([[NS.STREAM, "stream"]]);

/**
 * The parser's events handed on to the stream's handlers: one small object per parser, where four
 * closures and the object holding them cost ~0.3 KiB for the life of every stream.
 */
class ParserEvents implements StreamParserHandlers {
  constructor(private readonly handlers: XmlStreamHandlers) {}

  onStreamStart(header: StreamHeader): void {
    this.handlers.onHeader(header);
  }

  onElement(element: XmlElement): void {
    this.handlers.onElement(element);
  }

  onStreamEnd(): void {
    this.handlers.onStreamEnd();
  }

  onError(condition: ParserErrorCondition, text: string): void {
    this.handlers.onParseError(condition, text);
  }
}

/**
 * One XML stream over a socket: header, framed elements in and out, stream errors, closing,
 * transport upgrade (STARTTLS) and stream restarts. Knows nothing about S2S semantics.
 */
export class XmlStream {
  #socket: Socket;
  #parser: StreamParser;
  #headerSent = false;
  #closing = false;
  #closed = false;
  #idleTimer?: Timer;
  #graceTimer?: Timer;
  readonly #onData = (chunk: Buffer) => {
    this.#touch();
    try {
      this.#parser.write(chunk);
    } catch (err) {
      // A handler bug must cost one stream, not the process (RFC 6120 §4.9.3.8 internal-server-error).
      this.handlers.onParseError("internal-server-error", (err as Error).message);
    }
    const wait = this.options.shaper?.take(chunk.length) ?? 0;
    if (wait > 0) this.#shape(wait);
  };
  readonly #onSocketClose = () => this.#finish("transport closed");
  readonly #onSocketError = (err: Error) => this.#finish(`transport error: ${err.message}`);

  constructor(
    socket: Socket,
    private readonly parserFactory: StreamParserFactory,
    private readonly handlers: XmlStreamHandlers,
    private readonly options: XmlStreamOptions,
  ) {
    this.#socket = socket;
    this.#parser = this.#newParser();
    this.#attach(socket);
    this.#touch();
  }

  get socket(): Socket {
    return this.#socket;
  }

  get closed(): boolean {
    return this.#closed || this.#closing;
  }

  /** Whether a write now reaches the socket (not closing, and the transport still takes data). */
  get writable(): boolean {
    return !this.#closed && !this.#closing && !this.#socket.destroyed && this.#socket.writable;
  }

  /** More than WRITE_HIGH_WATER bytes wait in the socket: the peer reads slower than we write. */
  get congested(): boolean {
    return this.#socket.writableLength > WRITE_HIGH_WATER;
  }

  /** Resolves when the socket has drained (or is gone). */
  drained(): Promise<void> {
    const socket = this.#socket;
    if (!this.congested || socket.destroyed) return Promise.resolve();
    // One waiter per congestion episode, however many stanzas ask.
    return (this.#drain ??= new Promise<void>((resolve) => {
      const done = () => {
        socket.off("drain", done);
        socket.off("close", done);
        this.#drain = undefined;
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    }));
  }

  #drain?: Promise<void>;

  /**
   * Flow control: stop reading this stream until `until` settles, so a fast sender cannot make us
   * buffer without bound for a slower receiver further on (the stanzas already read are handled).
   */
  pauseReadingUntil(until: Promise<void>): void {
    if (this.#pausedUntil) return;
    const socket = this.#socket;
    this.#pausedUntil = until;
    socket.pause();
    void until.finally(() => {
      this.#pausedUntil = undefined;
      if (!socket.destroyed && !this.#shaperTimer) socket.resume();
    });
  }

  #pausedUntil?: Promise<void>;

  /** The shaper's pause: reading stops for `ms`, then resumes unless flow control still holds it. */
  #shape(ms: number): void {
    if (this.#shaperTimer || this.#closed) return;
    const socket = this.#socket;
    socket.pause();
    this.#shaperTimer = this.options.clock.timer(ms, () => {
      this.#shaperTimer = undefined;
      if (!socket.destroyed && !this.#pausedUntil) socket.resume();
    });
  }

  #shaperTimer?: Timer;

  /** Send our `<stream:stream>` header (RFC 6120 §4.7). `db` is declared on S2S streams for XEP-0220. */
  sendHeader(attrs: Record<string, string | undefined>): void {
    let out = `<?xml version='1.0'?><stream:stream xmlns='${this.options.contentNs}' xmlns:stream='${NS.STREAM}'`;
    if (this.options.contentNs === NS.SERVER) out += ` xmlns:db='${NS.DIALBACK}'`;
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out += ` ${k}='${escapeAttr(v)}'`;
    out += ">";
    this.#headerSent = true;
    this.#write(out);
  }

  send(element: XmlElement): void {
    this.#write(this.#serialize(element));
  }

  /**
   * Stanzas move between streams with different content namespaces (a component's
   * jabber:component:accept, S2S jabber:server): a stanza in any of them is written in the
   * default namespace of this stream (RFC 6120 §4.8.3, XEP-0114 §3).
   */
  #serialize(element: XmlElement): string {
    const inherited = element.ns !== undefined && CONTENT_NAMESPACES.has(element.ns) ? element.ns : this.options.contentNs;
    return serialize(element, inherited, this.options.contentNs === NS.SERVER ? STREAM_PREFIXES : STREAM_ONLY_PREFIX);
  }

  /** Several elements in one write: one TLS record and one syscall instead of many. */
  sendMany(elements: readonly XmlElement[]): void {
    if (elements.length === 0) return;
    let out = "";
    for (const e of elements) out += this.#serialize(e);
    this.#write(out);
  }

  /**
   * `sendMany` that also returns each element's text as written, for XEP-0198 to keep until the
   * peer acknowledges it (sm-outbound.ts). The texts are slices of the one flat string written, so
   * each kept stanza costs one small object instead of a concatenation tree.
   */
  sendManyKept(elements: readonly XmlElement[]): string[] {
    if (elements.length === 0) return [];
    const texts = elements.map((e) => this.#serialize(e));
    const whole = texts.join("");
    this.#write(whole);
    let at = 0;
    for (let i = 0; i < texts.length; i++) {
      const end = at + texts[i]!.length;
      texts[i] = whole.slice(at, end);
      at = end;
    }
    return texts;
  }

  /** Text made by `sendManyKept` on a stream of the same content namespace (an XEP-0198 resend), written as is. */
  sendSerialized(text: string): void {
    if (text !== "") this.#write(text);
  }

  /**
   * RFC 6120 §4.9.1: a stream error is unrecoverable: send it, close the stream, close the socket.
   * §4.9.1.2: if we have not sent our header yet, send one first so the peer can parse the error.
   */
  fail(condition: string, text?: string, headerAttrs?: Record<string, string | undefined>): void {
    if (this.closed) return;
    if (!this.#headerSent) this.sendHeader({ version: "1.0", ...headerAttrs });
    const error = el("error", {}, NS.STREAM, el(condition, {}, NS.STREAM_ERRORS), text !== undefined && el("text", { "xml:lang": "en" }, NS.STREAM_ERRORS, text));
    this.send(error);
    this.close(`stream error: ${condition}`);
  }

  /** Send `</stream:stream>` and close the transport once the peer closes too, or after a grace period. */
  close(reason = "closed"): void {
    if (this.closed) return;
    if (!this.#headerSent) this.sendHeader({ version: "1.0" });
    this.#write("</stream:stream>");
    this.#flush();
    this.#closing = true;
    this.#clearIdle();
    this.#socket.end();
    this.#graceTimer = this.options.clock.timer(CLOSE_GRACE_MS, () => this.#socket.destroy(), { unref: true });
    this.#closeReason = reason;
  }
  #closeReason?: string;

  /** Drop the transport now without a closing tag (peer vanished, shutdown deadline). */
  destroy(reason: string): void {
    this.#socket.destroy();
    this.#finish(reason);
  }

  /** Stream restart (RFC 6120 §4.3.3): a fresh parser on the same transport; the next bytes start a new stream. */
  restart(): void {
    this.#parser.close();
    this.#parser = this.#newParser();
    this.#headerSent = false;
  }

  /**
   * Stop reading before a TLS handshake takes over the socket (after `<proceed/>`), so no plaintext
   * byte is parsed as part of the encrypted stream (RFC 6120 §5.4.3.3).
   */
  detachForUpgrade(): Socket {
    this.#flush();
    this.#detach(this.#socket);
    this.#parser.close();
    return this.#socket;
  }

  /** Continue on the upgraded (TLS) transport with a fresh parser: the peer sends a new header. */
  upgraded(secureSocket: Socket): void {
    this.#socket = secureSocket;
    this.#parser = this.#newParser();
    this.#headerSent = false;
    this.#attach(secureSocket);
    this.#touch();
  }

  #newParser(): StreamParser {
    return this.parserFactory.create(new ParserEvents(this.handlers), this.options.limits);
  }

  #attach(socket: Socket): void {
    socket.on("data", this.#onData);
    socket.on("close", this.#onSocketClose);
    socket.on("error", this.#onSocketError);
  }

  #detach(socket: Socket): void {
    socket.off("data", this.#onData);
    socket.off("close", this.#onSocketClose);
    socket.off("error", this.#onSocketError);
  }

  #write(data: string): void {
    // Not the turn's first write: the checks below passed for that one, and #flush checks the
    // socket again before writing, so a stream that closed since still writes nothing.
    if (this.#pending === "") {
      const socket = this.#socket;
      if (this.#closing || this.#closed || socket.destroyed || !socket.writable || data === "") return;
      // The writes of one turn of the event loop leave together once its I/O callbacks have run
      // (setImmediate): one socket write for many stanzas. Not at the end of the tick (nextTick):
      // a TLS socket hands over each 16 KiB record in a callback of its own, after which the
      // nextTick queue runs, so that cost one write per record (~80 stanzas of the benchmark)
      // where one read brings several (docs/performance.md, "The per-stanza path").
      setImmediate(XmlStream.#flushLater, this);
      this.#pending = data;
      return;
    }
    // Bounded: a turn that produces a lot writes it in pieces of about one read's worth. What is
    // gathered leaves first, so one write call's text (a whole batch) is never split; the flush
    // already scheduled takes what follows.
    if (this.#pending.length + data.length > WRITE_BATCH_CHARS) this.#flush();
    this.#pending += data;
  }

  #pending = "";
  #flush(): void {
    const data = this.#pending;
    this.#pending = "";
    if (data !== "" && !this.#socket.destroyed && this.#socket.writable) this.#socket.write(data);
  }

  /** What `setImmediate` calls, with the stream as its argument: one function, not a closure kept by every stream. */
  static readonly #flushLater = (stream: XmlStream): void => {
    stream.#flush();
  };

  #touch(): void {
    if (this.options.idleTimeoutMs === Infinity || this.#closing) return;
    if (this.#idleTimer) {
      this.#idleTimer.restart();
      return;
    }
    this.#idleTimer = this.options.clock.timer(this.options.idleTimeoutMs, () => this.fail("connection-timeout", "idle timeout"), { unref: true });
  }

  #clearIdle(): void {
    this.#idleTimer?.cancel();
    this.#idleTimer = undefined;
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearIdle();
    this.#graceTimer?.cancel();
    this.#shaperTimer?.cancel();
    this.#parser.close();
    this.#detach(this.#socket);
    this.#socket.on("error", () => {}); // late errors after close must not crash the process
    if (!this.#socket.destroyed) this.#socket.destroy();
    this.handlers.onClosed(this.#closeReason ?? reason);
  }
}
