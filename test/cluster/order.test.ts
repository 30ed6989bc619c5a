/**
 * Per-pair order and prompt retries around a lost receiver, on a real redis-server (docs/cluster.md):
 * two nodes of a.example on 127.0.0.225-226, a component on node 1, a server of ours for b.example
 * on 127.0.0.227 whose pair (a.example, b.example) node 2 owns.
 *
 * The stanzas are sent one per turn of the event loop, so that while Redis answers "no receiver"
 * to one batch, later batches are ready to leave: a node that published them before that answer
 * would let a receiver that came back in between take them ahead of the held ones.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { el } from "../../core/xml/element.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { freePort } from "../helpers/ports.js";
import { skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis-server.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { eventually, waitFor } from "../helpers/wait.js";
import { PASSWORD, startClusterNode, type ClusterNode } from "./cluster-nodes.js";

const skip = skipWithoutRedis();
/** Long, so that a retry which waited for the lease (or its expiry) would be told apart from one driven by the owner's return. */
const LEASE_SECONDS = 20;
const REMOTE_IP = "127.0.0.227";

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** The numbers of `ids` ("<prefix>-<n>") in the order they came, and whether that order only grows. */
function inOrder(ids: readonly string[]): boolean {
  const numbers = ids.map((id) => Number(id.slice(id.lastIndexOf("-") + 1)));
  return numbers.every((n, i) => i === 0 || n > numbers[i - 1]!);
}

