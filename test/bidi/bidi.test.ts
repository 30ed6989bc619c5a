/**
 * XEP-0288 between two of our servers over real sockets: with bidi, one TCP connection carries both
 * directions (counted from both servers' `connected` and `inbound_accepted` events); with bidi off
 * on either side, two connections as before. Stanzas are delivered both ways in every case.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { el, NS } from "../../core/xml/element.js";
import type { S2sEvent } from "../../core/events/events.js";
import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority } from "../helpers/certs.js";
import { eventually, waitFor } from "../helpers/wait.js";
import { RawPeer, streamHeader } from "../helpers/raw-peer.js";
import { FakeReceivingServer } from "./fake-receiving-server.js";
import { MAX_EARLY_STANZAS } from "../../core/session/bidi-reverse.js";

let dir: string;
let ca: CertAuthority;
let ipCounter = 40;

interface Pair {
  readonly a: TestNode;
  readonly b: TestNode;
  readonly events: Array<{ node: "a" | "b"; event: S2sEvent }>;
  stop(): Promise<void>;
}

/**
 * a.example and b.example, certificates from one CA (SASL EXTERNAL both ways), bidi as given.
 * XEP-0198 off unless `sm`: where both are on offer, stream management wins and bidi is not asked for.
 */
async function pair(bidiA: boolean, bidiB: boolean, sm = false): Promise<Pair> {
  const ipA = `127.0.3.${ipCounter++}`;
  const ipB = `127.0.3.${ipCounter++}`;
  const pa = await reservePorts(ipA);
  const pb = await reservePorts(ipB);
  const node = (domain: string, ip: string, bidi: boolean, peer: { ip: string; s2sPort: number }, peerDomain: string, ports: { s2sPort: number; servicePort: number }) =>
    startNode({
      hosts: [domain],
      ip,
      s2s: { use_starttls: "required", certfile: makeLeaf(ca, { domains: [domain] }).certfile, cacertfile: ca.cafile, address: [addressOf(peer, peerDomain)] },
      plugins: { tcp: { bidi }, ...(sm ? {} : { stream_management: { enabled: false } }) },
    }, ports);
  const b = await node("b.example", ipB, bidiB, pa, "a.example", pb);
  const a = await node("a.example", ipA, bidiA, pb, "b.example", pa);
  const events: Pair["events"] = [];
  a.server.events$.subscribe((event) => events.push({ node: "a", event }));
  b.server.events$.subscribe((event) => events.push({ node: "b", event }));
  return { a, b, events, stop: async () => { await a.stop(); await b.stop(); } };
}

function message(from: string, to: string, id: string): ReturnType<typeof el> {
  return el("message", { from, to, id }, NS.SERVER, el("body", {}, NS.SERVER, id));
}

/** `count` messages from `from` on `sender` to echo@`echoDomain`; resolves with the ids echoed back. */
async function echoes(sender: TestNode, from: string, echoDomain: string, prefix: string, count: number): Promise<Set<string>> {
  const got = new Set<string>();
  const done = waitFor(sender.server.stanzas$, (s) => {
    const id = s.attr("id") ?? "";
    if (id.startsWith(prefix) && s.attr("type") !== "error") got.add(id);
    else if (id.startsWith(prefix)) throw new Error(`bounced: ${String(s)}`);
    return got.size === count;
  }, 30_000, `${count} echoes of ${prefix}`);
  for (let i = 0; i < count; i++) sender.server.send(message(from, `echo@${echoDomain}`, `${prefix}${i}`));
  await done;
  return got;
}

/** TCP connections between the two: outbound connects made by either, and accepts seen by either. */
function connections(p: Pair): { connected: number; accepted: number } {
  return {
    connected: p.events.filter((e) => e.event.type === "connected").length,
    accepted: p.events.filter((e) => e.event.type === "inbound_accepted").length,
  };
}

