import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_DEPTH, el, NS, receivedText, serialize, XmlElement } from "../../core/index.js";
import { SaxesStreamParserFactory } from "../saxes/saxes-stream-parser.js";
import { dump } from "../../test/parser/differential.js";
import { addItem, encodeBatch, newBatch, WireReader, type Batch, type OutBatch } from "./wire.js";
import { parseTexts } from "../../core/stream/parse-texts.js";

// A stanza nobody changed crosses nodes as the text it was received in, with its top element's
// namespace, name and attributes beside it (wire.ts): the receiving node must get the same tree,
// in the same namespace, without parsing, and still forward that text unbuilt. What does not add
// up is left out (an item) or not decoded (a batch), never thrown.

const parsers = new SaxesStreamParserFactory();
const US = "\u001f";

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
  "<presence from='x@a.example/r' to='y@b.example' id='a&amp;b&lt;c&quot;d'/>" +
  "<message\nto='é@b.example' id=\"3\"><body>ünïcödé 😀</body></message>";

/** A reader that fails the test if any stanza's children could not be built. */
function reader(unbuildable: string[] = []): WireReader {
  return new WireReader(parsers, (reason) => unbuildable.push(reason));
}

function decode(text: string, unbuildable?: string[]): Batch {
  const decoded = reader(unbuildable).decode(text);
  assert.ok(decoded, "decoded");
  return decoded;
}

function roundTrip(stanzas: XmlElement[], kind: "route" | "pair"): XmlElement[] {
  const batch = newBatch("node1");
  for (const stanza of stanzas) addItem(batch, kind === "route" ? { kind, stanza } : { kind, local: "a.example", remote: "b.example", stanza });
  const decoded = decode(encodeBatch(batch));
  assert.equal(decoded.unparsable, 0);
  assert.equal(decoded.from, "node1");
  assert.equal(decoded.envelopes.length, stanzas.length);
  return decoded.envelopes.map((env) => {
    assert.equal(env.kind, kind);
    if (env.kind === "pair") assert.deepEqual([env.local, env.remote], ["a.example", "b.example"]);
    return env.stanza;
  });
}

/** A batch written by hand: one route text item per entry of `items` (its fields before the text, and the text). */
function handMade(items: ReadonlyArray<readonly [readonly string[], string]>, lengthOf = (text: string) => text.length): string {
  const batch: OutBatch = newBatch("node1");
  for (const [head, text] of items) {
    batch.header.push(2, lengthOf(text));
    batch.fields.push(...head, text);
  }
  return encodeBatch(batch);
}

/** The fields before a text: namespace, name, count, then each attribute's name and value. */
const head = (name: string, attrs: Record<string, string>, ns: string = NS.SERVER): string[] => [ns, name, String(Object.keys(attrs).length), ...Object.entries(attrs).flat()];

