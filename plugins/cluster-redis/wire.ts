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

type Wire = [string, string, Tree, string?, string?];

/** One pub/sub message carries every envelope for one node from one event-loop tick, in order. */
export function encodeBatch(envs: readonly Envelope[]): string {
  return JSON.stringify(envs.map((env): Wire => (env.kind === "route" ? ["r", env.from, toTree(env.stanza)] : ["p", env.from, toTree(env.stanza), env.local, env.remote])));
}

/** Undefined for a message this version does not understand (logged by the caller, never thrown). */
export function decodeBatch(text: string): Envelope[] | undefined {
  try {
    const out: Envelope[] = [];
    for (const m of JSON.parse(text) as Wire[]) {
      if (m[0] === "r") out.push({ kind: "route", from: m[1], stanza: fromTree(m[2]) });
      else if (m[0] === "p" && m[3] && m[4]) out.push({ kind: "pair", from: m[1], stanza: fromTree(m[2]), local: m[3], remote: m[4] });
      else return undefined;
    }
    return out;
  } catch {
    return undefined;
  }
}
