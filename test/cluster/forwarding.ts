/**
 * Shared steps of the cluster tests that forward between two nodes: which node owns the remote
 * pair (a.example, b.example), handing node 1 many stanzas at once through the embedding API, and
 * accounting for each of them (delivered or bounced, once, in order).
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

/** Bounces node `n` hands to this test, by id: [condition, when]; a second bounce of one id is a duplicate. */
export interface Bounces {
  readonly bounced: Map<string, [string, number]>;
  readonly duplicates: string[];
  stop(): void;
}

/**
 * The error stanzas node `n` hands to this test (the sender, svc@a.example, is served by its
 * stanzas$; the other node forwards its bounces there too) whose id starts with `prefix`.
 */
export function collectBounces(n: ClusterNode, prefix = ""): Bounces {
  const bounced = new Map<string, [string, number]>();
  const duplicates: string[] = [];
  const sub = n.server.stanzas$.subscribe((s) => {
    const id = s.attr("id") ?? "";
    if (s.attr("type") !== "error" || !id.startsWith(prefix)) return;
    if (bounced.has(id)) duplicates.push(id);
    const condition = s.getChild("error")?.children.find((c) => typeof c !== "string")?.name ?? "?";
    bounced.set(id, [condition, Date.now()]);
  });
  return { bounced, duplicates, stop: () => sub.unsubscribe() };
}

/** Every bounce is remote-server-timeout (RFC 6120 §8.3.3.16) and came no earlier than `boundMs` after its stanza was sent. */
export function assertTimedOut(bounced: ReadonlyMap<string, [string, number]>, sentAt: ReadonlyMap<string, number>, boundMs: number): void {
  assert.deepEqual([...new Set([...bounced.values()].map(([condition]) => condition))], ["remote-server-timeout"]);
  for (const [id, [, at]] of bounced) assert.ok(at - sentAt.get(id)! >= boundMs, `${id} bounced ${at - sentAt.get(id)!} ms after it was sent`);
}

/**
 * No stanza lost or doubled: none both bounced and delivered, no duplicate deliveries or bounces,
 * delivered + bounced = sent, and the delivered ones (ids `<prefix>-<n>`) in the order sent.
 */
export function assertAccounted(sent: number, delivered: readonly string[], bounces: Pick<Bounces, "bounced" | "duplicates">): void {
  const { bounced, duplicates } = bounces;
  const both = delivered.filter((id) => bounced.has(id));
  assert.deepEqual(both.slice(0, 5), [], `${both.length} stanzas bounced and delivered`);
  assert.equal(new Set(delivered).size, delivered.length, "no duplicate deliveries");
  assert.deepEqual(duplicates, [], "no duplicate bounces");
  assert.equal(delivered.length + bounced.size, sent, "delivered + bounced = sent");
  const numbers = delivered.map((id) => Number(id.slice(id.indexOf("-") + 1)));
  assert.ok(numbers.every((n, i) => i === 0 || n > numbers[i - 1]!), "the delivered ones in the order sent");
}
