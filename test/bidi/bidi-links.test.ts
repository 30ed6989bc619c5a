/**
 * BidiLinks' bookkeeping (pure logic, a stand-in carrier): a link exists from the authentication on,
 * writes only once policy allows, and every stanza it did not write goes back to the normal
 * outbound path in order: on a denial, a throwing policy, a closed stream, a dead socket.
 */
import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BidiLinks, BIDI_FEATURE_NS, BIDI_NS, type BidiCarrier } from "../../core/session/bidi-links.js";
import { EventBus } from "../../core/events/events.js";
import { createLogger } from "../../core/logging/logger.js";
import { TrafficCounters } from "../../core/metrics/traffic.js";
import { el, NS, type XmlElement } from "../../core/xml/element.js";
import { eventually } from "../helpers/wait.js";

class Carrier implements BidiCarrier {
  readonly id = "s1";
  tls = undefined;
  writable = true;
  written: string[] = [];
  pairs: Array<{ remote: string; local: string }> = [];
  sendMany(elements: readonly XmlElement[]): void {
    for (const e of elements) this.written.push(e.attr("id")!);
  }
  backpressure(): undefined {
    return undefined;
  }
}

function links(verdict: () => Promise<"allow" | "deny">) {
  const fellBack: string[] = [];
  const bidi = new BidiLinks(true, {
    logger: createLogger("silent"),
    events: new EventBus(),
    policy: { decide: verdict } as never,
    traffic: new TrafficCounters(),
    router: {} as never,
  }, (_l, _r, s) => void fellBack.push(s.attr("id")!));
  return { bidi, fellBack };
}

const stanza = (id: string) => el("message", { from: "u@b.example", to: "v@a.example", id }, NS.SERVER);
const nextTick = () => new Promise<void>((r) => process.nextTick(r));

