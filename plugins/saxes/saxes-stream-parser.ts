import { StringDecoder } from "node:string_decoder";
import type { SaxesStartTagNS, SaxesTagNS } from "saxes";
import {
  internalized,
  type ParserErrorCondition,
  type StreamHeader,
  type StreamParser,
  type StreamParserFactory,
  type StreamParserHandlers,
  type StreamParserLimits,
  XmlElement,
} from "../../core/index.js";
import { cursorOf, FastSaxesParser, type SaxesCursor, YIELD } from "./fast-saxes.js";
import { FastPath } from "./fast-path.js";
import { Utf8Validator } from "./utf8-check.js";

/** Bytes allowed before the stream header's `>`: XML declaration, whitespace and the header itself. */
const STREAMS_NS = "http://etherx.jabber.org/streams";

export const MAX_HEADER_BYTES = 16 * 1024;
/** Bytes allowed between two top-level elements when `maxStanzaSize` is Infinity. */
export const MAX_GAP_BYTES_UNLIMITED = 16 * 1024;
/**
 * Longest piece (in UTF-16 units) handed to saxes at once. Limits are checked between pieces, so a
 * huge socket chunk is refused after at most this much work past the limit, never after all of it.
 */
const MAX_PIECE = 64 * 1024;

/**
 * Largest `maxDepth` accepted. saxes resolves a namespace prefix by walking the open elements, so
 * each element costs time proportional to its depth: capping the depth keeps the worst case (a
 * flood of tiny elements at the deepest level) linear with a bounded factor (~1.4 MB/s per core
 * at 256 against ~4 MB/s at 32 on the dev machine, README.md).
 */
export const MAX_SUPPORTED_DEPTH = 256;

const CR = 0x0d;

/** Thrown through saxes to stop it mid-chunk once the parser is closed; never leaves `write`. */
const STOP: unique symbol = Symbol("saxes.stop");

const NO_ATTRS: Readonly<Record<string, string>> = Object.freeze({});

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** XML `S` (saxes has already turned CR and CRLF into LF). */
function isWhitespace(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== CR) return false;
  }
  return true;
}

/** Internal switches (tests): `fastPath: false` parses everything with saxes, as before the fast path. */
export interface SaxesStreamParserOptions {
  readonly fastPath?: boolean;
}

function checkLimits(limits: StreamParserLimits): void {
  const { maxStanzaSize, maxDepth } = limits;
  if (!(maxStanzaSize === Infinity || (Number.isInteger(maxStanzaSize) && maxStanzaSize > 0))) {
    throw new RangeError(`maxStanzaSize: expected a positive integer or Infinity, got ${String(maxStanzaSize)}`);
  }
  if (!(Number.isInteger(maxDepth) && maxDepth > 0 && maxDepth <= MAX_SUPPORTED_DEPTH)) {
    throw new RangeError(`maxDepth: expected an integer from 1 to ${MAX_SUPPORTED_DEPTH}, got ${String(maxDepth)}`);
  }
}

/**
 * One XML stream (RFC 6120 §4) parsed with saxes, as restricted XML (RFC 6120 §11.1), with byte and
 * depth limits. Depth here counts below the stream root: a stanza is depth 1.
 *
 * Byte accounting: `consumed` counts the UTF-8 bytes of everything handed to saxes. Inside a piece,
 * the saxes cursor (a string index) is turned into a byte offset with `byteAt`: identity plus a base
 * for ASCII pieces (the common case, free), an incremental `Buffer.byteLength` otherwise (each byte
 * measured once). A top-level element's size is the byte distance from its `<` to just after its
 * end tag's `>`.
 *
 * Delivery of a completed top-level element (and of the stream end) is deferred until saxes calls
 * us again or returns from `write`: saxes calls the close-tag handler for each element it pops
 * *before* reporting that the end tag did not match (`<stream:stream><message></stream:stream>`),
 * so delivering at once would hand out an element the stream never properly closed.
 */
