/**
 * A Redis that keeps its connections open but answers nothing (docs/cluster.md "Failure
 * behaviour"): a real redis-server frozen with SIGSTOP, then resumed with SIGCONT, by PID. Two
 * nodes of a.example on 127.0.0.235-236, a component on node 1, a server of ours for b.example on
 * 127.0.0.237 whose pair (a.example, b.example) node 2 owns.
 *
 * During the freeze: every stanza is delivered or bounced while Redis is still frozen (nothing
 * waits for it), route forwards bounce remote-server-timeout, pair forwards leave over the
 * sender's own stream, same-node traffic flows, each node logs the outage once. After SIGCONT:
 * traffic crosses nodes again, nothing bounced during the freeze arrives late (the publish
 * deadline), and the pair has one owner again.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { configFromObject } from "../../core/config/load.js";
import { ERROR_CODES, isS2sError } from "../../core/errors.js";
import { createLogger } from "../../core/logging/logger.js";
import { createServer } from "../../core/server/server.js";
import { el } from "../../core/xml/element.js";
import type { XmlElement } from "../../core/xml/element.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { freePort } from "../helpers/ports.js";
import { skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis-server.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { eventually, waitFor } from "../helpers/wait.js";
import { clusterSection, PASSWORD, SHARED, startClusterNode, type ClusterNode } from "./cluster-nodes.js";

const skip = skipWithoutRedis();
const LEASE_SECONDS = 4;
const REMOTE_IP = "127.0.0.237";
/** Generous: the command deadline is 2 s for this lease; the rest is for a loaded machine. */
const FREEZE_DEADLINE_MS = 30_000;

const message = (from: string, to: string, id: string): XmlElement => el("message", { from, to, id }, undefined, el("body", {}, undefined, id));

/** `what` values of the JSON log lines from `start` on. */
const whats = (lines: readonly string[], start: number, what: string): number => lines.slice(start).filter((l) => (JSON.parse(l) as { what?: string }).what === what).length;

