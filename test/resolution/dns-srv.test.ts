import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { xml } from "@xmpp/component";
import type { S2sEvent } from "../../core/events/events.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { startDnsServer, type TestDnsServer } from "../helpers/dns-server.js";
import { freePort } from "../helpers/ports.js";
import { reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { eventually } from "../helpers/wait.js";

/**
 * Two servers that find each other only through DNS (a DNS server on loopback, `[plugins.dns]
 * servers`), as RFC 6120 §3.2 and XEP-0368 say: SRV priority order, merged xmpps/xmpp records,
 * the "." target, the A fallback on `outgoing.port`, `ip_versions` order and `s2s.address`
 * winning over DNS. Node A (a.example, with the component bot.a.example) sends; node B serves
 * one domain per scenario.
 */
describe("finding peers through DNS", () => {
  const A_IP = "127.0.0.41";
  const B_IP = "127.0.0.42";
  const SINK_IP = "127.0.0.43";
  let dns: TestDnsServer;
  let a: TestNode;
  let b: TestNode;
  let bot: TestComponent;
  let sink: Server;
  const sinkSockets: Socket[] = [];
  let sinkPort: number;
  let deadPort: number;
  const eventsOfA: S2sEvent[] = [];

  before(async () => {
    const pa = await reservePorts(A_IP);
    const pb = await reservePorts(B_IP);
    deadPort = await freePort(B_IP);
    // A TCP server that accepts and hangs up at once: a direct-TLS attempt there fails fast.
    sink = createServer((s) => {
      s.on("error", () => {});
      sinkSockets.push(s);
      s.destroy();
    });
    await new Promise<void>((resolve) => sink.listen(0, SINK_IP, resolve));
    sinkPort = (sink.address() as { port: number }).port;

    const srv = (port: number, target: string, priority = 0, weight = 0) => ({ priority, weight, port, target });
    dns = await startDnsServer({
      // A and its component, for B's dialback checks and echo replies.
      "_xmpp-server._tcp.a.example": { srv: [srv(pa.s2sPort, "xmpp.a.example")] },
      "_xmpp-server._tcp.bot.a.example": { srv: [srv(pa.s2sPort, "xmpp.a.example")] },
      "xmpp.a.example": { a: [A_IP] },
      // Priority order: the priority-5 target refuses, the priority-10 one is B.
      "_xmpp-server._tcp.b.example": { srv: [srv(pb.s2sPort, "xmpp.b.example", 10), srv(deadPort, "xmpp.b.example", 5)] },
      "xmpp.b.example": { a: [B_IP] },
      // XEP-0368 merge: the xmpps record (priority 5) is tried first, with direct TLS, before the xmpp one (priority 10).
      "_xmpps-server._tcp.c.example": { srv: [srv(sinkPort, "tls.c.example", 5)] },
      "_xmpp-server._tcp.c.example": { srv: [srv(pb.s2sPort, "xmpp.b.example", 10)] },
      "tls.c.example": { a: [SINK_IP] },
      // s2s.address wins: DNS points at a dead port.
      "_xmpp-server._tcp.d.example": { srv: [srv(deadPort, "xmpp.b.example")] },
      // No SRV at all: A/AAAA of the domain on outgoing.port.
      "e.example": { a: [B_IP] },
      // ip_versions = [6, 4]: the IPv6 address of the target is tried first.
      "_xmpp-server._tcp.f.example": { srv: [srv(pb.s2sPort, "dual.f.example")] },
      "dual.f.example": { a: [B_IP], aaaa: ["::1"] },
      // "." : no XMPP service at this domain.
      "_xmpp-server._tcp.nope.example": { srv: [srv(0, ".")] },
      "nope.example": { a: [B_IP] },
    });
    const plugins = { dns: { servers: [dns.address] } };
    b = await startNode({ hosts: ["b.example", "c.example", "d.example", "e.example", "f.example"], ip: B_IP, plugins }, pb);
    a = await startNode(
      {
        hosts: ["a.example"],
        ip: A_IP,
        componentPassword: "pw",
        plugins,
        s2s: {
          address: [{ host: "d.example", ip_address: B_IP, port: pb.s2sPort }],
          outgoing: { port: pb.s2sPort, ip_versions: [6, 4], connection_timeout: 3000 },
        },
      },
      pa,
    );
    a.server.events$.subscribe((e) => eventsOfA.push(e));
    bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
  });

  after(async () => {
    await bot?.stop();
    await a?.stop();
    await b?.stop();
    for (const s of sinkSockets) s.destroy();
    await new Promise<void>((resolve) => (sink ? sink.close(() => resolve()) : resolve()));
    await dns?.close();
  });

  /** Send to echo@domain from the component and wait for the echo. */
  async function echoFrom(domain: string, id: string): Promise<void> {
    await bot.send(xml("message", { from: "alice@bot.a.example/r", to: `echo@${domain}`, type: "chat", id }, xml("body", {}, `via ${domain}`)));
    const echo = await bot.next((s) => s.attrs.id === id);
    assert.equal(echo.attrs.type, "chat", `echo from ${domain}: ${echo.toString()}`);
    assert.equal(echo.attrs.from, `echo@${domain}`);
  }

  /** The outbound events of A towards `remote`, as [type, target] pairs. */
  const attemptsTo = (remote: string) =>
    eventsOfA
      .filter((e): e is Extract<S2sEvent, { type: "connect_failed" | "connected" }> => (e.type === "connect_failed" || e.type === "connected") && e.remote === remote)
      .map((e) => [e.type, e.target]);

  it("tries SRV targets in priority order: the priority-5 target refuses, the priority-10 target answers", async () => {
    await echoFrom("b.example", "prio1");
    const attempts = attemptsTo("b.example");
    assert.deepEqual(attempts.slice(0, 2), [
      ["connect_failed", `${B_IP}:${deadPort}`],
      ["connected", `${B_IP}:${b.s2sPort}`],
    ]);
  });

  it("merges _xmpps-server and _xmpp-server: the direct-TLS record of lower priority is tried first", async () => {
    await echoFrom("c.example", "merged1");
    const attempts = attemptsTo("c.example");
    assert.deepEqual(attempts.slice(0, 2), [
      ["connect_failed", `${SINK_IP}:${sinkPort}`],
      ["connected", `${B_IP}:${b.s2sPort}`],
    ]);
    assert.ok(sinkSockets.length >= 1, "the direct-TLS target was really tried");
    assert.ok(dns.count("_xmpps-server._tcp.c.example", "SRV") >= 1);
  });

  it("s2s.address overrides DNS: DNS says a dead port, the address entry wins, no query is made", async () => {
    await echoFrom("d.example", "addr1");
    assert.deepEqual(attemptsTo("d.example").slice(0, 1), [["connected", `${B_IP}:${b.s2sPort}`]]);
    // B never asks about d.example either (it is B's own domain); A asked nothing.
    assert.equal(dns.count("_xmpp-server._tcp.d.example"), 0);
    assert.equal(dns.count("_xmpps-server._tcp.d.example"), 0);
  });

  it("without SRV records, connects to the domain's A record on outgoing.port", async () => {
    await echoFrom("e.example", "afallback1");
    assert.deepEqual(attemptsTo("e.example").slice(0, 1), [["connected", `${B_IP}:${b.s2sPort}`]]);
    assert.ok(dns.count("e.example", "A") >= 1);
  });

  it("with outgoing.ip_versions = [6, 4], the target's IPv6 address is tried before its IPv4 address", async () => {
    await echoFrom("f.example", "v6first1");
    const attempts = attemptsTo("f.example");
    // Nothing listens on [::1] at B's port: refused (or unreachable without IPv6), then IPv4.
    assert.deepEqual(attempts.slice(0, 2), [
      ["connect_failed", `::1:${b.s2sPort}`],
      ["connected", `${B_IP}:${b.s2sPort}`],
    ]);
  });

  it('a "." SRV target means no service: the stanza bounces at once with remote-server-not-found, nothing is retried', async () => {
    await bot.send(xml("message", { from: "alice@bot.a.example/r", to: "echo@nope.example", type: "chat", id: "dot1" }, xml("body", {}, "anyone?")));
    const bounce = await bot.next((s) => s.attrs.id === "dot1");
    assert.equal(bounce.attrs.type, "error");
    assert.equal(bounce.attrs.from, "echo@nope.example");
    assert.ok(bounce.getChild("error")?.getChild("remote-server-not-found"), bounce.toString());
    assert.equal(bounce.getChild("error")?.attrs.type, "cancel");
    await eventually(() => eventsOfA.some((e) => e.type === "failed" && e.remote === "nope.example"), undefined, "the failed event");
    assert.deepEqual(attemptsTo("nope.example"), [], "no connection attempt");
    assert.equal(eventsOfA.some((e) => e.type === "retry_scheduled" && e.remote === "nope.example"), false, "no retry");
    assert.equal(dns.count("nope.example", "A"), 0, "no A/AAAA fallback");
  });
});