export class SaxesStreamParser implements StreamParser {
  private readonly sax: FastSaxesParser;
  private readonly cursor: SaxesCursor;
  /**
   * Made at the first chunk that ends inside a multi-byte character (or on one), and kept from
   * then on: until then every chunk ends on a character boundary and decodes alone. Most streams
   * never need one (a decoder with its native buffer is ~0.2 KiB of JS heap for the stream's life).
   */
  private decoder: StringDecoder | null = null;
  private readonly utf8 = new Utf8Validator();
  private readonly maxStanzaSize: number;
  private readonly maxDepth: number;
  /** Limit for whitespace (and anything else) between top-level elements. */
  private readonly maxGap: number;

  private closed = false;
  private writing = false;
  private rootOpen = false;
  /** Between the `<name` of a top-level element and its end. */
  private inStanza = false;
  /** Open elements below the root; `stack[0]` is the top-level element being built. */
  private stack: XmlElement[] = [];
  private pending: XmlElement | null = null;
  private pendingEnd = false;

  /** Bytes handed to saxes so far. */
  private consumed = 0;
  /** Absolute byte offset of index 0 of the chunk saxes is working on (it may start with a carried char). */
  private base = 0;
  /** That chunk, kept only when it is not ASCII (for `byteAt`). */
  private chunk = "";
  private ascii = true;
  private mapIndex = 0;
  private mapBytes = 0;
  /** Character saxes holds back to the start of the next chunk (trailing CR or high surrogate). */
  private carry = "";
  private stanzaStart = 0;
  private gapStart = 0;
  /** The fast path for simple top-level elements (fast-path.ts), or null when switched off. */
  private readonly fast: FastPath | null;
  /** Default namespace the stream header declares (what a top-level element inherits). */
  private rootNs = "";

  constructor(
    private readonly handlers: StreamParserHandlers,
    limits: StreamParserLimits,
    options: SaxesStreamParserOptions = {},
  ) {
    checkLimits(limits);
    this.maxStanzaSize = limits.maxStanzaSize;
    this.maxDepth = limits.maxDepth;
    this.maxGap = limits.maxStanzaSize === Infinity ? MAX_GAP_BYTES_UNLIMITED : limits.maxStanzaSize;
    this.fast = options.fastPath === false ? null : new FastPath(limits.maxDepth);

    const sax = (this.sax = new FastSaxesParser());
    this.cursor = cursorOf(sax);
    sax.owner = this;
    const shared = SaxesStreamParser.#shared;
    sax.on("opentagstart", shared.opentagstart);
    sax.on("opentag", shared.opentag);
    sax.on("cdata", shared.cdata);
    sax.on("doctype", shared.doctype);
    sax.on("processinginstruction", shared.processinginstruction);
    sax.on("comment", shared.comment);
    // saxes calls these three without a `this` (e.g. `handler(text)`): one closure each.
    sax.on("closetag", () => this.onCloseTag());
    sax.on("text", (text) => this.onText(text));
    sax.on("error", (err) => this.fail("not-well-formed", err.message));
  }