describe("BidiLinks", () => {
  it("no link without the peer's request; with it, (local -> remote) is carried once policy allows", async () => {
    const { bidi, fellBack } = links(async () => "allow");
    const carrier = new Carrier();
    bidi.inboundAuthenticated(carrier, "a.example", "b.example");
    assert.equal(bidi.has("b.example", "a.example"), false);
    assert.equal(bidi.handleInbound(carrier, el("bidi", {}, BIDI_NS)), true);
    bidi.inboundAuthenticated(carrier, "a.example", "b.example");
    assert.equal(bidi.has("b.example", "a.example"), true);
    bidi.send("b.example", "a.example", stanza("1"));
    await eventually(() => carrier.written.length === 1);
    bidi.send("b.example", "a.example", stanza("2"));
    await nextTick();
    assert.deepEqual(carrier.written, ["1", "2"]);
    assert.deepEqual(fellBack, []);
  });

  it("denied or throwing policy: the link goes, what it held takes the normal path in order", async () => {
    for (const verdict of [async () => "deny" as const, async (): Promise<"allow"> => { throw new Error("broken policy"); }]) {
      const { bidi, fellBack } = links(verdict);
      const carrier = new Carrier();
      bidi.handleInbound(carrier, el("bidi", {}, BIDI_NS));
      bidi.inboundAuthenticated(carrier, "a.example", "b.example");
      bidi.send("b.example", "a.example", stanza("1"));
      bidi.send("b.example", "a.example", stanza("2"));
      await eventually(() => fellBack.length === 2);
      assert.deepEqual(fellBack, ["1", "2"]);
      assert.deepEqual(carrier.written, []);
      assert.equal(bidi.has("b.example", "a.example"), false);
    }
  });

  it("the peer enables XEP-0198 on the stream: our stanzas leave it, unwritten ones take the normal path in order, no new link opens", async () => {
    const { bidi, fellBack } = links(async () => "allow");
    const carrier = new Carrier();
    bidi.handleInbound(carrier, el("bidi", {}, BIDI_NS));
    bidi.inboundAuthenticated(carrier, "a.example", "b.example");
    await eventually(() => bidi.size === 1);
    bidi.send("b.example", "a.example", stanza("1"));
    bidi.send("b.example", "a.example", stanza("2"));
    bidi.withdraw(carrier);
    await nextTick();
    assert.deepEqual(fellBack, ["1", "2"]);
    assert.deepEqual(carrier.written, []);
    assert.equal(bidi.has("b.example", "a.example"), false);
    bidi.inboundAuthenticated(carrier, "c.example", "b.example");
    assert.equal(bidi.has("b.example", "c.example"), false, "a pair authenticated later gets no link either");
  });

  it("as the initiator, bidi is not asked for when the peer also offers XEP-0198 and ours is on", async () => {
    const bus = new EventBus();
    const make = (streamManagement: boolean) => new BidiLinks(true, { logger: createLogger("silent"), events: bus, policy: { decide: async () => "allow" } as never, traffic: new TrafficCounters(), router: {} as never, streamManagement }, () => undefined);
    const sent: string[] = [];
    const stream = { localDomain: "a.example", remoteDomain: "b.example", send: (e: XmlElement) => void sent.push(e.name) } as never;
    const features = el("features", {}, NS.STREAM, el("sm", {}, "urn:xmpp:sm:3"), el("bidi", {}, BIDI_FEATURE_NS));
    assert.equal(await make(true).request(stream, features), undefined);
    assert.deepEqual(sent, []);
    assert.notEqual(await make(false).request(stream, features), undefined, "our SM off: bidi asked for");
    assert.deepEqual(sent, ["bidi"]);
  });

  it("a stream that closes or whose socket died before the write: nothing lost, nothing written twice", async () => {
    const { bidi, fellBack } = links(async () => "allow");
    const carrier = new Carrier();
    bidi.handleInbound(carrier, el("bidi", {}, BIDI_NS));
    bidi.inboundAuthenticated(carrier, "a.example", "b.example");
    await eventually(() => bidi.size === 1);
    await new Promise((r) => setTimeout(r, 0));
    bidi.send("b.example", "a.example", stanza("1"));
    carrier.writable = false;
    await nextTick();
    assert.deepEqual(fellBack, ["1"], "dead socket at write time");
    carrier.writable = true;
    bidi.send("b.example", "a.example", stanza("2"));
    bidi.send("b.example", "a.example", stanza("3"));
    bidi.inboundClosed(carrier);
    await nextTick();
    assert.deepEqual(fellBack, ["1", "2", "3"]);
    assert.deepEqual(carrier.written, []);
    assert.equal(bidi.has("b.example", "a.example"), false);
  });

  it("a request made before TLS does not survive TLS (XEP-0288 §2.1); off means no feature and no request handled", () => {
    const { bidi } = links(async () => "allow");
    const carrier = new Carrier();
    bidi.handleInbound(carrier, el("bidi", {}, BIDI_NS));
    (carrier as { tls: unknown }).tls = {};
    bidi.inboundAuthenticated(carrier, "a.example", "b.example");
    assert.equal(bidi.has("b.example", "a.example"), false);
    const off = new BidiLinks(false, {} as never, () => undefined);
    assert.equal(off.feature(), undefined);
    assert.equal(off.handleInbound(carrier, el("bidi", {}, BIDI_NS)), false);
  });

  it("the peer's direction on our outbound stream is judged again on reload: denied now, the stream ends", async () => {
    let verdict: "allow" | "deny" = "allow";
    const events = new EventBus();
    const bidi = new BidiLinks(true, { logger: createLogger("silent"), events, policy: { decide: async () => verdict } as never, traffic: new TrafficCounters(), router: {} as never }, () => undefined);
    const sent: string[] = [];
    const failed: string[] = [];
    const stream = { id: "o1", localDomain: "a.example", remoteDomain: "b.example", send: (e: XmlElement) => void sent.push(e.name), fail: (c: string) => void failed.push(c), pauseReadingUntil: () => {} };
    const features = el("features", {}, NS.STREAM, el("bidi", {}, BIDI_FEATURE_NS));
    const reverse = await bidi.request(stream, features);
    assert.ok(reverse);
    assert.deepEqual(sent, ["bidi"]);
    events.emit({ type: "config_reloaded" });
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(failed, [], "still allowed");
    verdict = "deny";
    events.emit({ type: "config_reloaded" });
    await eventually(() => failed.length === 1);
    assert.deepEqual(failed, ["policy-violation"]);
    // Denied before asking: we do not ask at all.
    assert.equal(await bidi.request(stream, features), undefined);
    assert.deepEqual(sent, ["bidi"]);
    bidi.stop();
  });

  it("a second bidi stream for the same pair takes over, with what the first had not written yet", async () => {
    const { bidi, fellBack } = links(async () => "allow");
    const first = new Carrier();
    const second = new Carrier();
    bidi.handleInbound(first, el("bidi", {}, BIDI_NS));
    bidi.inboundAuthenticated(first, "a.example", "b.example");
    bidi.send("b.example", "a.example", stanza("1"));
    bidi.handleInbound(second, el("bidi", {}, BIDI_NS));
    bidi.inboundAuthenticated(second, "a.example", "b.example");
    bidi.send("b.example", "a.example", stanza("2"));
    await eventually(() => second.written.length === 2);
    assert.deepEqual(second.written, ["1", "2"]);
    assert.deepEqual(first.written, []);
    assert.deepEqual(fellBack, []);
    bidi.inboundClosed(first);
    assert.equal(bidi.has("b.example", "a.example"), true, "closing the first leaves the second's link");
  });
});

