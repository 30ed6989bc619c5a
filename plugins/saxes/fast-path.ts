import { XmlElement, type XmlNode } from "../../core/index.js";

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
 * How: one pass over the characters, building the tree as it goes. Reads past the end of the
 * string go through `codeAt` (-1), never a bare `charCodeAt` (NaN): an out-of-bounds read makes V8
 * discard the optimised code of the function, and elements continued in the next chunk are common.
 * (Sticky regular expressions per tag and text run were tried instead: in `bench/parser-bench.ts`
 * they were about a fifth slower, cold and warm, the cost of the RegExp calls outweighing the loop.)
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
  /** After `#openTag`: whether the tag ended with `/>`. */
  #selfClosing = false;
  /** After `#openTag`: the element's name, namespace, attributes (when asked for) and whether it declared `xmlns`. */
  #tagName = "";
  #tagNs = "";
  #tagAttrs: Record<string, string> | undefined = undefined;
  #tagDeclared = false;
  /** During `#scan`: whether an element below the top re-declared the top's namespace. */
  #redeclared = false;

  constructor(private readonly maxDepth: number) {}

  /**
   * The element starting with `<` at `start`, in default namespace `ns` (the stream header's), or
   * `null` (not complete in `s`, or outside the accepted subset).
   *
   * The element comes back as received text (`XmlElement.received`): only its own name and
   * attributes are built now; its children are built from the text by `buildChildren` when
   * someone asks for them, and a stanza that is only forwarded is written as that text again.
   * Not when the text would not mean the same in another stream's default namespace (a namespace
   * declaration on the element itself, or one below it re-declaring its namespace, RFC 6120
   * §4.8.3): that element is built whole, as before.
   */
  scan(s: string, start: number, ns: string): XmlElement | null {
    let element: XmlElement | null = null;
    if (this.#scan(s, start, ns, null) !== null) {
      element = this.#topDeclared || this.#redeclared
        ? this.#scan(s, start, ns, [])
        : XmlElement.received(this.#topName, this.#topNs, this.#topAttrs!, s.slice(start, this.end), buildChildren);
    }
    // Names and values are slices of `s`: kept here, they would keep the whole read alive.
    this.#topName = this.#tagName = this.#topNs = this.#tagNs = "";
    this.#topAttrs = this.#tagAttrs = undefined;
    return element;
  }

  /** The whole tree of the element that is all of `text` (in default namespace `ns`), built; throws if there is none. */
  buildWhole(text: string, ns: string): XmlElement {
    const element = this.#scan(text, 0, ns, []);
    if (element === null || this.end !== text.length) throw new Error("fast path: received text no longer parses (a bug)");
    return element;
  }

  /** After `#scan`: the top element's name, namespace, attributes and whether it declared `xmlns`. */
  #topName = "";
  #topNs = "";
  #topAttrs: Record<string, string> | undefined = undefined;
  #topDeclared = false;

  /**
   * One pass over the element at `start`. With `kids` (an empty array: the top's children go
   * there), the whole tree is built and returned; with null, the same check without building
   * anything below the top (whose name, namespace and attributes go to the `#top*` fields), and the
   * return value is only null or not.
   */
  #scan(s: string, start: number, ns: string, kids: XmlNode[] | null): XmlElement | null {
    const length = s.length;
    const build = kids !== null;
    // With `build`: the children arrays of the open elements, innermost last.
    const open: XmlNode[][] = [];
    const names = NAMES;
    const nss = NSS;
    let depth = 0;
    let topElement: XmlElement | null = null;
    let extra = 0;
    let pair = false;
    let i = start;
    let text = "";
    let run = i;
    this.#redeclared = false;
    while (i < length) {
      let c = codeAt(s, i);
      if (c === LT) {
        if (build) {
          if (i > run) text += s.slice(run, i);
          if (text !== "") {
            open[open.length - 1]!.push(text);
            text = "";
          }
        }
        c = codeAt(s, i + 1);
        if (c === SLASH) {
          // End tag: `</name S?>`, the name of the innermost open element.
          if (depth === 0) return null;
          const name = names[--depth]!;
          if (build) open.pop();
          if (!s.startsWith(name, i + 2)) return null;
          i += 2 + name.length;
          while (isSpace(codeAt(s, i))) i++;
          if (codeAt(s, i) !== GT) return null;
          i++;
          if (depth === 0) return this.#done(i, extra, pair, topElement);
          run = i;
          continue;
        }
        if (!this.#openTag(s, i + 1, depth === 0 ? ns : nss[depth - 1]!, depth + 1, build || depth === 0)) return null;
        i = this.end;
        extra += this.extraBytes;
        if (this.sawPair) pair = true;
        const tagNs = this.#tagNs;
        if (depth === 0) {
          this.#topName = this.#tagName;
          this.#topNs = tagNs;
          this.#topAttrs = this.#tagAttrs;
          this.#topDeclared = this.#tagDeclared;
        } else if (this.#tagDeclared && tagNs === this.#topNs) {
          this.#redeclared = true;
        }
        if (build) {
          const children: XmlNode[] = depth === 0 ? kids : [];
          const element = new XmlElement(this.#tagName, this.#tagAttrs, tagNs, children);
          if (depth === 0) topElement = element;
          else open[open.length - 1]!.push(element);
          open.push(children);
        }
        if (this.#selfClosing) {
          if (build) open.pop();
          if (depth === 0) return this.#done(i, extra, pair, topElement);
        } else {
          names[depth] = this.#tagName;
          nss[depth] = tagNs;
          depth++;
        }
        run = i;
        continue;
      }
      if (depth === 0) return null;
      if (c < 0x80 && TEXT_PLAIN[c] === 1) {
        // A run of characters that need no check but this one (most of any text): one look-up each.
        i++;
        while (i < length) {
          c = s.charCodeAt(i);
          if (c >= 0x80 || TEXT_PLAIN[c] !== 1) break;
          i++;
        }
        continue;
      }
      if (c === AMP) {
        const decoded = entityAt(s, i + 1);
        if (decoded === undefined) return null;
        if (build) text += s.slice(run, i) + decoded;
        i += ENTITY_LENGTH[decoded]!;
        run = i;
        continue;
      }
      if (c < 0x20) {
        // TAB and LF are character data; CR needs end-of-line normalisation (XML 1.0 §2.11): saxes.
        if (c !== NL && c !== TAB) return null;
      } else if (c === GT) {
        // XML 1.0 §2.4: "]]>" may not appear in character data.
        if (codeAt(s, i - 1) === RBRACKET && codeAt(s, i - 2) === RBRACKET && i - 2 >= run) return null;
      } else if (c >= 0x80) {
        const more = extraUtf8(s, i, c);
        if (more < 0) return null;
        extra += more;
        if (c >= 0xd800 && c <= 0xdbff) {
          pair = true;
          i++;
        }
      }
      i++;
    }
    return null;
  }

  /** The top element has ended just before `end`. Without building there is no element: `NOT_BUILT` stands for it. */
  #done(end: number, extra: number, pair: boolean, top: XmlElement | null): XmlElement {
    this.end = end;
    this.extraBytes = extra;
    this.sawPair = pair;
    return top ?? NOT_BUILT;
  }

  /**
   * The start tag whose name begins at `i` (just after `<`); sets `end` past its `>`,
   * `extraBytes`/`sawPair` for its attribute values, and the `#tag*` fields (its attributes only
   * `withAttrs`; otherwise only checked). False when it is outside the subset.
   */
  #openTag(s: string, i: number, parentNs: string, depth: number, withAttrs: boolean): boolean {
    if (depth > this.maxDepth) return false;
    const nameStart = i;
    if (!isNameStart(codeAt(s, i))) return false;
    i++;
    while (isNameChar(codeAt(s, i))) i++;
    const name = s.slice(nameStart, i);
    // A stream header inside the stream (RFC 6120 §4.3.3) is refused on saxes' path.
    if (depth === 1 && name === "stream") return false;
    const attrs: Record<string, string> | undefined = withAttrs ? {} : undefined;
    const seen = SEEN;
    seen.length = 0;
    let ns = parentNs;
    let sawXmlns = false;
    let extra = 0;
    let pair = false;
    let selfClosing = false;
    for (;;) {
      let c = codeAt(s, i);
      const spaced = isSpace(c);
      while (isSpace(c)) c = codeAt(s, ++i);
      if (c === GT) {
        i++;
        break;
      }
      if (c === SLASH) {
        if (codeAt(s, i + 1) !== GT) return false;
        i += 2;
        selfClosing = true;
        break;
      }
      // XML 1.0 §3.1: attributes are separated by whitespace.
      if (!spaced || !isNameStart(c)) return false;
      const attrStart = i;
      i++;
      while (isNameChar(codeAt(s, i))) i++;
      if (codeAt(s, i) === COLON) {
        // Only `xml:lang`: the xml prefix is bound without a declaration.
        if (i - attrStart !== 3 || !s.startsWith("xml:lang", attrStart)) return false;
        i += 5;
        if (isNameChar(codeAt(s, i)) || codeAt(s, i) === COLON) return false;
      }
      const attrName = s.slice(attrStart, i);
      c = codeAt(s, i);
      while (isSpace(c)) c = codeAt(s, ++i);
      if (c !== EQ) return false;
      c = codeAt(s, ++i);
      while (isSpace(c)) c = codeAt(s, ++i);
      if (c !== APOS && c !== QUOT) return false;
      const quote = c;
      const isXmlns = attrName === "xmlns";
      // The value is built only where it is kept: an attribute of a built element, or `xmlns`.
      const keep = attrs !== undefined || isXmlns;
      let value = "";
      let run = ++i;
      const length = s.length;
      for (;;) {
        // Characters that need no check (most of any value): one look-up each.
        while (i < length) {
          c = s.charCodeAt(i);
          if (c >= 0x80 || ATTR_PLAIN[c] !== 1) break;
          i++;
        }
        c = codeAt(s, i);
        if (c === quote) break;
        if (c === AMP) {
          const decoded = entityAt(s, i + 1);
          if (decoded === undefined) return false;
          if (keep) value += s.slice(run, i) + decoded;
          i += ENTITY_LENGTH[decoded]!;
          run = i;
          continue;
        }
        // `<` is not allowed in values; TAB, LF, CR are normalised to spaces (XML 1.0 §3.3.3): saxes.
        // -1 (the end of `s`) fails this test too.
        if (c < 0x20 || c === LT) return false;
        if (c >= 0x80) {
          const more = extraUtf8(s, i, c);
          if (more < 0) return false;
          extra += more;
          if (c >= 0xd800 && c <= 0xdbff) {
            pair = true;
            i++;
          }
        }
        i++;
      }
      if (keep) value += s.slice(run, i);
      i++;
      if (isXmlns) {
        if (sawXmlns || value === XML_NS || value === XMLNS_NS || value.trim() !== value) return false;
        sawXmlns = true;
        ns = value;
      } else if (attrs !== undefined) {
        // Duplicates are an error (saxes reports it); `__proto__` would not survive a plain object.
        if (attrs[attrName] !== undefined || attrName === "__proto__") return false;
        attrs[attrName] = value;
      } else {
        if (seen.includes(attrName) || attrName === "__proto__") return false;
        seen.push(attrName);
      }
    }
    this.end = i;
    this.extraBytes = extra;
    this.sawPair = pair;
    this.#selfClosing = selfClosing;
    this.#tagName = name;
    this.#tagNs = ns;
    this.#tagAttrs = attrs;
    this.#tagDeclared = sawXmlns;
    return true;
  }
}

