/**
 * What travels between nodes over Redis pub/sub. Stanzas go as a JSON tree of the already parsed
 * element, not as XML text: the receiving node needs no XML parser (JSON.parse is native and
 * several times faster than parsing XML again), and nothing is re-validated because every node of
 * a cluster is trusted alike (the operator's Redis is the trust boundary, docs/cluster.md).
 *
 * One message is one batch: `[VERSION, fromNode, seq, ...items]` (`seq`: the sender's number for
 * the batch, acknowledged by the receiver, flow.ts), an item being `0, tree` (route) or
 * `1, local, remote, tree` (pair). A stanza becomes a tree when it is queued (addItem) and the
 * batch text when it leaves (one JSON.stringify per batch: per stanza, the call itself cost as
 * much as the work); the sender then keeps only that text until Redis answers, so the elements
 * die young and the garbage collector does not copy them out of the young generation (it did, and
 * was the largest cost of a hop). The rare failure path decodes the text back. A tree is `[name, attrs, ns, ...children]` where `ns` is 0 when
 * it is the parent's (a stanza's children rarely change namespace: the payload stays small) and
 * a child is a string (text) or a tree. Built and read with plain loops (no closures per node):
 * this is the per-stanza cost of a cross-node hop (bench/cluster.ts).
 *
 * A stanza that nobody changed since the parser read it (`receivedText`, docs/performance.md
 * "Forwarding the received text") goes as that text instead: `2, ns, text` (route) or
 * `3, local, remote, ns, text` (pair). Making a tree of it would build the children the parser
 * left unbuilt and the receiver would serialise them again; as text, the receiving node runs its
 * strict parser once per batch (which builds only the top element) and writes the same text on.
 */
import { receivedText, XmlElement, type StreamParserFactory, type XmlNode } from "../../core/index.js";
import { parseTexts } from "../../core/stream/parse-texts.js";

/**
 * Changed whenever the layout changes. It is also part of the inbox channel's name
 * (redis-cluster.ts), so a node of another version is no receiver: what is forwarded to it is held
 * and then bounced, never published to a node that could not read it.
 */
export const WIRE_VERSION = 5;
const VERSION = WIRE_VERSION;
const ROUTE = 0;
const PAIR = 1;
const ROUTE_TEXT = 2;
const PAIR_TEXT = 3;

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

/** An empty batch from node `from`, to be filled by addItem, numbered by setSeq and sent as encodeBatch's text. */
export function newBatch(from: string): unknown[] {
  return [VERSION, from, 0];
}

export function setSeq(batch: unknown[], seq: number): void {
  batch[2] = seq;
}

/** Appends `env` to `batch` (in order). */
export function addItem(batch: unknown[], env: Envelope): void {
  const text = env.stanza.ns === undefined ? undefined : receivedText(env.stanza);
  if (text !== undefined) {
    if (env.kind === "route") batch.push(ROUTE_TEXT, env.stanza.ns, text);
    else batch.push(PAIR_TEXT, env.local, env.remote, env.stanza.ns, text);
  } else if (env.kind === "route") batch.push(ROUTE, toTree(env.stanza, undefined));
  else batch.push(PAIR, env.local, env.remote, toTree(env.stanza, undefined));
}

export function encodeBatch(batch: readonly unknown[]): string {
  return JSON.stringify(batch);
}

/**
 * Undefined for a message this version does not understand (logged by the caller, never thrown).
 * `unparsable` counts the texts that did not parse again (never expected: the sending node's
 * strict parser read each of them); they are left out of `envelopes`.
 */
export function decodeBatch(text: string, parsers: StreamParserFactory): (Batch & { readonly unparsable: number }) | undefined {
  try {
    const m = JSON.parse(text) as unknown[];
    if (!Array.isArray(m) || m[0] !== VERSION || typeof m[1] !== "string" || !Number.isInteger(m[2])) return undefined;
    const envelopes: (Envelope | { kind: "text"; ns: string; text: string; local?: string; remote?: string })[] = [];
    for (let i = 3; i < m.length; ) {
      if (m[i] === ROUTE) {
        envelopes.push({ kind: "route", stanza: fromTree(m[i + 1] as Tree, undefined) });
        i += 2;
      } else if (m[i] === PAIR && typeof m[i + 1] === "string" && typeof m[i + 2] === "string") {
        envelopes.push({ kind: "pair", local: m[i + 1] as string, remote: m[i + 2] as string, stanza: fromTree(m[i + 3] as Tree, undefined) });
        i += 4;
      } else if (m[i] === ROUTE_TEXT && typeof m[i + 1] === "string" && typeof m[i + 2] === "string") {
        envelopes.push({ kind: "text", ns: m[i + 1] as string, text: m[i + 2] as string });
        i += 3;
      } else if (m[i] === PAIR_TEXT && typeof m[i + 1] === "string" && typeof m[i + 2] === "string" && typeof m[i + 3] === "string" && typeof m[i + 4] === "string") {
        envelopes.push({ kind: "text", local: m[i + 1] as string, remote: m[i + 2] as string, ns: m[i + 3] as string, text: m[i + 4] as string });
        i += 5;
      } else return undefined;
    }
    return { from: m[1], seq: m[2] as number, ...withParsedTexts(envelopes, parsers) };
  } catch {
    return undefined;
  }
}

/** Replaces the text items by their elements, in order; one parser per namespace met in the batch. */
function withParsedTexts(items: readonly (Envelope | { kind: "text"; ns: string; text: string; local?: string; remote?: string })[], parsers: StreamParserFactory): { envelopes: Envelope[]; unparsable: number } {
  const byNs = new Map<string, string[]>();
  for (const item of items) {
    if (item.kind !== "text") continue;
    let texts = byNs.get(item.ns);
    if (!texts) byNs.set(item.ns, (texts = []));
    texts.push(item.text);
  }
  if (byNs.size === 0) return { envelopes: items as Envelope[], unparsable: 0 };
  const parsed = new Map<string, { elements: (XmlElement | undefined)[]; next: number }>();
  for (const [ns, texts] of byNs) parsed.set(ns, { elements: parseTexts(parsers, ns, texts).map((r) => (typeof r === "string" ? undefined : r)), next: 0 });
  const envelopes: Envelope[] = [];
  let unparsable = 0;
  for (const item of items) {
    if (item.kind !== "text") {
      envelopes.push(item);
      continue;
    }
    const p = parsed.get(item.ns)!;
    const stanza = p.elements[p.next++];
    if (!stanza) unparsable++;
    else if (item.local !== undefined && item.remote !== undefined) envelopes.push({ kind: "pair", local: item.local, remote: item.remote, stanza });
    else envelopes.push({ kind: "route", stanza });
  }
  return { envelopes, unparsable };
}
