import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { definedCondition, el, escapeAttr, escapeText, NS, serialize, XmlElement } from "./element.js";
import { SaxesStreamParserFactory } from "../../plugins/saxes/saxes-stream-parser.js";
import { DEFAULT_MAX_DEPTH } from "../stream/parser.js";

/** `ns -> prefix` as the stream engine would build it from the header it sent. */
const PREFIXES: ReadonlyMap<string, string> = new Map([
  [NS.DIALBACK, "db"],
  [NS.STREAM, "stream"],
]);

/** Parse top-level elements out of a stream whose header declares jabber:server, `db` and `stream`. */
function parseStanzas(xml: string): XmlElement[] {
  const out: XmlElement[] = [];
  const errors: string[] = [];
  const parser = new SaxesStreamParserFactory().create(
    {
      onStreamStart: () => {},
      onElement: (element) => out.push(element),
      onStreamEnd: () => {},
      onError: (condition, text) => errors.push(`${condition}: ${text}`),
    },
    { maxStanzaSize: Infinity, maxDepth: DEFAULT_MAX_DEPTH },
  );
  // Header, content and end in separate writes, as they arrive: the content then takes the fast path.
  parser.write(`<stream:stream xmlns='${NS.SERVER}' xmlns:stream='${NS.STREAM}' xmlns:db='${NS.DIALBACK}'>`);
  parser.write(xml);
  parser.write("</stream:stream>");
  assert.deepEqual(errors, [], `parsing ${xml}`);
  return out;
}

/** Name, namespace, attributes in order and children: what deepEqual can compare. */
function tree(element: XmlElement): unknown {
  return [element.name, element.ns, Object.entries(element.attrs), element.nodes().map((c) => (typeof c === "string" ? c : tree(c)))];
}

function roundTrip(element: XmlElement): XmlElement {
  const xml = serialize(element, NS.SERVER, PREFIXES);
  const parsed = parseStanzas(xml);
  assert.equal(parsed.length, 1, xml);
  return parsed[0]!;
}

describe("escapeText", () => {
  it("escapes & < > and leaves quotes alone", () => {
    assert.equal(escapeText(`a & b < c > d ' "`), `a &amp; b &lt; c &gt; d ' "`);
  });

  it("cannot produce ']]>' or a tag", () => {
    assert.equal(escapeText("]]><x/>"), "]]&gt;&lt;x/&gt;");
  });

  it("writes CR as a character reference, keeps tab and LF", () => {
    assert.equal(escapeText("a\r\nb\tc"), "a&#13;\nb\tc");
  });

  it("replaces characters XML cannot carry with U+FFFD", () => {
    for (const bad of ["\u0000", "\u0001", "\u0008", "\u000B", "\u000C", "\u000E", "\u001F", "\uFFFE", "\uFFFF", "\uD800", "\uDFFF"]) {
      assert.equal(escapeText(`a${bad}b`), "a\uFFFDb", `U+${bad.charCodeAt(0).toString(16)}`);
    }
    assert.equal(escapeText("\uDC00\uD800"), "\uFFFD\uFFFD", "reversed surrogates are two lone ones");
  });

  it("keeps valid non-ASCII, astral characters and U+FFFD itself", () => {
    assert.equal(escapeText("héllo ✓ 😀 \uFFFD \u0085 \uE000"), "héllo ✓ 😀 \uFFFD \u0085 \uE000");
  });
});