  /**
   * The handlers saxes calls as methods of its parser (`handler.call(parser, ...)` in saxes 6):
   * one set of functions for every stream, reaching their stream through `owner`, where closures
   * cost ~0.3 KiB per parser for the life of the stream (docs/performance.md, "Memory").
   */
  static readonly #shared = {
    opentagstart(this: FastSaxesParser, tag: SaxesStartTagNS): void {
      (this.owner as SaxesStreamParser).onOpenTagStart(tag);
    },
    opentag(this: FastSaxesParser, tag: SaxesTagNS): void {
      (this.owner as SaxesStreamParser).onOpenTag(tag);
    },
    cdata(this: FastSaxesParser, text: string): void {
      (this.owner as SaxesStreamParser).onText(text);
    },
    // RFC 6120 §11.1: comments, processing instructions and DTDs are forbidden in XMPP streams.
    // The XML declaration is not a processing instruction; saxes only accepts it at the very start.
    doctype(this: FastSaxesParser): void {
      (this.owner as SaxesStreamParser).restricted("a document type declaration");
    },
    processinginstruction(this: FastSaxesParser, pi: { target: string }): void {
      (this.owner as SaxesStreamParser).restricted(`a processing instruction (<?${pi.target}?>)`);
    },
    comment(this: FastSaxesParser): void {
      (this.owner as SaxesStreamParser).restricted("a comment");
    },
  };

  write(input: Buffer | string): void {
    if (this.closed) return;
    if (this.writing) throw new Error("SaxesStreamParser.write called from one of its own handlers");
    this.writing = true;
    try {
      let text: string;
      if (typeof input === "string") {
        text = input;
      } else {
        // StringDecoder keeps a character split across chunks until its last byte arrives. A chunk
        // that ends with an ASCII byte, with nothing carried from before, ends on a character
        // boundary: it decodes alone, the same way (invalid sequences become U+FFFD either way,
        // which the check below catches).
        const decoder = this.decoder;
        const bytes = input.length;
        if (decoder === null && (bytes === 0 || input[bytes - 1]! < 0x80)) text = input.toString("utf8");
        else text = (this.decoder = decoder ?? new StringDecoder("utf8")).write(input);
        if (!this.utf8.check(input, text)) this.fail("not-well-formed", "invalid UTF-8 (RFC 6120 §11.6)");
      }
      const length = text.length;
      if (length <= MAX_PIECE) {
        if (length > 0) this.feed(text);
      } else {
        for (let from = 0; from < length; ) {
          let to = Math.min(length, from + MAX_PIECE);
          if (to < length && isHighSurrogate(text.charCodeAt(to - 1))) to++;
          this.feed(text.slice(from, to));
          from = to;
        }
      }
    } catch (err) {
      if (err !== STOP) {
        // A handler threw: saxes stopped in the middle of a chunk and cannot be resumed.
        this.shutdown();
        throw err;
      }
    } finally {
      this.writing = false;
      // An idle stream keeps nothing of its last read (fast-saxes.ts, releaseLastRead).
      this.chunk = "";
      this.sax.releaseLastRead();
    }
  }

  close(): void {
    this.shutdown();
  }

  /**
   * One piece of input. With the fast path on, complete simple top-level elements are parsed by
   * `FastPath` and never reach saxes. Where the fast path declines (an element outside its subset,
   * or one that continues in the next piece), saxes gets the rest of the piece and hands control
   * back right after that element's end tag (`YIELD`). A declined element costs one extra scan of
   * at most its own length, so the work stays linear in the input.
   */
  private feed(piece: string): void {
    const fast = this.fast;
    if (fast === null) {
      this.feedSaxes(piece, false);
      this.checkOpenEnded();
      return;
    }
    const length = piece.length;
    let at = 0;
    // Characters saxes parsed after the fast path declined, in this piece: past half the piece,
    // saxes keeps the rest, so input built to be declined late costs at most a bounded extra scan.
    let declined = 0;
    for (;;) {
      let tried = false;
      if (this.betweenElements()) {
        at = this.fastElements(fast, piece, at);
        if (at === length) break;
        tried = true;
      }
      const stoppedAt = this.feedSaxes(at === 0 ? piece : piece.slice(at), declined <= length / 2);
      if (stoppedAt < 0) break;
      if (tried) declined += stoppedAt;
      at += stoppedAt;
      if (at === length) break;
    }
    this.checkOpenEnded();
  }

  /** Whether the fast path may take the next input: saxes holds nothing and no element is open. */
  private betweenElements(): boolean {
    return this.rootOpen && !this.inStanza && !this.closed && this.pending === null && !this.pendingEnd && this.sax.isBetweenElements();
  }

  /**
   * Complete simple top-level elements (and the whitespace between them) from `at` on, delivered
   * as they are parsed; returns where the fast path stopped. The byte limits are checked as on
   * saxes' path: an element that would break one is left to saxes, which reports it.
   */
  private fastElements(fast: FastPath, piece: string, from: number): number {
    const length = piece.length;
    let at = from;
    let pairs = false;
    while (at < length) {
      let start = at;
      let c = piece.charCodeAt(start);
      while (c === 0x20 || c === 0x0a || c === 0x09) c = ++start < length ? piece.charCodeAt(start) : -1;
      if (start === length) {
        // Whitespace up to the end of the piece: keepalives (RFC 6120 §4.6.1), dropped.
        this.consumed += length - at;
        at = length;
        break;
      }
      if (c !== 0x3c) break;
      const element = fast.scan(piece, start, this.rootNs);
      if (element === null) break;
      const elementStart = this.consumed + (start - at);
      const end = elementStart + (fast.end - start) + fast.extraBytes;
      if (elementStart - this.gapStart > this.maxGap || end - elementStart > this.maxStanzaSize) break;
      if (fast.sawPair) pairs = true;
      this.consumed = end;
      this.gapStart = end;
      at = fast.end;
      this.handlers.onElement(element);
      if (this.closed) throw STOP;
    }
    // Once for the whole stretch (saxes reads its line and column only when it parses again).
    if (at > from) this.sax.skipped(piece, from, at, pairs);
    return at;
  }

  /**
   * Hands `piece` to saxes. With `yieldAfterElement`, saxes stops right after the next top-level
   * element's end tag and the index in `piece` where it stopped is returned; otherwise (or when it
   * read everything) -1.
   */
  private feedSaxes(piece: string, yieldAfterElement: boolean): number {
    const carry = this.carry;
    const bytes = Buffer.byteLength(piece);
    this.ascii = bytes === piece.length && (carry === "" || carry === "\r");
    this.base = this.consumed - (carry === "" ? 0 : Buffer.byteLength(carry));
    this.chunk = this.ascii ? "" : carry + piece;
    this.mapIndex = 0;
    this.mapBytes = 0;
    this.consumed += bytes;
    const last = piece.charCodeAt(piece.length - 1);
    this.carry = last === CR || isHighSurrogate(last) ? piece.charAt(piece.length - 1) : "";

    this.yieldAfterElement = yieldAfterElement;
    try {
      this.sax.write(piece);
    } catch (err) {
      if (err !== YIELD) throw err;
      // saxes stopped just after a top-level element's `>`: what follows is ours again.
      const index = this.sax.yielded();
      this.consumed = this.byteAt(index);
      this.carry = "";
      this.yieldAfterElement = false;
      this.flush();
      return index - carry.length;
    }
    this.yieldAfterElement = false;
    this.flush();
    return -1;
  }

  /** Set while saxes should hand control back after the next top-level element (see `feedSaxes`). */
  private yieldAfterElement = false;

  /** Byte offset in the stream of index `index` of the chunk saxes is working on. */
  private byteAt(index: number): number {
    // Negative: a name that began in an earlier chunk; counted as ASCII (off by a few bytes at most).
    if (this.ascii || index <= 0) return this.base + index;
    if (index < this.mapIndex) {
      this.mapIndex = 0;
      this.mapBytes = 0;
    }
    this.mapBytes += Buffer.byteLength(this.chunk.slice(this.mapIndex, index));
    this.mapIndex = index;
    return this.base + this.mapBytes;
  }

  /**
   * After each piece: whatever is still open (header, element, gap between elements) must stay
   * within its limit, so nothing grows without bound whatever the peer sends.
   */
  private checkOpenEnded(): void {
    const end = this.consumed;
    if (!this.rootOpen) {
      if (end > MAX_HEADER_BYTES) this.fail("policy-violation", `stream header larger than ${MAX_HEADER_BYTES} bytes`);
    } else if (this.inStanza) {
      if (end - this.stanzaStart > this.maxStanzaSize) this.tooBig();
    } else {
      if (end - this.gapStart > this.maxGap) this.fail("policy-violation", `more than ${this.maxGap} bytes between top-level elements`);
      // Whitespace keepalives are legitimate for the life of the stream: once saxes has dropped
      // them, they no longer count. Anything else (partial markup, text) keeps counting.
      if (this.sax.discardPendingWhitespace()) this.gapStart = end;
    }
  }

  private onOpenTagStart(tag: SaxesStartTagNS): void {
    if (this.pending !== null || this.pendingEnd) this.flush();
    if (!this.rootOpen || this.inStanza) return;
    // A top-level element begins at its "<": saxes has just read the character after the name.
    const start = this.byteAt(this.cursor.prevI - tag.name.length - 1);
    if (start - this.gapStart > this.maxGap) {
      this.fail("policy-violation", `more than ${this.maxGap} bytes between top-level elements`);
    }
    this.inStanza = true;
    this.stanzaStart = start;
  }

  private onOpenTag(tag: SaxesTagNS): void {
    if (!this.rootOpen) {
      this.openRoot(tag);
      return;
    }
    const stack = this.stack;
    const depth = stack.length + 1;
    if (depth > this.maxDepth) this.fail("policy-violation", `elements nested deeper than ${this.maxDepth} levels`);
    // RFC 6120 §4.3.3: a new stream header is only valid after a restart (a new parser); inside an
    // open stream it can never become a complete element, so refuse it when it opens.
    if (depth === 1 && tag.local === "stream" && tag.uri === STREAMS_NS) this.fail("invalid-xml", "stream header inside an open stream");
    if (this.maxStanzaSize !== Infinity && this.byteAt(this.cursor.i) - this.stanzaStart > this.maxStanzaSize) this.tooBig();

    const element = new XmlElement(tag.local, NO_ATTRS, tag.uri);
    const attrs = element.attrs;
    const attributes = tag.attributes;
    for (const name in attributes) {
      const attribute = attributes[name]!;
      // Namespace declarations are not attributes of the element: `ns` carries their effect and
      // the serializer writes them back (core/xml/element.ts).
      if (attribute.prefix === "xmlns" || name === "xmlns") continue;
      attrs[name] = attribute.value;
    }
    if (depth > 1) stack[depth - 2]!.children.push(element);
    stack.push(element);
  }

  private openRoot(tag: SaxesTagNS): void {
    const end = this.byteAt(this.cursor.i);
    if (end > MAX_HEADER_BYTES) this.fail("policy-violation", `stream header larger than ${MAX_HEADER_BYTES} bytes`);
    this.rootOpen = true;
    this.gapStart = end;

    const attrs: Record<string, string> = {};
    for (const name in tag.attributes) {
      const attribute = tag.attributes[name]!;
      if (attribute.prefix === "xmlns" || name === "xmlns") continue;
      attrs[name] = attribute.value;
    }
    let defaultNs: string | undefined;
    const prefixes: Record<string, string> = {};
    for (const prefix in tag.ns) {
      if (prefix === "") defaultNs = tag.ns[prefix];
      else prefixes[prefix] = tag.ns[prefix]!;
    }
    // What a top-level element without its own declaration resolves to (saxes: "" when undeclared).
    this.rootNs = sharedHeaderString(defaultNs ?? "");
    // The namespace is reported as found: the stream engine decides what is acceptable (RFC 6120 §4.8).
    const header: StreamHeader = { name: tag.local, ns: tag.uri, attrs, defaultNs, prefixes };
    slimRootTag(tag);
    this.sax.rootOpened();
    this.handlers.onStreamStart(header);
    if (this.closed) throw STOP;
  }

  private onCloseTag(): void {
    if (this.pending !== null || this.pendingEnd) this.flush();
    const stack = this.stack;
    if (stack.length === 0) {
      // The root element itself (RFC 6120 §4.4); delivered by `flush` unless saxes objects first.
      this.pendingEnd = true;
      return;
    }
    const element = stack.pop()!;
    if (stack.length > 0) return;
    const end = this.byteAt(this.cursor.i);
    if (end - this.stanzaStart > this.maxStanzaSize) this.tooBig();
    this.inStanza = false;
    this.gapStart = end;
    this.pending = element;
    if (this.yieldAfterElement) this.sax.yieldAfterClose = true;
  }

  private onText(text: string): void {
    if (this.pending !== null || this.pendingEnd) this.flush();
    const stack = this.stack;
    const depth = stack.length;
    if (depth === 0) {
      // Whitespace between top-level elements is allowed (keepalives, RFC 6120 §4.6.1); other
      // character data directly inside the root is not. Before the root, saxes itself objects.
      if (this.rootOpen && !isWhitespace(text)) this.fail("not-well-formed", "character data at stream level");
      return;
    }
    const children = stack[depth - 1]!.children;
    const last = children.length - 1;
    // Adjacent text (entities, CDATA sections, chunk ends) becomes one string.
    if (last >= 0 && typeof children[last] === "string") children[last] += text;
    else children.push(text);
  }

  private restricted(what: string): void {
    if (this.pending !== null || this.pendingEnd) this.flush();
    this.fail("restricted-xml", `${what} is not allowed in an XML stream (RFC 6120 §11.1)`);
  }

  private tooBig(): never {
    return this.fail("policy-violation", `top-level element larger than ${this.maxStanzaSize} bytes`);
  }

  /** Delivers what `onCloseTag` deferred; stops saxes when the stream ended or a handler closed us. */
  private flush(): void {
    const element = this.pending;
    if (element !== null) {
      this.pending = null;
      this.handlers.onElement(element);
      if (this.closed) throw STOP;
    }
    if (this.pendingEnd) {
      this.shutdown();
      this.handlers.onStreamEnd();
      throw STOP;
    }
  }

  /**
   * Reports a fatal condition once, closes, and unwinds saxes. A top-level element (or the stream
   * end) completed before the offending input is delivered first: it was whole and well-formed,
   * and a stanza is delivered or bounced, never lost. Not when the error is saxes refusing the very
   * end tag that completed it (`<message></stream:stream>`).
   */
  private fail(condition: ParserErrorCondition, text: string): never {
    if (!this.closed && (this.pending !== null || this.pendingEnd) && !this.sax.inCloseTag) this.flush();
    if (!this.closed) {
      this.shutdown();
      this.handlers.onError(condition, text);
    }
    throw STOP;
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    this.pendingEnd = false;
    this.stack = [];
    this.chunk = "";
    this.yieldAfterElement = false;
    this.sax.yieldAfterClose = false;
    this.sax.inCloseTag = false;
    this.decoder?.end();
    // Drops saxes' own buffers (pending text, open tags, chunk). Safe mid-write: we unwind with STOP.
    this.sax._init();
  }
}

