import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { xml } from "@xmpp/component";
import type { S2sEvent } from "../../core/events/events.js";
import { el, NS, type XmlElement } from "../../core/xml/element.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { freePort } from "../helpers/ports.js";
import { reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { eventually, waitFor } from "../helpers/wait.js";
import { ReplaySubject } from "rxjs";
import { VirtualClock } from "../../core/clock/virtual-clock.js";

/**
 * Retry with doubling backoff, end to end (the sequence itself is tested in virtual time in
 * core/session/backoff.test.ts): the hold window with `[plugins.tcp] initial_retry_delay` and
 * `hold_window`, and an inbound stream from the remote ending the wait.
 */
describe("an unreachable remote: retry_scheduled and the hold window", () => {
  // A's timers run on a VirtualClock: the retry comes only if a test moves time 30 s, and the hold
  // window is measured on the clock that runs it, to the millisecond, without waiting for it.
  const clock = new VirtualClock();
  const HOLD_MS = 2000;
  let a: TestNode;
  let bot: TestComponent;
  const events = new ReplaySubject<S2sEvent>();
  const seen: S2sEvent[] = [];

  before(async () => {
    const closedPort = await freePort("127.0.0.72");
    a = await startNode({
      hosts: ["a.example"],
      ip: "127.0.0.71",
      componentPassword: "pw",
      s2s: { address: [{ host: "down.example", ip_address: "127.0.0.72", port: closedPort }], max_retry_delay: 300 },
      plugins: { tcp: { initial_retry_delay: 30, hold_window: HOLD_MS / 1000 } },
      clock,
    });
    a.server.events$.subscribe(events);
    events.subscribe((e) => seen.push(e));
    bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
  });

  after(async () => {
    await bot?.stop();
    await a?.stop();
  });

  const send = (id: string) => bot.send(xml("message", { from: "alice@bot.a.example/r", to: "echo@down.example", type: "chat", id }, xml("body", {}, id)));
  const connectingCount = () => seen.filter((e) => e.type === "connecting" && e.remote === "down.example").length;

  it("the first failure bounces what waited for it and schedules a retry after initial_retry_delay (±10 %)", async () => {
    await send("h1");
    const bounce = await bot.next((s) => s.attrs.id === "h1");
    assert.ok(bounce.getChild("error")?.getChild("remote-server-not-found"), bounce.toString());
    const failed = await waitFor(events, (e) => e.type === "connect_failed" && e.remote === "down.example", undefined, "connect_failed");
    assert.match((failed as Extract<S2sEvent, { type: "connect_failed" }>).reason, /ECONNREFUSED/);
    const scheduled = (await waitFor(events, (e) => e.type === "retry_scheduled" && e.remote === "down.example", undefined, "retry_scheduled")) as Extract<S2sEvent, { type: "retry_scheduled" }>;
    assert.equal(scheduled.attempt, 1);
    assert.ok(scheduled.delayMs >= 27_000 && scheduled.delayMs <= 33_000, `delay ${scheduled.delayMs} ms`);
    assert.equal(scheduled.local, "bot.a.example");
  });

  it("a stanza sent during the wait is held for hold_window, then bounced remote-server-not-found without a new attempt", async () => {
    const attemptsBefore = connectingCount();
    const bouncedAt = () => seen.some((e) => e.type === "stanza_bounced" && e.id === "h2");
    const reply = bot.next((s) => s.attrs.id === "h2");
    // The embedding API routes synchronously: h2 is held before the clock moves.
    a.server.send(el("message", { from: "alice@bot.a.example/r", to: "echo@down.example", type: "chat", id: "h2" }, NS.CLIENT, el("body", {}, undefined, "h2")));
    clock.advance(HOLD_MS - 1);
    assert.equal(bouncedAt(), false, "still held 1 ms before the hold window ends");
    clock.advance(1);
    assert.equal(bouncedAt(), true, "bounced when the hold window ends");
    const bounce = await reply;
    assert.equal(bounce.attrs.type, "error");
    assert.ok(bounce.getChild("error")?.getChild("remote-server-not-found"), bounce.toString());
    assert.equal(bounce.getChild("error")?.attrs.type, "cancel");
    assert.match(bounce.getChild("error")?.getChildText("text") ?? "", /down\.example is unreachable; retrying later/);
    // Bounced by the hold window, not by a failed retry (30 s away).
    assert.equal(connectingCount(), attemptsBefore);
  });
});

describe("an inbound stream from the remote ends the wait", () => {
  let a: TestNode;
  let b: TestNode | undefined;
  const fromA: XmlElement[] = [];
  const events = new ReplaySubject<S2sEvent>();
  let pb: Awaited<ReturnType<typeof reservePorts>>;
  let pa: Awaited<ReturnType<typeof reservePorts>>;

  before(async () => {
    pa = await reservePorts("127.0.0.74");
    pb = await reservePorts("127.0.0.75");
    // B is down at first: nothing listens on its reserved port. The retry would only come after 60 s.
    a = await startNode({ hosts: ["a.example"], ip: pa.ip, s2s: { address: [{ host: "b.example", ip_address: pb.ip, port: pb.s2sPort }] }, plugins: { tcp: { initial_retry_delay: 60, hold_window: 60 } } }, pa);
    a.server.events$.subscribe(events);
    a.server.stanzas$.subscribe((s) => fromA.push(s));
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  const message = (from: string, to: string, id: string) => el("message", { from, to, type: "chat", id }, NS.CLIENT, el("body", {}, undefined, id));

  it("held stanzas are delivered as soon as the remote connects to us, long before the retry delay", async () => {
    a.server.send(message("alice@a.example/r", "echo@b.example", "w1"));
    await waitFor(events, (e) => e.type === "retry_scheduled" && e.remote === "b.example", undefined, "retry_scheduled");
    await eventually(() => fromA.some((s) => s.attr("id") === "w1" && s.attr("type") === "error"), undefined, "the bounce of w1");

    a.server.send(message("alice@a.example/r", "echo@b.example", "w2")); // held (hold_window 60 s)
    b = await startNode({ hosts: ["b.example"], ip: pb.ip, s2s: { address: [{ host: "a.example", ip_address: pa.ip, port: pa.s2sPort }] } }, pb);
    // B reaches A first: A authenticates the inbound stream from b.example.
    b.server.send(message("bob@b.example/r", "echo@a.example", "hello-from-b"));
    await waitFor(events, (e) => e.type === "authenticated" && e.direction === "inbound" && e.remote === "b.example", undefined, "inbound authentication of b.example");
    await eventually(() => fromA.some((s) => s.attr("id") === "w2" && s.attr("from") === "echo@b.example" && s.attr("type") === "chat"), undefined, "the echo of w2");
    assert.equal(fromA.some((s) => s.attr("id") === "w2" && s.attr("type") === "error"), false, "w2 was not bounced");
  });
});
