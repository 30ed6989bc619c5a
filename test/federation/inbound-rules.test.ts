import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Xep0185Keys } from "../../plugins/dialback/dialback-keys.js";
import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { ScriptedPeer } from "../helpers/s2s-peer.js";

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
    p.write(`<iq from='a.example' to='b.example' type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    // The answer goes back over B's own outbound stream to A; on this stream we see no error.
    const event = await new Promise<boolean>((resolve) => {
      const sub = b.server.events$.subscribe((e) => {
        if (e.type === "established" && e.remote === "a.example") {
          sub.unsubscribe();
          resolve(true);
        }
      });
      setTimeout(() => resolve(false), 20_000).unref();
    });
    assert.equal(event, true);
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
    p.write(`<message from='x@sub.a.example' to='nobody@b.example' type='chat'><body>2nd pair</body></message>`);
    // Accepted (no stream error): the stanza is bounced back over S2S because nobody serves it.
    await new Promise<void>((resolve, reject) => {
      const sub = b.server.events$.subscribe((e) => {
        if (e.type === "stanza_bounced" && e.from === "x@sub.a.example") {
          sub.unsubscribe();
          resolve();
        }
      });
      setTimeout(() => reject(new Error("no bounce")), 20_000).unref();
    });
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

describe("inbound timeouts", () => {
  let b: TestNode;
  const peers: ScriptedPeer[] = [];

  before(async () => {
    b = await startNode({ hosts: ["b.example"], ip: "127.0.0.23", listener: { idle_timeout: 0.5, negotiation_timeout: 0.8 } });
    // Keepalives every 100 ms against a 2 s idle timeout: a busy machine can delay them by a
    // second or more without the idle timer firing before the 4 s negotiation deadline.
    keepalives = await startNode({ hosts: ["b.example"], ip: "127.0.0.26", listener: { idle_timeout: 2, negotiation_timeout: 4 } });
  });

  let keepalives: TestNode;

  after(async () => {
    for (const p of peers) p.close();
    await b?.stop();
    await keepalives?.stop();
  });

  it("closes an idle stream with connection-timeout", async () => {
    const p = await ScriptedPeer.connect(b.ip, b.s2sPort);
    peers.push(p);
    await p.open("a.example", "b.example");
    await p.waitClosed();
    assert.equal(p.streamError(), "connection-timeout");
  });

  it("closes a stream that keeps talking but never authenticates", async () => {
    const p = await ScriptedPeer.connect(keepalives.ip, keepalives.s2sPort);
    peers.push(p);
    await p.open("a.example", "b.example");
    // Whitespace keepalives reset the idle timer (RFC 6120 §4.6.1) but not the negotiation deadline.
    const keepalive = setInterval(() => p.write(" "), 100);
    try {
      await p.waitClosed();
    } finally {
      clearInterval(keepalive);
    }
    assert.equal(p.streamError(), "connection-timeout");
    assert.match(p.data, /negotiation/);
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
