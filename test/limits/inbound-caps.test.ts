import "reflect-metadata";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { S2sServer } from "../../core/server/server.js";
import { freePort } from "../helpers/ports.js";
import { eventually } from "../helpers/wait.js";
import { connectFrom, startLogged, type Conn } from "./helpers.js";

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='caps.example' version='1.0'>";

// Issue 11: total and per-IP inbound connection caps, each over real sockets from distinct
// loopback source addresses.
describe("inbound S2S connection caps", () => {
  const ip = "127.0.0.71";
  const conns: Conn[] = [];
  let server: S2sServer | undefined;
  after(async () => {
    for (const c of conns) c.socket.destroy();
    await server?.stop();
  });

  it("past max_connections_per_ip: policy-violation; past max_connections: resource-constraint; logged once per burst; a freed slot is reusable", async () => {
    const port = await freePort(ip);
    const started = await startLogged({
      general: { hosts: ["caps.example"] },
      listen: { s2s: [{ port, ip_address: ip, max_connections: 3, max_connections_per_ip: 2 }] },
      s2s: { shared: "caps-secret" },
    });
    server = started.server;
    const open = async (from: string) => {
      const c = await connectFrom(from, ip, port);
      conns.push(c);
      return c;
    };
    const a1 = await open("127.0.0.72");
    const a2 = await open("127.0.0.72");
    const a3 = await open("127.0.0.72"); // third from one address
    await a3.closed;
    assert.match(a3.text, /<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><text [^>]*>too many connections from 127\.0\.0\.72 \(limit 2\)<\/text><\/stream:error><\/stream:stream>$/);
    await open("127.0.0.73"); // total 3
    const b2 = await open("127.0.0.74"); // fourth in total
    await b2.closed;
    assert.match(b2.text, /<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><text [^>]*>this listener has reached its limit of 3 connections<\/text>/);
    // The admitted ones are untouched: they still get a stream when they speak.
    a1.socket.write(HEADER);
    await eventually(() => a1.text.includes("<stream:features"), undefined, "features on an admitted connection");
    assert.equal(a2.socket.destroyed, false);
    // Two refusals, one log line for the burst.
    assert.equal(started.lines.filter((l) => l.what === "inbound_connection_refused").length, 1);
    // Closing one admitted connection frees its slot (total and per address): a new connection
    // from .72 gets a stream again (the server sees the close asynchronously, so retry until then).
    a2.socket.destroy();
    let admitted = false;
    const deadline = Date.now() + 20_000;
    while (!admitted && Date.now() < deadline) {
      const c = await open("127.0.0.72");
      c.socket.write(HEADER);
      await eventually(() => c.text.includes("<stream:features") || c.socket.destroyed || c.text.includes("</stream:error>"));
      admitted = c.text.includes("<stream:features");
    }
    assert.ok(admitted, "a connection from 127.0.0.72 is admitted again after one of its two closed");
  });
});
