/**
 * A forward that waits twice, held (its node's inbox had no receiver) and queued (its node is back
 * but takes nothing), waits lease_seconds + 5 s once, counted from when it first waited
 * (docs/cluster.md "A node that takes nothing"; send-queue.ts), not that bound held plus the bound
 * queued. Real sockets, a real redis-server: two nodes of a.example on 127.0.0.164-165, a server of
 * ours for b.example on 127.0.0.166 behind a TCP relay, node 2 owns (a.example, b.example).
 *
 * Node 2 connects to Redis as its own ACL user, so the test can keep it away (the user disabled,
 * its connections killed: node 1's forwards find no receiver and are held) and let it back; while
 * b.example does not read node 2's stream (the relay paused), node 2 takes in what its socket
 * buffers absorb, then acknowledges nothing, and node 1 queues for it. Both orders: held then
 * queued, and queued then held. Each stanza bounces remote-server-timeout no earlier than the bound
 * after it was sent, and earlier than the second wait's start + the bound (the old rule's
 * earliest). Every stanza is delivered or bounced, once, the delivered in order.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { el } from "../../core/xml/element.js";
import type { XmlElement } from "../../core/xml/element.js";
import type { RedisCluster } from "../../plugins/cluster-redis/redis-cluster.js";
import { TcpProxy } from "../faults/tcp-proxy.js";
import { freePort } from "../helpers/ports.js";
import { skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis-server.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { eventually } from "../helpers/wait.js";
import { startClusterNode, type ClusterNode } from "./cluster-nodes.js";
import { assertAccounted, assertTimedOut, collectBounces, makePairOwner } from "./forwarding.js";

const skip = skipWithoutRedis();
/**
 * Long enough that node 2's leases outlive its absence (renewed every third of it), so node 1
 * keeps it as the owner and holds instead of taking the pair over. The bound: 25 s; the retry tick: 2 s.
 */
const LEASE_SECONDS = 20;
const BOUND_MS = (LEASE_SECONDS + 5) * 1000;
/**
 * How long node 2 stays away once node 1 holds: the old rule (the bound again from when queued)
 * bounces at least this much later than the new one, which may be late by a retry tick and the
 * machine's delays: well under it.
 */
const AWAY_MS = 8000;
const REMOTE_IP = "127.0.0.166";
const DEADLINE_MS = 120_000;
/** Under the 1,000 held per pair; 18 MB, well past what node 2's socket buffers and window absorb. */
const MESSAGES = 900;
const BODY = "x".repeat(20_000);
const USER = "node2";
const USER_PASSWORD = "node2-secret";

const pairHeld = (n: ClusterNode) => n.cluster().snapshot().pairs["a.example|b.example"]?.held ?? 0;
const message = (id: string, body = id): XmlElement => el("message", { from: "svc@a.example", to: "u@b.example", id }, undefined, el("body", {}, undefined, body));

