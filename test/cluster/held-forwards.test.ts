/**
 * What a node holds for another node that does not take it (docs/cluster.md "Backpressure"), with
 * real sockets and a real redis-server:
 * - a receiver congested for good (a component on node 2 that stops reading but keeps its
 *   connection): the forwards queued on node 1 bounce remote-server-timeout once they have waited
 *   lease_seconds + 5 s, each to its sender, and none of them is delivered later when the component
 *   reads again; every stanza is delivered or bounced, once;
 * - huge stanzas: a batch is bounded in size (send-queue.ts), so a queue of 40 MB crosses as many
 *   small messages instead of one that exceeds Redis's output buffer limit for a subscriber (which
 *   then drops the receiving node's connection and the stanzas with it); and the sender holds at
 *   most 64 MB of forwards, then refuses resource-constraint.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RawComponent } from "../../bench/lib/raw-component.js";
import { el } from "../../core/xml/element.js";
import type { XmlElement } from "../../core/xml/element.js";
import type { RedisCluster } from "../../plugins/cluster-redis/redis-cluster.js";
import { MAX_BATCH_CHARS } from "../../plugins/cluster-redis/send-queue.js";
import { WIRE_VERSION } from "../../plugins/cluster-redis/wire.js";
import { skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis-server.js";
import { eventually } from "../helpers/wait.js";
import { PASSWORD, startClusterNode, type ClusterNode } from "./cluster-nodes.js";
import { assertAccounted, assertTimedOut, collectBounces, sendAll } from "./forwarding.js";

const skip = skipWithoutRedis();
const DEADLINE_MS = 120_000;

const message = (id: string, body: string): XmlElement => el("message", { from: "svc@a.example", to: "sink@slow.a.example", id }, undefined, el("body", {}, undefined, body));

/** The ids of the messages a raw component reads, in order (it only counts them). */
function collectIds(component: RawComponent): string[] {
  const ids: string[] = [];
  let pending = "";
  component.socket.on("data", (chunk: string) => {
    const parts = (pending + chunk).split("</message>");
    pending = parts.pop()!;
    for (const part of parts) {
      const id = /\sid=['"]([^'"]+)['"]/.exec(part)?.[1];
      if (id) ids.push(id);
    }
  });
  return ids;
}


async function startPair(ips: readonly [string, string], redisUrl: string, leaseSeconds: number, logs?: string[]): Promise<{ node1: ClusterNode; node2: ClusterNode; slow: RawComponent }> {
  const node1 = await startClusterNode({ name: "node1", ip: ips[0], redisUrl, leaseSeconds, logLines: logs });
  const node2 = await startClusterNode({ name: "node2", ip: ips[1], redisUrl, leaseSeconds });
  const slow = await RawComponent.connect(node2.ip, node2.servicePort, "slow.a.example", PASSWORD);
  await eventually(() => node1.cluster().snapshot().routes["slow.a.example"] === "node2", undefined, "route to slow.a.example on node 1");
  return { node1, node2, slow };
}

describe("cluster: a receiving node congested for good", { skip }, () => {
  /** The bound is lease_seconds + 5 s: 7 s here. */
  const LEASE_SECONDS = 2;
  const MESSAGES = 16_000;
  const BODY = "x".repeat(2000);
  let redis: TestRedis;
  let node1: ClusterNode;
  let node2: ClusterNode;
  let slow: RawComponent;
  const logs: string[] = [];

  before(async () => {
    redis = await startRedis();
    ({ node1, node2, slow } = await startPair(["127.0.0.241", "127.0.0.242"], redis.url, LEASE_SECONDS, logs));
  });

  after(async () => {
    slow?.close();
    await node2?.server.stop();
    await node1?.server.stop();
    await redis?.stop();
  });

  it("bounces what it queued remote-server-timeout after lease_seconds + 5 s, never delivers it later, and accounts for every stanza", async (t) => {
    const delivered = collectIds(slow);
    const bounces = collectBounces(node1);
    const { bounced, stop } = bounces;
    const sender = node1.cluster() as unknown as RedisCluster;
    const sentAt = new Map<string, number>();
    const ids = Array.from({ length: MESSAGES }, (_, i) => `h-${i}`);
    try {
      slow.socket.pause();
      // The embedding API does not pause: node 1 queues what node 2 does not take (bounded: 20,000).
      await sendAll(node1, ids, (id) => message(id, BODY), sentAt);
      await eventually(() => sender.expired > 0 && bounced.size === sender.expired, DEADLINE_MS, "queued forwards bounced");
      assert.equal(slow.received, 0, "the paused component read nothing");
      assertTimedOut(bounced, sentAt, (LEASE_SECONDS + 5) * 1000);
      const expiredLogs = logs.filter((l) => (JSON.parse(l) as { what?: string }).what === "cluster_forward_expired");
      assert.ok(expiredLogs.length > 0 && expiredLogs.length < bounced.size, "logged once per batch, not per stanza");
      t.diagnostic(`while congested: node 2 took in ${node2.cluster().snapshot().received}, node 1 bounced ${bounced.size} of ${MESSAGES}`);

      slow.socket.resume();
      await eventually(() => delivered.length + bounced.size >= MESSAGES && sender.inFlight === 0, DEADLINE_MS, "every stanza delivered or bounced");
      assertAccounted(MESSAGES, delivered, bounces);
    } finally {
      stop();
      slow.socket.resume();
    }
  });
});