describe("cluster with a Redis that stops answering", { skip }, () => {
  let redis: TestRedis;
  let node1: ClusterNode;
  let node2: ClusterNode;
  let remote: TestNode;
  let bot: TestComponent;
  const logs1: string[] = [];
  const logs2: string[] = [];
  let frozen = false;

  before(async () => {
    redis = await startRedis();
    const remotePort = await freePort(REMOTE_IP);
    const toRemote = [{ host: "b.example", ip_address: REMOTE_IP, port: remotePort }];
    node1 = await startClusterNode({ name: "node1", ip: "127.0.0.235", redisUrl: redis.url, address: toRemote, leaseSeconds: LEASE_SECONDS, logLines: logs1 });
    node2 = await startClusterNode({ name: "node2", ip: "127.0.0.236", redisUrl: redis.url, address: toRemote, leaseSeconds: LEASE_SECONDS, logLines: logs2 });
    remote = await startNode({ hosts: ["b.example"], ip: REMOTE_IP, s2s: { address: [{ host: "a.example", ip_address: "127.0.0.236", port: node2.s2sPort }] } }, { s2sPort: remotePort, servicePort: await freePort(REMOTE_IP) });
    bot = await connectComponent(node1.ip, node1.servicePort, "bot.a.example", PASSWORD);
    await eventually(() => node2.cluster().snapshot().routes["bot.a.example"] === "node1", undefined, "route to bot.a.example on node 2");
    // Node 2 sends first for (a.example, b.example) and so owns the pair; node 1 forwards to it.
    const first = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "own");
    node2.server.send(message("svc@a.example", "u@b.example", "own"));
    await first;
    await eventually(() => node1.cluster().snapshot().nodes.includes("node2"), undefined, "node 1 sees node 2");
    const forwarded = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "via-owner");
    node1.server.send(message("svc@a.example", "u@b.example", "via-owner"));
    await forwarded;
    assert.deepEqual(node1.cluster().snapshot().pairs["a.example|b.example"]?.owner, "node2");
  });

  after(async () => {
    if (frozen) process.kill(redis.pid!, "SIGCONT");
    await bot?.stop();
    await remote?.stop();
    await node2?.server.stop();
    await node1?.server.stop();
    await redis?.stop();
  });

  it("bounces or sends every stanza while Redis is frozen, logs once, and recovers after SIGCONT", async () => {
    const atBot = new Set<string>();
    const onStanza = (s: any) => atBot.add(String(s.attrs.id));
    bot.events.on("stanza", onStanza);
    const atRemote = new Set<string>();
    const bounced = new Map<string, string>();
    const subs = [
      remote.server.stanzas$.subscribe((s) => void atRemote.add(s.attr("id")!)),
      // The bounces come back to svc@a.example, served by this test's stanzas$ on each node.
      ...[node1, node2].map((n) =>
        n.server.stanzas$.subscribe((s) => {
          if (s.attr("type") === "error") bounced.set(s.attr("id")!, s.getChild("error")?.children.find((c) => typeof c !== "string")?.name ?? "?");
        }),
      ),
    ];
    const marks = { logs1: logs1.length, logs2: logs2.length };
    const routeIds = Array.from({ length: 40 }, (_, i) => `fr-${i}`);
    const pairIds = Array.from({ length: 40 }, (_, i) => `fp-${i}`);
    const localIds = Array.from({ length: 10 }, (_, i) => `fl-${i}`);
    const ownedIds = Array.from({ length: 10 }, (_, i) => `fo-${i}`);
    try {
      process.kill(redis.pid!, "SIGSTOP");
      frozen = true;
      const frozenAt = Date.now();
      // Half leave before the nodes notice the freeze (a batch in flight, then queued behind it), half after.
      const noticed = waitFor(node1.server.events$, (e) => e.type === "cluster_redis_unavailable", FREEZE_DEADLINE_MS, "node 1 to notice the freeze");
      const send = (from: number, to: number) => {
        for (let i = from; i < to; i++) {
          node2.server.send(message("svc@a.example", "x@bot.a.example", routeIds[i]!)); // node 2 -> component on node 1
          node1.server.send(message("svc@a.example", "u@b.example", pairIds[i]!)); // node 1 -> pair owned by node 2
        }
      };
      send(0, 20);
      await noticed;
      send(20, 40);
      for (const id of localIds) node1.server.send(message("svc@a.example", "x@bot.a.example", id)); // same node: no Redis
      for (const id of ownedIds) node2.server.send(message("svc@a.example", "u@b.example", id)); // the pair node 2 owns
      await eventually(
        () => routeIds.every((id) => atBot.has(id) || bounced.has(id)) && pairIds.every((id) => atRemote.has(id) || bounced.has(id)) && localIds.every((id) => atBot.has(id)) && ownedIds.every((id) => atRemote.has(id)),
        FREEZE_DEADLINE_MS,
        "every stanza of the freeze delivered or bounced while Redis is still frozen",
      );
      assert.equal(process.kill(redis.pid!, 0), true, "redis-server is still there (frozen, not dead)");
      const routeBounced = routeIds.filter((id) => bounced.has(id));
      assert.ok(routeBounced.length > 0, "route forwards bounced during the freeze");
      for (const id of routeBounced) assert.equal(bounced.get(id), "remote-server-timeout", `${id}: condition`);
      assert.equal(pairIds.filter((id) => atRemote.has(id)).length, pairIds.length, "pair forwards sent from node 1 itself");
      for (const [logs, mark, node] of [[logs1, marks.logs1, "node1"], [logs2, marks.logs2, "node2"]] as const) {
        await eventually(() => whats(logs, mark, "cluster_redis_unavailable") === 1, FREEZE_DEADLINE_MS, `${node} logs the outage`);
      }
      assert.equal(node1.cluster().snapshot().connected, false, "node 1 reports Redis unavailable");
      // Frozen past the lease: each node gives up on its connections and opens new ones (which
      // connect, Redis's kernel accepts, and get no answer either). Every lease, route and node key
      // has then expired on Redis's clock when it resumes, so what follows also shows that renewal
      // brings ownership back (not dropped for good).
      for (const [logs, mark, node] of [[logs1, marks.logs1, "node1"], [logs2, marks.logs2, "node2"]] as const) {
        await eventually(() => whats(logs, mark, "cluster_redis_reconnecting") === 1, FREEZE_DEADLINE_MS, `${node} replaces its connections`);
      }
      assert.ok(Date.now() - frozenAt > LEASE_SECONDS * 1000, "frozen for longer than the lease");

      process.kill(redis.pid!, "SIGCONT");
      frozen = false;
      await eventually(() => node1.cluster().snapshot().connected && node2.cluster().snapshot().connected, FREEZE_DEADLINE_MS, "both nodes see Redis again");
      for (const [logs, mark, node] of [[logs1, marks.logs1, "node1"], [logs2, marks.logs2, "node2"]] as const) {
        assert.equal(whats(logs, mark, "cluster_redis_unavailable"), 1, `${node} logged the outage once`);
        assert.equal(whats(logs, mark, "cluster_redis_reconnecting"), 1, `${node} replaced its connections once`);
        await eventually(() => whats(logs, mark, "cluster_redis_reconnected") === 1, FREEZE_DEADLINE_MS, `${node} logs the recovery`);
      }
      // Cross-node traffic again: a route forward from node 2 reaches the component on node 1.
      await eventually(
        () => {
          const id = `after-${Date.now()}`;
          node2.server.send(message("svc@a.example", "x@bot.a.example", id));
          return [...atBot].some((seen) => seen.startsWith("after-"));
        },
        FREEZE_DEADLINE_MS,
        "a route forward crosses nodes after SIGCONT",
      );
      assert.equal(node2.cluster().snapshot().routes["bot.a.example"], "node1", "node 2 still routes the component to node 1");
      // Published on the same connection after the frozen ones: had Redis run them late, they
      // would have reached the component before this one (pub/sub keeps its order).
      const late = routeIds.filter((id) => bounced.has(id) && atBot.has(id));
      assert.deepEqual(late, [], "bounced during the freeze and delivered after it");
      // One owner for the pair again, seen alike by both nodes, and stanzas from both reach b.example.
      await eventually(() => {
        const owners = [node1, node2].filter((n) => n.cluster().snapshot().ownedPairs.includes("a.example|b.example"));
        return owners.length === 1 && [node1, node2].every((n) => n.cluster().snapshot().pairs["a.example|b.example"]?.owner === owners[0]!.name);
      }, FREEZE_DEADLINE_MS, "one owner of the pair after the freeze");
      for (const n of [node1, node2]) {
        const id = `pair-after-${n.name}`;
        const arrived = waitFor(remote.server.stanzas$, (s) => s.attr("id") === id, FREEZE_DEADLINE_MS, id);
        n.server.send(message("svc@a.example", "u@b.example", id));
        await arrived;
      }
    } finally {
      bot.events.off("stanza", onStanza);
      for (const s of subs) s.unsubscribe();
    }
  });

  it("stops a node, and refuses to start one (exit 1's message), while Redis is frozen, without hanging", async () => {
    const node3 = await startClusterNode({ name: "node3", ip: "127.0.0.235", redisUrl: redis.url, leaseSeconds: LEASE_SECONDS });
    const config = configFromObject({ general: { hosts: ["a.example"] }, s2s: { shared: SHARED, use_starttls: "false" }, listen: { s2s: [] }, cluster: clusterSection(redis.url, "node4", LEASE_SECONDS) }, { baseDir: process.cwd() });
    const node4 = createServer(config, { logger: createLogger("silent") });
    try {
      process.kill(redis.pid!, "SIGSTOP");
      frozen = true;
      let stopped = false;
      await Promise.race([
        node3.server.stop().then(() => (stopped = true)),
        eventually(() => stopped, FREEZE_DEADLINE_MS, "node 3 stopped while Redis is frozen"),
      ]);
      await assert.rejects(node4.start(), (err: unknown) => {
        assert.ok(isS2sError(err));
        assert.equal(err.code, ERROR_CODES.CLUSTER_UNAVAILABLE);
        assert.match(err.message, /^cluster\.redis_url: cannot reach Redis at redis:\/\/127\.0\.0\.230:\d+\/? \(Redis did not answer within \d+ ms\)/);
        return true;
      });
    } finally {
      if (frozen) process.kill(redis.pid!, "SIGCONT");
      frozen = false;
      await node4.stop().catch(() => undefined);
    }
  });
});
