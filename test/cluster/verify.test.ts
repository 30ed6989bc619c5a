/**
 * Dialback verification under pair ownership (docs/cluster.md#dialback) on a real redis-server:
 * two nodes of a.example on 127.0.0.245-246 and a server of ours for b.example (127.0.0.247) that
 * reaches the cluster at node 2 only. The cluster must keep one outbound stream per pair: a node
 * that receives a db:result for a pair another node owns has the owner send the db:verify
 * (XEP-0220 §2.1.2, §2.3) instead of connecting to the remote itself.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { Subscription } from "rxjs";
import { el } from "../../core/xml/element.js";
import { Xep0185Keys } from "../../plugins/dialback/dialback-keys.js";
import { freePort } from "../helpers/ports.js";
import { skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis-server.js";
import { ScriptedPeer } from "../helpers/s2s-peer.js";
import { addressOf, startNode, type TestNode } from "../helpers/servers.js";
import { waitFor } from "../helpers/wait.js";
import { startClusterNode, type ClusterNode } from "./cluster-nodes.js";

const skip = skipWithoutRedis();
const REMOTE_IP = "127.0.0.247";
/** b.example's `s2s.shared` (test/helpers/servers.ts): a scripted peer signs valid b.example keys with it. */
const REMOTE_KEYS = new Xep0185Keys(`secret-${REMOTE_IP}`);