describe("XEP-0288 bidirectional streams between two of our servers", () => {
  const stops: Array<() => Promise<void>> = [];
  before(() => {
    dir = makeCertDir();
    ca = makeCa(dir, "Bidi test CA");
  });
  after(async () => {
    for (const s of stops) await s();
    removeCertDir(dir);
  });

  it("bidi on both sides: both directions over one TCP connection, every stanza delivered", async () => {
    const p = await pair(true, true);
    stops.push(p.stop);
    // a opens; b's echo answers over a's connection (b sends nothing on a connection of its own).
    assert.equal((await echoes(p.a, "u@a.example", "b.example", "ab-", 200)).size, 200);
    // Now b starts the conversation: its stanzas ride the same connection, and so do a's echoes.
    assert.equal((await echoes(p.b, "v@b.example", "a.example", "ba-", 200)).size, 200);
    assert.deepEqual(connections(p), { connected: 1, accepted: 1 }, "one TCP connection, made by a");
    assert.ok(p.events.some((e) => e.node === "a" && e.event.type === "connected"), "a made it");
    const bidi = p.events.filter((e) => e.event.type === "bidi_up").map((e) => [e.node, (e.event as { over: string }).over]);
    assert.deepEqual(bidi.sort(), [["a", "outbound"], ["b", "inbound"]]);
    const authenticated = p.events.filter((e) => e.event.type === "authenticated").map((e) => [e.node, (e.event as { direction: string; method: string }).direction, (e.event as { method: string }).method]);
    assert.deepEqual(authenticated.sort(), [["a", "outbound", "sasl_external"], ["b", "inbound", "sasl_external"]]);
  });

  it("bidi with dialback: the receiving server verifies over a connection of its own (XEP-0288 §2.2), closed once it has served: one left", async () => {
    const ipA = `127.0.3.${ipCounter++}`;
    const ipB = `127.0.3.${ipCounter++}`;
    const pa = await reservePorts(ipA);
    const pb = await reservePorts(ipB);
    const noSm = { stream_management: { enabled: false } };
    const b = await startNode({ hosts: ["b.example"], ip: ipB, s2s: { address: [addressOf(pa, "a.example")] }, plugins: noSm }, pb);
    const a = await startNode({ hosts: ["a.example"], ip: ipA, s2s: { address: [addressOf(pb, "b.example")] }, plugins: noSm }, pa);
    const events: Pair["events"] = [];
    a.server.events$.subscribe((event) => events.push({ node: "a", event }));
    b.server.events$.subscribe((event) => events.push({ node: "b", event }));
    const p: Pair = { a, b, events, stop: async () => { await a.stop(); await b.stop(); } };
    stops.push(p.stop);
    assert.equal((await echoes(a, "u@a.example", "b.example", "dab-", 50)).size, 50);
    // b verified a's key over b's own connection to a; once that stream was up with nothing to carry, b closed it.
    await eventually(() => events.some((e) => e.node === "b" && e.event.type === "closed" && e.event.remote === "a.example"), 20_000, "b's verification connection closed");
    assert.equal((await echoes(b, "v@b.example", "a.example", "dba-", 50)).size, 50);
    const live = (node: "a" | "b") => events.filter((e) => e.node === node && e.event.type === "connected").length - events.filter((e) => e.node === node && e.event.type === "closed").length;
    assert.deepEqual({ a: live("a"), b: live("b") }, { a: 1, b: 0 }, "one connection left, a's, carrying both directions");
    assert.deepEqual(connections(p), { connected: 2, accepted: 2 }, "the verification connection was made, then closed");
    assert.ok(events.some((e) => e.node === "b" && e.event.type === "bidi_up" && e.event.over === "inbound"));
    const methods = new Set(events.filter((e) => e.event.type === "authenticated").map((e) => (e.event as { method: string }).method));
    assert.deepEqual([...methods], ["dialback"]);
  });

  it("bidi and XEP-0198 both on (the defaults): stream management wins, each direction on its own acknowledged stream", async () => {
    const p = await pair(true, true, true);
    stops.push(p.stop);
    assert.equal((await echoes(p.a, "u@a.example", "b.example", "ab-", 50)).size, 50);
    assert.equal((await echoes(p.b, "v@b.example", "a.example", "ba-", 50)).size, 50);
    assert.deepEqual(connections(p), { connected: 2, accepted: 2 });
    assert.deepEqual(p.events.filter((e) => e.event.type === "bidi_up"), [], "bidi not asked for");
    const offered = (by: "a" | "b") => p.events.some((e) => e.node !== by && e.event.type === "stream_features" && e.event.features.includes("bidi") && e.event.features.includes("sm"));
    assert.deepEqual([offered("a"), offered("b")], [true, true], "both were on offer");
  });

  for (const [bidiA, bidiB] of [[false, true], [true, false]] as const) {
    it(`bidi ${bidiA ? "on" : "off"} on the initiator, ${bidiB ? "on" : "off"} on the receiver: two connections, as without XEP-0288`, async () => {
      const p = await pair(bidiA, bidiB);
      stops.push(p.stop);
      assert.equal((await echoes(p.a, "u@a.example", "b.example", "ab-", 50)).size, 50);
      assert.equal((await echoes(p.b, "v@b.example", "a.example", "ba-", 50)).size, 50);
      assert.deepEqual(connections(p), { connected: 2, accepted: 2 });
      assert.deepEqual(p.events.filter((e) => e.event.type === "bidi_up"), []);
      // Each offers bidi exactly when it has it on (stream_features: what a node's outbound stream was offered).
      const offered = (by: "a" | "b") => p.events.some((e) => e.node !== by && e.event.type === "stream_features" && e.event.features.includes("bidi"));
      assert.deepEqual([offered("a"), offered("b")], [bidiA, bidiB]);
    });
  }
});

