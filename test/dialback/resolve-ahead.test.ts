import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { startDnsServer, type TestDnsServer } from "../helpers/dns-server.js";
import { RawPeer, streamHeader } from "../helpers/raw-peer.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { eventually } from "../helpers/wait.js";

/**
 * Dialback's receiving role resolves the domain a peer claims in its stream header (RFC 6120
 * §4.7.1 'from') as soon as it answers that header with the dialback feature, so the verification
 * that follows its db:result (XEP-0220 §2.1.2) starts without the DNS round trips. DNS only:
 * nobody is contacted before the db:result. A DNS server on loopback and a TCP "authoritative
 * server" that only counts the connections it gets.
 */
describe("dialback: the claimed domain is resolved ahead of db:result", () => {
  const B_IP = "127.0.0.61";
  const SINK_IP = "127.0.0.62";
  let dns: TestDnsServer;
  let b: TestNode;
  let sink: Server;
  const accepted: Socket[] = [];
  const peers: RawPeer[] = [];

  before(async () => {
    sink = createServer((s) => {
      s.on("error", () => {});
      accepted.push(s);
    });
    await new Promise<void>((resolve) => sink.listen(0, SINK_IP, resolve));
    const sinkPort = (sink.address() as { port: number }).port;
    dns = await startDnsServer({
      "_xmpp-server._tcp.a.example": { srv: [{ priority: 0, weight: 0, port: sinkPort, target: "xmpp.a.example" }] },
      "xmpp.a.example": { a: [SINK_IP] },
    });
    b = await startNode({ hosts: ["b.example"], ip: B_IP, plugins: { dns: { servers: [dns.address] } } });
  });

  after(async () => {
    for (const p of peers) p.destroy();
    for (const s of accepted) s.destroy();
    await b?.stop();
    await dns?.close();
    await new Promise<void>((resolve) => (sink ? sink.close(() => resolve()) : resolve()));
  });

  it("the header alone sends the DNS queries and connects nowhere; the db:result then connects", async () => {
    const peer = await RawPeer.connect(B_IP, b.s2sPort);
    peers.push(peer);
    peer.write(streamHeader({ from: "a.example", to: "b.example" }));
    await peer.waitFor(/<dialback xmlns='urn:xmpp:features:dialback'>/);
    // RFC 6120 §3.2.1: the SRV lookup, then the address of its target.
    await eventually(() => dns.count("_xmpp-server._tcp.a.example", "SRV") >= 1 && dns.count("xmpp.a.example", "A") >= 1, undefined, "the claimed domain's SRV and A queries");
    assert.equal(accepted.length, 0, "no connection to the claimed domain before its db:result");

    peer.write("<db:result from='a.example' to='b.example'>0123456789abcdef</db:result>");
    await eventually(() => accepted.length === 1, undefined, "the verification connection to a.example's server");
  });
});
