import "reflect-metadata";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { S2sServer } from "../../core/server/server.js";
import { el, type XmlElement } from "../../core/xml/element.js";
import { freePort } from "../helpers/ports.js";
import { eventually } from "../helpers/wait.js";
import { connectFrom, stallServer, startLogged, type Conn } from "./helpers.js";

const FLOOD = 40;
const domains = Array.from({ length: FLOOD }, (_, i) => `d${i}.flood.test`);
const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='b.example' version='1.0'>";

// Issue 11: a flood of db:result from many distinct domains must not make us open that many
// outbound connections (XEP-0220 §2.1.2 opens one per originating domain to verify it).
describe("dialback verification caps under a db:result flood", () => {
  const ip = "127.0.0.76";
  let server: S2sServer | undefined;
  let stall: Awaited<ReturnType<typeof stallServer>> | undefined;
  const conns: Conn[] = [];
  after(async () => {
    for (const c of conns) c.socket.destroy();
    await server?.stop();
    await stall?.close();
  });

  it("at most max_pending verifications (so outbound connections) at once; the rest get resource-constraint, logged once", async () => {
    // Every claimed domain's authoritative server is one that accepts TCP and never answers.
    stall = await stallServer("127.0.0.77");
    const port = await freePort(ip);
    const started = await startLogged({
      general: { hosts: ["b.example"] },
      listen: { s2s: [{ port, ip_address: ip, max_connections_per_ip: 10 }] },
      s2s: { shared: "flood-secret", address: domains.map((d) => ({ host: d, ip_address: "127.0.0.77", port: stall!.port })) },
      plugins: { dialback: { max_pending: 5, max_pending_per_stream: 4 } },
    });
    server = started.server;
    const refused: string[] = [];
    const sub = server.events$.subscribe((e) => {
      if (e.type === "dialback_refused") refused.push(e.remote);
    });
    // Three streams from one peer, each sending its share of the flood in one write.
    const perStream = [domains.slice(0, 20), domains.slice(20, 30), domains.slice(30)];
    for (const share of perStream) {
      const c = await connectFrom("127.0.0.78", ip, port);
      conns.push(c);
      c.socket.write(HEADER);
      await eventually(() => c.text.includes("</stream:features>"), undefined, "features");
      c.socket.write(share.map((d) => `<db:result from='${d}' to='b.example'>k3y</db:result>`).join(""));
    }
    await eventually(() => refused.length === FLOOD - 5, undefined, `${FLOOD - 5} refusals (have ${refused.length})`);
    await eventually(() => stall!.accepted() === 5, undefined, "5 verification connections");
    // Every refusal is a dialback error resource-constraint, type wait (XEP-0220 §2.4), and the stream stays up.
    const errors = conns.flatMap((c) => c.text.match(/<db:result [^>]*type='error'[^>]*><error type='wait'[^>]*><resource-constraint [^>]*\/><\/error><\/db:result>/g) ?? []);
    assert.equal(errors.length, FLOOD - 5);
    assert.ok(conns.every((c) => !c.socket.destroyed), "refusals are not stream errors");
    assert.equal(stall.accepted(), 5, "no more than max_pending outbound connections were opened");
    assert.equal(started.lines.filter((l) => l.what === "dialback_refused").length, 1, "one log line for the burst");
    sub.unsubscribe();
  });
});

// Issue 11: the outbound session map is keyed by remote-chosen domains: bounded by max_sessions.
describe("outbound sessions bounded by [plugins.tcp] max_sessions", () => {
  let server: S2sServer | undefined;
  let stall: Awaited<ReturnType<typeof stallServer>> | undefined;
  after(async () => {
    await server?.stop();
    await stall?.close();
  });

  it("busy sessions are kept and new pairs bounce resource-constraint; idle ones (failed, in backoff) are evicted", async () => {
    stall = await stallServer("127.0.0.79");
    const closedPort = await freePort("127.0.0.79");
    const listenPort = await freePort("127.0.0.79");
    const busy = ["s0.busy.test", "s1.busy.test", "s2.busy.test"];
    const dead = Array.from({ length: 6 }, (_, i) => `x${i}.dead.test`);
    const started = await startLogged({
      general: { hosts: ["a.example"] },
      listen: { s2s: [{ port: listenPort, ip_address: "127.0.0.79" }] },
      s2s: {
        shared: "sessions-secret",
        address: [
          { host: "v.verify.test", ip_address: "127.0.0.79", port: stall!.port },
          ...busy.map((d) => ({ host: d, ip_address: "127.0.0.79", port: stall!.port })),
          ...dead.map((d) => ({ host: d, ip_address: "127.0.0.79", port: closedPort })),
        ],
      },
      plugins: { tcp: { max_sessions: 2, hold_window: 0 } },
    });
    server = started.server;
    const bounced = new Map<string, string>();
    server.stanzas$.subscribe(() => {}); // the bounces come back to u@a.example: take them
    const sub = server.events$.subscribe((e) => {
      if (e.type === "stanza_bounced") bounced.set(e.to.split("@")[1] ?? e.to, e.condition);
    });
    const msg = (to: string): XmlElement => el("message", { from: "u@a.example", to: `u@${to}`, id: to }, "jabber:server", el("body", {}, "jabber:server", "x"));
    // Unreachable peers (connection refused): each pair fails, bounces, and waits in backoff, idle;
    // a new pair evicts the least recently used of them, so none is refused for lack of room.
    for (const d of dead) {
      server.send(msg(d));
      await eventually(() => bounced.has(d), undefined, `bounce for ${d}`);
      assert.equal(bounced.get(d), "remote-server-not-found");
    }
    // Two pairs connecting to a server that never answers: busy, not evictable.
    server.send(msg(busy[0]!));
    server.send(msg(busy[1]!));
    await eventually(() => stall!.accepted() === 2, undefined, "two connections");
    server.send(msg(busy[2]!));
    await eventually(() => bounced.has(busy[2]!), undefined, "a bounce for the third busy pair");
    assert.equal(bounced.get(busy[2]!), "resource-constraint");
    assert.equal(bounced.has(busy[0]!) || bounced.has(busy[1]!), false, "busy sessions keep their stanzas");
    const manager = server.container.resolve((await import("../../core/session/outbound-sessions.js")).OUTBOUND_SESSIONS) as unknown as { size: number };
    assert.equal(manager.size, 2);
    assert.equal(started.lines.filter((l) => l.what === "outbound_session_limit").length, 1);
    // A dialback verification needs an outbound stream to the claimed domain's authoritative
    // server: with no room for that session it is answered "try later" (XEP-0220 §2.4), and no
    // connection is opened.
    const c = await connectFrom("127.0.0.80", "127.0.0.79", listenPort);
    c.socket.write(HEADER.replace("to='b.example'", "to='a.example'"));
    await eventually(() => c.text.includes("</stream:features>"), undefined, "features");
    c.socket.write("<db:result from='v.verify.test' to='a.example'>k3y</db:result>");
    await eventually(() => /<db:result [^>]*type='error'/.test(c.text), undefined, "a dialback error");
    assert.match(c.text, /<db:result [^>]*type='error'[^>]*><error type='wait'[^>]*><resource-constraint [^>]*\/><\/error><\/db:result>/);
    assert.equal(stall.accepted(), 2, "no connection opened for the verification");
    c.socket.destroy();
    sub.unsubscribe();
  });
});
