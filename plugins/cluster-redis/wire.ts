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
 */
import { XmlElement, type XmlNode } from "../../core/index.js";

/**
 * Changed whenever the layout changes. It is also part of the inbox channel's name
 * (redis-cluster.ts), so a node of another version is no receiver: what is forwarded to it is held
 * and then bounced, never published to a node that could not read it.
 */
export const WIRE_VERSION = 4;
const VERSION = WIRE_VERSION;
const ROUTE = 0;
const PAIR = 1;

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
  if (env.kind === "route") batch.push(ROUTE, toTree(env.stanza, undefined));
  else batch.push(PAIR, env.local, env.remote, toTree(env.stanza, undefined));
}

export function encodeBatch(batch: readonly unknown[]): string {
  return JSON.stringify(batch);
}

/** Undefined for a message this version does not understand (logged by the caller, never thrown). */
export function decodeBatch(text: string): Batch | undefined {
  try {
    const m = JSON.parse(text) as unknown[];
    if (!Array.isArray(m) || m[0] !== VERSION || typeof m[1] !== "string" || !Number.isInteger(m[2])) return undefined;
    const envelopes: Envelope[] = [];
    for (let i = 3; i < m.length; ) {
      if (m[i] === ROUTE) {
        envelopes.push({ kind: "route", stanza: fromTree(m[i + 1] as Tree, undefined) });
        i += 2;
      } else if (m[i] === PAIR && typeof m[i + 1] === "string" && typeof m[i + 2] === "string") {
        envelopes.push({ kind: "pair", local: m[i + 1] as string, remote: m[i + 2] as string, stanza: fromTree(m[i + 3] as Tree, undefined) });
        i += 4;
      } else return undefined;
    }
    return { from: m[1], seq: m[2] as number, envelopes };
  } catch {
    return undefined;
  }
}
