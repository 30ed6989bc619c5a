import "reflect-metadata";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { xml } from "@xmpp/component";
import { el } from "../../core/xml/element.js";
import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { errorCondition } from "../helpers/stanzas.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { ScriptedPeer } from "../helpers/s2s-peer.js";
import { waitFor } from "../helpers/wait.js";
import { Xep0185Keys } from "../../plugins/dialback/dialback-keys.js";
import type { S2sEvent } from "../../core/events/events.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");


/** A (with component bot.a.example) -> B, where B's policy is what each test sets. */
async function pair(ipA: string, ipB: string, bPolicy: { s2s?: Record<string, unknown>; plugins?: Record<string, unknown> }, aExtra: { s2s?: Record<string, unknown>; plugins?: Record<string, unknown> } = {}) {
  const pa = await reservePorts(ipA);
  const peerAddr = { ip: pa.ip, s2sPort: pa.s2sPort };
  const b = await startNode({ hosts: ["b.example"], ip: ipB, baseDir: fixtures, s2s: { address: [addressOf(peerAddr, "a.example"), addressOf(peerAddr, "bot.a.example")], ...bPolicy.s2s }, plugins: bPolicy.plugins });
  const a = await startNode({ hosts: ["a.example"], ip: pa.ip, componentPassword: "pw", baseDir: fixtures, s2s: { address: [addressOf(b, "b.example")], ...aExtra.s2s }, plugins: aExtra.plugins }, pa);
  const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
  return { a, b, bot };
}