describe("cluster order across a lost receiver", { skip }, () => {
  let redis: TestRedis;
  let node1: ClusterNode;
  let node2: ClusterNode;
  let remote: TestNode;
  let bot: TestComponent;

  before(async () => {
    redis = await startRedis();
    const remotePort = await freePort(REMOTE_IP);
    const toRemote = [{ host: "b.example", ip_address: REMOTE_IP, port: remotePort }];
    node1 = await startClusterNode({ name: "node1", ip: "127.0.0.225", redisUrl: redis.url, address: toRemote, leaseSeconds: LEASE_SECONDS });
    node2 = await startClusterNode({ name: "node2", ip: "127.0.0.226", redisUrl: redis.url, address: toRemote, leaseSeconds: LEASE_SECONDS });
    remote = await startNode({ hosts: ["b.example"], ip: REMOTE_IP, s2s: { address: [{ host: "a.example", ip_address: "127.0.0.226", port: node2.s2sPort }] } }, { s2sPort: remotePort, servicePort: await freePort(REMOTE_IP) });
    bot = await connectComponent(node1.ip, node1.servicePort, "bot.a.example", PASSWORD);
    await eventually(() => node2.cluster().snapshot().routes["bot.a.example"] === "node1", undefined, "route to bot.a.example on node 2");
    // Node 2 sends first for (a.example, b.example) and so owns the pair; node 1 forwards to it.
    const first = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "own");
    node2.server.send(el("message", { from: "svc@a.example", to: "u@b.example", id: "own" }, undefined, el("body", {}, undefined, "own")));
    await first;
    await eventually(() => node1.cluster().snapshot().nodes.includes("node2"), undefined, "node 1 sees node 2");
  });

  after(async () => {
    await bot?.stop();
    await remote?.stop();
    await node2?.server.stop();
    await node1?.server.stop();
    await redis?.stop();
  });

  /** Cuts `node`'s subscriber connection as a Redis restart would: ioredis reconnects it after 200 ms. */
  async function cutSubscriber(node: string): Promise<void> {
    const admin = new Redis(redis.url);
    try {
      const list = (await admin.client("LIST")) as string;
      const id = new RegExp(`id=(\\d+) [^\\n]*name=xs2s:${node}:sub `).exec(list)?.[1];
      assert.ok(id, `${node}'s subscriber in CLIENT LIST:\n${list}`);
      await admin.client("KILL", "ID", id);
    } finally {
      admin.disconnect();
    }
  }

  it("keeps per-pair order of route forwards across a Redis restart: nothing sent later overtakes a held stanza", async () => {
    const seen: string[] = [];
    const onStanza = (s: any) => {
      if (String(s.attrs.id).startsWith("rr-")) seen.push(s.attrs.id);
    };
    bot.events.on("stanza", onStanza);
    const bounced = new Set<string>();
    const sub = node2.server.stanzas$.subscribe((s) => {
      if (s.attr("type") === "error" && String(s.attr("id")).startsWith("rr-")) bounced.add(s.attr("id")!);
    });
    const sent: string[] = [];
    let sending = true;
    const loop = (async () => {
      // Bounded in count and time; stopped as soon as traffic has flowed again after the restart.
      const until = Date.now() + 60_000;
      for (let i = 0; sending && i < 200_000 && Date.now() < until; i++) {
        const id = `rr-${i}`;
        sent.push(id);
        node2.server.send(el("message", { from: "svc@a.example", to: "x@bot.a.example", id }, undefined, el("body", {}, undefined, id)));
        await nextTurn();
      }
    })();
    try {
      await eventually(() => seen.length >= 20, undefined, "traffic flowing before the restart");
      const forwardedBefore = node2.cluster().snapshot().forwarded - node1.cluster().snapshot().received;
      await redis.restart();
      await eventually(() => node1.cluster().snapshot().connected && node2.cluster().snapshot().connected, undefined, "both nodes reconnected");
      const mark = sent.length;
      await eventually(() => seen.some((id) => Number(id.slice(3)) > mark + 50), undefined, "traffic flowing after the restart");
      sending = false;
      await loop;
      const lostInRedis = () => node2.cluster().snapshot().forwarded - node1.cluster().snapshot().received - forwardedBefore;
      await eventually(() => sent.length - seen.length - bounced.size <= lostInRedis(), undefined, "every stanza delivered, bounced or counted lost");
      assert.ok(inOrder(seen), `delivered out of order: ${seen.filter((id, i) => i > 0 && Number(id.slice(3)) < Number(seen[i - 1]!.slice(3))).slice(0, 5).join(" ")}`);
      assert.equal(new Set(seen).size, seen.length, "no duplicates");
    } finally {
      sending = false;
      await loop;
      bot.events.off("stanza", onStanza);
      sub.unsubscribe();
    }
  });

  it("sends pair forwards held for a live owner as soon as its subscriber is back, in order, without waiting for the lease", async () => {
    await eventually(() => node1.cluster().snapshot().connected && node2.cluster().snapshot().connected, undefined, "both nodes connected");
    // After the restart of the previous test either node may own the pair: node 2 sends again to be sure.
    const owned = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "own-again");
    node2.server.send(el("message", { from: "svc@a.example", to: "u@b.example", id: "own-again" }, undefined, el("body", {}, undefined, "own")));
    await owned;
    await eventually(() => node2.cluster().snapshot().ownedPairs.includes("a.example|b.example"), undefined, "node 2 owns the pair");
    const seen: string[] = [];
    const sub = remote.server.stanzas$.subscribe((s) => {
      if (String(s.attr("id")).startsWith("ph-")) seen.push(s.attr("id")!);
    });
    const holding = waitFor(node1.server.events$, (e) => e.type === "cluster_forward_failed" && e.node === "node2" && e.reason === "no receiver (holding)");
    const ids = Array.from({ length: 60 }, (_, i) => `ph-${i}`);
    try {
      const started = Date.now();
      await cutSubscriber("node2");
      for (const id of ids) {
        node1.server.send(el("message", { from: "svc@a.example", to: "u@b.example", id }, undefined, el("body", {}, undefined, id)));
        await nextTurn();
      }
      await holding;
      await eventually(() => seen.length === ids.length, undefined, "every held pair forward delivered");
      // The owner kept its lease throughout: the old rule sent to it only once a whole lease had passed.
      const waited = Date.now() - started;
      assert.ok(waited < (LEASE_SECONDS * 1000) / 2, `delivered ${waited} ms after the cut, not at the owner's return`);
      assert.deepEqual(seen, ids, "in order");
      assert.deepEqual(node1.cluster().snapshot().ownedPairs.includes("a.example|b.example"), false, "node 1 did not take the pair");
    } finally {
      sub.unsubscribe();
    }
  });

  it("sends route forwards held for a node as soon as its subscriber is back, in order", async () => {
    const seen: string[] = [];
    const onStanza = (s: any) => {
      if (String(s.attrs.id).startsWith("rh-")) seen.push(s.attrs.id);
    };
    bot.events.on("stanza", onStanza);
    const ids = Array.from({ length: 60 }, (_, i) => `rh-${i}`);
    try {
      const started = Date.now();
      await cutSubscriber("node1");
      for (const id of ids) {
        node2.server.send(el("message", { from: "svc@a.example", to: "x@bot.a.example", id }, undefined, el("body", {}, undefined, id)));
        await nextTurn();
      }
      await eventually(() => seen.length === ids.length, undefined, "every held route forward delivered");
      const waited = Date.now() - started;
      assert.ok(waited < (LEASE_SECONDS * 1000) / 2, `delivered ${waited} ms after the cut`);
      assert.deepEqual(seen, ids, "in order");
    } finally {
      bot.events.off("stanza", onStanza);
    }
  });
});
