/**
 * Receiver-side backpressure across nodes (docs/cluster.md "Backpressure", flow.ts), with real
 * sockets and a real redis-server: a component on node 2 stops reading its socket while a
 * component on node 1 writes thousands of 2 KB messages to it. Node 2 withholds its
 * acknowledgements while the component's socket is congested, node 1 keeps at most a window of
 * batches on their way and pauses its producer, so neither node takes in the whole burst. A
 * producer that ignores the pause (the embedding API's send) is held up to the bound, then bounced
 * resource-constraint. Once the component reads again, every message arrives or was bounced,
 * none lost.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RawComponent } from "../../bench/lib/raw-component.js";
import { el } from "../../core/xml/element.js";
import type { RedisCluster } from "../../plugins/cluster-redis/redis-cluster.js";
import { WIRE_VERSION } from "../../plugins/cluster-redis/wire.js";
import { skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis-server.js";
import { eventually } from "../helpers/wait.js";
import { PASSWORD, startClusterNode, type ClusterNode } from "./cluster-nodes.js";

const skip = skipWithoutRedis();
const MESSAGES = 20_000;
/** Sent by the embedding API on top, while node 2 is congested: more than node 1 holds (20,000 in flight). */
const EXTRA = 21_000;
const DEADLINE_MS = 120_000;
const BODY = "x".repeat(2000);
/**
 * Forwards queued for a node that takes nothing bounce after lease_seconds + 5 s (held-forwards.test.ts):
 * 25 s here, far more than this test keeps node 2 congested (a few retry ticks of 2 s, then the extra burst).
 */
const LEASE_SECONDS = 20;

const bigMessage = (i: number) => `<message from='load@load.a.example' to='sink@slow.a.example' type='chat' id='bp${i}'><body>${BODY}${i}</body></message>`;

describe("cluster backpressure from a slow receiver", { skip }, () => {
  let redis: TestRedis;
  let node1: ClusterNode;
  let node2: ClusterNode;
  let load: RawComponent;
  let slow: RawComponent;
  let watcher: Redis;

  before(async () => {
    redis = await startRedis();
    node1 = await startClusterNode({ name: "node1", ip: "127.0.0.247", redisUrl: redis.url, leaseSeconds: LEASE_SECONDS });
    node2 = await startClusterNode({ name: "node2", ip: "127.0.0.248", redisUrl: redis.url, leaseSeconds: LEASE_SECONDS });
    load = await RawComponent.connect(node1.ip, node1.servicePort, "load.a.example", PASSWORD);
    slow = await RawComponent.connect(node2.ip, node2.servicePort, "slow.a.example", PASSWORD);
    await eventually(() => node1.cluster().snapshot().routes["slow.a.example"] === "node2", undefined, "route to slow.a.example on node 1");
    watcher = new Redis(redis.url);
  });

  after(async () => {
    watcher?.disconnect();
    load?.close();
    slow?.close();
    await node2?.server.stop();
    await node1?.server.stop();
    await redis?.stop();
  });

  it("keeps the sender's in-flight count bounded while the receiving component does not read, then delivers everything", async (t) => {
    // What node 1 asks node 2 and what node 2 answers (flow.ts), read off Redis like any subscriber.
    const answers: Array<{ handled: number; upto: number }> = [];
    await watcher.subscribe(`xs2s:in:${WIRE_VERSION}:node1`);
    watcher.on("message", (_channel: string, text: string) => {
      const m = /^a node2 (\d+) \d+ (\d+)$/.exec(text);
      if (m) answers.push({ handled: Number(m[1]), upto: Number(m[2]) });
    });
    const sender = node1.cluster() as unknown as RedisCluster;
    let maxInFlight = 0;
    const poll = setInterval(() => (maxInFlight = Math.max(maxInFlight, sender.inFlight)), 5);
    try {
      slow.socket.pause();
      let burst = "";
      for (let i = 0; i < MESSAGES; i++) {
        burst += bigMessage(i);
        if (burst.length > 64 * 1024) {
          load.write(burst);
          burst = "";
        }
      }
      load.write(burst);
      // Node 1's window to node 2 stops moving: it asks, and node 2 answers that it has handled
      // less than it was sent (its component is congested). Three answers: a steady state.
      await eventually(() => answers.filter((a) => a.handled < a.upto).length >= 3, DEADLINE_MS, "node 2 withholding its acknowledgements");
      const received = node2.cluster().snapshot().received;
      t.diagnostic(`while congested: node 2 took in ${received} of ${MESSAGES}; node 1 had at most ${maxInFlight} in flight`);
      assert.ok(received < MESSAGES / 2, `node 2 took in ${received} of ${MESSAGES} while its component read nothing`);
      assert.ok(maxInFlight <= 2000, `node 1 had up to ${maxInFlight} forwards in flight`);
      assert.ok(load.socket.writableLength > 0, "the producing component was paused (its writes wait in its own socket)");
      assert.equal(slow.received, 0, "the paused component read nothing");

      // The embedding API does not pause: node 1 holds what it can, then bounces, never drops.
      const bounced: string[] = [];
      const sub = node1.server.stanzas$.subscribe((s) => {
        if (s.attr("type") === "error") bounced.push(s.getChild("error")?.children.find((c) => typeof c !== "string")?.name ?? "?");
      });
      try {
        for (let i = 0; i < EXTRA; i++) node1.server.send(el("message", { from: "svc@a.example", to: "sink@slow.a.example", id: `ex${i}` }, undefined, el("body", {}, undefined, `extra ${i}`)));
        maxInFlight = Math.max(maxInFlight, sender.inFlight);
        assert.ok(bounced.length > 0, "past the bound: bounced");
        assert.deepEqual([...new Set(bounced)], ["resource-constraint"]);
        assert.ok(maxInFlight <= 20_000, `node 1 held at most ${maxInFlight}`);
        t.diagnostic(`embedding API: ${EXTRA} sent, ${bounced.length} bounced resource-constraint at once`);

        slow.socket.resume();
        await slow.waitFor(MESSAGES + EXTRA - bounced.length, DEADLINE_MS);
        assert.equal(slow.received, MESSAGES + EXTRA - bounced.length, "every message not bounced delivered");
        assert.equal(load.received, 0, "none of the component's bounced");
      } finally {
        sub.unsubscribe();
      }
      await eventually(() => sender.inFlight === 0, DEADLINE_MS, "node 1's window empty again");
    } finally {
      clearInterval(poll);
      slow.socket.resume();
    }
  });
});
