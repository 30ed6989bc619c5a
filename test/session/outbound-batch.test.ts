import "reflect-metadata";
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Authenticator, OutboundAuthResult } from "../../core/auth/authenticator.js";
import { VirtualClock } from "../../core/clock/virtual-clock.js";
import type { Connection } from "../../core/connector/connector.js";
import type { Router } from "../../core/router/router.js";
import { OutboundSession } from "../../core/session/outbound-session.js";
import { el, NS, type XmlElement } from "../../core/xml/element.js";
import { socketPair } from "../helpers/socket-pair.js";
import { streamDeps } from "../helpers/stream-deps.js";
import { eventually, waitFor } from "../helpers/wait.js";

/**
 * OutboundSession gathers the stanzas of one tick into one write, and checks the stream and its
 * congestion for the tick's first stanza only (the write checks again). Over a real loopback
 * connection: the batch leaves in order, and when the stream dies within the tick every stanza
 * of it goes back to the queue in order (then bounced when the session closes): none is lost.
 */
describe("OutboundSession: the stanzas of one tick", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  const authenticated: Authenticator = {
    name: "test",
    inboundFeatures: () => [],
    handleInbound: () => false,
    authenticateOutbound: () => Promise.resolve<OutboundAuthResult>({ outcome: "authenticated" }),
  };

  async function established() {
    const clock = new VirtualClock();
    const sockets = await socketPair();
    cleanups.push(sockets.close);
    const { peer, server } = sockets;
    peer.on("data", (chunk: Buffer | string) => {
      if (String(chunk).includes("<stream:stream")) peer.write("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='s1' from='b.example' to='a.example' version='1.0'><stream:features/>");
    });
    const connection: Connection = { socket: server, target: { host: "127.0.0.1", port: server.localPort!, directTls: false } };
    const bounced: string[] = [];
    const deps = {
      ...streamDeps(clock, { authenticators: [authenticated], resolver: { resolve: async () => [connection.target] }, connector: { connect: async () => connection } }),
      router: { isLocalDomain: (d: string) => d === "a.example", deliverLocal: () => undefined, route: () => undefined, bounce: (s: XmlElement, condition: string) => void bounced.push(`${s.attr("id")} ${condition}`) } satisfies Router,
    };
    let markEstablished!: () => void;
    const up = new Promise<void>((r) => (markEstablished = r));
    const session = new OutboundSession("a.example", "b.example", deps, { onAttemptFailed: () => {}, onEstablished: () => markEstablished(), onIdle: () => {} });
    void session.connect();
    await up;
    return { session, deps, bounced, ...sockets };
  }

  const message = (id: string) => el("message", { from: "u@a.example", to: "v@b.example", id }, NS.SERVER, el("body", {}, undefined, id));

  it("writes them in order, one tick's batch after the other", async () => {
    const { session, text } = await established();
    for (const id of ["m1", "m2", "m3"]) assert.equal(session.send(message(id)), undefined, "not congested");
    await eventually(() => text().includes("m3</body>"), undefined, "the first batch is read");
    session.send(message("m4"));
    await eventually(() => text().includes("m4</body>"), undefined, "the next batch is read");
    const ids = [...text().matchAll(/<message [^>]*id='(m\d)'/g)].map((m) => m[1]);
    assert.deepEqual(ids, ["m1", "m2", "m3", "m4"]);
    assert.equal(session.stanzasOut, 4);
  });

  it("the stream dies within the tick: the whole batch goes back to the queue in order, then is bounced, none lost", async () => {
    const { session, deps, bounced, server, text } = await established();
    const closed = waitFor(deps.events.events$, (e) => e.type === "closed" && e.remote === "b.example");
    session.send(message("m1"));
    session.send(message("m2"));
    server.destroy(); // the stream learns it on 'close', a later tick
    session.send(message("m3"));
    await closed;
    assert.equal(session.queued, 3, "back in the queue, not written");
    assert.equal(session.stanzasOut, 0);
    assert.equal(text().includes("<message"), false, "nothing of the batch reached the peer");
    session.close("system-shutdown", "test over");
    assert.deepEqual(bounced, ["m1 remote-server-not-found", "m2 remote-server-not-found", "m3 remote-server-not-found"]);
  });
});
