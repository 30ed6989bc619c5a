/**
 * A namespace-resolved XML element. `name` is the local name, `ns` the resolved namespace URI
 * (the parser fills it from in-scope declarations, RFC 6120 §4.8). Attributes keep their qualified
 * names (`xml:lang`) and never include namespace declarations: those are produced on output.
 *
 * **Received text.** An element that a stream parser built from the wire (`XmlElement.received`)
 * keeps the exact text it was read from, and its children are only built from that text when
 * someone asks for them. A stanza that only passes through (read from one stream, routed by its
 * `from` and `to`, written to another) is then written as that text again, neither its children
 * built nor serialised. The contract that keeps this correct, enforced here rather than by the
 * callers: the text is used only while the element and every descendant built from it are exactly
 * as received. Each way of changing an element marks it modified, for good: assigning `name` or
 * `ns`, `append`, and taking the mutable `attrs` record or `children` array at all (whoever holds
 * them may change them later). Reading goes through `attr`, `getChild`, `getChildren`, `nodes`,
 * `text` and `getChildText`, which keep the text usable; `serialize` checks the whole tree before
 * using it. (`element.test.ts` covers each mutator.)
 */
export type XmlNode = XmlElement | string;

/**
 * Builds the children of a received element from its text (the whole element, start and end tag
 * included), in the namespace context `ns` (the element's own namespace). Supplied by the parser
 * that kept the text, which has already checked it: it must not fail.
 */
export type ChildrenBuilder = (text: string, ns: string | undefined) => XmlNode[];

/** Placeholders that `received` replaces before the element is seen by anyone. */
const ADOPT_ATTRS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const LAZY_CHILDREN: XmlNode[] = Object.freeze([]) as unknown as XmlNode[];

/** Serialiser access to the private state (set in the class' static block; module-private). */
let attrsOf: (element: XmlElement) => Record<string, string>;
let nodesOf: (element: XmlElement) => readonly XmlNode[];
let forwardableText: (element: XmlElement) => string | undefined;

export class XmlElement {
  #name: string;
  #ns: string | undefined;
  #attrs: Record<string, string>;
  /** undefined: not built yet, `#build` makes them from `#text` on first use. */
  #children: XmlNode[] | undefined;
  /** The received text of this element (`received`), kept while nothing has been changed. */
  #text: string | undefined = undefined;
  #build: ChildrenBuilder | undefined = undefined;
  /** Set by every mutator and by handing out `attrs` or `children`; never cleared. */
  #modified = false;

  constructor(name: string, attrs: Record<string, string | undefined> = {}, ns?: string, children: XmlNode[] = []) {
    this.#name = name;
    this.#ns = ns;
    if (attrs === ADOPT_ATTRS) {
      this.#attrs = ADOPT_ATTRS;
    } else {
      const clean: Record<string, string> = {};
      for (const key of Object.keys(attrs)) {
        const value = attrs[key];
        if (value !== undefined) clean[key] = value;
      }
      this.#attrs = clean;
    }
    this.#children = children === LAZY_CHILDREN ? undefined : children;
  }

  /**
   * For stream parsers only: the element read from `text`, exactly (`<name ...>...</name>` or
   * `<name .../>`), which the parser has checked to be well-formed and namespace-correct restricted
   * XML (RFC 6120 §11.1) that parses to `name`, `ns` and `attrs` (adopted, not copied) with no
   * namespace declaration on the element itself and none re-declaring `ns` below it (so the text
   * means the same tree in any stream whose default namespace takes the place of `ns`: RFC 6120
   * §4.8.3, XEP-0114 §3). Children are built by `build` from `text` when first needed.
   */
  static received(name: string, ns: string | undefined, attrs: Record<string, string>, text: string, build: ChildrenBuilder): XmlElement {
    const element = new XmlElement(name, ADOPT_ATTRS, ns, LAZY_CHILDREN);
    element.#attrs = attrs;
    element.#text = text;
    element.#build = build;
    return element;
  }

