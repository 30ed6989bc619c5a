import "reflect-metadata";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import type { XmlElement } from "../../core/xml/element.js";
import type { S2sEvent } from "../../core/events/events.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { ScriptedPeer } from "../helpers/s2s-peer.js";
import { DEADLINE_MS, eventually } from "../helpers/wait.js";
import { CARELESS_NS } from "./fixtures/careless-authenticator.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

/**
 * Issue 16: policy is the core's job on every authentication path. A third-party authenticator
 * that never calls policy (fixtures/careless-authenticator.ts) must not let a denied domain in.
 * Real sockets on loopback: a raw peer claims a.example through the careless method, then sends a
 * stanza for an address nobody serves, which the embedding API's stanzas$ would receive.
 */
describe("a careless third-party authenticator cannot bypass policy", () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  async function node(ip: string, s2s: Record<string, unknown>, plugins: Record<string, unknown> = {}): Promise<{ b: TestNode; delivered: XmlElement[]; events: S2sEvent[] }> {
    const b = await startNode({
      hosts: ["b.example"],
      ip,
      baseDir: fixtures,
      s2s,
      plugins: { authenticators: ["careless", "dialback"], careless: { module: "./careless-authenticator.ts" }, ...plugins },
    });
    cleanup.push(() => b.stop());
    const delivered: XmlElement[] = [];
    const events: S2sEvent[] = [];
    const subs = [b.server.stanzas$.subscribe((s) => delivered.push(s)), b.server.events$.subscribe((e) => events.push(e))];
    cleanup.push(() => subs.forEach((s) => s.unsubscribe()));
    return { b, delivered, events };
  }

  /** Claim a.example with the careless method; when the claim is accepted, send one stanza and close. */
  async function claim(b: TestNode): Promise<{ peer: ScriptedPeer; trusted: boolean }> {
    const peer = await ScriptedPeer.connect(b.ip, b.s2sPort);
    cleanup.push(() => peer.close());
    await peer.open("a.example", "b.example");
    peer.write(`<trust-me xmlns='${CARELESS_NS}' from='a.example' to='b.example'/>`);
    // Either the authenticator says the claim was accepted, or the server closes the stream.
    const trusted = await peer.waitFor(/<trusted /).then(() => true, () => false);
    if (trusted) peer.write(`<message from='u@a.example' to='nobody@b.example' id='c1'><body>let me in</body></message>`);
    return { peer, trusted };
  }

  it("control: an allowed domain is accepted through it and its stanza delivered (the test can see a bypass)", async () => {
    const { b, delivered } = await node("127.0.0.61", {});
    const { trusted } = await claim(b);
    assert.equal(trusted, true);
    await eventually(() => delivered.some((s) => s.attr("id") === "c1"), DEADLINE_MS, "the stanza on stanzas$");
  });

  it("host_policy deny: the stream is closed with invalid-from, nothing is authenticated or delivered", async () => {
    const { b, delivered, events } = await node("127.0.0.62", { host_policy: [{ host: "a.example", policy: "deny" }] });
    const { peer, trusted } = await claim(b);
    assert.equal(trusted, false, `the careless claim was accepted: ${peer.data}`);
    await peer.waitClosed();
    assert.equal(peer.streamError(), "invalid-from");
    assert.ok(events.some((e) => e.type === "policy_decision" && e.remote === "a.example" && e.verdict === "deny"), "the core asked the policy chain");
    assert.equal(events.some((e) => e.type === "authenticated" && e.remote === "a.example"), false);
    assert.deepEqual(delivered, []);
  });

  it("a policy that throws denies (fail closed), whatever the authenticator", async () => {
    const { b, delivered, events } = await node("127.0.0.63", {}, { policy: ["host_policy", "boom"], boom: { module: "./table-policy.ts", label: "boom", failure: "throw" } });
    const { peer, trusted } = await claim(b);
    assert.equal(trusted, false, `the careless claim was accepted: ${peer.data}`);
    await peer.waitClosed();
    assert.equal(peer.streamError(), "invalid-from");
    assert.ok(events.some((e) => e.type === "policy_failed" && e.remote === "a.example"));
    assert.deepEqual(delivered, []);
  });
});
