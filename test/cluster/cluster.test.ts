/**
 * Cluster mode on a real redis-server (docs/cluster.md): three nodes of a.example on 127.0.0.201-203 and a
 * server of ours for b.example that reaches the cluster at node 2 only, so everything for a
 * component on node 1 crosses nodes.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { xml } from "@xmpp/component";
import { Redis } from "ioredis";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SessionRow } from "../../core/admin/inspect.js";
import { configFromObject } from "../../core/config/load.js";
import { ERROR_CODES, isS2sError } from "../../core/errors.js";
import { createLogger } from "../../core/logging/logger.js";
import { createServer } from "../../core/server/server.js";
import { ROUTER } from "../../core/router/router.js";
import { el } from "../../core/xml/element.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { freePort } from "../helpers/ports.js";
import { skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis-server.js";
import { addressOf, startNode, type TestNode } from "../helpers/servers.js";
import { ensureBuilt } from "../helpers/build.js";
import { run as xmppS2s } from "../helpers/cli.js";
import { errorCondition } from "../helpers/stanzas.js";
import { eventually, waitFor } from "../helpers/wait.js";
import { clusterSection, PASSWORD, SHARED, startClusterNode, type ClusterNode } from "./cluster-nodes.js";

const skip = skipWithoutRedis();

function clusterConfig(redisUrl: string, node: string, extra: Record<string, unknown> = {}) {
  return configFromObject(
    { general: { hosts: ["a.example"] }, s2s: { shared: SHARED, use_starttls: "false", ...extra }, cluster: clusterSection(redisUrl, node) },
    { baseDir: process.cwd() },
  );
}

describe("cluster start-up", { skip }, () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it("refuses to start when Redis is unreachable, naming cluster.redis_url", async () => {
    const port = await freePort("127.0.0.232"); // an address of this test only: nobody listens there
    const server = createServer(clusterConfig(`redis://:pw@127.0.0.232:${port}`, "n1"), { logger: createLogger("silent") });
    await assert.rejects(server.start(), (err: unknown) => {
      assert.ok(isS2sError(err));
      assert.equal(err.code, ERROR_CODES.CLUSTER_UNAVAILABLE);
      assert.match(err.message, /^cluster\.redis_url: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.232:\d+/);
      return true;
    });
  });

  it("refuses a second running node with the same name", async () => {
    const first = createServer(clusterConfig(redis.url, "same"), { logger: createLogger("silent") });
    await first.start();
    try {
      const second = createServer(clusterConfig(redis.url, "same"), { logger: createLogger("silent") });
      await assert.rejects(second.start(), /cluster\.node: "same" is already the name of a running node/);
    } finally {
      await first.stop();
    }
    // Stopping hands the name back at once.
    const again = createServer(clusterConfig(redis.url, "same"), { logger: createLogger("silent") });
    await again.start();
    await again.stop();
  });
});

describe("cluster of three nodes", { skip }, () => {
  let redis: TestRedis;
  let nodes: ClusterNode[] = [];
  let remote: TestNode;
  let bot: TestComponent;
  const remoteIp = "127.0.0.204";
  let remotePort: number;
  let dir: string;
  /** A config file naming node i's admin socket, for the CLI verbs. */
  const adminConfig = (i: number) => join(dir, `node${i + 1}.toml`);

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "xs2s-cluster-admin-"));
    redis = await startRedis();
    remotePort = await freePort(remoteIp);
    const toRemote = [{ host: "b.example", ip_address: remoteIp, port: remotePort }];
    for (const [i, ip] of ["127.0.0.201", "127.0.0.202", "127.0.0.203"].entries()) {
      const adminSocket = join(dir, `node${i + 1}.sock`);
      writeFileSync(adminConfig(i), `[general]\nhosts = ["a.example"]\n\n[admin]\nsocket = "${adminSocket}"\n`);
      nodes.push(await startClusterNode({ name: `node${i + 1}`, ip, redisUrl: redis.url, address: toRemote, adminSocket }));
    }
    const node2 = nodes[1]!;
    remote = await startNode(
      {
        hosts: ["b.example"],
        ip: remoteIp,
        s2s: { address: ["a.example", "bot.a.example"].map((d) => addressOf(node2, d)) },
      },
      { s2sPort: remotePort, servicePort: await freePort(remoteIp) },
    );
    bot = await connectComponent(nodes[0]!.ip, nodes[0]!.servicePort, "bot.a.example", PASSWORD);
    // Every node learns the route (pub/sub, no polling of Redis per stanza).
    await eventually(() => nodes.slice(1).every((n) => n.cluster().snapshot().routes["bot.a.example"] === "node1"), undefined, "route to bot.a.example on nodes 2 and 3");
  });

  after(async () => {
    await bot?.stop();
    await remote?.stop();
    for (const n of nodes) await n.server.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("delivers an inbound S2S stanza arriving on node 2 to the component on node 1", async () => {
    remote.server.send(el("message", { from: "u@b.example", to: "x@bot.a.example", id: "in-1" }, undefined, el("body", {}, undefined, "hello")));
    const got = await bot.next((s) => s.attrs.id === "in-1");
    assert.equal(got.getChildText("body"), "hello");
    assert.equal(got.attrs.from, "u@b.example");
  });

  it("sends the component's replies out through the pair's owner node, not a second stream", async () => {
    const received = remote.server.stanzas$;
    // Node 2 owns the pair (bot.a.example, b.example): it took the lease to verify b.example's
    // dialback key in the previous test (docs/cluster.md#dialback). Node 3's stanzas go to it too.
    assert.deepEqual(nodes[1]!.cluster().snapshot().ownedPairs, ["bot.a.example|b.example"]);
    const first = waitFor(received, (s) => s.attr("id") === "via-3");
    nodes[2]!.server.send(el("message", { from: "x@bot.a.example", to: "u@b.example", id: "via-3" }, undefined, el("body", {}, undefined, "from 3")));
    await first;
    let node1Connected = false;
    const sub = nodes[0]!.server.events$.subscribe((e) => {
      if (e.type === "connecting" && e.local === "bot.a.example") node1Connected = true;
    });
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `reply-${i}`);
      const seen: string[] = [];
      const all = waitFor(received, (s) => {
        const id = s.attr("id") ?? "";
        if (id.startsWith("reply-")) seen.push(id);
        return seen.length === ids.length;
      });
      for (const id of ids) await bot.send(xml("message", { from: "x@bot.a.example", to: "u@b.example", id }, xml("body", {}, id)));
      await all;
      assert.deepEqual(seen, ids, "per-pair order kept across the hop");
      assert.equal(node1Connected, false, "node 1 opened no stream of its own for the pair");
      assert.deepEqual(nodes[1]!.cluster().snapshot().ownedPairs, ["bot.a.example|b.example"]);
    } finally {
      sub.unsubscribe();
    }
  });

  it("xmpp-s2s sessions shows which node owns each pair and serves each route", async () => {
    const sessions = async (i: number): Promise<SessionRow[]> => {
      const r = await xmppS2s(["sessions", "--json", "--config", adminConfig(i)]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as SessionRow[];
    };
    const pick = (rows: SessionRow[], direction: string, local: string, remote = "") => rows.filter((r) => r.direction === direction && r.local === local && r.remote === remote);
    // After the previous test: node 2 owns (bot.a.example, b.example); node 1 forwards to it.
    const [on1, on2, on3] = [await sessions(0), await sessions(1), await sessions(2)];
    assert.deepEqual(pick(on1, "outbound", "bot.a.example", "b.example").map((r) => [r.node, r.owner, r.state]), [["node1", "node2", "forwarded"]]);
    assert.deepEqual(pick(on2, "outbound", "bot.a.example", "b.example").map((r) => [r.node, r.owner, r.state]), [["node2", "node2", "established"]]);
    for (const [rows, node] of [[on1, "node1"], [on2, "node2"], [on3, "node3"]] as const) {
      assert.deepEqual(pick(rows, "route", "bot.a.example").map((r) => [r.node, r.owner, r.state]), [[node, "node1", "component"]], node);
      assert.ok(rows.every((r) => r.node === node), `every row of ${node} says so`);
    }
    // The table gains NODE and OWNER columns; status a cluster line.
    const table = await xmppS2s(["sessions", "--config", adminConfig(0)]);
    assert.match(table.stdout, /^DIR\s+LOCAL\s+REMOTE\s+NODE\s+OWNER\s+STATE/);
    assert.match(table.stdout, /^out\s+bot\.a\.example\s+b\.example\s+node1\s+node2\s+forwarded/m);
    assert.match(table.stdout, /^route\s+bot\.a\.example\s+-\s+node1\s+node1\s+component/m);
    const status = await xmppS2s(["status", "--config", adminConfig(1)]);
    assert.match(status.stdout, /^cluster\s+node node2 of node1, node2, node3; Redis connected; \d+ forwarded, \d+ received$/m);
  });

  it("bounces to the component on node 1 what fails on the owner", async () => {
    // No address for c.example anywhere: the owner (whoever takes it) bounces remote-server-not-found.
    await bot.send(xml("message", { from: "x@bot.a.example", to: "u@c.invalid", id: "nowhere" }, xml("body", {}, "?")));
    const back = await bot.next((s) => s.attrs.id === "nowhere" && s.attrs.type === "error");
    assert.equal(errorCondition(back), "remote-server-not-found");
  });

  it("notices at renewal that another node holds its pair (cluster_lease_lost) and forwards to it", async () => {
    const first = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "lease-1");
    const taken = waitFor(nodes[0]!.server.events$, (e) => e.type === "cluster_lease_taken" && e.local === "a.example" && e.remote === "b.example");
    nodes[0]!.server.send(el("message", { from: "svc@a.example", to: "u@b.example", id: "lease-1" }, undefined, el("body", {}, undefined, "1")));
    await taken;
    await first;
    // As if node 3 had taken the pair while node 1 could not reach Redis.
    const lost = waitFor(nodes[0]!.server.events$, (e) => e.type === "cluster_lease_lost" && e.local === "a.example" && e.owner === "node3");
    const redisClient = new Redis(redis.url);
    try {
      await redisClient.set("xs2s:pair:a.example|b.example", "node3", "PX", 10_000);
    } finally {
      redisClient.disconnect();
    }
    await lost;
    const node3Sends = waitFor(nodes[2]!.server.events$, (e) => e.type === "connecting" && e.local === "a.example" && e.remote === "b.example");
    const second = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "lease-2");
    nodes[0]!.server.send(el("message", { from: "svc@a.example", to: "u@b.example", id: "lease-2" }, undefined, el("body", {}, undefined, "2")));
    await node3Sends;
    await second;
    assert.equal(nodes[0]!.cluster().snapshot().ownedPairs.includes("a.example|b.example"), false);
  });

  it("holds a forward that finds no receiver (the node's subscriber reconnecting) and delivers it, in order", async () => {
    // Node 1's inbox subscriber is cut (as after a Redis restart): ioredis reconnects it after its
    // first backoff step (200 ms), so the forwards node 2 publishes right now find no receiver.
    const holding = waitFor(nodes[1]!.server.events$, (e) => e.type === "cluster_forward_failed" && e.node === "node1" && e.reason === "no receiver (holding)");
    const admin = new Redis(redis.url);
    const ids = Array.from({ length: 20 }, (_, i) => `held-${i}`);
    const seen: string[] = [];
    const bounced: string[] = [];
    const sub = nodes[1]!.server.stanzas$.subscribe((s) => {
      if (s.attr("type") === "error") bounced.push(s.attr("id") ?? "");
    });
    try {
      const list = (await admin.client("LIST")) as string;
      const id = /id=(\d+) [^\n]*name=xs2s:node1:sub /.exec(list)?.[1];
      assert.ok(id, `node 1's subscriber in CLIENT LIST:\n${list}`);
      await admin.client("KILL", "ID", id);
      bot.events.on("stanza", (s: any) => {
        if (String(s.attrs.id).startsWith("held-")) seen.push(s.attrs.id);
      });
      for (const i of ids) nodes[1]!.server.send(el("message", { from: "svc@a.example", to: "x@bot.a.example", id: i }, undefined, el("body", {}, undefined, i)));
      await holding;
      await eventually(() => seen.length === ids.length, undefined, "every held forward delivered");
      assert.deepEqual(seen, ids, "in order");
      assert.deepEqual(bounced, []);
    } finally {
      sub.unsubscribe();
      admin.disconnect();
    }
  });

  it("pauses the producer of cross-node forwards while Redis has not acknowledged enough of them (flow control)", async () => {
    // Routed in one turn of the event loop, nothing is acknowledged yet: past the high-water mark
    // (1,000 in flight) the router hands the producer a promise, settled once Redis caught up.
    const router = nodes[1]!.server.container.resolve(ROUTER);
    const n = 1500;
    let got = 0;
    const count = (s: any) => {
      if (String(s.attrs.id).startsWith("flow-")) got++;
    };
    bot.events.on("stanza", count);
    try {
      const answers = Array.from({ length: n }, (_, i) => router.route(el("message", { from: "svc@a.example", to: "x@bot.a.example", id: `flow-${i}` }, undefined, el("body", {}, undefined, "x"))));
      const first = answers.findIndex((a) => a !== undefined);
      assert.ok(first >= 900 && first < 1100, `first pause at forward ${first}`);
      assert.equal(answers.slice(0, first).filter((a) => a !== undefined).length, 0, "no pause below the mark");
      await answers[first];
      await eventually(() => got === n, undefined, "every forward delivered");
    } finally {
      bot.events.off("stanza", count);
    }
  });

  it("delivers to an embedding-API subscriber on node 1 what arrives over S2S on node 2, unless node 2 has its own", async () => {
    const onNode = (i: number) => {
      const got: string[] = [];
      const sub = nodes[i]!.server.stanzas$.subscribe((s) => got.push(s.attr("id") ?? ""));
      return { got, stop: () => sub.unsubscribe() };
    };
    const send = (id: string) => remote.server.send(el("message", { from: "u@b.example", to: "someone@a.example", id }, undefined, el("body", {}, undefined, id)));
    const embedders = (i: number) => nodes[i]!.cluster().snapshot().embedders["a.example"] ?? [];
    const node1 = onNode(0);
    try {
      await eventually(() => embedders(1).includes("node1"), undefined, "node 2 learns node 1's subscriber");
      assert.deepEqual(nodes[0]!.cluster().snapshot().served, { "bot.a.example": "component", "a.example": "embedder" });
      send("emb-1");
      await eventually(() => node1.got.includes("emb-1"), undefined, "node 1's subscriber gets what node 2 received");

      // A subscriber on node 2 itself takes its stanzas there (no hop).
      const node2 = onNode(1);
      send("emb-2");
      await eventually(() => node2.got.includes("emb-2"), undefined, "node 2's own subscriber");
      node2.stop();
      send("emb-3");
      await eventually(() => node1.got.includes("emb-3"), undefined, "forwarded again once node 2's subscriber left");
      assert.equal(node1.got.includes("emb-2"), false, "emb-2 stayed on node 2");
    } finally {
      node1.stop();
    }
    // The last subscriber gone: the route is withdrawn and the address is answered as unserved.
    await eventually(() => !embedders(1).includes("node1"), undefined, "route withdrawn on node 2");
    const reply = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "emb-4");
    send("emb-4");
    const err = await reply;
    assert.equal(err.attr("type"), "error");
    assert.ok(err.getChild("error")?.getChild("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas"), "RFC 6120 §8.3.3.19 service-unavailable");
  });

  it("sends no Redis command per stanza on the same-node path", async () => {
    const admin = new Redis(redis.url);
    const commands = async () => Number(/total_commands_processed:(\d+)/.exec((await admin.info("stats")) as string)?.[1]);
    const n = 1000;
    let got = 0;
    const count = (s: any) => {
      if (String(s.attrs.id).startsWith("local-")) got++;
    };
    bot.events.on("stanza", count);
    try {
      const before = await commands();
      const started = Date.now();
      for (let i = 0; i < n; i++) nodes[0]!.server.send(el("message", { from: "svc@a.example", to: "x@bot.a.example", id: `local-${i}` }, undefined, el("body", {}, undefined, "x")));
      await eventually(() => got === n, undefined, "every same-node stanza delivered");
      const seconds = (Date.now() - started) / 1000;
      const spent = (await commands()) - before - 1; // less the first INFO (each counts once done)
      // Meanwhile the three nodes renew their leases (about 10 commands each every 667 ms) and
      // this test's INFO counts: far fewer than one command per stanza.
      const renewals = 50 + 100 * seconds;
      assert.ok(renewals < n, `too slow to tell (${seconds} s)`);
      if (process.env.S2S_TEST_STATS) console.log({ spent, seconds });
      assert.ok(spent < renewals, `${spent} Redis commands for ${n} same-node stanzas in ${seconds} s`);
    } finally {
      bot.events.off("stanza", count);
      admin.disconnect();
    }
  });

  it("stops serving a component that left on every node: the sender gets an error back", async () => {
    const gone = await connectComponent(nodes[0]!.ip, nodes[0]!.servicePort, "gone.a.example", PASSWORD);
    await eventually(() => nodes[1]!.cluster().snapshot().routes["gone.a.example"] === "node1", undefined, "route to gone.a.example");
    await gone.stop();
    await eventually(() => nodes[1]!.cluster().snapshot().routes["gone.a.example"] === undefined, undefined, "route withdrawn");
    const reply = waitFor(remote.server.stanzas$, (s) => s.attr("id") === "to-gone");
    remote.server.send(el("message", { from: "u@b.example", to: "x@gone.a.example", id: "to-gone" }, undefined, el("body", {}, undefined, "?")));
    // Not local anymore on node 2: the stream to gone.a.example is refused, and the stanza bounces back.
    const err = await reply;
    assert.equal(err.attr("type"), "error");
  });
});