describe("policy on every path", () => {
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  const track = (n: { a: TestNode; b: TestNode; bot: TestComponent }) => {
    cleanup.push(async () => {
      await n.bot.stop();
      await n.a.stop();
      await n.b.stop();
    });
    return n;
  };

  it("inbound deny on dialback: the stream is closed with invalid-from and nothing is delivered", async () => {
    const { a, b, bot } = track(await pair("127.0.0.51", "127.0.0.52", { s2s: { host_policy: [{ host: "bot.a.example", policy: "deny" }] } }));
    const decision = waitFor(b.server.events$, (e) => e.type === "policy_decision" && e.direction === "inbound" && e.remote === "bot.a.example");
    await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: "in1" }, xml("body", {}, "hi")));
    assert.equal(((await decision) as Extract<S2sEvent, { type: "policy_decision" }>).verdict, "deny");
    const bounce = await bot.next((s) => s.attrs.id === "in1");
    assert.equal(bounce.attrs.type, "error");
    const delivered = bot.received.some((s) => s.attrs.from === "echo@b.example" && s.attrs.type !== "error");
    assert.equal(delivered, false);
    void a;
  });

  it("a raw peer denied at dialback gets the invalid-from stream error", async () => {
    const b = await startNode({ hosts: ["b.example"], ip: "127.0.0.53", s2s: { host_policy: [{ host: "a.example", policy: "deny" }] } });
    cleanup.push(() => b.stop());
    const p = await ScriptedPeer.connect(b.ip, b.s2sPort);
    cleanup.push(async () => p.close());
    const id = await p.open("a.example", "b.example");
    p.write(`<db:result from='a.example' to='b.example'>${new Xep0185Keys("x").generate("b.example", "a.example", id)}</db:result>`);
    await p.waitClosed();
    assert.equal(p.streamError(), "invalid-from");
  });

  it("default_policy = deny with a host_policy allow: the allowed domain federates, others are denied", async () => {
    const { bot } = track(await pair("127.0.0.54", "127.0.0.55", { s2s: { default_policy: "deny", host_policy: [{ host: "bot.a.example", policy: "allow" }, { host: "a.example", policy: "allow" }] } }, { s2s: { default_policy: "deny", host_policy: [{ host: "b.example", policy: "allow" }] } }));
    await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: "dd1" }, xml("body", {}, "allowed")));
    const echo = await bot.next((s) => s.attrs.id === "dd1");
    assert.equal(echo.getChildText("body"), "allowed");
    await bot.send(xml("message", { from: "u@bot.a.example", to: "x@other.example", id: "dd2" }, xml("body", {}, "denied")));
    assert.equal(errorCondition(await bot.next((s) => s.attrs.id === "dd2")), "service-unavailable");
  });

  it("a throwing policy denies (fail closed) and reports policy_failed", async () => {
    const failed = startNode({ hosts: ["a.example"], ip: "127.0.0.56", componentPassword: "pw", baseDir: fixtures, plugins: { policy: ["host_policy", "boom"], boom: { module: "./table-policy.ts", label: "boom", failure: "throw" } } });
    const a = await failed;
    cleanup.push(() => a.stop());
    const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
    cleanup.push(() => bot.stop());
    const reported = waitFor(a.server.events$, (e) => e.type === "policy_failed");
    await bot.send(xml("message", { from: "u@bot.a.example", to: "x@anywhere.example", id: "t1" }, xml("body", {}, "x")));
    assert.equal(errorCondition(await bot.next((s) => s.attrs.id === "t1")), "service-unavailable");
    const event = (await reported) as Extract<S2sEvent, { type: "policy_failed" }>;
    assert.equal(event.policy, "boom");
    assert.match(event.reason, /exploded/);
  });

  it("two chained policies: the first with an opinion wins, in TOML order", async () => {
    const a = await startNode({
      hosts: ["a.example"],
      ip: "127.0.0.57",
      componentPassword: "pw",
      baseDir: fixtures,
      s2s: { address: [{ host: "x.example", ip_address: "127.0.0.58", port: 1 }, { host: "y.example", ip_address: "127.0.0.58", port: 1 }] },
      plugins: {
        policy: ["first", "second"],
        first: { module: "./table-policy.ts", label: "first", deny: ["x.example"] },
        second: { module: "./table-policy.ts", label: "second", allow: ["x.example"], deny: ["y.example"] },
      },
    });
    cleanup.push(() => a.stop());
    const decisions: Array<Extract<S2sEvent, { type: "policy_decision" }>> = [];
    const sub = a.server.events$.subscribe((e) => e.type === "policy_decision" && decisions.push(e));
    cleanup.push(async () => sub.unsubscribe());
    const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
    cleanup.push(() => bot.stop());
    await bot.send(xml("message", { from: "u@bot.a.example", to: "u@x.example", id: "c1" }, xml("body", {}, "x")));
    await bot.send(xml("message", { from: "u@bot.a.example", to: "u@y.example", id: "c2" }, xml("body", {}, "y")));
    assert.equal(errorCondition(await bot.next((s) => s.attrs.id === "c1")), "service-unavailable");
    assert.equal(errorCondition(await bot.next((s) => s.attrs.id === "c2")), "service-unavailable");
    assert.deepEqual(decisions.map((d) => [d.remote, d.verdict, d.decidedBy]), [["x.example", "deny", "first"], ["y.example", "deny", "second"]]);
  });

  it("reload: a newly denied domain loses its sessions, other sessions stay, new decisions follow", async () => {
    const { a, b, bot } = track(await pair("127.0.0.61", "127.0.0.62", {}));
    // Two pairs into B: bot.a.example and a.example (through the embedding API).
    await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: "r1" }, xml("body", {}, "before")));
    await bot.next((s) => s.attrs.id === "r1");
    const other = waitFor(a.server.stanzas$, (s) => s.attr("id") === "r2");
    a.server.send(el("message", { from: "u@a.example", to: "echo@b.example", id: "r2" }, "jabber:server", el("body", {}, "jabber:server", "other")));
    await other;
    const aEvents: S2sEvent[] = [];
    const sub = a.server.events$.subscribe((e) => aEvents.push(e));
    const closedOnA = waitFor(a.server.events$, (e) => e.type === "closed" && e.local === "bot.a.example" && e.remote === "b.example");
    const report = await b.server.reload({ ...rawOf(b), s2s: { ...rawOf(b).s2s, host_policy: [{ host: "bot.a.example", policy: "deny" }] } });
    assert.equal(report.closedInbound, 1);
    await closedOnA;
    await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: "r3" }, xml("body", {}, "after")));
    const bounce = await bot.next((s) => s.attrs.id === "r3");
    assert.equal(bounce.attrs.type, "error");
    // The other session (a.example -> b.example) was not dropped: it carries the next stanza as is.
    const again = waitFor(a.server.stanzas$, (s) => s.attr("id") === "r4");
    a.server.send(el("message", { from: "u@a.example", to: "echo@b.example", id: "r4" }, "jabber:server", el("body", {}, "jabber:server", "still here")));
    assert.equal((await again).getChildText("body"), "still here");
    sub.unsubscribe();
    assert.equal(aEvents.some((e) => (e.type === "closed" || e.type === "connecting") && e.local === "a.example"), false);
    // An invalid new config is refused and the running one stays.
    await assert.rejects(b.server.reload({ ...rawOf(b), s2s: { ...rawOf(b).s2s, default_policy: "ask" } }), /default_policy/);
    assert.equal(b.server.config.s2s.hostPolicy[0]?.host, "bot.a.example");
  });
});

/** The TOML-shaped object a test node was started from, rebuilt from its config (for reload). */
function rawOf(node: TestNode): { general: unknown; listen: unknown; s2s: Record<string, unknown>; plugins: unknown } {
  const c = node.server.config;
  return {
    general: { hosts: [...c.general.hosts] },
    listen: { s2s: c.listen.s2s.map((l) => ({ port: l.port, ip_address: l.ipAddress })) },
    s2s: {
      use_starttls: c.s2s.useStarttls,
      shared: c.s2s.shared,
      address: c.s2s.address.map((x) => ({ host: x.host, ip_address: x.ipAddress, ...(x.port ? { port: x.port } : {}) })),
    },
    plugins: { ...c.plugins },
  };
}
