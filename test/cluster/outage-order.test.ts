/**
 * Per-pair order on the sender's own stream when Redis stops answering (docs/cluster.md "Failure
 * behaviour"), on a real redis-server frozen with SIGSTOP: two nodes of a.example on
 * 127.0.0.238-239, a server of ours for b.example on 127.0.0.240 whose pair (a.example, b.example)
 * node 2 owns, so node 1 forwards to node 2.
 *
 * The outage is noticed by a command other than the batch of the pair's stanzas (here a lease
 * look-up asked first), so there is a stretch during which the node knows Redis is gone while that
 * batch still awaits its answer. Stanzas of the pair routed in that stretch must queue behind the
 * batch and leave with it, over node 1's own stream, in order; sent at once from node 1, they used
 * to reach b.example before the older ones. Redis stays frozen until every stanza has arrived,
 * so none of them can have gone through node 2.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { el } from "../../core/xml/element.js";
import type { XmlElement } from "../../core/xml/element.js";
import { freePort } from "../helpers/ports.js";
import { skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis-server.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { eventually, waitFor } from "../helpers/wait.js";
import { startClusterNode, type ClusterNode } from "./cluster-nodes.js";
import { makePairOwner } from "./forwarding.js";

const skip = skipWithoutRedis();
/** Command deadline 2 s (redis-deadline.ts). */
const LEASE_SECONDS = 4;
const REMOTE_IP = "127.0.0.240";
const DEADLINE_MS = 60_000;
const COUNT = 150;

const message = (id: string): XmlElement => el("message", { from: "svc@a.example", to: "u@b.example", id }, undefined, el("body", {}, undefined, id));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("cluster: order of a remote pair's stanzas when Redis stops answering", { skip }, () => {
  let redis: TestRedis;
  let node1: ClusterNode;
  let node2: ClusterNode;
  let remote: TestNode;
  let frozen = false;

  before(async () => {
    redis = await startRedis();
    const remotePort = await freePort(REMOTE_IP);
    const toRemote = [{ host: "b.example", ip_address: REMOTE_IP, port: remotePort }];
    node1 = await startClusterNode({ name: "node1", ip: "127.0.0.238", redisUrl: redis.url, address: toRemote, leaseSeconds: LEASE_SECONDS });
    node2 = await startClusterNode({ name: "node2", ip: "127.0.0.239", redisUrl: redis.url, address: toRemote, leaseSeconds: LEASE_SECONDS });
    remote = await startNode({ hosts: ["b.example"], ip: REMOTE_IP, s2s: { address: [{ host: "a.example", ip_address: "127.0.0.239", port: node2.s2sPort }] } }, { s2sPort: remotePort, servicePort: await freePort(REMOTE_IP) });
    // Node 2 sends first for (a.example, b.example) and so owns the pair; node 1 forwards to it.
    await makePairOwner(node2, node1, remote, (id) => message(id));
  });

  after(async () => {
    if (frozen) process.kill(redis.pid!, "SIGCONT");
    await remote?.stop();
    await node2?.server.stop();
    await node1?.server.stop();
    await redis?.stop();
  });

  it("sends what was routed behind a batch still awaiting Redis after that batch, in order", async (t) => {
    const seen: string[] = [];
    const sub = remote.server.stanzas$.subscribe((s) => {
      if (String(s.attr("id")).startsWith("o-")) seen.push(s.attr("id")!);
    });
    const noticed = waitFor(node1.server.events$, (e) => e.type === "cluster_redis_unavailable", DEADLINE_MS, "node 1 to notice the freeze");
    let noticedAt = 0;
    void noticed.then(() => (noticedAt = Date.now()), () => undefined);
    const ids = Array.from({ length: COUNT }, (_, i) => `o-${i}`);
    try {
      process.kill(redis.pid!, "SIGSTOP");
      frozen = true;
      // The first command into the frozen Redis: a lease look-up (a db:result for a pair nobody
      // owns). Its deadline passes first and makes the outage.
      void node1.cluster().verifyDialback!({ local: "a.example", remote: "c.example", id: "s1", key: "k" }, 10_000).catch(() => undefined);
      // The pair's first batch leaves later, so that its own deadline passes later: in between,
      // node 1 knows Redis is gone and that batch still waits. One stanza every few milliseconds
      // covers that stretch (how long it is only decides how many stanzas fall in it).
      await pause(500);
      let sentAfterNotice = 0;
      for (const id of ids) {
        node1.server.send(message(id));
        if (noticedAt > 0) sentAfterNotice++;
        await pause(20);
      }
      await noticed;
      await eventually(() => seen.length === ids.length, DEADLINE_MS, "every stanza at b.example while Redis is frozen");
      t.diagnostic(`${sentAfterNotice} of ${COUNT} routed after node 1 noticed the outage`);
      assert.ok(sentAfterNotice > 0, "some were routed while the first batch still waited");
      assert.deepEqual(seen, ids, "in the order sent");
    } finally {
      sub.unsubscribe();
      if (frozen) process.kill(redis.pid!, "SIGCONT");
      frozen = false;
    }
  });
});
