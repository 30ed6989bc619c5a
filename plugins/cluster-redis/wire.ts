/**
 * What travels between nodes over Redis pub/sub: one message is one batch of stanzas.
 *
 * A stanza that nobody changed since the parser read it (`receivedText`, docs/performance.md
 * "Forwarding the received text") goes as that text plus its top element's namespace, name and
 * attributes: the receiving node makes the element from those (`XmlElement.received`) without
 * parsing anything, and writes the same text on; its children are built from the text only if
 * someone reads them (then with this node's strict parser, `TextParser`). The sending node's
 * strict parser has checked the text (well-formed, namespace-correct restricted XML, no namespace
 * declaration on the element nor one re-declaring its namespace below it, so it means the same in
 * any stream whose default namespace is the element's: RFC 6120 §4.8.3, XEP-0114 §3); the receiver
 * trusts that as it trusts the other node's routing (the operator's Redis is the trust boundary,
 * docs/cluster.md), and checks the frame: field counts, each text's length, first and last
 * characters and name. A changed or locally built stanza goes as a JSON tree of the element.
 *
 * Layout (version 6): fields separated by US (U+001F). The first is the header, JSON:
 * `[VERSION, fromNode, seq, ...items]` (`seq`: the sender's number for the batch, acknowledged by
 * the receiver, flow.ts); an item is
 * - `0, tree` (route) or `1, local, remote, tree` (pair): a tree `[name, attrs, ns, ...children]`,
 *   `ns` 0 when it is the parent's, a child a string (text) or a tree;
 * - `2, n` (route) or `3, local, remote, n` (pair): its stanza is the next fields,
 *   `ns, name, count, (key, value) * count, text`, the text being `n` characters long; a common
 *   namespace, element or attribute name is written as its index in NAMESPACES, NAMES or KEYS
 *   (one digit, which no XML name is).
 * U+001F is not an XML 1.0 character (§2.2): no namespace, name, attribute value or text that a
 * parser gave can hold one, and JSON escapes it, so the fields are the message split at each US.
 * A text that held one anyway (a parser's bug) would not have the length the header says: the
 * batch is then not decoded (logged, and counted lost as any batch that did not arrive).
 * No escaping when the batch is written, one `split` when it is read (each text a slice of the
 * message). Per stanza this is the cost of a cross-node hop (bench/cluster.ts): plain loops, one
 * `join`, `JSON.stringify`, `split` and `JSON.parse` per batch (per stanza, a call costs as much
 * as the work).
 */
import { receivedText, XmlElement, type ChildrenBuilder, type StreamParserFactory, type XmlNode } from "../../core/index.js";
import { TextParser } from "../../core/stream/parse-texts.js";

/**
 * Changed whenever the layout changes. It is also part of the inbox channel's name
 * (redis-cluster.ts), so a node of another version is no receiver: what is forwarded to it is held
 * and then bounced, never published to a node that could not read it (mixed versions during a
 * rolling upgrade, docs/cluster.md "Nodes of different versions"). 5: texts inside the JSON,
 * parsed again on arrival; 6: the layout above.
 */
export const WIRE_VERSION = 6;
const VERSION = WIRE_VERSION;
const ROUTE = 0;
const PAIR = 1;
const ROUTE_TEXT = 2;
const PAIR_TEXT = 3;
/** The field separator (not an XML character). */
const US = "\u001f";
/**
 * Common namespaces, element and attribute names, written as their index (`nsIndex`, `nameIndex`,
 * `keyIndex`, kept in step with these lists): fewer bytes, and the receiver uses these constants
 * instead of new strings (a property name that is a new string costs a string-table look-up per
 * attribute).
 */
const NAMESPACES = ["jabber:server", "jabber:client", "jabber:component:accept"] as const;
const NAMES = ["message", "presence", "iq"] as const;
const KEYS = ["from", "to", "type", "id", "xml:lang"] as const;
const ZERO = 0x30;
const LT = 0x3c;
const GT = 0x3e;

