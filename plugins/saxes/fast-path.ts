import { XmlElement } from "../../core/index.js";

/**
 * The fast path of the stream parser: one complete top-level element in the common, simple form,
 * parsed without saxes, or `null` so that saxes parses it instead.
 *
 * Why: saxes reads XML character by character through a state table and was about 40 % of each
 * server's CPU on the federation path (docs/performance.md). Real stanzas use a small subset of XML:
 * ASCII names without prefixes, quoted attributes, the five predefined entities, text. This scanner
 * accepts exactly that subset and gives up (returns `null`) at the first thing outside it, and also
 * when the element is not complete in the string: the caller then hands the same text to saxes,
 * which parses it (or reports the error) exactly as before. So the scanner never decides that input
 * is wrong; it only ever accepts input that saxes accepts too, and builds the same tree
 * (`test/parser/` checks both against each other on hostile, well-formed and generated input).
 *
 * How: a start tag with all its attributes, an end tag and a run of character data are each one
 * match of a sticky regular expression. V8 compiles regular expressions to machine code after
 * their first use, while a JavaScript loop over characters runs in the interpreter for the first
 * thousands of stanzas of a fresh process: the per-character work stays out of JavaScript, so the
 * fast path is fast from the first stanza, not only once the JIT has optimised it. Every pattern is
 * linear: no nested quantifier can match the same text two ways.
 *
 * What it accepts (anything else: `null`):
 * - element names `[A-Za-z_][A-Za-z0-9_.-]*` (no prefix: a prefix needs saxes' namespace scopes);
 * - attributes of the same names plus `xml:lang` (the `xml` prefix is predeclared, XML Namespaces
 *   §3), `S? = S?`, single or double quotes, no duplicates, whitespace before each one;
 * - `xmlns='uri'` (a default namespace declaration, RFC 6120 §4.8.2) unless the value has leading
 *   or trailing whitespace or is one of the two reserved namespaces (XML Namespaces §3);
 * - character data and attribute values of XML 1.0 `Char` (RFC 6120 §11.1), with `&amp; &lt; &gt;
 *   &apos; &quot;`; not: CR (line-end normalisation), TAB or LF inside attribute values
 *   (attribute-value normalisation), character references, `]]>` in text, U+FFFE/U+FFFF, lone
 *   surrogates;
 * - no comments, CDATA sections, processing instructions (restricted XML: saxes reports them);
 * - a top-level element not named `stream` (a nested stream header is an error saxes' path reports),
 *   nesting within `maxDepth`.
 */
export class FastPath {
  /** After a successful `scan`: index just past the element's last `>`. */
  end = 0;
  /** After a successful `scan`: UTF-8 bytes of the element minus its UTF-16 length (0 for ASCII). */
  extraBytes = 0;
  /** After a successful `scan`: whether the element holds surrogate pairs (one column each in saxes). */
  sawPair = false;

  constructor(private readonly maxDepth: number) {}

  /**
   * The element starting with `<` at `start`, in default namespace `ns` (the stream header's), or
   * `null` (not complete in `s`, or outside the accepted subset). `ascii`: `s` is all ASCII (then
   * no byte counting is needed).
   */
  scan(s: string, start: number, ns: string, ascii: boolean): XmlElement | null {
    const stack: XmlElement[] = [];
    let i = start;
    for (;;) {
      // Here s[i] is "<".
      let element: XmlElement;
      if (codeAt(s, i + 1) === SLASH) {
        const open = stack.pop();
        END_TAG.lastIndex = i;
        // The end tag is well-formed; its name must be the open element's, whole.
        if (open === undefined || !END_TAG.test(s) || !s.startsWith(open.name, i + 2) || isNameChar(codeAt(s, i + 2 + open.name.length))) return null;
        i = END_TAG.lastIndex;
        if (stack.length === 0) return this.#done(s, start, i, ascii, open);
        element = stack[stack.length - 1]!;
      } else {
        START_TAG.lastIndex = i;
        if (!START_TAG.test(s)) return null;
        const tagEnd = START_TAG.lastIndex;
        let nameEnd = i + 2;
        while (isNameChar(codeAt(s, nameEnd))) nameEnd++;
        const name = s.slice(i + 1, nameEnd);
        const depth = stack.length + 1;
        // Too deep, or a stream header inside the stream (RFC 6120 §4.3.3): saxes' path refuses them.
        if (depth > this.maxDepth || (depth === 1 && name === "stream")) return null;
        const parent = depth === 1 ? undefined : stack[depth - 2]!;
        element = new XmlElement(name, NO_ATTRS, parent === undefined ? ns : parent.ns);
        const selfClosing = codeAt(s, tagEnd - 2) === SLASH;
        if (!setAttributes(element, s, nameEnd, selfClosing ? tagEnd - 2 : tagEnd - 1)) return null;
        i = tagEnd;
        if (parent !== undefined) parent.children.push(element);
        if (selfClosing) {
          if (parent === undefined) return this.#done(s, start, i, ascii, element);
          element = parent;
        } else {
          stack.push(element);
        }
      }
      // Character data up to the next tag, in `element`.
      let text = "";
      for (;;) {
        TEXT.lastIndex = i;
        TEXT.test(s);
        const runEnd = TEXT.lastIndex;
        if (runEnd > i) {
          const run = s.slice(i, runEnd);
          // XML 1.0 §2.4: "]]>" may not appear in character data (saxes reports it).
          if (run.includes("]]>")) return null;
          text += run;
          i = runEnd;
        }
        const c = codeAt(s, i);
        if (c === LT) break;
        if (c !== AMP) return null;
        const decoded = entityAt(s, i + 1);
        if (decoded === undefined) return null;
        text += decoded;
        i += ENTITY_LENGTH[decoded]!;
      }
      if (text !== "") element.children.push(text);
    }
  }

