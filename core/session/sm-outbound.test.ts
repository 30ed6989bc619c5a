import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../clock/virtual-clock.js";
import { SaxesStreamParserFactory } from "../../plugins/saxes/saxes-stream-parser.js";
import { el, NS, serialize } from "../xml/element.js";
import { SM_NS } from "../sm/stream-management.js";
import { OutboundSm } from "./sm-outbound.js";
import { rebuildStanzas } from "./sm-rebuild.js";

const SETTINGS = { resumeWindowMs: 60_000, ackEvery: 3, maxResumable: 10 };
const REQUEST = `<r xmlns='${SM_NS}'/>`;

function texts(from: number, to: number): string[] {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push(`<message to='b.example' from='a.example' id='m${i}'><body>${i}</body></message>`);
  return out;
}

describe("OutboundSm keeps the written texts until acknowledged (XEP-0198 §4, §5)", () => {
  it("asks for an ack every ackEvery stanzas, and drops exactly what h acknowledges", () => {
    const sm = new OutboundSm(SETTINGS, new VirtualClock(), "id1", 60_000);
    assert.equal(sm.written(texts(0, 2)), undefined);
    assert.equal(sm.written(texts(2, 3)), REQUEST);
    assert.equal(sm.unacked, 3);
    assert.deepEqual(sm.acknowledged("2"), {});
    assert.equal(sm.unacked, 1);
    assert.equal(sm.resumed(), texts(2, 3).join("") + REQUEST, "the resend is the text left, then a request");
  });

  it("refuses an h beyond what was sent, and one that is not a 32-bit count", () => {
    const sm = new OutboundSm(SETTINGS, new VirtualClock(), "id1", 60_000);
    sm.written(texts(0, 2));
    assert.match(sm.acknowledged("3").error ?? "", /only 2 are unacknowledged/);
    assert.match(sm.acknowledged(String(2 ** 32)).error ?? "", /invalid h/);
    assert.match(sm.acknowledged("x").error ?? "", /invalid h/);
  });

  it("counts across the 2^32 wrap (§5)", () => {
    const sm = new OutboundSm(SETTINGS, new VirtualClock(), "id1", 60_000);
    // A spent state only resyncs its count from h: the way to stand just below the wrap.
    sm.takeAll();
    assert.deepEqual(sm.acknowledged(String(2 ** 32 - 2)), {});
    assert.equal(sm.resumed(), "");
    sm.written(texts(0, 4));
    assert.deepEqual(sm.acknowledged("1"), {}, "h=1 after 2^32-2 acknowledges 3");
    assert.deepEqual(sm.takeAll(), texts(3, 4));
  });

  it("keeps order through many partial acks (the head index and its compaction)", () => {
    const sm = new OutboundSm({ ...SETTINGS, ackEvery: 1_000_000 }, new VirtualClock(), "id1", 60_000);
    sm.written(texts(0, 5000));
    let h = 0;
    for (const step of [1, 1024, 1, 2000, 7]) {
      h += step;
      assert.deepEqual(sm.acknowledged(String(h)), {});
      assert.equal(sm.unacked, 5000 - h);
    }
    sm.written(texts(5000, 5010));
    assert.deepEqual(sm.takeAll(), texts(h, 5010));
    assert.equal(sm.unacked, 0);
  });

  it("hands every unacknowledged text to the bounce when the window runs out, once", () => {
    const clock = new VirtualClock();
    const sm = new OutboundSm(SETTINGS, clock, "id1", 1000);
    sm.written(texts(0, 4));
    sm.acknowledged("1");
    const expired: string[][] = [];
    sm.detach((t) => expired.push(t));
    sm.detach((t) => expired.push(t));
    clock.advance(1000);
    assert.deepEqual(expired, [texts(1, 4)]);
    assert.deepEqual(sm.takeAll(), []);
  });
});

describe("rebuildStanzas (the rare bounce: text back to elements)", () => {
  const parsers = new SaxesStreamParserFactory();

  it("gives back each stanza with its addresses, id, type and payload", () => {
    const stanzas = [
      el("message", { from: "u@a.example", to: "v@b.example", id: "1", type: "chat" }, NS.SERVER, el("body", {}, undefined, "caf\u00e9 & <tea>")),
      el("iq", { from: "a.example", to: "b.example", id: "2", type: "get" }, NS.SERVER, el("ping", {}, NS.PING)),
      el("presence", { from: "u@a.example/r", to: "v@b.example" }, NS.SERVER),
    ];
    const written = stanzas.map((s) => serialize(s, NS.SERVER));
    const { stanzas: back, failed } = rebuildStanzas(written, parsers);
    assert.deepEqual(failed, []);
    assert.deepEqual(back.map((s) => serialize(s, NS.SERVER)), written);
    assert.equal(back[0]!.getChildText("body"), "caf\u00e9 & <tea>");
    assert.equal(back[1]!.getChild("ping", NS.PING) !== undefined, true);
    assert.equal(back[2]!.ns, NS.SERVER);
  });

  it("reports a text that does not parse instead of dropping it, and goes on with the next", () => {
    const ok = `<message from='a.example' to='b.example' id='ok'/>`;
    const { stanzas, failed } = rebuildStanzas(["<message from='a.example'", ok], parsers);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.text, "<message from='a.example'");
    assert.deepEqual(stanzas.map((s) => s.attr("id")), ["ok"]);
  });
});