/** A stanza for a local address served on the receiving node ("route"), or for a pair it owns ("pair"). */
export type Envelope =
  | { readonly kind: "route"; readonly stanza: XmlElement }
  | { readonly kind: "pair"; readonly local: string; readonly remote: string; readonly stanza: XmlElement };

export interface Batch {
  /** The sending node. */
  readonly from: string;
  /** The sender's number for this batch (flow.ts). */
  readonly seq: number;
  readonly envelopes: Envelope[];
  /** Items left out: a text item whose frame did not add up (never expected; logged by the caller). */
  readonly unparsable: number;
}

/** A batch being filled (addItem), numbered (setSeq) and sent (encodeBatch): joined once (a string grown piece by piece is a tree of hundreds of parts, flattened again by each later reader). */
export interface OutBatch {
  readonly header: unknown[];
  /** The fields after the header. */
  readonly fields: string[];
}

type Tree = unknown[];

function toTree(e: XmlElement, parentNs: string | undefined): Tree {
  const t: unknown[] = [e.name, e.attrs, e.ns === parentNs ? 0 : (e.ns ?? null)];
  for (const c of e.children) t.push(typeof c === "string" ? c : toTree(c, e.ns));
  return t;
}

function fromTree(t: Tree, parentNs: string | undefined): XmlElement {
  const name = t[0];
  const attrs = t[1];
  if (typeof name !== "string" || typeof attrs !== "object" || attrs === null) throw new Error("bad element");
  const ns = t[2] === 0 ? parentNs : ((t[2] as string | null) ?? undefined);
  const children: XmlNode[] = [];
  for (let i = 3; i < t.length; i++) {
    const c = t[i];
    children.push(typeof c === "string" ? c : fromTree(c as Tree, ns));
  }
  return new XmlElement(name, attrs as Record<string, string>, ns, children);
}

/** An empty batch from node `from`. */
export function newBatch(from: string): OutBatch {
  return { header: [VERSION, from, 0], fields: [""] };
}

export function setSeq(batch: OutBatch, seq: number): void {
  batch.header[2] = seq;
}

/** Appends `env` to `batch` (in order). */
export function addItem(batch: OutBatch, env: Envelope): void {
  const stanza = env.stanza;
  const text = stanza.ns === undefined || stanza.ns.length === 1 ? undefined : receivedText(stanza);
  if (text !== undefined) {
    if (env.kind === "route") batch.header.push(ROUTE_TEXT, text.length);
    else batch.header.push(PAIR_TEXT, env.local, env.remote, text.length);
    const fields = batch.fields;
    const keys = stanza.attrNames();
    fields.push(nsIndex(stanza.ns!), nameIndex(stanza.name), String(keys.length));
    for (let i = 0; i < keys.length; i++) fields.push(keyIndex(keys[i]!), stanza.attr(keys[i]!)!);
    fields.push(text);
  } else if (env.kind === "route") batch.header.push(ROUTE, toTree(stanza, undefined));
  else batch.header.push(PAIR, env.local, env.remote, toTree(stanza, undefined));
}

// The index of a common namespace, element or attribute name (NAMESPACES, NAMES, KEYS), else the
// name itself. A one-character namespace, which would read as an index, is sent as a tree (addItem);
// no XML name is a digit.
function nsIndex(ns: string): string {
  return ns === "jabber:server" ? "0" : ns === "jabber:client" ? "1" : ns === "jabber:component:accept" ? "2" : ns;
}

function nameIndex(name: string): string {
  return name === "message" ? "0" : name === "presence" ? "1" : name === "iq" ? "2" : name;
}

function keyIndex(key: string): string {
  switch (key) {
    case "from":
      return "0";
    case "to":
      return "1";
    case "type":
      return "2";
    case "id":
      return "3";
    case "xml:lang":
      return "4";
    default:
      return key;
  }
}

export function encodeBatch(batch: OutBatch): string {
  batch.fields[0] = JSON.stringify(batch.header);
  return batch.fields.join(US);
}

/**
 * Reads batches. `unbuildable` is told when the children of a stanza that arrived as text could
 * not be built from it (never expected: the sending node's parser read that text); the stanza
 * then has no children.
 */
