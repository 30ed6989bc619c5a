import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Xep0185Keys } from "../../plugins/dialback/dialback-keys.js";
import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { ScriptedPeer } from "../helpers/s2s-peer.js";
import { waitFor } from "../helpers/wait.js";
import { VirtualClock } from "../../core/clock/virtual-clock.js";

/** Inbound stream rules of RFC 6120 §4 and XEP-0220 on B, with A as the authoritative server of a.example. */
describe("inbound S2S stream rules", () => {
  let a: TestNode;
  let b: TestNode;
  const peers: ScriptedPeer[] = [];
  const aKeys = new Xep0185Keys("secret-127.0.0.21");

  async function peer(): Promise<ScriptedPeer> {
    const p = await ScriptedPeer.connect(b.ip, b.s2sPort);
    peers.push(p);
    return p;
  }

  /** A peer that authenticated a.example -> b.example with a valid dialback key. */
  async function authenticatedPeer(): Promise<ScriptedPeer> {
    const p = await peer();
    const id = await p.open("a.example", "b.example");
    p.write(`<db:result from='a.example' to='b.example'>${aKeys.generate("b.example", "a.example", id)}</db:result>`);
    await p.waitFor(/<db:result[^>]*type='valid'/);
    return p;
  }

  before(async () => {
    const pa = await reservePorts("127.0.0.21");
    b = await startNode({
      hosts: ["b.example"],
      ip: "127.0.0.22",
      listener: { max_stanza_size: 1000 },
      s2s: { address: [addressOf({ ip: pa.ip, s2sPort: pa.s2sPort }, "a.example"), addressOf({ ip: pa.ip, s2sPort: pa.s2sPort }, "sub.a.example")] },
    });
    a = await startNode({ hosts: ["a.example", "sub.a.example"], ip: pa.ip, s2s: { address: [addressOf(b, "b.example")] } }, pa);
  });

  after(async () => {
    for (const p of peers) p.close();
    await a?.stop();
    await b?.stop();
  });

  it("advertises dialback with errors (XEP-0220 §2.4.1)", async () => {
    const p = await peer();
    await p.open("a.example", "b.example");
    assert.match(p.data, /<dialback xmlns='urn:xmpp:features:dialback'><errors\/><\/dialback>/);
  });

  it("accepts a valid dialback key and delivers the pair's stanzas", async () => {
    const p = await authenticatedPeer();
    // B's answer to the ping goes to a.example over B's own outbound stream, so it reaches A: only
    // a ping that B accepted from this stream and delivered can produce it (waiting for B's outbound
    // "established" proved nothing: dialback verification opens that stream by itself).
    const answer = waitFor(a.server.stanzas$, (s) => s.attr("id") === "ping1", undefined, "B's answer to ping1 at A");
    p.write(`<iq from='a.example' to='b.example' type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const reply = await answer;
    assert.equal(reply.attr("from"), "b.example");
    assert.equal(reply.attr("to"), "a.example");
    assert.equal(p.streamError(), undefined);
  });

  it("refuses a wrong dialback key with type='invalid' and closes the stream", async () => {
    const p = await peer();
    await p.open("a.example", "b.example");
    p.write(`<db:result from='a.example' to='b.example'>${"0".repeat(64)}</db:result>`);
    await p.waitFor(/<db:result[^>]*type='invalid'/);
    await p.waitClosed();
    assert.equal(p.streamError(), "not-authorized");
  });

  it("answers a db:result for a domain it does not host with a dialback error (§2.4)", async () => {
    const p = await peer();
    await p.open("a.example", "b.example");
    p.write(`<db:result from='a.example' to='nothere.example'>abc</db:result>`);
    await p.waitFor(/<db:result[^>]*type='error'[^>]*>\s*<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/>/);
    assert.equal(p.closed, false);
  });

  it("answers db:verify as the authoritative server (§2.2.2)", async () => {
    const p = await peer();
    await p.open("x.example", "b.example");
    // B is authoritative for b.example: a key B itself generated verifies; another does not.
    p.write(`<db:verify from='x.example' to='b.example' id='s1'>${"ab".repeat(32)}</db:verify>`);
    await p.waitFor(/<db:verify[^>]*type='invalid'/);
    p.write(`<db:verify from='x.example' to='elsewhere.example' id='s2'>abcd</db:verify>`);
    await p.waitFor(/<db:verify[^>]*id='s2'[^>]*type='error'|<db:verify[^>]*type='error'[^>]*id='s2'/);
  });

  it("refuses a stanza before authentication with not-authorized", async () => {
    const p = await peer();
    await p.open("a.example", "b.example");
    p.write(`<message from='x@a.example' to='echo@b.example'><body>early</body></message>`);
    await p.waitClosed();
    assert.equal(p.streamError(), "not-authorized");
  });

  it("refuses a stanza whose from domain is not authenticated with invalid-from", async () => {
    const p = await authenticatedPeer();
    p.write(`<message from='mallory@evil.example' to='echo@b.example'><body>spoof</body></message>`);
    await p.waitClosed();
    assert.equal(p.streamError(), "invalid-from");
  });

  it("refuses a stanza to a domain that is not local with host-unknown", async () => {
    const p = await authenticatedPeer();
    p.write(`<message from='x@a.example' to='someone@c.example'><body>relay?</body></message>`);
    await p.waitClosed();
    assert.equal(p.streamError(), "host-unknown");
  });

  it("refuses a stanza without addresses with improper-addressing", async () => {
    const p = await authenticatedPeer();
    p.write(`<message to='echo@b.example'><body>no from</body></message>`);
    await p.waitClosed();
    assert.equal(p.streamError(), "improper-addressing");
  });

  it("authenticates a second domain pair on the same stream (XEP-0220 §3 multiplexing)", async () => {
    const p = await authenticatedPeer();
    const id = /<stream:stream[^>]*\sid='([^']+)'/.exec(p.data)![1]!;
    p.write(`<db:result from='sub.a.example' to='b.example'>${aKeys.generate("b.example", "sub.a.example", id)}</db:result>`);
    await p.waitFor(/<db:result[^>]*from='b.example'[^>]*to='sub.a.example'[^>]*type='valid'|<db:result[^>]*to='sub.a.example'[^>]*type='valid'/);
    // Subscribed before the stanza is written: events$ is hot and the bounce can come at once.
    const bounced = waitFor(b.server.events$, (e) => e.type === "stanza_bounced" && e.from === "x@sub.a.example", undefined, "the bounce of the 2nd pair's stanza");
    p.write(`<message from='x@sub.a.example' to='nobody@b.example' type='chat'><body>2nd pair</body></message>`);
    // Accepted (no stream error): the stanza is bounced back over S2S because nobody serves it.
    await bounced;
    assert.equal(p.streamError(), undefined);
  });

  it("refuses a stanza over max_stanza_size with policy-violation", async () => {
    const p = await authenticatedPeer();
    p.write(`<message from='x@a.example' to='echo@b.example'><body>${"x".repeat(2000)}</body></message>`);
    await p.waitClosed();
    assert.equal(p.streamError(), "policy-violation");
  });

  it("refuses restricted XML (a comment) with restricted-xml", async () => {
    const p = await peer();
    await p.open("a.example", "b.example");
    p.write(`<!-- hello -->`);
    await p.waitClosed();
    assert.equal(p.streamError(), "restricted-xml");
  });

  it("refuses an element it does not understand with unsupported-stanza-type", async () => {
    const p = await authenticatedPeer();
    p.write(`<foo xmlns='urn:example:foo'/>`);
    await p.waitClosed();
    assert.equal(p.streamError(), "unsupported-stanza-type");
  });

  it("refuses a second stream header", async () => {
    const p = await peer();
    await p.open("a.example", "b.example");
    p.write(`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='b.example' version='1.0'>`);
    await p.waitClosed();
    assert.ok(p.streamError(), `expected a stream error, got ${p.data}`);
  });
});

describe("inbound timeouts (virtual time)", () => {
  // B runs on a VirtualClock: its idle and negotiation timers fire only when the test moves the
  // clock, so neither races the machine's speed and each test can tell which one closed the stream.
  const clock = new VirtualClock();
  let b: TestNode;
  const peers: ScriptedPeer[] = [];

  before(async () => {
    b = await startNode({ hosts: ["b.example"], ip: "127.0.0.23", listener: { idle_timeout: 2, negotiation_timeout: 5 }, clock });
  });

  after(async () => {
    for (const p of peers) p.close();
    await b?.stop();
  });

  async function opened(): Promise<ScriptedPeer> {
    const p = await ScriptedPeer.connect(b.ip, b.s2sPort);
    peers.push(p);
    await p.open("a.example", "b.example");
    return p;
  }

  /** Talk without authenticating: a keepalive and a db:verify, answered, so B has read both. */
  async function talk(p: ScriptedPeer, n: number): Promise<void> {
    p.write(` <db:verify from='x.example' to='b.example' id='k${n}'>${"ab".repeat(32)}</db:verify>`);
    await p.waitFor(new RegExp(`<db:verify[^>]*id='k${n}'[^>]*type='invalid'|<db:verify[^>]*type='invalid'[^>]*id='k${n}'`));
  }

  it("closes an idle stream with connection-timeout (idle timeout)", async () => {
    const p = await opened();
    clock.advance(1999);
    await talk(p, 0); // still open at 1.999 s: the verify is answered
    clock.advance(2000); // 2 s after the last byte, 3.999 s after the connection: idle, not negotiation

    await p.waitClosed();
    assert.equal(p.streamError(), "connection-timeout");
    assert.match(p.data, /<text[^>]*>idle timeout<\/text>/);
  });

  it("closes a stream that keeps talking but never authenticates (negotiation deadline)", async () => {
    const p = await opened();
    // Traffic every 1.5 s resets the 2 s idle timer (RFC 6120 §4.6.1) but not the 5 s negotiation deadline.
    for (let n = 0; n < 3; n++) {
      clock.advance(1500);
      await talk(p, n);
    }
    assert.equal(p.closed, false, "4.5 s: no deadline passed yet");
    clock.advance(500);
    await p.waitClosed();
    assert.equal(p.streamError(), "connection-timeout");
    assert.match(p.data, /<text[^>]*>stream negotiation took too long<\/text>/);
  });
});

describe("dialback verification limits", () => {
  it("answers resource-constraint once a stream has 10 verifications under way", async () => {
    const { createServer } = await import("node:net");
    const held: import("node:net").Socket[] = [];
    const silent = createServer((s) => { held.push(s); s.on("error", () => {}); });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.25", r));
    const port = (silent.address() as { port: number }).port;
    const claimed = Array.from({ length: 11 }, (_, i) => `d${i}.example`);
    const b = await startNode({ hosts: ["b.example"], ip: "127.0.0.24", s2s: { address: claimed.map((host) => ({ host, ip_address: "127.0.0.25", port })) }, plugins: { tcp: { negotiation_timeout: 60 } } });
    const p = await ScriptedPeer.connect(b.ip, b.s2sPort);
    try {
      await p.open("d0.example", "b.example");
      for (const d of claimed) p.write(`<db:result from='${d}' to='b.example'>${"ab".repeat(32)}</db:result>`);
      await p.waitFor(/<db:result[^>]*to='d10\.example'[^>]*type='error'[^>]*>\s*<error type='wait'><resource-constraint|<db:result[^>]*type='error'[^>]*to='d10\.example'[^>]*>\s*<error type='wait'><resource-constraint/);
      // The first ten are still waiting for their authoritative servers: no answer for them yet.
      assert.doesNotMatch(p.data, /to='d0\.example'[^>]*type=/);
    } finally {
      p.close();
      await b.stop();
      for (const s of held) s.destroy();
      silent.close();
    }
  });
});