  #done(s: string, start: number, end: number, ascii: boolean, element: XmlElement): XmlElement {
    this.end = end;
    if (ascii) {
      this.extraBytes = 0;
      this.sawPair = false;
    } else {
      const slice = s.slice(start, end);
      this.extraBytes = Buffer.byteLength(slice) - slice.length;
      this.sawPair = HIGH_SURROGATE.test(slice);
    }
    return element;
  }
}

const SLASH = 0x2f;
const AMP = 0x26;
const LT = 0x3c;
const APOS = 0x27;

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

const NO_ATTRS: Readonly<Record<string, string>> = Object.freeze({});

// The patterns. `S` is XML whitespace without CR (CR needs end-of-line normalisation: saxes).
// Names: ASCII, no prefix (`[A-Za-z_][A-Za-z0-9_.-]*`); attribute names also `xml:lang`.
// Attribute values: XML 1.0 Char (the `u` flag makes a surrogate pair one character and a lone
// surrogate a non-match) without `<`, TAB, LF, CR (attribute-value normalisation: saxes), with the
// five predefined entities. Character data: the same without the quote exclusions, with TAB and LF.
const NAME = "[A-Za-z_][A-Za-z0-9_.-]*";
const VALUE_CHAR = "\\u0020\\u0021\\u0023-\\u0025\\u0028-\\u003b\\u003d-\\ud7ff\\ue000-\\ufffd\\u{10000}-\\u{10ffff}";
const ENTITY = "&(?:amp|lt|gt|apos|quot);";
const VALUE = `(?:'(?:[${VALUE_CHAR}"]|${ENTITY})*'|"(?:[${VALUE_CHAR}']|${ENTITY})*")`;
const ATTRIBUTE = `[ \\t\\n]+(?:xml:lang|${NAME})[ \\t\\n]*=[ \\t\\n]*${VALUE}`;
/** A whole start tag (no capture groups: `test` then builds no match array). */
const START_TAG = new RegExp(`<${NAME}(?:${ATTRIBUTE})*[ \\t\\n]*/?>`, "uy");
const END_TAG = new RegExp(`</${NAME}[ \\t\\n]*>`, "y");
/** A run of character data: XML 1.0 Char without `<`, `&` and CR. */
const TEXT = /[\t\n\u0020-\u0025\u0027-\u003b\u003d-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*/uy;
const HIGH_SURROGATE = /[\ud800-\udbff]/;
const ENTITY_IN_VALUE = /&(amp|lt|gt|apos|quot);/g;

/**
 * Sets the attributes of `element` from `s[from, to)`, the attribute list of a start tag that
 * START_TAG has already checked (so: whitespace, name, optional whitespace, `=`, optional
 * whitespace, quoted value, repeated; names hold no `=` and values no quote of their own kind).
 * False when saxes' path must take the element: a duplicate, or a namespace declaration it refuses.
 */
function setAttributes(element: XmlElement, s: string, from: number, to: number): boolean {
  const attrs = element.attrs;
  let sawXmlns = false;
  let i = from;
  for (;;) {
    while (isSpace(codeAt(s, i))) i++;
    if (i >= to) return true;
    const eq = s.indexOf("=", i);
    let nameEnd = eq;
    while (isSpace(codeAt(s, nameEnd - 1))) nameEnd--;
    const name = s.slice(i, nameEnd);
    i = eq + 1;
    while (isSpace(codeAt(s, i))) i++;
    const close = s.indexOf(codeAt(s, i) === APOS ? "'" : '"', i + 1);
    let value = s.slice(i + 1, close);
    i = close + 1;
    if (value.includes("&")) value = value.replace(ENTITY_IN_VALUE, (_, entity: string) => ENTITY_TEXT[entity]!);
    if (name === "xmlns") {
      // XML Namespaces §3: the reserved namespaces cannot be the default; saxes trims the value.
      if (sawXmlns || value === XML_NS || value === XMLNS_NS || value.trim() !== value) return false;
      sawXmlns = true;
      element.ns = value;
    } else {
      // Duplicates are an error (saxes reports it); `__proto__` would not survive a plain object.
      if (attrs[name] !== undefined || name === "__proto__") return false;
      attrs[name] = value;
    }
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09;
}

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e;
}

/** `s.charCodeAt(i)`, or -1 past the end (a read past the end would deoptimise the caller in V8). */
function codeAt(s: string, i: number): number {
  return i < s.length ? s.charCodeAt(i) : -1;
}

const ENTITY_TEXT: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", apos: "'", quot: '"' };
/** Length of each entity reference, `&` and `;` included, by its replacement text. */
const ENTITY_LENGTH: Readonly<Record<string, number>> = { "&": 5, "<": 4, ">": 4, "'": 6, '"': 6 };

/** The replacement of the predefined entity whose name starts at `i` (after `&`), or undefined. */
function entityAt(s: string, i: number): string | undefined {
  switch (codeAt(s, i)) {
    case 0x61: // a
      if (s.startsWith("amp;", i)) return "&";
      if (s.startsWith("apos;", i)) return "'";
      return undefined;
    case 0x6c: // l
      return s.startsWith("lt;", i) ? "<" : undefined;
    case 0x67: // g
      return s.startsWith("gt;", i) ? ">" : undefined;
    case 0x71: // q
      return s.startsWith("quot;", i) ? '"' : undefined;
    default:
      return undefined;
  }
}
