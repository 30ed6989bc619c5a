import { SaxesParser } from "../../core/cjs/saxes.js";

/** saxes' state table, shared by every FastSaxesParser (see its constructor). */
let sharedStateTable: readonly unknown[] | undefined;
/** saxes' predeclared namespace bindings, shared the same way. */
let sharedRootBindings: Readonly<Record<string, string>> | undefined;
/** saxes' table of entity definitions (the five predefined ones through its prototype), shared the same way. */
let sharedEntities: Readonly<Record<string, string>> | undefined;
/** What saxes keeps of the XML declaration once the root is open: read by nobody after that (see `rootOpened`). */
const NO_XML_DECL = Object.freeze({ version: undefined, encoding: undefined, standalone: undefined });
const NO_DECL_NAMES: readonly string[] = Object.freeze([]);

/** The saxes options this plugin uses (positions stay on: they go into the error text). */
export type NsOptions = { readonly xmlns: true; readonly defaultXMLVersion: "1.0"; readonly forceXMLVersion: true };

/**
 * Namespaces on (RFC 6120 §4.8 needs resolved names). XML 1.0 rules whatever the declaration
 * says: XMPP is a profile of XML 1.0 (RFC 6120 §11), and XML 1.1 would admit control characters
 * (through character references) that no XMPP entity may send.
 */
const OPTIONS: NsOptions = { xmlns: true, defaultXMLVersion: "1.0", forceXMLVersion: true };

/**
 * The private fields where saxes 6 keeps its handlers (`EVENT_NAME_TO_HANDLER_NAME` in saxes.js).
 * `SaxesParser#on(name, fn)` stores into them with a computed key: `this[table[name]] = fn`.
 */
interface HandlerSlots {
  xmldeclHandler: unknown;
  textHandler: unknown;
  piHandler: unknown;
  doctypeHandler: unknown;
  commentHandler: unknown;
  openTagStartHandler: unknown;
  attributeHandler: unknown;
  openTagHandler: unknown;
  closeTagHandler: unknown;
  cdataHandler: unknown;
  errorHandler: unknown;
  endHandler: unknown;
  readyHandler: unknown;
}

/**
 * Read-only view of the saxes cursor (private in its typings, stable in saxes 6): `i` is the index
 * in the current chunk of the next character to read, `prevI` the index of the last one read. The
 * stream parser uses them to count stanza bytes exactly.
 */
export interface SaxesCursor {
  readonly i: number;
  readonly prevI: number;
}

/**
 * `SaxesParser` that stays in V8 fast-properties mode.
 *
 * Why: saxes never declares its handler fields, so each `on()`
 * adds a new property through a computed-key store. Past a handful of such additions V8 turns the
 * object into a dictionary, and every property read in saxes' hot loop (`this.i`, `this.chunk`,
 * `this.state`, ...) becomes a hash lookup: throughput drops about fourfold (~7 MB/s). Creating
 * every slot here, in the constructor, with plain named stores in a fixed order gives all parsers
 * one hidden class that already has the slots, so the later `on()` calls only overwrite existing
 * fields. Do not turn this into a loop over the names: a loop is a computed-key store again.
 * `saxes-stream-parser.test.ts` checks the result with `%HasFastProperties` and the bench
 * (`bench/parser-bench.ts`) measures it.
 */
export class FastSaxesParser extends SaxesParser<NsOptions> {
  /**
   * The object saxes' handlers work for (set once, by the stream parser): lets handlers that
   * saxes calls as methods of this parser be functions shared by every parser instead of
   * closures made per parser (saxes-stream-parser.ts, `SHARED_HANDLERS`).
   */
  owner: unknown = undefined;

