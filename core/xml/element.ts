/**
 * A namespace-resolved XML element. `name` is the local name, `ns` the resolved namespace URI
 * (the parser fills it from in-scope declarations, RFC 6120 §4.8). Attributes keep their qualified
 * names (`xml:lang`) and never include namespace declarations: those are produced on output.
 */
export type XmlNode = XmlElement | string;

export class XmlElement {
  readonly attrs: Record<string, string>;
  readonly children: XmlNode[];

  constructor(
    public name: string,
    attrs: Record<string, string | undefined> = {},
    public ns?: string,
    children: XmlNode[] = [],
  ) {
    const clean: Record<string, string> = {};
    for (const key of Object.keys(attrs)) {
      const value = attrs[key];
      if (value !== undefined) clean[key] = value;
    }
    this.attrs = clean;
    this.children = children;
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  /** First child element with this local name (and namespace, when given). */
  getChild(name: string, ns?: string): XmlElement | undefined {
    for (const child of this.children) {
      if (typeof child !== "string" && child.name === name && (ns === undefined || child.ns === ns)) return child;
    }
    return undefined;
  }

  getChildren(name?: string, ns?: string): XmlElement[] {
    const out: XmlElement[] = [];
    for (const child of this.children) {
      if (typeof child === "string") continue;
      if ((name === undefined || child.name === name) && (ns === undefined || child.ns === ns)) out.push(child);
    }
    return out;
  }

  /** Concatenated character data of direct children. */
  text(): string {
    let out = "";
    for (const child of this.children) if (typeof child === "string") out += child;
    return out;
  }

  getChildText(name: string, ns?: string): string | undefined {
    return this.getChild(name, ns)?.text();
  }

  append(...nodes: (XmlNode | undefined | false)[]): this {
    for (const node of nodes) if (node !== undefined && node !== false) this.children.push(node);
    return this;
  }

  clone(): XmlElement {
    return new XmlElement(
      this.name,
      { ...this.attrs },
      this.ns,
      this.children.map((c) => (typeof c === "string" ? c : c.clone())),
    );
  }

  toString(): string {
    return serialize(this);
  }
}

/**
 * The defined condition of an error element (RFC 6120 §4.9.3 stream errors, §8.3.3 stanza errors,
 * §6.5 SASL failures): its first child in `ns` other than `<text/>`; "undefined-condition" if none.
 */
export function definedCondition(error: XmlElement | undefined, ns: string): string {
  for (const c of error?.children ?? []) if (typeof c !== "string" && c.ns === ns && c.name !== "text") return c.name;
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
  const prefix = element.ns !== undefined && prefixes !== undefined ? prefixes.get(element.ns) : undefined;
  const qname = prefix ? `${prefix}:${element.name}` : element.name;
  let out = "<" + qname;
  let childDefaultNs = parentNs;
  if (!prefix && element.ns !== undefined && element.ns !== parentNs) {
    out += " xmlns='" + escapeAttr(element.ns) + "'";
    childDefaultNs = element.ns;
  }
  const attrs = element.attrs;
  for (const key in attrs) out += " " + key + "='" + escapeAttr(attrs[key]!) + "'";
  const children = element.children;
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
