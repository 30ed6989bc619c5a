/**
 * Dialback secret rotation (`s2s.shared` as a list, XEP-0185 keys) with a reload over real sockets:
 * a key A issued with the old secret before the reload is still verified by A after it (a
 * verification in flight), the live A -> B stream carries stanzas before and after without being
 * closed, new keys are signed with the new secret, and once the old secret is removed its keys fail.
 */
import "reflect-metadata";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { el } from "../../core/xml/element.js";
import type { S2sEvent } from "../../core/events/events.js";
import { Xep0185Keys } from "../../plugins/dialback/dialback-keys.js";
import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { ScriptedPeer } from "../helpers/s2s-peer.js";
import { freePort } from "../helpers/ports.js";
import { waitFor } from "../helpers/wait.js";

/**
 * A receiving server that never verifies: it answers A's stream header with stream id `id` and
 * dialback features, and resolves with the key A sends in `db:result`.
 */
async function keyCatcher(ip: string, id: string): Promise<{ port: number; key: Promise<string>; close(): void }> {
  const port = await freePort(ip);
  const sockets: Socket[] = [];
  let resolveKey!: (key: string) => void;
  const key = new Promise<string>((resolve) => (resolveKey = resolve));
  const server: Server = createTcpServer((socket) => {
    sockets.push(socket);
    socket.setEncoding("utf8");
    socket.on("error", () => {});
    let text = "";
    socket.on("data", (chunk: string) => {
      if (!text.includes("<stream:stream")) {
        text += chunk;
        if (!text.includes("<stream:stream")) return;
        socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0' from='b2.example' to='a.example' id='${id}'><stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`);
      } else text += chunk;
      const m = /<db:result[^>]*>([0-9a-f]+)<\/db:result>/.exec(text);
      if (m) resolveKey(m[1]!);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, ip, resolve));
  return { port, key, close: () => (sockets.forEach((s) => s.destroy()), server.close()) };
}

/** Ask A, as b2.example, whether `key` is valid for stream `id` (XEP-0220 §2.2, authoritative role). */
async function askA(a: TestNode, id: string, key: string): Promise<string> {
  const peer = await ScriptedPeer.connect(a.ip, a.s2sPort);
  try {
    await peer.open("b2.example", "a.example");
    peer.write(`<db:verify from='b2.example' to='a.example' id='${id}'>${key}</db:verify>`);
    return (await peer.waitFor(/<db:verify[^>]*type='(valid|invalid)'/))[1]!;
  } finally {
    peer.close();
  }
}

describe("dialback secret rotation with a reload", () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it("a verification in flight still succeeds, the live stream stays, new keys use the new secret", async () => {
    const catcher = await keyCatcher("127.0.0.141", "rot8id");
    cleanup.push(() => catcher.close());
    const pa = await reservePorts("127.0.0.142");
    const b = await startNode({ hosts: ["b.example"], ip: "127.0.0.143", s2s: { address: [addressOf(pa, "a.example")] } });
    cleanup.push(() => b.stop());
    const aS2s = { shared: "old secret", address: [addressOf(b, "b.example"), { host: "b2.example", ip_address: "127.0.0.141", port: catcher.port }] };
    const a = await startNode({ hosts: ["a.example"], ip: pa.ip, s2s: aS2s }, pa);
    cleanup.push(() => a.stop());
    const raw = (shared: unknown) => ({
      general: { hosts: ["a.example"] },
      listen: { s2s: [{ port: a.s2sPort, ip_address: a.ip }] },
      s2s: { use_starttls: "false", ...aS2s, shared },
    });

    // A live authenticated stream A -> B.
    const echo = (id: string) => {
      const got = waitFor(a.server.stanzas$, (s) => s.attr("id") === id);
      a.server.send(el("message", { from: "u@a.example", to: "echo@b.example", id }, "jabber:server", el("body", {}, "jabber:server", id)));
      return got;
    };
    await echo("before");
    const events: S2sEvent[] = [];
    const sub = a.server.events$.subscribe((e) => events.push(e));
    cleanup.push(() => sub.unsubscribe());

    // A signs a key with the old secret for b2.example; the "receiving server" holds it, unverified.
    a.server.send(el("message", { from: "u@a.example", to: "x@b2.example", id: "k" }, "jabber:server"));
    const inFlight = await catcher.key;
    assert.equal(inFlight, new Xep0185Keys("old secret").generate("b2.example", "a.example", "rot8id"));

    // Rotate: the new secret first, the old one still verifies.
    const report = await a.server.reload(raw(["new secret", "old secret"]));
    assert.equal(report.secretsRotated, true);
    assert.deepEqual(report.needsRestart, [], "the secret is applied live");
    assert.equal(await askA(a, "rot8id", inFlight), "valid", "a key signed before the rotation verifies after it");
    const signedNew = new Xep0185Keys("new secret").generate("b2.example", "a.example", "fresh");
    assert.equal(await askA(a, "fresh", signedNew), "valid");
    assert.equal(a.server.config.s2s.shared, "new secret");

    // The live stream was not touched: same stream carries the next stanza, no close, no reconnect.
    await echo("after");
    assert.equal(events.some((e) => (e.type === "closed" || e.type === "connecting") && e.remote === "b.example"), false, JSON.stringify(events));

    // Rotation complete: the old secret removed, its keys fail.
    await a.server.reload(raw("new secret"));
    assert.equal(await askA(a, "rot8id", inFlight), "invalid");
  });
});
