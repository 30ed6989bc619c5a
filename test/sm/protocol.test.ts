/**
 * XEP-0198 on an inbound S2S stream, on the wire (B receives, A is the authoritative server of
 * a.example and c.example): the feature, enable only after authentication, `<r/>`/`<a h/>` counts,
 * resumption with the right `h`, and the S2S security rule: a session is resumed only on a stream
 * authenticated for the same pair (XEP-0198 §9), another domain gets the same `<failed/>` as an
 * unknown id. Plus: SM off (`[plugins.stream_management] enabled = false`) offers nothing.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Xep0185Keys } from "../../plugins/dialback/dialback-keys.js";
import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { ScriptedPeer } from "../helpers/s2s-peer.js";
import { waitFor } from "../helpers/wait.js";
import { el, type XmlElement } from "../../core/xml/element.js";
import type { S2sEvent } from "../../core/events/events.js";

const SM = "urn:xmpp:sm:3";
const A_IP = "127.0.32.1";

describe("XEP-0198 on the wire (inbound)", () => {
  let a: TestNode;
  let b: TestNode;
  let off: TestNode;
  const peers: ScriptedPeer[] = [];
  const aKeys = new Xep0185Keys(`secret-${A_IP}`);

  async function authenticated(node: TestNode, from = "a.example"): Promise<ScriptedPeer> {
    const p = await ScriptedPeer.connect(node.ip, node.s2sPort);
    peers.push(p);
    const id = await p.open(from, "b.example");
    p.write(`<db:result from='${from}' to='b.example'>${aKeys.generate("b.example", from, id)}</db:result>`);
    await p.waitFor(new RegExp(`<db:result[^>]*to='${from}'[^>]*type='valid'|<db:result[^>]*type='valid'[^>]*to='${from}'`));
    return p;
  }

  const message = (i: number, from = "a.example") => `<message from='u@${from}' to='nobody@b.example' id='m${i}'><body>${i}</body></message>`;

  before(async () => {
    const pa = await reservePorts(A_IP);
    const toA = ["a.example", "c.example"].map((d) => addressOf(pa, d));
    b = await startNode({ hosts: ["b.example"], ip: "127.0.32.2", s2s: { address: toA }, plugins: { stream_management: { resume_window: 30 } } });
    off = await startNode({ hosts: ["b.example"], ip: "127.0.32.3", s2s: { address: toA }, plugins: { stream_management: { enabled: false } } });
    a = await startNode({ hosts: ["a.example", "c.example"], ip: pa.ip, s2s: { address: [addressOf(b, "b.example")] } }, pa);
    a.server.events$.subscribe((e) => aEvents.push(e));
  });
  const aEvents: S2sEvent[] = [];

  after(async () => {
    for (const p of peers) p.close();
    await a?.stop();
    await b?.stop();
    await off?.stop();
  });

  it("offers <sm/> and refuses <enable/> before authentication (unexpected-request)", async () => {
    const p = await ScriptedPeer.connect(b.ip, b.s2sPort);
    peers.push(p);
    await p.open("a.example", "b.example");
    assert.match(p.data, /<sm xmlns='urn:xmpp:sm:3'\/>/);
    p.write(`<enable xmlns='${SM}' resume='true'/>`);
    await p.waitFor(/<failed xmlns='urn:xmpp:sm:3'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/><\/failed>/);
  });

  it("counts handled stanzas, answers <r/>, and resumes on a new stream with the count", async () => {
    const p = await authenticated(b);
    p.write(`<enable xmlns='${SM}' resume='true'/>`);
    const [, id, max] = (await p.waitFor(/<enabled xmlns='urn:xmpp:sm:3' id='([0-9a-f]+)' resume='true' max='(\d+)'\/>/));
    assert.equal(max, "30");
    // Stanzas to an unknown local user are bounced by B's delivery: still "handled" (§4).
    for (let i = 0; i < 5; i++) p.write(message(i));
    p.write(`<r xmlns='${SM}'/>`);
    await p.waitFor(/<a xmlns='urn:xmpp:sm:3' h='5'\/>/);
    // The link breaks (no closing tag): the session waits for resumption.
    const gone = waitFor(b.server.events$, (e) => e.type === "inbound_closed");
    p.socket.destroy();
    await gone;

    // Another domain, even authenticated, cannot take it over; the answer is that of an unknown id.
    const intruder = await authenticated(b, "c.example");
    intruder.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    await intruder.waitFor(/<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/><\/failed>/);
    assert.doesNotMatch(intruder.data, /<resumed/);
    intruder.write(`<resume xmlns='${SM}' previd='00000000000000000000000000000000' h='0'/>`);
    await intruder.waitFor(/(<failed xmlns='urn:xmpp:sm:3'><item-not-found[^>]*\/><\/failed>[\s\S]*){2}/);

    // Not before authentication either.
    const early = await ScriptedPeer.connect(b.ip, b.s2sPort);
    peers.push(early);
    await early.open("a.example", "b.example");
    early.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    await early.waitFor(/<failed xmlns='urn:xmpp:sm:3'><unexpected-request/);

    // The same pair on a new stream resumes, and learns that 5 were handled.
    const back = await authenticated(b);
    const resumed = waitFor(b.server.events$, (e) => e.type === "sm_resumed");
    back.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    await back.waitFor(new RegExp(`<resumed xmlns='urn:xmpp:sm:3' previd='${id}' h='5'/>`));
    assert.equal((await resumed).type, "sm_resumed");
    back.write(message(5));
    back.write(`<r xmlns='${SM}'/>`);
    await back.waitFor(/<a xmlns='urn:xmpp:sm:3' h='6'\/>/);
    // A clean close ends the session (§5): a later resumption fails but still says what was handled.
    back.write("</stream:stream>");
    await back.waitFor(/<a xmlns='urn:xmpp:sm:3' h='6'\/>[\s\S]*<\/stream:stream>/);
    const last = await authenticated(b);
    last.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    await last.waitFor(/<failed xmlns='urn:xmpp:sm:3' h='6'><item-not-found/);
  });

  it("a second <enable/> on a stream is refused; <r/> without SM is a stream error", async () => {
    const p = await authenticated(b);
    p.write(`<r xmlns='${SM}'/>`);
    await p.waitFor(/<stream:error><unsupported-stanza-type/);
    const q = await authenticated(b);
    q.write(`<enable xmlns='${SM}'/>`);
    await q.waitFor(/<enabled xmlns='urn:xmpp:sm:3'\/>/);
    q.write(`<enable xmlns='${SM}' resume='true'/>`);
    await q.waitFor(/<failed xmlns='urn:xmpp:sm:3'><unexpected-request/);
  });

  it("with the plugin disabled nothing is offered and SM elements are unsupported, as before", async () => {
    const p = await authenticated(off);
    assert.doesNotMatch(p.data, /urn:xmpp:sm:3/);
    p.write(`<enable xmlns='${SM}' resume='true'/>`);
    await p.waitFor(/<stream:error><unsupported-stanza-type/);
  });

  it("ours <-> ours: A enables SM with resumption on its outbound stream to B", async () => {
    const got = waitFor(a.server.stanzas$, (s: XmlElement) => s.attr("id") === "echo1");
    a.server.send(elMessage());
    await got;
    const e = aEvents.find((e) => e.type === "sm_enabled" && e.direction === "outbound" && e.remote === "b.example");
    assert.ok(e && e.type === "sm_enabled" && e.resume, JSON.stringify(aEvents.map((x) => x.type)));
  });
});

function elMessage(): XmlElement {
  return el("message", { from: "u@a.example", to: "echo@b.example", id: "echo1" }, "jabber:server", el("body", {}, "jabber:server", "hi"));
}