  constructor() {
    super(OPTIONS);
    const slots = this as unknown as HandlerSlots;
    // Same order as saxes' EVENTS list. One named store each: see the class comment.
    slots.xmldeclHandler = undefined;
    slots.textHandler = undefined;
    slots.piHandler = undefined;
    slots.doctypeHandler = undefined;
    slots.commentHandler = undefined;
    slots.openTagStartHandler = undefined;
    slots.attributeHandler = undefined;
    slots.openTagHandler = undefined;
    slots.closeTagHandler = undefined;
    slots.cdataHandler = undefined;
    slots.errorHandler = undefined;
    slots.endHandler = undefined;
    slots.readyHandler = undefined;
    // saxes builds the same table of its own prototype methods for every parser (~0.4 KiB per
    // stream, kept for the stream's life): every parser of this class can share one.
    // The same goes for the bindings of `xml` and `xmlns`, which saxes only reads after this.
    // Likewise the entity table (saxes only reads it: `this.ENTITIES[name]`; nobody here defines
    // entities), which saxes' `_init` makes again for a parser that is closed (not shared then).
    const self = this as unknown as { stateTable: readonly unknown[]; ns: Readonly<Record<string, string>>; ENTITIES: Readonly<Record<string, string>> };
    self.stateTable = sharedStateTable ??= self.stateTable;
    self.ns = sharedRootBindings ??= self.ns;
    self.ENTITIES = sharedEntities ??= self.ENTITIES;
  }

  /**
   * The root element is open: saxes writes the XML declaration's fields (and reads the names it
   * still expects there) only before it, so the per-parser objects for them are dropped for the
   * life of the stream (~0.1 KiB).
   */
  rootOpened(): void {
    const self = this as unknown as { xmlDecl: unknown; xmlDeclExpects: readonly string[] };
    self.xmlDecl = NO_XML_DECL;
    self.xmlDeclExpects = NO_DECL_NAMES;
  }

  /**
   * Between two reads, drop what saxes still references from the last one: the chunk it parsed (up
   * to a 64 Ki-character piece after a burst) and, in character data, the last element it closed
   * (saxes itself moves `tag` back to the open parent after a self-closing element). An idle
   * stream then holds neither. saxes reads `chunk` only inside `write`, and in character data
   * makes a new `tag` at the next `<` before reading it.
   */
  releaseLastRead(): void {
    const self = this as unknown as ReadState;
    self.chunk = "";
    if (self.stateTable[self.state] === self.sText) {
      const open = self.tags[self.tags.length - 1];
      self.tag = open ?? null;
      // saxes leaves `topNS` on the bindings of the last element it closed (a table of its own);
      // it reads `topNS` only while it opens a tag, after setting it afresh.
      self.topNS = open?.ns ?? null;
    }
  }

  /**
   * Set by the stream parser when a top-level element has just closed: once saxes has finished
   * that end tag, `YIELD` is thrown to leave `write` there, so the rest of the chunk can take the
   * fast path (fast-path.ts). Read by the `closeTag`/`openSelfClosingTag` wrappers below.
   */
  yieldAfterClose = false;

  /**
   * True while saxes handles an end tag. An error reported then belongs to that end tag (saxes
   * hands out the popped elements before it checks the name), so the element just completed by it
   * must not be delivered; an error at any other time comes after a complete element.
   */
  inCloseTag = false;

  /**
   * Whether saxes stands between two top-level elements with nothing buffered: character-data
   * state, no pending text but whitespace, no character carried over to the next chunk. Only then
   * may the fast path consume input that saxes never sees.
   */
  isBetweenElements(): boolean {
    const self = this as unknown as TextState;
    if (self.stateTable[self.state] !== self.sText || self.carriedFromPrevious !== undefined) return false;
    return isXmlSpace(self.text);
  }

  /**
   * After `YIELD` left `write`: the index in the chunk where saxes stopped. The character saxes held
   * back for its next chunk (a trailing CR or high surrogate) is dropped: the caller still has it.
   */
  yielded(): number {
    const self = this as unknown as TextState;
    self.carriedFromPrevious = undefined;
    // saxes adds the chunk length to its position at the end of `write`, which the throw skipped.
    self.chunkPosition += self.i;
    return self.i;
  }

