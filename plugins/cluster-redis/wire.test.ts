import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_DEPTH, el, NS, receivedText, serialize, type XmlElement } from "../../core/index.js";
import { SaxesStreamParserFactory } from "../saxes/saxes-stream-parser.js";
import { dump } from "../../test/parser/differential.js";
import { addItem, decodeBatch, encodeBatch, newBatch } from "./wire.js";
import { parseTexts } from "../../core/stream/parse-texts.js";

// A stanza nobody changed crosses nodes as the text it was received in (wire.ts): the receiving
// node must get the same tree, in the same namespace, and still forward that text unbuilt.

const parsers = new SaxesStreamParserFactory();

/** Stanzas as a stream parser reads them on a stream whose default namespace is `ns`. */
function received(ns: string, content: string): XmlElement[] {
  const out: XmlElement[] = [];
  const p = parsers.create(
    { onStreamStart: () => {}, onElement: (e) => out.push(e), onStreamEnd: () => {}, onError: (c, t) => assert.fail(`${c}: ${t}`) },
    { maxStanzaSize: Infinity, maxDepth: DEFAULT_MAX_DEPTH },
  );
  p.write(`<stream:stream xmlns='${ns}' xmlns:stream='${NS.STREAM}'>`);
  p.write(content);
  return out;
}

const STANZAS =
  "<message from='x@a.example' to='y@b.example' type='chat' id='1' xml:lang='en'><body>a &amp; b &lt; c &gt; d \"q\" 'a'</body>" +
  "<x xmlns='urn:example:x' attr=\"it's\"><y/></x></message>" +
  "<iq type='get' id='2' to='c.example'><ping xmlns='urn:xmpp:ping'/></iq>" +
  "<presence from='x@a.example/r' to='y@b.example'/>";

function roundTrip(stanzas: XmlElement[], kind: "route" | "pair"): XmlElement[] {
  const batch = newBatch("node1");
  for (const stanza of stanzas) addItem(batch, kind === "route" ? { kind, stanza } : { kind, local: "a.example", remote: "b.example", stanza });
  const decoded = decodeBatch(encodeBatch(batch), parsers);
  assert.ok(decoded);
  assert.equal(decoded.unparsable, 0);
  assert.equal(decoded.envelopes.length, stanzas.length);
  return decoded.envelopes.map((env) => {
    assert.equal(env.kind, kind);
    if (env.kind === "pair") assert.deepEqual([env.local, env.remote], ["a.example", "b.example"]);
    return env.stanza;
  });
}

describe("cluster wire: stanzas as their received text", () => {
  for (const ns of [NS.SERVER, NS.COMPONENT]) {
    for (const kind of ["route", "pair"] as const) {
      it(`${kind}, read in ${ns}: same tree and namespace on arrival, still forwarded as the same text`, () => {
        const stanzas = received(ns, STANZAS);
        const texts = stanzas.map((s) => receivedText(s));
        assert.ok(texts.every((t) => t !== undefined), "the fast path kept each text");
        const batch = newBatch("node1");
        addItem(batch, { kind: "route", stanza: stanzas[0]! });
        assert.ok(encodeBatch(batch).includes(JSON.stringify(texts[0])), "sent as text, not as a tree");
        const arrived = roundTrip(stanzas, kind);
        arrived.forEach((a, i) => assert.equal(receivedText(a), texts[i], "forwarded unbuilt on the receiving node"));
        // Compared as plain trees (an XmlElement keeps its state in private fields).
        assert.deepEqual(arrived.map(dump), received(ns, STANZAS).map(dump));
        assert.ok(arrived.every((a) => a.ns === ns));
      });
    }
  }

  it("a changed stanza, or one built here, goes as a tree", () => {
    const [changed] = received(NS.SERVER, STANZAS);
    changed!.attrs.to = "z@b.example";
    const built = el("message", { to: "y@b.example", id: "9" }, NS.SERVER, el("body", {}, undefined, "hi"));
    const batch = newBatch("node1");
    addItem(batch, { kind: "route", stanza: changed! });
    addItem(batch, { kind: "route", stanza: built });
    const text = encodeBatch(batch);
    assert.ok(!text.includes("<message"), "no text item");
    const decoded = decodeBatch(text, parsers);
    assert.deepEqual(decoded!.envelopes.map((e) => serialize(e.stanza)), [serialize(changed!), serialize(built)]);
  });

  it("a text that does not parse is counted and left out; the others of the batch arrive", () => {
    const out = parseTexts(parsers, NS.SERVER, ["<message id='1'/>", "<message id='2'><body></message>", "<message id='3'/>"]);
    assert.deepEqual(out.map((e) => (typeof e === "string" ? undefined : e.attr("id"))), ["1", undefined, "3"]);
    const batch = newBatch("node1");
    batch.push(2, NS.SERVER, "<message id='a'/>", 2, NS.SERVER, "<oops", 2, NS.SERVER, "<message id='b'/>");
    const decoded = decodeBatch(encodeBatch(batch), parsers);
    assert.equal(decoded!.unparsable, 1);
    assert.deepEqual(decoded!.envelopes.map((e) => e.stanza.attr("id")), ["a", "b"]);
  });
});
