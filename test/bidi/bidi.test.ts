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
import { waitFor } from "../helpers/wait.js";

let dir: string;
let ca: CertAuthority;
let ipCounter = 40;

interface Pair {
  readonly a: TestNode;
  readonly b: TestNode;
  readonly events: Array<{ node: "a" | "b"; event: S2sEvent }>;
  stop(): Promise<void>;
}

/** a.example and b.example, certificates from one CA (SASL EXTERNAL both ways), bidi as given. */
async function pair(bidiA: boolean, bidiB: boolean): Promise<Pair> {
  const ipA = `127.0.3.${ipCounter++}`;
  const ipB = `127.0.3.${ipCounter++}`;
  const pa = await reservePorts(ipA);
  const pb = await reservePorts(ipB);
  const node = (domain: string, ip: string, bidi: boolean, peer: { ip: string; s2sPort: number }, peerDomain: string, ports: { s2sPort: number; servicePort: number }) =>
    startNode({
      hosts: [domain],
      ip,
      s2s: { use_starttls: "required", certfile: makeLeaf(ca, { domains: [domain] }).certfile, cacertfile: ca.cafile, address: [addressOf(peer, peerDomain)] },
      plugins: { tcp: { bidi } },
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
});
