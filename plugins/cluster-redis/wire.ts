/**
 * What travels between nodes over Redis pub/sub. Stanzas go as a JSON tree of the already parsed
 * element (name, attributes, namespace, children), not as XML text: the receiving node needs no
 * parser, and nothing is re-validated because every node of a cluster is trusted alike (the
 * operator's Redis is the trust boundary, docs/cluster.md).
 */
import { XmlElement, type XmlNode } from "../../core/xml/element.js";

type Tree = [string, Record<string, string>, string | null, Array<Tree | string>];

/** A stanza for a local address served on `to`'s node ("route"), or for a pair `to` owns ("pair"). */
export type Envelope =
  | { readonly kind: "route"; readonly from: string; readonly stanza: XmlElement }
  | { readonly kind: "pair"; readonly from: string; readonly local: string; readonly remote: string; readonly stanza: XmlElement };

function toTree(e: XmlElement): Tree {
  return [e.name, e.attrs, e.ns ?? null, e.children.map((c) => (typeof c === "string" ? c : toTree(c)))];
}

function fromTree(t: Tree): XmlElement {
  const children: XmlNode[] = t[3].map((c) => (typeof c === "string" ? c : fromTree(c)));
  return new XmlElement(t[0], t[1], t[2] ?? undefined, children);
}

export function encodeEnvelope(env: Envelope): string {
  return JSON.stringify(env.kind === "route" ? ["r", env.from, toTree(env.stanza)] : ["p", env.from, toTree(env.stanza), env.local, env.remote]);
}

/** Undefined for a message this version does not understand (logged by the caller, never thrown). */
export function decodeEnvelope(text: string): Envelope | undefined {
  try {
    const m = JSON.parse(text) as [string, string, Tree, string?, string?];
    if (m[0] === "r") return { kind: "route", from: m[1], stanza: fromTree(m[2]) };
    if (m[0] === "p" && m[3] && m[4]) return { kind: "pair", from: m[1], stanza: fromTree(m[2]), local: m[3], remote: m[4] };
  } catch {
    /* falls through */
  }
  return undefined;
}
