import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { xml } from "@xmpp/component";
import { el } from "../../core/xml/element.js";
import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { errorCondition } from "../helpers/stanzas.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { freePort } from "../helpers/ports.js";
import { waitFor } from "../helpers/wait.js";
import { ReplaySubject } from "rxjs";
import { VirtualClock } from "../../core/clock/virtual-clock.js";
import type { S2sEvent } from "../../core/events/events.js";
import { captureLogs } from "../../testing/server.js";

describe("outbound sessions, bounces and the local side", () => {
  // A's session and stream timers (negotiation deadline, idle close, hold window) run on a
  // VirtualClock: each test moves time when it means to, so none races the machine's speed.
  const clock = new VirtualClock();
  const NEGOTIATION_MS = 4000;
  const IDLE_MS = 2000;
  const HOLD_MS = 10_000;
  const events = new ReplaySubject<S2sEvent>();
  const { logger, logs$ } = captureLogs("debug");
  let a: TestNode;
  let b: TestNode;
  let bot: TestComponent;
  let silent: Server;
  const silentSockets: Socket[] = [];

  before(async () => {
    // A TCP peer that accepts and never says a word: the stream never becomes usable.
    silent = createServer((s) => {
      silentSockets.push(s);
      s.on("error", () => {});
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.34", r));
    const silentPort = (silent.address() as { port: number }).port;
    const deadPort = await freePort("127.0.0.35");
    const pa = await reservePorts("127.0.0.31");
    b = await startNode({ hosts: ["b.example"], ip: "127.0.0.32", s2s: { address: [addressOf({ ip: pa.ip, s2sPort: pa.s2sPort }, "bot.a.example"), addressOf({ ip: pa.ip, s2sPort: pa.s2sPort }, "a.example")] } });
    a = await startNode(
      {
        hosts: ["a.example"],
        ip: pa.ip,
        componentPassword: "pw",
        s2s: {
          address: [
            addressOf(b, "b.example"),
            { host: "dead.example", ip_address: "127.0.0.35", port: deadPort },
            { host: "silent.example", ip_address: "127.0.0.34", port: silentPort },
          ],
          host_policy: [{ host: "denied.example", policy: "deny" }],
        },
        plugins: { tcp: { queue_limit: 3, negotiation_timeout: NEGOTIATION_MS / 1000, idle_timeout: IDLE_MS / 1000, initial_retry_delay: 30, hold_window: HOLD_MS / 1000 } },
        clock,
        logger,
      },
      pa,
    );
    a.server.events$.subscribe(events);
    bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
  });

  after(async () => {
    await bot?.stop();
    await a?.stop();
    await b?.stop();
    for (const s of silentSockets) s.destroy();
    silent?.close();
  });

  it("bounces remote-server-not-found to the component when the remote is unreachable", async () => {
    await bot.send(xml("message", { from: "u@bot.a.example", to: "x@dead.example", id: "dead1" }, xml("body", {}, "anyone?")));
    const bounce = await bot.next((s) => s.attrs.id === "dead1");
    assert.equal(bounce.attrs.type, "error");
    assert.equal(bounce.attrs.from, "x@dead.example");
    assert.equal(errorCondition(bounce), "remote-server-not-found");
    assert.equal(bounce.getChild("error").attrs.type, "cancel");
    assert.equal(bounce.getChildText("body"), "anyone?");
  });

  it("bounces service-unavailable without connecting when policy denies the remote", async () => {
    const failed = waitFor(events, (e) => e.type === "failed" && e.remote === "denied.example");
    await bot.send(xml("message", { from: "u@bot.a.example", to: "x@denied.example", id: "deny1" }, xml("body", {}, "no")));
    const bounce = await bot.next((s) => s.attrs.id === "deny1");
    assert.equal(errorCondition(bounce), "service-unavailable");
    assert.equal((await failed as Extract<S2sEvent, { type: "failed" }>).condition, "service-unavailable");
    // The attempt ended at the policy step: it never resolved the name, let alone connected.
    const seen: S2sEvent[] = [];
    events.subscribe((e) => seen.push(e)).unsubscribe();
    assert.equal(seen.some((e) => (e.type === "resolve_done" || e.type === "connected") && e.remote === "denied.example"), false);
  });

  it("bounces queue overflow with resource-constraint and the rest with remote-server-timeout", async () => {
    const connected = waitFor(events, (e) => e.type === "connected" && e.remote === "silent.example");
    // The embedding API does not honour flow control (a component would be paused at half the
    // queue instead, see test/faults/cut-link.test.ts), so it can overflow the queue.
    for (let i = 0; i < 5; i++) a.server.send(el("message", { from: "u@bot.a.example", to: "x@silent.example", id: `q${i}` }, "jabber:client", el("body", {}, "jabber:client", `q${i}`)));
    const replies = Promise.all([0, 1, 2, 3, 4].map((i) => bot.next((s) => s.attrs.id === `q${i}`)));
    // silent.example accepted TCP and says nothing: the negotiation deadline ends the attempt.
    await connected;
    clock.advance(NEGOTIATION_MS);
    const conditions = (await replies).map(errorCondition);
    assert.deepEqual(conditions.slice(3), ["resource-constraint", "resource-constraint"]);
    assert.deepEqual(conditions.slice(0, 3), ["remote-server-timeout", "remote-server-timeout", "remote-server-timeout"]);
    assert.equal((await replies)[0].getChild("error").attrs.type, "wait");
  });

  it("never bounces an error stanza (RFC 6120 §10.4.3)", async () => {
    // dead.example failed in the first test and waits 30 s to retry: what is sent to it now is held
    // for the hold window, then bounced, except error stanzas, which are dropped with a log line.
    await waitFor(events, (e) => e.type === "retry_scheduled" && e.remote === "dead.example");
    const suppressed = waitFor(logs$, (l) => l.what === "bounce_suppressed" && l.to === "x@dead.example", undefined, "bounce_suppressed");
    // The embedding API routes synchronously: both are held before the clock moves.
    a.server.send(el("message", { from: "u@bot.a.example", to: "x@dead.example", type: "error", id: "err1" }, "jabber:client", el("error", { type: "cancel" }, "jabber:client")));
    a.server.send(el("message", { from: "u@bot.a.example", to: "x@dead.example", id: "err2" }, "jabber:client", el("body", {}, "jabber:client", "held")));
    const companion = bot.next((s) => s.attrs.id === "err2");
    clock.advance(HOLD_MS);
    // Both left the queue in the same synchronous loop: once the companion's bounce is here, a
    // bounce of err1 would have been counted too.
    assert.equal(errorCondition(await companion), "remote-server-not-found", "the companion stanza, held alongside, is bounced");
    const bounced: S2sEvent[] = [];
    events.subscribe((e) => e.type === "stanza_bounced" && e.id === "err1" && bounced.push(e)).unsubscribe();
    assert.deepEqual(bounced, [], "err1 was bounced");
    await suppressed;
  });

  it("closes an idle outbound stream and reconnects on the next stanza", async () => {
    await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: "idle1" }, xml("body", {}, "one")));
    await bot.next((s) => s.attrs.id === "idle1" && s.attrs.type !== "error");
    const closed = waitFor(events, (e) => e.type === "closed" && e.remote === "b.example" && e.local === "bot.a.example");
    clock.advance(IDLE_MS);
    assert.equal((await closed as Extract<S2sEvent, { type: "closed" }>).reason, "idle");
    await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: "idle2" }, xml("body", {}, "two")));
    const echo = await bot.next((s) => s.attrs.id === "idle2");
    assert.equal(echo.getChildText("body"), "two");
  });

  it("refuses a component with a wrong password (not-authorized) and a second one for the same domain (conflict)", async () => {
    await assert.rejects(connectComponent(a.ip, a.servicePort!, "other.a.example", "wrong"));
    await assert.rejects(connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw"));
    await assert.rejects(connectComponent(a.ip, a.servicePort!, "a.example", "pw"));
  });

  it("embedding API: stanzas$ receives what no plugin serves, send() routes over S2S", async () => {
    const received = waitFor(b.server.stanzas$, (s) => s.attr("id") === "api1");
    await bot.send(xml("message", { from: "u@bot.a.example", to: "user@b.example", id: "api1" }, xml("body", {}, "to the embedder")));
    const stanza = await received;
    assert.equal(stanza.getChildText("body"), "to the embedder");
    b.server.send(el("message", { from: "user@b.example", to: "u@bot.a.example", id: "api2" }, "jabber:server", el("body", {}, "jabber:server", "from the embedder")));
    const reply = await bot.next((s) => s.attrs.id === "api2");
    assert.equal(reply.getChildText("body"), "from the embedder");
  });
});

describe("graceful shutdown", () => {
  it("bounces queued stanzas to a still-connected component when the server stops", async () => {
    const silent = createServer((s) => s.on("error", () => {}));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.37", r));
    const port = (silent.address() as { port: number }).port;
    const a = await startNode({ hosts: ["a.example"], ip: "127.0.0.36", componentPassword: "pw", s2s: { address: [{ host: "slow.example", ip_address: "127.0.0.37", port }] }, plugins: { tcp: { negotiation_timeout: 60 } } });
    const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
    try {
      await bot.send(xml("message", { from: "u@bot.a.example", to: "x@slow.example", id: "shut1" }, xml("body", {}, "queued")));
      await waitFor(a.server.events$, (e) => e.type === "connected" && e.remote === "slow.example");
      const stopping = a.server.stop();
      const bounce = await bot.next((s) => s.attrs.id === "shut1");
      await stopping;
      assert.equal(bounce.attrs.type, "error");
      assert.equal(errorCondition(bounce), "remote-server-not-found");
    } finally {
      await bot.stop();
      await a.stop();
      silent.close();
    }
  });
});
