/**
 * Shared steps of the cluster tests about a remote pair (a.example, b.example): which node owns it,
 * and how a test hands node 1 many stanzas at once through the embedding API.
 */
import assert from "node:assert/strict";
import type { XmlElement } from "../../core/xml/element.js";
import type { TestNode } from "../helpers/servers.js";
import { eventually, waitFor } from "../helpers/wait.js";
import type { ClusterNode } from "./cluster-nodes.js";

/**
 * `owner` sends first for (a.example, b.example) and so owns the pair; `other` then sends one
 * stanza, which it forwards to the owner. Both arrive at `remote` before this returns.
 */
export async function makePairOwner(owner: ClusterNode, other: ClusterNode, remote: TestNode, message: (id: string) => XmlElement): Promise<void> {
  const first = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "own");
  owner.server.send(message("own"));
  await first;
  const ownerName = ownerNameOf(owner);
  await eventually(() => other.cluster().snapshot().nodes.includes(ownerName), undefined, `the other node sees ${ownerName}`);
  const forwarded = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "via-owner");
  other.server.send(message("via-owner"));
  await forwarded;
  assert.equal(other.cluster().snapshot().pairs["a.example|b.example"]?.owner, ownerName);
}

function ownerNameOf(node: ClusterNode): string {
  return node.cluster().snapshot().node;
}

/**
 * Sends every stanza through `node`'s embedding API (which never pauses), 500 per event-loop turn,
 * and records when each was sent.
 */
export async function sendAll(node: ClusterNode, ids: readonly string[], make: (id: string) => XmlElement, sentAt: Map<string, number>): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    for (const id of ids.slice(i, i + 500)) {
      sentAt.set(id, Date.now());
      node.server.send(make(id));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}