describe("XEP-0288: nothing from a domain that is not authenticated", () => {
  const stops: Array<() => Promise<void>> = [];
  after(async () => {
    for (const s of stops) await s();
  });

  /** Our a.example (plaintext, dialback) sending to b.example, which is a scripted receiving server. */
  async function towardsFake(features: string) {
    const fake = await FakeReceivingServer.start("127.0.3.2", "b.example", features);
    const a = await startNode({ hosts: ["a.example"], ip: "127.0.3.1", s2s: { address: [{ host: "b.example", ip_address: fake.host, port: fake.port }] } });
    stops.push(async () => { await a.stop(); await fake.stop(); });
    const got: string[] = [];
    a.server.stanzas$.subscribe((s) => got.push(s.attr("id") ?? ""));
    a.server.send(message("u@a.example", "x@b.example", "first"));
    return { fake, a, got };
  }

  it("our outbound stream asks for bidi before dialback, accepts the peer's own pair, and fails the stream on a stanza from another domain", async () => {
    const { fake, a, got } = await towardsFake("<bidi xmlns='urn:xmpp:features:bidi'/><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>");
    const result = await fake.waitFor(/<db:result [^>]*>[^<]+<\/db:result>/);
    // XEP-0288 §2.2: the request comes before authentication.
    const asked = fake.text.search(/<bidi xmlns=["']urn:xmpp:bidi["']\/>/);
    assert.ok(asked !== -1 && asked < result.index, `bidi asked for before db:result: ${fake.text}`);
    const delivered = waitFor(a.server.stanzas$, (s) => s.attr("id") === "ok", 20_000, "the peer's own stanza");
    // Valid, then at once (same segment) a stanza from the stream's own pair: held, then accepted.
    fake.write("<db:result from='b.example' to='a.example' type='valid'/><message from='x@b.example' to='u@a.example' id='ok'><body>hi</body></message>");
    await delivered;
    await fake.waitFor(/<message [^>]*id=["']first["']/);
    // XEP-0288 §2.2: the peer may ask to authenticate another of its domains on our stream; we answer
    // with a dialback error (XEP-0220 §2.4), and the stream stays up.
    fake.write("<db:result from='muc.b.example' to='a.example'>0123abcd</db:result>");
    await fake.waitFor(/<db:result [^>]*type=["']error["'][^>]*>.*<not-acceptable /);
    const stillUp = waitFor(a.server.stanzas$, (s) => s.attr("id") === "ok2", 20_000, "a stanza after the dialback error");
    fake.write("<message from='x@b.example' to='u@a.example' id='ok2'/>");
    await stillUp;
    // A stanza from a domain nobody authenticated, even after a typed db:result claiming it (XEP-0288 §4).
    fake.write("<db:result from='evil.example' to='a.example' type='valid'/><message from='m@evil.example' to='u@a.example' id='spoof'/>");
    await fake.waitFor(/<stream:error><invalid-from /);
    await fake.waitClosed();
    assert.deepEqual(got.filter((id) => id === "ok" || id === "ok2" || id === "spoof"), ["ok", "ok2"]);
  });

  it("stanzas the peer sends before our authentication succeeded are never delivered when it fails", async () => {
    const { fake, got } = await towardsFake("<bidi xmlns='urn:xmpp:features:bidi'/><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>");
    await fake.waitFor(/<db:result [^>]*>[^<]+<\/db:result>/);
    // Two writes: two TCP segments most of the time, so the stanza is really held before the answer is read.
    fake.write("<message from='x@b.example' to='u@a.example' id='early'/>");
    fake.write("<db:result from='b.example' to='a.example' type='invalid'/>");
    await fake.waitClosed();
    // The bounce of "first" comes back to its sender (the failure went all the way); "early" never does.
    await eventually(() => got.includes("first"), 20_000, "the bounce of 'first'");
    assert.equal(got.includes("early"), false, JSON.stringify(got));
  });

  it("a peer that floods stanzas before our authentication is known to have succeeded: the stream ends, nothing delivered", async () => {
    const { fake, got } = await towardsFake("<bidi xmlns='urn:xmpp:features:bidi'/><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>");
    await fake.waitFor(/<db:result [^>]*>[^<]+<\/db:result>/);
    let flood = "";
    for (let i = 0; i <= MAX_EARLY_STANZAS; i++) flood += `<message from='x@b.example' to='u@a.example' id='flood-${i}'/>`;
    fake.write(flood);
    await fake.waitFor(/<stream:error><policy-violation /);
    await fake.waitClosed();
    await eventually(() => got.includes("first"), 20_000, "the bounce of 'first'");
    assert.equal(got.some((id) => id.startsWith("flood-")), false);
  });

  it("without the feature we do not ask, and a stanza on our outbound stream is refused", async () => {
    const { fake, got } = await towardsFake("<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>");
    await fake.waitFor(/<db:result [^>]*>[^<]+<\/db:result>/);
    assert.doesNotMatch(fake.text, /urn:xmpp:bidi/);
    fake.write("<db:result from='b.example' to='a.example' type='valid'/><message from='x@b.example' to='u@a.example' id='no-bidi'/>");
    await fake.waitFor(/<stream:error><unsupported-stanza-type /);
    assert.equal(got.includes("no-bidi"), false);
  });

  it("our inbound stream: a peer that asked for bidi but authenticated nothing gets none of our stanzas and cannot send", async () => {
    const ipA = "127.0.3.5";
    const ipB = "127.0.3.6";
    const pa = await reservePorts(ipA);
    const pb = await reservePorts(ipB);
    const noSm = { stream_management: { enabled: false } };
    const b = await startNode({ hosts: ["b.example"], ip: ipB, s2s: { address: [addressOf(pa, "a.example")] }, plugins: noSm }, pb);
    const a = await startNode({ hosts: ["a.example"], ip: ipA, s2s: { address: [addressOf(pb, "b.example")] }, plugins: noSm }, pa);
    stops.push(async () => { await a.stop(); await b.stop(); });
    const peer = await RawPeer.connect(ipB, pb.s2sPort);
    stops.push(async () => peer.destroy());
    peer.write(streamHeader({ from: "a.example", to: "b.example" }));
    await peer.waitFor(/<bidi xmlns=["']urn:xmpp:features:bidi["']\/>/);
    peer.write("<bidi xmlns='urn:xmpp:bidi'/>");
    // b has something for a.example: it goes over b's own connection to the real a.example, not to this peer.
    const echoed = waitFor(b.server.stanzas$, (s) => s.attr("id") === "to-a", 20_000, "echo from a.example");
    b.server.send(message("v@b.example", "echo@a.example", "to-a"));
    assert.equal((await echoed).attr("type"), undefined);
    assert.doesNotMatch(peer.text, /<message/);
    peer.write("<message from='m@a.example' to='v@b.example' id='unauth'/>");
    await peer.waitFor(/<stream:error><not-authorized /);
    await peer.closed();
  });
});