  /**
   * The fast path consumed `s[from, to)` without saxes: move saxes' line and column on as if it
   * had read it, so the positions in its later error messages stay the same. `pairs`: whether the
   * text holds surrogate pairs (one column each).
   */
  skipped(s: string, from: number, to: number, pairs: boolean): void {
    const self = this as unknown as TextState;
    let lineStart = from;
    for (let nl = s.indexOf("\n", from); nl !== -1 && nl < to; nl = s.indexOf("\n", nl + 1)) {
      self.line++;
      self.column = 0;
      lineStart = nl + 1;
      self.positionAtNewLine = self.chunkPosition + (lineStart - from);
    }
    let columns = to - lineStart;
    if (pairs) for (let k = lineStart; k < to; k++) if ((s.charCodeAt(k) & 0xfc00) === 0xdc00) columns--;
    self.column += columns;
    self.chunkPosition += to - from;
  }

  /**
   * saxes buffers character data until the next `<`, so whitespace keepalives between stanzas
   * (RFC 6120 §4.6.1) would pile up for as long as a stream stays idle. When the parser is in its
   * character-data state and holds only whitespace, drop it. Returns whether it did. The caller
   * only uses this between top-level elements, where that text is ignored anyway.
   */
  discardPendingWhitespace(): boolean {
    const self = this as unknown as TextState;
    if (self.stateTable[self.state] !== self.sText || !isXmlSpace(self.text)) return false;
    self.text = "";
    return true;
  }
}

/** Thrown by the wrappers below to leave saxes' `write` right after a top-level element's end. */
export const YIELD: unique symbol = Symbol("saxes.yield");

/**
 * saxes' `closeTag` and `openSelfClosingTag` (private in its typings, stable in saxes 6) wrapped on
 * our subclass' prototype (saxes' own is untouched): when the element just closed was a top-level
 * one (`yieldAfterClose`, set by our close-tag handler) and saxes found the end tag correct (it
 * has not failed: a failure unwinds before this), leave `write` with `YIELD`. Both methods end
 * with saxes in its character-data state and nothing else to do, so a later `write` of the rest
 * continues exactly where this one stopped.
 */
type TagClosing = { closeTag(): void; openSelfClosingTag(): void };
const saxesMethods = SaxesParser.prototype as unknown as TagClosing;
const ours = FastSaxesParser.prototype as unknown as TagClosing;
ours.closeTag = function closeTag(this: FastSaxesParser): void {
  this.inCloseTag = true;
  saxesMethods.closeTag.call(this);
  this.inCloseTag = false;
  if (this.yieldAfterClose) {
    this.yieldAfterClose = false;
    throw YIELD;
  }
};
ours.openSelfClosingTag = function openSelfClosingTag(this: FastSaxesParser): void {
  saxesMethods.openSelfClosingTag.call(this);
  if (this.yieldAfterClose) {
    this.yieldAfterClose = false;
    throw YIELD;
  }
};

/** XML `S` only (saxes keeps CR until it normalises it). */
function isXmlSpace(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/** saxes internals behind `discardPendingWhitespace` (private in its typings, stable in saxes 6). */
interface TextState {
  text: string;
  line: number;
  column: number;
  positionAtNewLine: number;
  chunkPosition: number;
  carriedFromPrevious: string | undefined;
  readonly i: number;
  readonly state: number;
  readonly stateTable: readonly unknown[];
  readonly sText: unknown;
}

/** saxes internals behind `releaseLastRead` (private in its typings, stable in saxes 6). */
interface ReadState {
  chunk: string;
  tag: unknown;
  topNS: unknown;
  readonly tags: readonly { readonly ns: unknown }[];
  readonly state: number;
  readonly stateTable: readonly unknown[];
  readonly sText: unknown;
}

/** The cursor of `parser` (same object, narrower type). */
export function cursorOf(parser: FastSaxesParser): SaxesCursor {
  return parser as unknown as SaxesCursor;
}