describe("cluster wire: stanzas as their received text", () => {
  for (const ns of [NS.SERVER, NS.COMPONENT]) {
    for (const kind of ["route", "pair"] as const) {
      it(`${kind}, read in ${ns}: same tree and namespace on arrival without parsing, still forwarded as the same text`, () => {
        const stanzas = received(ns, STANZAS);
        const texts = stanzas.map((s) => receivedText(s));
        assert.ok(texts.every((t) => t !== undefined), "the fast path kept each text");
        const batch = newBatch("node1");
        addItem(batch, { kind: "route", stanza: stanzas[0]! });
        assert.ok(encodeBatch(batch).endsWith(US + texts[0]!), "sent as the text itself (no escaping), not as a tree");
        const arrived = roundTrip(stanzas, kind);
        arrived.forEach((a, i) => {
          assert.equal(receivedText(a), texts[i], "forwarded unbuilt on the receiving node");
          assert.deepEqual(a.attrNames(), stanzas[i]!.attrNames(), "attributes in order");
          // Reading the children builds them from the text; the text stays usable.
          assert.equal(a.nodes().length, stanzas[i]!.nodes().length);
          assert.equal(receivedText(a), texts[i]);
        });
        // Compared as plain trees (an XmlElement keeps its state in private fields).
        assert.deepEqual(arrived.map(dump), received(ns, STANZAS).map(dump));
        assert.ok(arrived.every((a) => a.ns === ns));
      });
    }
  }

  it("a changed stanza, or one built here, goes as a tree, in order with the texts", () => {
    const [changed, unchanged] = received(NS.SERVER, STANZAS);
    changed!.attrs.to = "z@b.example";
    const built = el("message", { to: "y@b.example", id: "9" }, NS.SERVER, el("body", {}, undefined, "hi"));
    const batch = newBatch("node1");
    addItem(batch, { kind: "route", stanza: changed! });
    addItem(batch, { kind: "route", stanza: unchanged! });
    addItem(batch, { kind: "pair", local: "a.example", remote: "b.example", stanza: built });
    const text = encodeBatch(batch);
    assert.equal(text.split("<iq").length, 2, "one text item");
    const decoded = decode(text);
    assert.deepEqual(decoded.envelopes.map((e) => e.kind), ["route", "route", "pair"]);
    assert.deepEqual(decoded.envelopes.map((e) => serialize(e.stanza)), [serialize(changed!), serialize(unchanged!), serialize(built)]);
  });

  it("common names are written as indexes and read back as themselves; other names as they are", () => {
    const content =
      "<presence from='a@a.example' to='b@b.example' type='unavailable' id='p' xml:lang='en' message='m' iq='i' x-to='y'/>" +
      "<iq from='a@a.example' to='b@b.example' type='get' id='q'><query xmlns='urn:x'/></iq>" +
      "<from to='b@b.example'/><to from='a@a.example'/><message presence='1'/>";
    for (const ns of [NS.SERVER, NS.CLIENT, NS.COMPONENT, "urn:example:other"]) {
      const stanzas = received(ns, content);
      const arrived = roundTrip(stanzas, "route");
      assert.ok(arrived.every((a, i) => receivedText(a) !== undefined && receivedText(a) === receivedText(stanzas[i]!)), "as text");
      assert.deepEqual(arrived.map(dump), received(ns, content).map(dump));
    }
    const batch = newBatch("node1");
    addItem(batch, { kind: "route", stanza: received(NS.SERVER, "<message from='a@a.example' to='b@b.example'/>")[0]! });
    assert.ok(encodeBatch(batch).includes(`${US}0${US}0${US}2${US}0${US}a@a.example${US}1${US}b@b.example${US}<message`), "indexes");
  });

  it("a one-character namespace (which would read as an index) goes as a tree", () => {
    const [odd] = received("1", "<message to='b@b.example'><body>x</body></message>");
    const batch = newBatch("node1");
    addItem(batch, { kind: "route", stanza: odd! });
    assert.ok(!encodeBatch(batch).includes("<message"), "not as text");
    assert.equal(decode(encodeBatch(batch)).envelopes[0]!.stanza.ns, "1");
  });

  it("a text item that does not describe its text is counted and left out; the others of the batch arrive", () => {
    const good = (id: string): [string[], string] => [head("message", { id }), `<message id='${id}'/>`];
    const bad: Array<[string[], string]> = [
      [head("message", { id: "x" }), "<oops/>"], // the name is not the text's
      [head("message", { id: "x" }), "<messages id='x'/>"],
      [head("message", { id: "x" }), "<message id='x'"], // not ending with >
      [head("message", { id: "x" }), "message id='x'/>"],
      [head("", {}), "<message/>"],
      [[NS.SERVER, "message", "1", "__proto__", "x"], "<message/>"],
      [[NS.SERVER, "message", "2", "id", "x", "id", "y"], "<message/>"], // a duplicate
    ];
    for (const item of bad) {
      const decoded = decode(handMade([good("a"), item, good("b")]));
      assert.equal(decoded.unparsable, 1, JSON.stringify(item));
      assert.deepEqual(decoded.envelopes.map((e) => e.stanza.attr("id")), ["a", "b"]);
    }
  });

  it("a batch whose fields do not add up is not decoded (never thrown): other versions, wrong counts or lengths, extra fields", () => {
    const item: [string[], string] = [head("message", { id: "a" }), "<message id='a'/>"];
    assert.ok(reader().decode(handMade([item])));
    const ok = handMade([item]);
    for (const message of [
      ok.replace("[6,", "[5,"), // wire version 5 (texts inside the JSON)
      `[5,"node1",1,2,"${NS.SERVER}","<message/>"]`,
      handMade([item], (t) => t.length + 1), // the text is not that long
      handMade([[[NS.SERVER, "message", "2", "id", "a"], "<message id='a'/>"]]), // more attributes counted than there are fields
      handMade([[[NS.SERVER, "message", "-1"], "<message/>"]]),
      handMade([[[NS.SERVER, "message", "one"], "<message/>"]]),
      handMade([[head("message", { id: "a" }), `<message id='a${US}'/>`]]), // a separator inside a text (no parser gives one)
      ok + US + "x", // a field over
      ok.slice(0, ok.lastIndexOf(US)), // a field short
      `[6,"node1",1,7]`,
      `[6,"node1",1,2,"17"]${US}x`,
      "not json",
      "",
    ]) {
      assert.equal(reader().decode(message), undefined, JSON.stringify(message));
    }
  });

  it("children that do not build from the text are reported; the stanza has none and the next ones still build", () => {
    // Never expected (the sending node's parser read the text): the frame is right, the XML inside is not.
    const unbuildable: string[] = [];
    const decoded = decode(handMade([[head("message", { id: "a" }), "<message id='a'><body></message>"], [head("message", { id: "b" }), "<message id='b'><body>ok</body></message>"]]), unbuildable);
    assert.equal(decoded.unparsable, 0);
    const [a, b] = decoded.envelopes.map((e) => e.stanza);
    assert.deepEqual(a!.nodes(), []);
    assert.equal(unbuildable.length, 1);
    assert.equal(b!.getChildText("body"), "ok");
    assert.equal(unbuildable.length, 1);
  });

  it("parseTexts: a text that does not parse yields its reason; the others parse", () => {
    const out = parseTexts(parsers, NS.SERVER, ["<message id='1'/>", "<message id='2'><body></message>", "<message id='3'/>", "<a/><b/>", "<message id='5'/>"]);
    assert.deepEqual(out.map((e) => (typeof e === "string" ? undefined : e.attr("id"))), ["1", undefined, "3", undefined, "5"]);
  });
});