/**
 * Scratch space of `#scan`, shared by every instance (a scan runs to its end without calling out,
 * so two never overlap): names and namespaces of the open elements by depth, and the attribute
 * names of a tag read without building. Shared, at most one read's text stays referenced by it.
 */
const NAMES: string[] = [];
const NSS: string[] = [];
const SEEN: string[] = [];

/** The builder of one thread (children are built synchronously, never while a scan runs). */
const BUILDER = new FastPath(Number.MAX_SAFE_INTEGER);

/**
 * `ChildrenBuilder` for the elements `scan` returns: the same pass again over their text, this time
 * building the tree. The text passed the same check when it was received, so this cannot fail.
 */
function buildChildren(text: string, ns: string | undefined): XmlNode[] {
  return BUILDER.buildWhole(text, ns ?? "").nodes() as XmlNode[];
}

/** What `#scan` returns for success when it builds nothing (never handed out). */
const NOT_BUILT = new XmlElement("not-built");

const TAB = 0x09;
const NL = 0x0a;
const QUOT = 0x22;
const AMP = 0x26;
const APOS = 0x27;
const SLASH = 0x2f;
const COLON = 0x3a;
const LT = 0x3c;
const EQ = 0x3d;
const GT = 0x3e;
const RBRACKET = 0x5d;

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