  static {
    attrsOf = (element) => element.#attrs;
    nodesOf = (element) => element.#nodes();
    forwardableText = (element) => (element.#text !== undefined && element.#unchanged() ? element.#text : undefined);
  }

  get name(): string {
    return this.#name;
  }

  set name(name: string) {
    this.#modify();
    this.#name = name;
  }

  get ns(): string | undefined {
    return this.#ns;
  }

  set ns(ns: string | undefined) {
    this.#modify();
    this.#ns = ns;
  }

  /** The attributes, to change them. Reading one: `attr(name)` (taking this record marks the element modified). */
  get attrs(): Record<string, string> {
    this.#modify();
    return this.#attrs;
  }

  /** The child nodes, to change them. Reading: `nodes()`, `getChild`, `getChildren` (taking this array marks the element modified). */
  get children(): XmlNode[] {
    const children = this.#modify();
    return children;
  }

  attr(name: string): string | undefined {
    return this.#attrs[name];
  }

  /** Names of the attributes, in order (read-only use). */
  attrNames(): string[] {
    return Object.keys(this.#attrs);
  }

  /** The child nodes, for reading. */
  nodes(): readonly XmlNode[] {
    return this.#nodes();
  }

  /** First child element with this local name (and namespace, when given). */
  getChild(name: string, ns?: string): XmlElement | undefined {
    for (const child of this.#nodes()) {
      if (typeof child !== "string" && child.#name === name && (ns === undefined || child.#ns === ns)) return child;
    }
    return undefined;
  }

  getChildren(name?: string, ns?: string): XmlElement[] {
    const out: XmlElement[] = [];
    for (const child of this.#nodes()) {
      if (typeof child === "string") continue;
      if ((name === undefined || child.#name === name) && (ns === undefined || child.#ns === ns)) out.push(child);
    }
    return out;
  }

  /** Concatenated character data of direct children. */
  text(): string {
    let out = "";
    for (const child of this.#nodes()) if (typeof child === "string") out += child;
    return out;
  }

  getChildText(name: string, ns?: string): string | undefined {
    return this.getChild(name, ns)?.text();
  }

  append(...nodes: (XmlNode | undefined | false)[]): this {
    const children = this.#modify();
    for (const node of nodes) if (node !== undefined && node !== false) children.push(node);
    return this;
  }

  /** A deep copy (a new element: changing it leaves this one as it was). */
  clone(): XmlElement {
    return new XmlElement(
      this.#name,
      { ...this.#attrs },
      this.#ns,
      this.#nodes().map((c) => (typeof c === "string" ? c : c.clone())),
    );
  }

  toString(): string {
    return serialize(this);
  }

  /** What `JSON.stringify` shows (the state is in private fields, which it would not see). */
  toJSON(): { name: string; ns: string | undefined; attrs: Record<string, string>; children: readonly XmlNode[] } {
    return { name: this.#name, ns: this.#ns, attrs: { ...this.#attrs }, children: this.#nodes() };
  }

  #nodes(): XmlNode[] {
    let children = this.#children;
    if (children === undefined) {
      children = this.#children = this.#build!(this.#text!, this.#ns);
      this.#build = undefined;
    }
    return children;
  }

  /** Marks this element modified (its received text is no longer used); returns its children. */
  #modify(): XmlNode[] {
    // Children first: building them needs the namespace the text was received in.
    const children = this.#nodes();
    this.#modified = true;
    this.#text = undefined;
    return children;
  }

  /** Nothing in this element or below it (as far as built) was changed or handed out to be changed. */
  #unchanged(): boolean {
    if (this.#modified) return false;
    const children = this.#children;
    if (children === undefined) return true;
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!;
      if (typeof child !== "string" && !child.#unchanged()) return false;
    }
    return true;
  }
}

/**
 * The text `element` was received in, while nothing has changed it (XmlElement.received), else
 * undefined. It means the same tree under any stream whose default namespace is `element.ns`: a
 * cluster hop carries it instead of a tree (plugins/cluster-redis/wire.ts). Reading it changes nothing.
 */
export function receivedText(element: XmlElement): string | undefined {
  return forwardableText(element);
}

/**
 * The defined condition of an error element (RFC 6120 §4.9.3 stream errors, §8.3.3 stanza errors,
 * §6.5 SASL failures): its first child in `ns` other than `<text/>`; "undefined-condition" if none.
 */
export function definedCondition(error: XmlElement | undefined, ns: string): string {
  for (const c of error?.nodes() ?? []) if (typeof c !== "string" && c.ns === ns && c.name !== "text") return c.name;
  return "undefined-condition";
}

/** Shorthand builder: `el("message", {to}, "jabber:server", el("body", {}, undefined, "hi"))`. */
export function el(name: string, attrs: Record<string, string | undefined> = {}, ns?: string, ...children: (XmlNode | undefined | false)[]): XmlElement {
  const e = new XmlElement(name, attrs, ns);
  e.append(...children);
  return e;
}

// A literal CR in character data reaches the reader as LF (XML 1.0 §2.11 end-of-line handling), so
// it is written as a character reference to survive the round trip.
const TEXT_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;" };
const ATTR_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;" };

// RFC 6120 §11.1 / XML 1.0 §2.2: characters outside the XML Char production cannot be written at all.
// eslint-disable-next-line no-control-regex
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// Hot path (every attribute and text node of every stanza): one scan to find out whether anything
// needs escaping at all; most addresses, ids and bodies do not.
// eslint-disable-next-line no-control-regex
const NEEDS_TEXT_ESCAPE = /[&<>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;
// eslint-disable-next-line no-control-regex
const NEEDS_ATTR_ESCAPE = /[&<>'"\u0000-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

export function escapeText(text: string): string {
  if (!NEEDS_TEXT_ESCAPE.test(text)) return text;
  return text.replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c]!).replace(INVALID_XML_CHARS, "\uFFFD");
}

/** Attribute values are written in single quotes; both quote kinds are escaped so callers may choose. */
export function escapeAttr(text: string): string {
  if (!NEEDS_ATTR_ESCAPE.test(text)) return text;
  return text.replace(/[&<>'"]/g, (c) => ATTR_ESCAPES[c]!).replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`).replace(INVALID_XML_CHARS, "\uFFFD");
}

/**
 * Serialize `element`. `parentNs` is the default namespace in scope where it is written (the stream
 * default namespace for top-level stanzas), so `xmlns` is emitted only where it changes.
 * `prefixes` maps namespaces declared with a prefix on the stream header (e.g. `db`, `stream`) so
 * that `<db:result/>` is written the way every deployed server expects (XEP-0220 §2.1).
 */
export function serialize(element: XmlElement, parentNs?: string, prefixes?: ReadonlyMap<string, string>): string {
  return write(element, parentNs, prefixes);
}

// String concatenation (V8 ropes) rather than an array join: this runs for every stanza sent.
function write(element: XmlElement, parentNs: string | undefined, prefixes: ReadonlyMap<string, string> | undefined): string {
  if (element.ns === parentNs) {
    // A received element that nobody changed, written where its namespace is the default one: the
    // text it was read from says the same (XmlElement.received), and costs nothing to produce.
    const received = forwardableText(element);
    if (received !== undefined) return received;
  }
  const prefix = element.ns !== undefined && prefixes !== undefined ? prefixes.get(element.ns) : undefined;
  const qname = prefix ? `${prefix}:${element.name}` : element.name;
  let out = "<" + qname;
  let childDefaultNs = parentNs;
  if (!prefix && element.ns !== undefined && element.ns !== parentNs) {
    out += " xmlns='" + escapeAttr(element.ns) + "'";
    childDefaultNs = element.ns;
  }
  const attrs = attrsOf(element);
  for (const key in attrs) out += " " + key + "='" + escapeAttr(attrs[key]!) + "'";
  const children = nodesOf(element);
  if (children.length === 0) return out + "/>";
  out += ">";
  for (let i = 0; i < children.length; i++) {
    const child = children[i]!;
    out += typeof child === "string" ? escapeText(child) : write(child, childDefaultNs, prefixes);
  }
  return out + "</" + qname + ">";
}

export const NS = {
  STREAM: "http://etherx.jabber.org/streams",
  SERVER: "jabber:server",
  CLIENT: "jabber:client",
  COMPONENT: "jabber:component:accept",
  DIALBACK: "jabber:server:dialback",
  DIALBACK_FEATURE: "urn:xmpp:features:dialback",
  STREAM_ERRORS: "urn:ietf:params:xml:ns:xmpp-streams",
  STANZA_ERRORS: "urn:ietf:params:xml:ns:xmpp-stanzas",
  TLS: "urn:ietf:params:xml:ns:xmpp-tls",
  SASL: "urn:ietf:params:xml:ns:xmpp-sasl",
  PING: "urn:xmpp:ping",
  DISCO_INFO: "http://jabber.org/protocol/disco#info",
} as const;