/** Names and namespaces every stream header carries, kept once for all streams (`slimRootTag`). */
const HEADER_STRINGS: ReadonlyMap<string, string> = new Map(
  ["stream:stream", "stream", STREAMS_NS, "jabber:server", "jabber:client", "jabber:component:accept", "jabber:server:dialback", "http://www.w3.org/XML/1998/namespace", "http://www.w3.org/2000/xmlns/"].map((s) => [s, s]),
);

/** The shared copy of a string every header repeats, else the string itself. */
function sharedHeaderString(s: string): string {
  return HEADER_STRINGS.get(s) ?? s;
}

/**
 * saxes keeps the root's tag for the life of the stream (to match `</stream:stream>`, and its
 * namespace declarations for every element below), ~1.5 KiB as parsed: an object per attribute,
 * and names that are slices of the chunk the header arrived in, which they keep alive. Once the
 * header is read, only the name and the declarations matter: drop the attributes (saxes reads them
 * only while it opens a tag) and swap the slices for shared copies.
 */
function slimRootTag(tag: SaxesTagNS): void {
  const root = tag as { name: string; prefix: string; local: string; uri: string; attributes: unknown; ns: Record<string, string> };
  const shared = sharedHeaderString;
  root.attributes = NO_ATTRS;
  root.name = shared(root.name);
  root.prefix = shared(root.prefix);
  root.local = shared(root.local);
  root.uri = shared(root.uri);
  root.ns = sharedBindings(root.ns);
}