describe("escapeAttr", () => {
  it("escapes & < > ' \"", () => {
    assert.equal(escapeAttr(`a & b < c > d ' e "`), "a &amp; b &lt; c &gt; d &apos; e &quot;");
  });

  it("writes tab, LF and CR as character references (attribute-value normalisation would eat them)", () => {
    assert.equal(escapeAttr("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
  });

  it("replaces characters XML cannot carry with U+FFFD", () => {
    assert.equal(escapeAttr("x\u0000y\uFFFEz\uD83D"), "x\uFFFDy\uFFFDz\uFFFD");
    assert.equal(escapeAttr("😀"), "😀");
  });
});

describe("serialize", () => {
  it("escapes text and attribute values in the output", () => {
    const message = el("message", { to: `a'b"c&<>` }, NS.SERVER, el("body", {}, NS.SERVER, `1 < 2 & 3 > 2 'q' "dq"`));
    assert.equal(
      serialize(message, NS.SERVER),
      `<message to='a&apos;b&quot;c&amp;&lt;&gt;'><body>1 &lt; 2 &amp; 3 &gt; 2 'q' "dq"</body></message>`,
    );
  });

  it("self-closes empty elements and skips undefined attributes", () => {
    assert.equal(serialize(el("presence", { to: "a", type: undefined }, NS.SERVER), NS.SERVER), "<presence to='a'/>");
  });

  it("emits xmlns only where the default namespace changes", () => {
    const message = el(
      "message",
      { to: "romeo@a.example" },
      NS.SERVER,
      el("body", {}, NS.SERVER, "hi"),
      el("request", {}, "urn:xmpp:receipts", el("x", {}, "urn:xmpp:receipts"), el("y", {})),
      el("active", {}, "http://jabber.org/protocol/chatstates"),
    );
    const inner =
      "<body>hi</body><request xmlns='urn:xmpp:receipts'><x/><y/></request><active xmlns='http://jabber.org/protocol/chatstates'/>";
    assert.equal(serialize(message, NS.SERVER), `<message to='romeo@a.example'>${inner}</message>`);
    assert.equal(serialize(message), `<message xmlns='jabber:server' to='romeo@a.example'>${inner}</message>`);
    assert.equal(serialize(message, NS.CLIENT), `<message xmlns='jabber:server' to='romeo@a.example'>${inner}</message>`);
    assert.equal(message.toString(), serialize(message));
  });

  it("writes an element with no namespace without xmlns (it inherits)", () => {
    assert.equal(serialize(el("a", {}, undefined, el("b")), NS.SERVER), "<a><b/></a>");
  });

  it("uses the prefixes map: <db:result> without an xmlns", () => {
    const result = el("result", { from: "b.example", to: "a.example" }, NS.DIALBACK, "key");
    assert.equal(serialize(result, NS.SERVER, PREFIXES), "<db:result from='b.example' to='a.example'>key</db:result>");
    // Without the map the namespace is declared as the default instead.
    assert.equal(serialize(result, NS.SERVER), "<result xmlns='jabber:server:dialback' from='b.example' to='a.example'>key</result>");
    const features = el("features", {}, NS.STREAM, el("dialback", {}, NS.DIALBACK_FEATURE), el("starttls", {}, NS.TLS));
    assert.equal(
      serialize(features, NS.SERVER, PREFIXES),
      "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
    );
  });

  it("keeps the default namespace unchanged inside a prefixed element", () => {
    const error = el("error", {}, NS.STREAM, el("host-unknown", {}, NS.STREAM_ERRORS), el("text", {}, NS.SERVER, "x"));
    assert.equal(
      serialize(error, NS.SERVER, PREFIXES),
      "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text>x</text></stream:error>",
    );
  });

  it("replaces invalid characters in what it writes", () => {
    const message = el("message", { id: "a\u0001" }, NS.SERVER, el("body", {}, NS.SERVER, "b\u0000c"));
    const parsed = roundTrip(message);
    assert.equal(parsed.attr("id"), "a\uFFFD");
    assert.equal(parsed.getChildText("body"), "b\uFFFDc");
  });
});

describe("round trip: parse(serialize(x)) equals x", () => {
  const stanzas: [string, XmlElement][] = [
    [
      "a chat message with XEP-0085 and XEP-0184 children",
      el(
        "message",
        { from: "juliet@b.example/balcony", to: "romeo@a.example", type: "chat", id: "m1", "xml:lang": "fr" },
        NS.SERVER,
        el("body", {}, NS.SERVER, `héllo ✓ 😀 & <tag> 'q' "dq" ]]> \t tab\nline\r\nCRLF`),
        el("active", {}, "http://jabber.org/protocol/chatstates"),
        el("request", {}, "urn:xmpp:receipts"),
      ),
    ],
    [
      "presence with caps",
      el(
        "presence",
        { from: "juliet@b.example/balcony", to: "romeo@a.example" },
        NS.SERVER,
        el("show", {}, NS.SERVER, "away"),
        el("status", {}, NS.SERVER, "Grüße aus Köln"),
        el("c", { hash: "sha-1", node: "https://dino.im", ver: "q07IKJEyjvHSyhy//CH0CxmKi8w=" }, "http://jabber.org/protocol/caps"),
      ),
    ],
    [
      "an iq with nested namespaces and attribute values needing escapes",
      el(
        "iq",
        { type: "result", id: "i1" },
        NS.SERVER,
        el(
          "query",
          {},
          NS.DISCO_INFO,
          el("identity", { category: "server", type: "im", name: `Ünïcödé & 'co' "x" <y>\ttab\nnl\rcr` }),
          el("feature", { var: NS.PING }, NS.DISCO_INFO),
          el("x", {}, "jabber:x:data", el("field", { var: "FORM_TYPE" }, "jabber:x:data", el("value", {}, "jabber:x:data", "urn:xmpp:dataforms:softwareinfo"))),
        ),
      ),
    ],
    ["dialback with the db prefix", el("result", { from: "b.example", to: "a.example", type: "valid" }, NS.DIALBACK)],
    ["dialback key", el("verify", { from: "b.example", to: "a.example", id: "s1" }, NS.DIALBACK, "b4835385f37fe2895af6c196")],
  ];

  /** The parser resolves `ns` on every element; fill it in the expected value the same way. */
  function withResolvedNs(element: XmlElement, inherited: string): XmlElement {
    const ns = element.ns ?? inherited;
    return new XmlElement(
      element.name,
      element.attrs,
      ns,
      element.children.map((c) => (typeof c === "string" ? c : withResolvedNs(c, ns))),
    );
  }

  for (const [label, stanza] of stanzas) {
    it(label, () => {
      // Compared as plain trees: an XmlElement keeps its state in private fields, which deepEqual ignores.
      assert.deepEqual(tree(roundTrip(stanza)), tree(withResolvedNs(stanza, NS.SERVER)));
    });
  }

  it("survives a second trip unchanged", () => {
    for (const [, stanza] of stanzas) {
      const once = roundTrip(stanza);
      assert.equal(serialize(roundTrip(once), NS.SERVER, PREFIXES), serialize(once, NS.SERVER, PREFIXES));
    }
  });
});

describe("received text: written again while unchanged, never once changed", () => {
  // What the stream parser's fast path delivers (XmlElement.received), as the stream engine writes it.
  const RECEIVED = `<message from='juliet@b.example/balcony' to="romeo@a.example" type='chat'  id='m&amp;1'><body xml:lang='en'>a &lt; b > c &apos;q&apos;</body><x xmlns='urn:x'><y a='1'/></x></message>`;

  function received(): XmlElement {
    const [element] = parseStanzas(RECEIVED);
    assert.equal(serialize(element!, NS.SERVER, PREFIXES), RECEIVED, "an unchanged element is written as received");
    return element!;
  }

  /** Written as the serialiser would write the same tree built from scratch (a clone never has received text). */
  function assertSerialised(element: XmlElement, label: string): string {
    const written = serialize(element, NS.SERVER, PREFIXES);
    assert.notEqual(written, RECEIVED, label);
    assert.equal(written, serialize(element.clone(), NS.SERVER, PREFIXES), label);
    return written;
  }

  const mutators: [string, (e: XmlElement) => void, (written: string) => void][] = [
    ["setting name", (e) => (e.name = "presence"), (w) => assert.match(w, /^<presence /)],
    ["setting ns", (e) => (e.ns = NS.CLIENT), (w) => assert.match(w, /^<message xmlns='jabber:client'/)],
    ["changing an attribute through attrs", (e) => (e.attrs.type = "normal"), (w) => assert.match(w, /type='normal'/)],
    ["deleting an attribute", (e) => delete e.attrs.id, (w) => assert.doesNotMatch(w, / id=/)],
    ["only taking attrs (the holder may change it later)", (e) => void e.attrs, () => {}],
    ["append", (e) => e.append(el("active", {}, "http://jabber.org/protocol/chatstates")), (w) => assert.match(w, /<active xmlns/)],
    ["pushing to children", (e) => e.children.push("tail"), (w) => assert.match(w, /tail<\/message>$/)],
    ["removing a child", (e) => e.children.splice(0, 1), (w) => assert.doesNotMatch(w, /<body/)],
    ["only taking children", (e) => void e.children, () => {}],
    ["a child's attribute", (e) => (e.getChild("body")!.attrs["xml:lang"] = "fr"), (w) => assert.match(w, /xml:lang='fr'/)],
    ["a child's text", (e) => e.getChild("body")!.append(" more"), (w) => assert.match(w, / more<\/body>/)],
    ["a child's name", (e) => (e.getChild("body")!.name = "subject"), (w) => assert.match(w, /<subject/)],
    ["a child's ns", (e) => (e.getChild("body")!.ns = "urn:other"), (w) => assert.match(w, /<body xmlns='urn:other'/)],
    ["a grandchild's attribute", (e) => (e.getChild("x", "urn:x")!.getChild("y")!.attrs.a = "2"), (w) => assert.match(w, /<y a='2'/)],
    ["a grandchild's children", (e) => void e.getChild("x", "urn:x")!.getChild("y")!.children.push("t"), (w) => assert.match(w, /<y a='1'>t<\/y>/)],
  ];
  for (const [label, mutate, check] of mutators) {
    it(`drops it on ${label}`, () => {
      const element = received();
      mutate(element);
      check(assertSerialised(element, label));
    });
  }

  it("keeps it through every reader", () => {
    const element = received();
    assert.equal(element.attr("to"), "romeo@a.example");
    assert.equal(element.attr("id"), "m&1");
    assert.deepEqual(element.attrNames(), ["from", "to", "type", "id"]);
    assert.equal(element.getChildText("body"), "a < b > c 'q'");
    assert.equal(element.getChild("body")!.attr("xml:lang"), "en");
    assert.equal(element.getChildren("x", "urn:x")[0]!.getChild("y")!.attr("a"), "1");
    assert.equal(element.nodes().length, 2);
    assert.equal(element.text(), "");
    assert.equal(definedCondition(element, NS.STANZA_ERRORS), "undefined-condition");
    assert.equal(element.name, "message");
    assert.equal(element.ns, NS.SERVER);
    assert.match(element.toString(), /^<message xmlns='jabber:server'/);
    const json = JSON.parse(JSON.stringify(element)) as { name: string; attrs: Record<string, string>; children: { name: string }[] };
    assert.deepEqual([json.name, json.attrs.id, json.children.map((c) => c.name)], ["message", "m&1", ["body", "x"]]);
    assert.equal(serialize(element, NS.SERVER, PREFIXES), RECEIVED);
  });

  it("a clone is a new element: changing it leaves the original's text in use", () => {
    const element = received();
    const copy = element.clone();
    copy.attrs.type = "error";
    copy.getChild("body")!.append("!");
    assert.equal(serialize(element, NS.SERVER, PREFIXES), RECEIVED);
    assert.match(serialize(copy, NS.SERVER, PREFIXES), /type='error'.*c 'q'!<\/body>/);
  });

  it("is used only where the element's namespace is the default one (else the tree is serialised)", () => {
    const element = received();
    assert.match(serialize(element, NS.CLIENT, PREFIXES), /^<message xmlns='jabber:server' from='juliet@b.example\/balcony' to='romeo@a.example'/);
    assert.equal(serialize(element, NS.SERVER, PREFIXES), RECEIVED);
  });

  it("is used for a received element nested in a new one", () => {
    const element = received();
    const wrapper = el("forwarded", {}, "urn:xmpp:forward:0", el("wrapped", {}, NS.SERVER, element));
    assert.equal(serialize(wrapper, NS.SERVER), `<forwarded xmlns='urn:xmpp:forward:0'><wrapped xmlns='jabber:server'>${RECEIVED}</wrapped></forwarded>`);
  });
});