describe("cluster: db:verify goes through the pair's owner", { skip }, () => {
  let redis: TestRedis;
  const nodes: ClusterNode[] = [];
  let remote: TestNode;
  const subscriptions: Subscription[] = [];
  /** Streams the cluster opened to b.example, counted where they arrive and where they leave. */
  let acceptedAtRemote = 0;
  const connecting: string[] = [];

  before(async () => {
    redis = await startRedis();
    const remotePort = await freePort(REMOTE_IP);
    const toRemote = [{ host: "b.example", ip_address: REMOTE_IP, port: remotePort }];
    for (const [i, ip] of ["127.0.0.245", "127.0.0.246"].entries()) {
      const node = await startClusterNode({ name: `node${i + 1}`, ip, redisUrl: redis.url, address: toRemote, leaseSeconds: 10 });
      nodes.push(node);
      subscriptions.push(node.server.events$.subscribe((e) => {
        if (e.type === "connecting") connecting.push(`${node.name} ${e.local} ${e.remote}`);
      }));
    }
    remote = await startNode({ hosts: ["b.example"], ip: REMOTE_IP, s2s: { address: [addressOf(nodes[1]!, "a.example")] } }, { s2sPort: remotePort, servicePort: await freePort(REMOTE_IP) });
    subscriptions.push(remote.server.events$.subscribe((e) => {
      if (e.type === "inbound_accepted") acceptedAtRemote++;
    }));
  });

  after(async () => {
    for (const s of subscriptions) s.unsubscribe();
    await remote?.stop();
    for (const n of nodes) await n.server.stop();
    await redis?.stop();
  });

  /** Writes a pair lease into Redis as if `node` had taken it. */
  async function setLease(pair: string, node: string): Promise<void> {
    const client = new Redis(redis.url);
    try {
      await client.set(`xs2s:pair:${pair}`, node, "PX", 60_000);
    } finally {
      client.disconnect();
    }
  }

  /** A scripted originating server claiming `from` on node `i`: sends db:result with `key` (or a valid b.example key) and returns what came back. */
  async function dialback(i: number, from: string, key?: string): Promise<ScriptedPeer> {
    const peer = await ScriptedPeer.connect(nodes[i]!.ip, nodes[i]!.s2sPort);
    const id = await peer.open(from, "a.example");
    peer.write(`<db:result from='${from}' to='a.example'>${key ?? REMOTE_KEYS.generate("a.example", from, id)}</db:result>`);
    return peer;
  }

  it("a node that nobody beat to the pair takes its lease and verifies over its own stream", async () => {
    // b.example opens to node 2 (its only address for a.example): node 2 verifies b.example's key first.
    const order: string[] = [];
    const taken = waitFor(nodes[1]!.server.events$, (e) => e.type === "cluster_lease_taken" && e.local === "a.example" && e.remote === "b.example").then(() => order.push("node 2 took the lease"));
    const up = waitFor(remote.server.events$, (e) => e.type === "established" && e.local === "b.example" && e.remote === "a.example").then(() => order.push("b.example authenticated"));
    remote.server.send(el("message", { from: "u@b.example", to: "a.example", id: "open" }, undefined, el("body", {}, undefined, "hi")));
    await Promise.all([taken, up]);
    // Taken to verify (before its answer), not later by a stanza that node 2 sends back.
    assert.deepEqual(order, ["node 2 took the lease", "b.example authenticated"]);
    // Node 1's stanzas for the pair ride node 2's stream.
    const got = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "from-1");
    nodes[0]!.server.send(el("message", { from: "svc@a.example", to: "u@b.example", id: "from-1" }, undefined, el("body", {}, undefined, "1")));
    await got;
    assert.deepEqual(nodes[1]!.cluster().snapshot().ownedPairs, ["a.example|b.example"]);
    assert.deepEqual(connecting, ["node2 a.example b.example"]);
    assert.equal(acceptedAtRemote, 1);
  });

  it("a db:result on a node that does not own the pair is verified on the owner's stream: still one stream", async () => {
    // Node 1 does not own (a.example, b.example): node 2 does (previous test).
    const peer = await dialback(0, "b.example");
    try {
      await peer.waitFor(/<db:result[^>]*type='valid'/);
    } finally {
      peer.close();
    }
    assert.deepEqual(connecting, ["node2 a.example b.example"], "node 1 opened no stream of its own to b.example");
    assert.equal(acceptedAtRemote, 1, "b.example saw one connection from the cluster");
  });

  it("an invalid key is still refused with not-authorized, through the owner", async () => {
    const peer = await dialback(0, "b.example", "0".repeat(64));
    try {
      await peer.waitFor(/<db:result[^>]*type='invalid'/);
      await peer.waitClosed();
      assert.equal(peer.streamError(), "not-authorized");
    } finally {
      peer.close();
    }
    assert.deepEqual(connecting, ["node2 a.example b.example"]);
    assert.equal(acceptedAtRemote, 1);
  });

  it("an owner that does not listen: remote-server-timeout at once, not a hang and not a stream of our own", async () => {
    // The lease of (a.example, c.invalid) is held by a node that is gone without releasing it.
    await setLease("a.example|c.invalid", "ghost");
    const peer = await dialback(0, "c.invalid", "1".repeat(64));
    try {
      const answer = await peer.waitFor(/<db:result[^>]*type='error'[^>]*>[\s\S]*?<\/db:result>/);
      assert.match(answer[0], /<remote-server-timeout /);
      assert.equal(peer.closed, false, "a dialback error is not a stream error (XEP-0220 §2.4)");
    } finally {
      peer.close();
    }
    assert.ok(!connecting.some((c) => c.startsWith("node1")));
  });

  it("an owner that cannot reach the authoritative server: remote-server-not-found from the owner", async () => {
    // Node 2 holds the lease of (a.example, x.invalid), a domain nobody can reach (no address, no DNS).
    await setLease("a.example|x.invalid", "node2");
    const peer = await dialback(0, "x.invalid", "2".repeat(64));
    try {
      const answer = await peer.waitFor(/<db:result[^>]*type='error'[^>]*>[\s\S]*?<\/db:result>/);
      assert.match(answer[0], /<remote-server-not-found /);
    } finally {
      peer.close();
    }
    assert.ok(connecting.includes("node2 a.example x.invalid"), connecting.join(", "));
    assert.ok(!connecting.some((c) => c.startsWith("node1")), connecting.join(", "));
  });

  it("Redis unreachable: the node verifies on its own stream (availability first)", async () => {
    const down = waitFor(nodes[0]!.server.events$, (e) => e.type === "cluster_redis_unavailable");
    await redis.kill();
    await down;
    const peer = await dialback(0, "b.example");
    try {
      await peer.waitFor(/<db:result[^>]*type='valid'/);
    } finally {
      peer.close();
    }
    // The one case where the cluster has a second stream for the pair (docs/cluster.md).
    assert.deepEqual(connecting.filter((c) => c.endsWith("b.example")).sort(), ["node1 a.example b.example", "node2 a.example b.example"]);
    assert.equal(acceptedAtRemote, 2);
    // Back, so that the nodes stop as usual (handing their leases back).
    const back = nodes.map((n) => waitFor(n.server.events$, (e) => e.type === "cluster_redis_reconnected"));
    await redis.start();
    await Promise.all(back);
  });
});