/** Root namespace declarations seen so far, one table per distinct set (bounded: see below). */
const ROOT_BINDINGS = new Map<string, Record<string, string>>();
const MAX_ROOT_BINDINGS = 32;

/**
 * The root's namespace declarations as one table shared by every stream that declares the same
 * (saxes makes a dictionary per element, ~0.2 KiB, and keeps the root's for the stream's life).
 * saxes writes a tag's table only while it opens that tag; afterwards it only reads it, to resolve
 * prefixes below the root. Streams with unusual declarations keep their own once the cache is full.
 */
function sharedBindings(ns: Record<string, string>): Record<string, string> {
  let key = "";
  for (const prefix in ns) key += `${prefix}\u0000${ns[prefix]!}\u0000`;
  const known = ROOT_BINDINGS.get(key);
  if (known !== undefined) return known;
  const keep = ROOT_BINDINGS.size < MAX_ROOT_BINDINGS;
  // Kept by the cache: flat copies, never slices that would hold the chunk the header came in.
  for (const prefix in ns) ns[prefix] = keep ? internalized(ns[prefix]!) : sharedHeaderString(ns[prefix]!);
  if (keep) ROOT_BINDINGS.set(internalized(key), ns);
  return ns;
}

export class SaxesStreamParserFactory implements StreamParserFactory {
  constructor(private readonly options: SaxesStreamParserOptions = {}) {}

  create(handlers: StreamParserHandlers, limits: StreamParserLimits): StreamParser {
    return new SaxesStreamParser(handlers, limits, this.options);
  }
}
