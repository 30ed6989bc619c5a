/**
 * Forwards to the owner of a remote pair that takes nothing (docs/cluster.md "Backpressure", "A
 * node that takes nothing"), with real sockets and a real redis-server: two nodes of a.example on
 * 127.0.0.161-162, a server of ours for b.example on 127.0.0.163 reached through a TCP relay, and
 * node 2 owns (a.example, b.example), so node 1 forwards the pair's stanzas to it.
 *
 * The relay stops reading what node 2 writes (b.example stops reading, connection kept): node 2's
 * stream is congested, so node 2 stops acknowledging node 1's batches, and node 1's window to it
 * stays full. What node 1 queued must bounce remote-server-timeout once it has waited
 * lease_seconds + 5 s, never earlier; when b.example reads again, what node 2 took arrives, none of
 * the bounced, in the order sent: every stanza delivered or bounced, once.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { el } from "../../core/xml/element.js";
import type { XmlElement } from "../../core/xml/element.js";
import type { RedisCluster } from "../../plugins/cluster-redis/redis-cluster.js";
import { TcpProxy } from "../faults/tcp-proxy.js";
import { freePort } from "../helpers/ports.js";
import { skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis-server.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { eventually } from "../helpers/wait.js";
import { startClusterNode, type ClusterNode } from "./cluster-nodes.js";
import { assertAccounted, assertTimedOut, collectBounces, makePairOwner, sendAll } from "./forwarding.js";

const skip = skipWithoutRedis();
/** The bound is lease_seconds + 5 s: 7 s here. */
const LEASE_SECONDS = 2;
const BOUND_MS = (LEASE_SECONDS + 5) * 1000;
const REMOTE_IP = "127.0.0.163";
const DEADLINE_MS = 120_000;
/** 32 MB: well past what the kernel's socket buffers and node 2's window (8 x 256 KB) absorb. */
const MESSAGES = 16_000;
const BODY = "x".repeat(2000);

const message = (id: string, body = id): XmlElement => el("message", { from: "svc@a.example", to: "u@b.example", id }, undefined, el("body", {}, undefined, body));

describe("cluster: the owner of a remote pair takes nothing", { skip }, () => {
  let redis: TestRedis;
  let node1: ClusterNode;
  let node2: ClusterNode;
  let remote: TestNode;
  let relay: TcpProxy;
  const logs: string[] = [];

  before(async () => {
    redis = await startRedis();
    const ports = { s2sPort: await freePort(REMOTE_IP), servicePort: await freePort(REMOTE_IP) };
    relay = await TcpProxy.start(REMOTE_IP, { host: REMOTE_IP, port: ports.s2sPort });
    const toRemote = [{ host: "b.example", ip_address: REMOTE_IP, port: relay.port }];
    node1 = await startClusterNode({ name: "node1", ip: "127.0.0.161", redisUrl: redis.url, address: toRemote, leaseSeconds: LEASE_SECONDS, logLines: logs });
    node2 = await startClusterNode({ name: "node2", ip: "127.0.0.162", redisUrl: redis.url, address: toRemote, leaseSeconds: LEASE_SECONDS });
    // b.example verifies node 2's dialback key directly, not through the relay.
    remote = await startNode({ hosts: ["b.example"], ip: REMOTE_IP, s2s: { address: [{ host: "a.example", ip_address: "127.0.0.162", port: node2.s2sPort }] } }, ports);
    // Node 2 sends first for (a.example, b.example) and so owns the pair; node 1 forwards to it.
    await makePairOwner(node2, node1, remote, (id) => message(id));
    assert.equal(relay.accepted, 1, "one stream from the cluster to b.example: node 2's");
  });

  after(async () => {
    relay?.resumeClients();
    await remote?.stop();
    await node2?.server.stop();
    await node1?.server.stop();
    await relay?.close();
    await redis?.stop();
  });

  it("bounces what node 1 queued for the owner remote-server-timeout after lease_seconds + 5 s, never delivers it later, and accounts for every stanza", async (t) => {
    const sender = node1.cluster() as unknown as RedisCluster;
    const delivered: string[] = [];
    const atRemote = remote.server.stanzas$.subscribe((s) => {
      const id = s.attr("id") ?? "";
      if (id.startsWith("p-")) delivered.push(id);
    });
    const bounces = collectBounces(node1);
    const { bounced } = bounces;
    const sentAt = new Map<string, number>();
    const ids = Array.from({ length: MESSAGES }, (_, i) => `p-${i}`);
    try {
      relay.pauseClients();
      // The embedding API does not pause: node 1 queues what node 2 does not take (bounded: 20,000).
      await sendAll(node1, ids, (id) => message(id, BODY), sentAt);
      await eventually(() => sender.expired > 0 && bounced.size === sender.expired, DEADLINE_MS, "queued forwards bounced");
      assert.equal(delivered.length, 0, "b.example read nothing while the relay was paused");
      assertTimedOut(bounced, sentAt, BOUND_MS);
      const expiredLogs = logs.filter((l) => (JSON.parse(l) as { what?: string }).what === "cluster_forward_expired");
      assert.ok(expiredLogs.length > 0 && expiredLogs.length < bounced.size, "logged once per batch, not per stanza");
      t.diagnostic(`while b.example did not read: node 2 took in ${node2.cluster().snapshot().received}, node 1 bounced ${bounced.size} of ${MESSAGES}`);

      relay.resumeClients();
      await eventually(() => delivered.length + bounced.size >= MESSAGES && sender.inFlight === 0, DEADLINE_MS, "every stanza delivered or bounced");
      assertAccounted(MESSAGES, delivered, bounces);
      assert.ok(delivered.length > 0, "what node 2 took arrives");
      assert.equal(relay.accepted, 1, "still one stream to b.example: node 1 never sent over one of its own");
    } finally {
      atRemote.unsubscribe();
      bounces.stop();
      relay.resumeClients();
    }
  });
});