describe("cluster: huge stanzas between nodes", { skip }, () => {
  /** Long: nothing expires while the queue drains on a loaded machine. */
  const LEASE_SECONDS = 30;
  const MESSAGES = 10_000;
  const BODY = "y".repeat(4000);
  let redis: TestRedis;
  let node1: ClusterNode;
  let node2: ClusterNode;
  let slow: RawComponent;
  let watcher: Redis;

  before(async () => {
    redis = await startRedis();
    ({ node1, node2, slow } = await startPair(["127.0.0.243", "127.0.0.244"], redis.url, LEASE_SECONDS));
    watcher = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  });

  after(async () => {
    watcher?.disconnect();
    slow?.close();
    await node2?.server.stop();
    await node1?.server.stop();
    await redis?.stop();
  });

  it("sends 40 MB queued at once as batches of bounded size, and every stanza arrives", async (t) => {
    // What node 2 is handed, read off Redis like any subscriber (Redis's default output buffer limit for one).
    let largest = 0;
    let messages = 0;
    let watcherClosed = false;
    watcher.on("close", () => (watcherClosed = true));
    await watcher.subscribe(`xs2s:in:${WIRE_VERSION}:node2`);
    watcher.on("message", (_channel: string, text: string) => {
      if (!text.startsWith("[")) return;
      messages++;
      largest = Math.max(largest, text.length);
    });
    const delivered = collectIds(slow);
    // In one turn of the event loop: everything is queued before the first batch leaves.
    for (let i = 0; i < MESSAGES; i++) node1.server.send(message(`g-${i}`, BODY));
    await eventually(() => delivered.length >= MESSAGES || slow.closed, DEADLINE_MS, "every stanza delivered");
    t.diagnostic(`${messages} batches, the largest ${largest} characters`);
    assert.equal(delivered.length, MESSAGES, "every stanza delivered");
    assert.equal(node2.cluster().snapshot().received, MESSAGES);
    assert.equal(watcherClosed, false, "Redis kept the watching subscriber (no message past its output buffer limit)");
    assert.ok(largest <= MAX_BATCH_CHARS + 16 * 1024, `a batch of ${largest} characters`);
    assert.ok(messages >= (MESSAGES * BODY.length) / (MAX_BATCH_CHARS + 16 * 1024), `${messages} batches`);
  });

  it("holds at most 64 MB of forwards on the sender: past it, resource-constraint at once; the rest arrives", async () => {
    const delivered = collectIds(slow);
    const { bounced, stop } = collectBounces(node1);
    const COUNT = 100;
    const HUGE = "z".repeat(1_000_000); // one string shared by every stanza: the test holds 1 MB, node 1 100 MB of forwards
    try {
      // In one turn: all of them are queued or refused before the first batch leaves.
      for (let i = 0; i < COUNT; i++) node1.server.send(message(`big-${i}`, HUGE));
      assert.ok(bounced.size > 0 && bounced.size < COUNT, `${bounced.size} of ${COUNT} bounced at once`);
      assert.deepEqual([...new Set([...bounced.values()].map(([condition]) => condition))], ["resource-constraint"]);
      const numbers = [...bounced.keys()].map((id) => Number(id.slice(4)));
      assert.ok(Math.min(...numbers) >= 60, `the first ones were queued, not bounced (first bounced: ${Math.min(...numbers)})`);
      await eventually(() => delivered.length + bounced.size >= COUNT, DEADLINE_MS, "every stanza delivered or bounced");
      assert.deepEqual(delivered.filter((id) => bounced.has(id)), [], "none bounced and delivered");
      assert.equal(delivered.length + bounced.size, COUNT);
    } finally {
      stop();
    }
  });
});
