import { SaxesParser } from "../../core/cjs/saxes.js";

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
  }

  /**
   * saxes buffers character data until the next `<`, so whitespace keepalives between stanzas
   * (RFC 6120 §4.6.1) would pile up for as long as a stream stays idle. When the parser is in its
   * character-data state and holds only whitespace, drop it. Returns whether it did. The caller
   * only uses this between top-level elements, where that text is ignored anyway.
   */
  discardPendingWhitespace(): boolean {
    const self = this as unknown as TextState;
    if (self.stateTable[self.state] !== self.sText) return false;
    const text = self.text;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) return false;
    }
    self.text = "";
    return true;
  }
}

/** saxes internals behind `discardPendingWhitespace` (private in its typings, stable in saxes 6). */
interface TextState {
  text: string;
  readonly state: number;
  readonly stateTable: readonly unknown[];
  readonly sText: unknown;
}

/** The cursor of `parser` (same object, narrower type). */
export function cursorOf(parser: FastSaxesParser): SaxesCursor {
  return parser as unknown as SaxesCursor;
}