describe("cluster: a forward held, then queued for a node that takes nothing", { skip }, () => {
  let redis: TestRedis;
  let admin: Redis;
  let node1: ClusterNode;
  let node2: ClusterNode;
  let remote: TestNode;
  let relay: TcpProxy;

  before(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 0 });
    await admin.call("ACL", "SETUSER", USER, "on", `>${USER_PASSWORD}`, "~*", "&*", "+@all");
    const node2Url = redis.url.replace("redis://", `redis://${USER}:${USER_PASSWORD}@`);
    const ports = { s2sPort: await freePort(REMOTE_IP), servicePort: await freePort(REMOTE_IP) };
    relay = await TcpProxy.start(REMOTE_IP, { host: REMOTE_IP, port: ports.s2sPort });
    const toRemote = [{ host: "b.example", ip_address: REMOTE_IP, port: relay.port }];
    node1 = await startClusterNode({ name: "node1", ip: "127.0.0.164", redisUrl: redis.url, address: toRemote, leaseSeconds: LEASE_SECONDS });
    node2 = await startClusterNode({ name: "node2", ip: "127.0.0.165", redisUrl: node2Url, address: toRemote, leaseSeconds: LEASE_SECONDS });
    remote = await startNode({ hosts: ["b.example"], ip: REMOTE_IP, s2s: { address: [{ host: "a.example", ip_address: "127.0.0.165", port: node2.s2sPort }] } }, ports);
    // Node 2 sends first for (a.example, b.example) and so owns the pair; node 1 forwards to it.
    await makePairOwner(node2, node1, remote, (id) => message(id));
  });

  after(async () => {
    relay?.resumeClients();
    await admin?.call("ACL", "SETUSER", USER, "on").catch(() => undefined);
    admin?.disconnect();
    await remote?.stop();
    await node2?.server.stop();
    await node1?.server.stop();
    await relay?.close();
    await redis?.stop();
  });

  /** What b.example receives of the ids starting with `prefix`, and what node 1 bounces to svc@a.example. */
  function watch(prefix: string) {
    const delivered: string[] = [];
    const atRemote = remote.server.stanzas$.subscribe((s) => {
      const id = s.attr("id") ?? "";
      if (id.startsWith(prefix)) delivered.push(id);
    });
    const bounces = collectBounces(node1, prefix);
    return { delivered, bounced: bounces.bounced, duplicates: bounces.duplicates, stop: () => (atRemote.unsubscribe(), bounces.stop()) };
  }

  /** Once b.example reads again: every stanza delivered or bounced, once, the delivered in order. */
  async function accountFor(ids: string[], w: ReturnType<typeof watch>): Promise<void> {
    const { delivered, bounced } = w;
    await eventually(() => delivered.length + bounced.size >= ids.length, DEADLINE_MS, "every stanza delivered or bounced");
    assertAccounted(ids.length, delivered, w);
    assert.ok(delivered.length > 0, "what node 2 took arrives");
  }

  it("bounces remote-server-timeout the bound after the first hold, not the bound after it was queued", async (t) => {
    const sender = node1.cluster() as unknown as RedisCluster;
    const w = watch("q-");
    const { delivered, bounced } = w;
    const sentAt = new Map<string, number>();
    const ids = Array.from({ length: MESSAGES }, (_, i) => `q-${i}`);
    let away = false;
    try {
      // Node 2 away from Redis: it cannot log in again until the user is enabled.
      await admin.call("ACL", "SETUSER", USER, "off");
      away = true;
      await admin.call("CLIENT", "KILL", "USER", USER);
      for (const id of ids) {
        sentAt.set(id, Date.now());
        node1.server.send(message(id, BODY));
      }
      await eventually(() => pairHeld(node1) === MESSAGES, DEADLINE_MS, "node 1 holding the pair's stanzas");
      // The hold lasts AWAY_MS (the scenario itself, not a wait for an event): long enough that
      // the two rules give bounce times further apart than a retry tick and the machine's delays.
      await new Promise((resolve) => setTimeout(resolve, AWAY_MS));
      relay.pauseClients(); // b.example stops reading node 2's stream
      const backAt = Date.now();
      await admin.call("ACL", "SETUSER", USER, "on");
      away = false;
      await eventually(() => pairHeld(node1) === 0, DEADLINE_MS, "node 1 sending the held stanzas to node 2");
      t.diagnostic(`node 1 handed the held stanzas on ${Date.now() - backAt} ms after node 2 could log in again`);

      await eventually(() => bounced.size > 0 && bounced.size === sender.expired && sender.inFlight === 0, DEADLINE_MS, "queued forwards bounced");
      assert.equal(delivered.length, 0, "b.example read nothing while the relay was paused");
      assertTimedOut(bounced, sentAt, BOUND_MS);
      const latest = Math.max(...[...bounced.values()].map(([, at]) => at));
      t.diagnostic(`node 2 took in ${node2.cluster().snapshot().received}, node 1 bounced ${bounced.size} of ${MESSAGES}, the last ${latest - backAt} ms after node 2 could come back (bound ${BOUND_MS} ms)`);
      for (const [id, [, at]] of bounced) {
        assert.ok(at < backAt + BOUND_MS, `${id} bounced ${at - backAt} ms after node 2 could come back: counted from when it was queued, not first held`);
      }

      relay.resumeClients();
      await accountFor(ids, w);
    } finally {
      w.stop();
      relay.resumeClients();
      if (away) await admin.call("ACL", "SETUSER", USER, "on");
    }
  });

  it("bounces what was queued, then held, the bound after it was queued, not the bound after it was held", async (t) => {
    const sender = node1.cluster() as unknown as RedisCluster;
    const expiredBefore = sender.expired;
    const w = watch("r-");
    const { bounced } = w;
    const sentAt = new Map<string, number>();
    const ids = Array.from({ length: MESSAGES }, (_, i) => `r-${i}`);
    let away = false;
    try {
      relay.pauseClients(); // b.example stops reading node 2's stream: node 1's window to node 2 fills, the rest queues
      for (const id of ids) {
        sentAt.set(id, Date.now());
        node1.server.send(message(id, BODY));
      }
      // The queue waits AWAY_MS (the scenario: long enough that the two rules differ by more
      // than a retry tick and the machine's delays), then node 2 leaves Redis: node 1 asks it,
      // finds no receiver and holds what it had queued.
      await new Promise((resolve) => setTimeout(resolve, AWAY_MS));
      assert.ok(sender.inFlight > 0, "node 1 has forwards queued for node 2");
      const awayAt = Date.now();
      await admin.call("ACL", "SETUSER", USER, "off");
      away = true;
      await admin.call("CLIENT", "KILL", "USER", USER);
      await eventually(() => pairHeld(node1) > 0, DEADLINE_MS, "node 1 holding what it had queued");
      t.diagnostic(`node 1 held ${pairHeld(node1)} stanzas ${Date.now() - awayAt} ms after node 2 left Redis`);
      // Back before its leases run out (node 1 keeps it as the owner): the held stanzas are queued for it again.
      await admin.call("ACL", "SETUSER", USER, "on");
      away = false;
      await eventually(() => pairHeld(node1) === 0, DEADLINE_MS, "node 1 sending the held stanzas to node 2 again");

      await eventually(() => bounced.size > 0 && bounced.size === sender.expired - expiredBefore && sender.inFlight === 0, DEADLINE_MS, "queued forwards bounced");
      assertTimedOut(bounced, sentAt, BOUND_MS);
      const latest = Math.max(...[...bounced.values()].map(([, at]) => at));
      t.diagnostic(`node 1 bounced ${bounced.size} of ${MESSAGES}, the last ${latest - awayAt} ms after node 2 left Redis (bound ${BOUND_MS} ms)`);
      for (const [id, [, at]] of bounced) {
        assert.ok(at < awayAt + BOUND_MS, `${id} bounced ${at - awayAt} ms after node 2 left: counted from when it was held, not queued`);
      }
      relay.resumeClients();
      await accountFor(ids, w);
    } finally {
      w.stop();
      relay.resumeClients();
      if (away) await admin.call("ACL", "SETUSER", USER, "on");
    }
  });
});