export class WireReader {
  readonly #texts: TextParser;
  readonly #build: ChildrenBuilder;

  constructor(parsers: StreamParserFactory, unbuildable: (reason: string) => void) {
    this.#texts = new TextParser(parsers);
    this.#build = (text, ns) => {
      const whole = this.#texts.parse(ns ?? "", text);
      if (typeof whole !== "string") return whole.nodes() as XmlNode[];
      unbuildable(whole);
      return [];
    };
  }

  /** Undefined for a message this version does not understand, or whose fields do not add up (logged by the caller, never thrown). */
  decode(message: string): Batch | undefined {
    try {
      const f = message.split(US);
      const m = JSON.parse(f[0]!) as unknown[];
      if (!Array.isArray(m) || m[0] !== VERSION || typeof m[1] !== "string" || !Number.isInteger(m[2])) return undefined;
      const envelopes: Envelope[] = [];
      let unparsable = 0;
      let at = 1;
      for (let i = 3; i < m.length; ) {
        const kind = m[i];
        if (kind === ROUTE) {
          envelopes.push({ kind: "route", stanza: fromTree(m[i + 1] as Tree, undefined) });
          i += 2;
        } else if (kind === PAIR && typeof m[i + 1] === "string" && typeof m[i + 2] === "string") {
          envelopes.push({ kind: "pair", local: m[i + 1] as string, remote: m[i + 2] as string, stanza: fromTree(m[i + 3] as Tree, undefined) });
          i += 4;
        } else if (kind === ROUTE_TEXT || (kind === PAIR_TEXT && typeof m[i + 1] === "string" && typeof m[i + 2] === "string")) {
          const length = m[kind === ROUTE_TEXT ? i + 1 : i + 3];
          const count = Number(f[at + 2]);
          if (!Number.isInteger(count) || count < 0 || at + 3 + 2 * count >= f.length) return undefined;
          const text = f[at + 3 + 2 * count]!;
          if (text.length !== length) return undefined;
          const stanza = this.#received(f, at, count, text);
          at += 4 + 2 * count;
          if (!stanza) unparsable++;
          else if (kind === ROUTE_TEXT) envelopes.push({ kind: "route", stanza });
          else envelopes.push({ kind: "pair", local: m[i + 1] as string, remote: m[i + 2] as string, stanza });
          i += kind === ROUTE_TEXT ? 2 : 4;
        } else return undefined;
      }
      // Every field belongs to an item: anything else is not this layout.
      if (at !== f.length) return undefined;
      return { from: m[1], seq: m[2] as number, envelopes, unparsable };
    } catch {
      return undefined;
    }
  }

  /** The element of the text item whose fields start at `f[at]`, or undefined when they do not describe `text`. */
  #received(f: readonly string[], at: number, count: number, text: string): XmlElement | undefined {
    const ns = known(f[at]!, NAMESPACES);
    const name = known(f[at + 1]!, NAMES);
    const attrs: Record<string, string> = {};
    for (let k = 0, j = at + 3; k < count; k++, j += 2) {
      const key = known(f[j]!, KEYS);
      // `__proto__` would not survive a plain object (the fast path never keeps such a text).
      if (key === "__proto__" || attrs[key] !== undefined) return undefined;
      attrs[key] = f[j + 1]!;
    }
    // The element named in the head: `<name` then a space, `/` or `>`, ending with `>`.
    const after = text.charCodeAt(name.length + 1);
    if (name === "" || text.charCodeAt(0) !== LT || text.charCodeAt(text.length - 1) !== GT || !text.startsWith(name, 1) || !(after === 0x20 || after === 0x2f || after === GT || after === 0x09 || after === 0x0a || after === 0x0d)) return undefined;
    return XmlElement.received(name, ns, attrs, text, this.#build);
  }
}

/** A field as written by `nsIndex`, `nameIndex` or `keyIndex`: one digit stands for that entry of `names`. */
function known(field: string, names: readonly string[]): string {
  if (field.length === 1) {
    const index = field.charCodeAt(0) - ZERO;
    if (index >= 0 && index < names.length) return names[index]!;
  }
  return field;
}
