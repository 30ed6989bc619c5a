/**
 * XEP-0288 with XEP-0198 on one inbound stream, on the wire: a scripted initiating server asks for
 * bidi, authenticates a.example with dialback (verified by the real a.example server), and our
 * stanzas for a.example ride on its stream; once it enables stream management there, our stanzas
 * leave that stream (SM would not acknowledge them) and take our own outbound session to a.example.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Xep0185Keys } from "../../plugins/dialback/dialback-keys.js";
import { el, NS } from "../../core/xml/element.js";
import type { S2sEvent } from "../../core/events/events.js";
import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { ScriptedPeer } from "../helpers/s2s-peer.js";
import { eventually, waitFor } from "../helpers/wait.js";

const A_IP = "127.0.33.1";

describe("XEP-0288 link withdrawn when the peer enables XEP-0198 on the stream", () => {
  let a: TestNode;
  let b: TestNode;
  let peer: ScriptedPeer | undefined;
  const bEvents: S2sEvent[] = [];

  before(async () => {
    const pa = await reservePorts(A_IP);
    b = await startNode({ hosts: ["b.example"], ip: "127.0.33.2", s2s: { address: [addressOf(pa, "a.example")] } });
    a = await startNode({ hosts: ["a.example"], ip: pa.ip, s2s: { address: [addressOf(b, "b.example")] } }, pa);
    b.server.events$.subscribe((e) => bEvents.push(e));
  });

  after(async () => {
    peer?.close();
    await a?.stop();
    await b?.stop();
  });

  it("before <enable/> our stanza rides the peer's stream; after it, our own session carries it to a.example", async () => {
    const p = (peer = await ScriptedPeer.connect(b.ip, b.s2sPort));
    const id = await p.open("a.example", "b.example");
    assert.match(p.data, /<bidi xmlns='urn:xmpp:features:bidi'\/>/);
    p.write("<bidi xmlns='urn:xmpp:bidi'/>");
    p.write(`<db:result from='a.example' to='b.example'>${new Xep0185Keys(`secret-${A_IP}`).generate("b.example", "a.example", id)}</db:result>`);
    await p.waitFor(/<db:result[^>]*type='valid'/);
    // b verified over its own connection to a.example; with the link up, that idle connection is closed (XEP-0220 §2.1.2).
    await eventually(() => bEvents.some((e) => e.type === "bidi_up") && bEvents.some((e) => e.type === "closed" && e.remote === "a.example"), 30_000, "link up, verification connection closed");

    b.server.send(el("message", { from: "u@b.example", to: "echo@a.example", id: "over-link" }, NS.SERVER, el("body", {}, NS.SERVER, "1")));
    await p.waitFor(/id='over-link'/);

    p.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    await p.waitFor(/<enabled xmlns='urn:xmpp:sm:3'/);
    // a.example's echo comes back only if the stanza went to the real a.example server.
    const echoed = waitFor(b.server.stanzas$, (s) => s.attr("id") === "own-session" && s.attr("type") !== "error", 30_000, "echo of own-session");
    b.server.send(el("message", { from: "u@b.example", to: "echo@a.example", id: "own-session" }, NS.SERVER, el("body", {}, NS.SERVER, "2")));
    await echoed;
    assert.doesNotMatch(p.data, /id='own-session'/, "not written on the stream where SM was enabled");
  });
});
