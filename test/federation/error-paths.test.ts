import "reflect-metadata";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { xml } from "@xmpp/component";
import { Xep0185Keys } from "../../plugins/dialback/dialback-keys.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { connectComponent } from "../helpers/component.js";
import { ScriptedPeer } from "../helpers/s2s-peer.js";
import { errorCondition } from "../helpers/stanzas.js";
import { freePort } from "../helpers/ports.js";
import { waitFor } from "../helpers/wait.js";

/** Stream errors, dialback errors and bounces not covered elsewhere, each over a real socket. */
describe("error paths over real sockets", () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  const node = async (options: Parameters<typeof startNode>[0]): Promise<TestNode> => {
    const n = await startNode(options);
    cleanup.push(() => n.stop());
    return n;
  };
  const peer = async (n: TestNode): Promise<ScriptedPeer> => {
    const p = await ScriptedPeer.connect(n.ip, n.s2sPort);
    cleanup.push(() => p.close());
    return p;
  };

  it("STARTTLS where it is not offered gets <failure/> and the stream closes (RFC 6120 §5.4.2.2)", async () => {
    const b = await node({ hosts: ["b.example"], ip: "127.0.0.141" });
    const p = await peer(b);
    await p.open("a.example", "b.example");
    assert.doesNotMatch(p.data, /starttls/);
    p.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await p.waitFor(/<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/);
    await p.waitClosed();
    assert.match(p.data, /<\/stream:stream>$/);
  });

  it("a stream error from an inbound peer closes our side too", async () => {
    const b = await node({ hosts: ["b.example"], ip: "127.0.0.142" });
    const p = await peer(b);
    await p.open("a.example", "b.example");
    p.write(`<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`);
    await p.waitClosed();
    assert.match(p.data, /<\/stream:stream>$/);
    assert.equal(p.streamError(), undefined, "we answer a stream error with a close, not another error");
  });

  it("dialback for a domain whose authoritative server cannot be reached gets remote-server-not-found (XEP-0220 §2.4)", async () => {
    const dead = await freePort("127.0.0.144");
    const b = await node({ hosts: ["b.example"], ip: "127.0.0.143", s2s: { address: [{ host: "gone.example", ip_address: "127.0.0.144", port: dead }] } });
    const p = await peer(b);
    await p.open("gone.example", "b.example");
    p.write(`<db:result from='gone.example' to='b.example'>${"ab".repeat(32)}</db:result>`);
    await p.waitFor(/<db:result[^>]*type='error'[^>]*>\s*<error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/>/);
    assert.equal(p.closed, false, "a dialback error is not a stream error");
  });

  it("a stanza without 'to' from a component bounces jid-malformed", async () => {
    const a = await node({ hosts: ["a.example"], ip: "127.0.0.145", componentPassword: "pw" });
    const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
    cleanup.push(() => bot.stop());
    await bot.send(xml("message", { from: "u@bot.a.example", id: "nt1" }, xml("body", {}, "to whom?")));
    const bounce = await bot.next((s) => s.attrs.id === "nt1");
    assert.equal(bounce.attrs.type, "error");
    assert.equal(errorCondition(bounce), "jid-malformed");
  });

  it("reload closes an inbound stream of a now-denied domain with policy-violation", async () => {
    const a = await node({ hosts: ["a.example"], ip: "127.0.0.146" });
    const b = await node({ hosts: ["b.example"], ip: "127.0.0.147", s2s: { address: [{ host: "a.example", ip_address: a.ip, port: a.s2sPort }] } });
    const p = await peer(b);
    const id = await p.open("a.example", "b.example");
    p.write(`<db:result from='a.example' to='b.example'>${new Xep0185Keys("secret-127.0.0.146").generate("b.example", "a.example", id)}</db:result>`);
    await p.waitFor(/<db:result[^>]*type='valid'/);
    const c = b.server.config;
    await b.server.reload({
      general: { hosts: [...c.general.hosts] },
      listen: { s2s: [{ port: b.s2sPort, ip_address: b.ip }] },
      s2s: { use_starttls: "false", shared: c.s2s.shared, address: [{ host: "a.example", ip_address: a.ip, port: a.s2sPort }], host_policy: [{ host: "a.example", policy: "deny" }] },
    });
    await p.waitClosed();
    assert.equal(p.streamError(), "policy-violation");
  });

  it("a stanza sent to us on our own outbound stream gets unsupported-stanza-type", async () => {
    // A receiving server that accepts our dialback key without checking, then sends a stanza the
    // wrong way (no XEP-0288 bidirectionality was negotiated).
    const sockets: Socket[] = [];
    let received = "";
    const fake = createServer((s) => {
      sockets.push(s);
      s.setEncoding("utf8");
      s.on("error", () => {});
      s.on("data", (chunk: string) => {
        received += chunk;
        if (/<stream:stream/.test(chunk)) {
          s.write(`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='fake' from='c.example' version='1.0'><stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`);
        }
        if (/<db:result/.test(chunk)) s.write(`<db:result from='c.example' to='bot.a.example' type='valid'/>`);
        // Once our queued stanza arrives (the session is established), answer the wrong way.
        if (/<message/.test(chunk)) s.write(`<message from='x@c.example' to='u@bot.a.example'><body>wrong way</body></message>`);
      });
    });
    await new Promise<void>((r) => fake.listen(0, "127.0.0.149", r));
    cleanup.push(() => {
      for (const s of sockets) s.destroy();
      fake.close();
    });
    const port = (fake.address() as { port: number }).port;
    const a = await node({ hosts: ["a.example"], ip: "127.0.0.148", componentPassword: "pw", s2s: { address: [{ host: "c.example", ip_address: "127.0.0.149", port }] } });
    const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
    cleanup.push(() => bot.stop());
    const established = waitFor(a.server.events$, (e) => e.type === "established" && e.remote === "c.example");
    await bot.send(xml("message", { from: "u@bot.a.example", to: "x@c.example", id: "ww1" }, xml("body", {}, "hello")));
    await established;
    await waitFor(a.server.events$, (e) => e.type === "closed" && e.remote === "c.example");
    assert.match(received, /<stream:error><unsupported-stanza-type xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    assert.equal(bot.received.some((s) => s.attrs.from === "x@c.example" && s.attrs.type !== "error"), false, "nothing from the wrong direction is delivered");
  });
});