function codeAt(s: string, i: number): number {
  return i < s.length ? s.charCodeAt(i) : -1;
}
/** XML `S` without CR (CR needs end-of-line normalisation: saxes' path). */
function isSpace(c: number): boolean {
  return c === 0x20 || c === NL || c === TAB;
}

function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e;
}

/** ASCII characters that character data may hold with no further check: TAB, LF, and 0x20-0x7F but `&`, `<`, `>` (`]]>`). */
const TEXT_PLAIN = asciiTable((c) => c === TAB || c === NL || (c >= 0x20 && c !== AMP && c !== LT && c !== GT));
/** ASCII characters that an attribute value may hold with no further check: 0x20-0x7F but `&`, `<` and both quotes. */
const ATTR_PLAIN = asciiTable((c) => c >= 0x20 && c !== AMP && c !== LT && c !== APOS && c !== QUOT);

function asciiTable(plain: (c: number) => boolean): Uint8Array {
  const table = new Uint8Array(0x80);
  for (let c = 0; c < 0x80; c++) table[c] = plain(c) ? 1 : 0;
  return table;
}

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

/**
 * UTF-8 bytes beyond one for the non-ASCII code unit `c` at `i`: 1 or 2, 2 for a surrogate pair
 * (which the caller steps over as two units of 4 bytes together), -1 for what XML 1.0 `Char`
 * excludes (a lone surrogate, U+FFFE, U+FFFF).
 */
function extraUtf8(s: string, i: number, c: number): number {
  if (c < 0x800) return 1;
  if (c < 0xd800) return 2;
  if (c <= 0xdbff) {
    const low = codeAt(s, i + 1);
    return low >= 0xdc00 && low <= 0xdfff ? 2 : -1;
  }
  if (c <= 0xdfff || c >= 0xfffe) return -1;
  return 2;
}
