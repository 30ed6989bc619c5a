import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SaxesParser } from "saxes";
import plugin from "./index.js";
import { MAX_GAP_BYTES_UNLIMITED, MAX_HEADER_BYTES, MAX_SUPPORTED_DEPTH, SaxesStreamParserFactory } from "./saxes-stream-parser.js";
import { FastSaxesParser } from "./fast-saxes.js";
import {
  DEFAULT_MAX_DEPTH,
  type ParserErrorCondition,
  type PluginContext,
  type Provider,
  STREAM_PARSER_FACTORY,
  type StreamHeader,
  type StreamParser,
  type StreamParserLimits,
  type XmlElement,
} from "../../core/index.js";

// ---------------------------------------------------------------------------------------------
// Helpers

interface ElementDump {
  readonly name: string;
  readonly ns: string | undefined;
  readonly attrs: Record<string, string>;
  readonly children: (string | ElementDump)[];
}

type Event =
  | { readonly type: "start"; readonly header: StreamHeader }
  | { readonly type: "element"; readonly element: ElementDump }
  | { readonly type: "end" }
  | { readonly type: "error"; readonly condition: ParserErrorCondition; readonly text: string };

function dump(element: XmlElement): ElementDump {
  return {
    name: element.name,
    ns: element.ns,
    attrs: { ...element.attrs },
    children: element.children.map((c) => (typeof c === "string" ? c : dump(c))),
  };
}

const LIMITS: StreamParserLimits = { maxStanzaSize: 65536, maxDepth: DEFAULT_MAX_DEPTH };
const KB = { maxStanzaSize: 1024, maxDepth: DEFAULT_MAX_DEPTH } as const;

interface Recorder {
  readonly parser: StreamParser;
  readonly events: Event[];
  /** Elements delivered so far. */
  elements(): ElementDump[];
  errors(): Event[];
  write(...chunks: (string | Buffer)[]): Recorder;
}

/**
 * A parser whose handler calls are recorded. Any call after a final event (error, end) is
 * recorded as well, so comparing `events` also checks that a closed parser stays silent.
 */
function record(limits: StreamParserLimits = LIMITS): Recorder {
  const events: Event[] = [];
  const parser = new SaxesStreamParserFactory().create(
    {
      onStreamStart: (header) => events.push({ type: "start", header }),
      onElement: (element) => events.push({ type: "element", element: dump(element) }),
      onStreamEnd: () => events.push({ type: "end" }),
      onError: (condition, text) => events.push({ type: "error", condition, text }),
    },
    limits,
  );
  const recorder: Recorder = {
    parser,
    events,
    elements: () => events.flatMap((e) => (e.type === "element" ? [e.element] : [])),
    errors: () => events.filter((e) => e.type === "error"),
    write(...chunks) {
      for (const chunk of chunks) parser.write(chunk);
      return recorder;
    },
  };
  return recorder;
}

function chunked(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) out.push(data.subarray(at, at + size));
  return out;
}

function assertError(r: Recorder, condition: ParserErrorCondition): void {
  const errors = r.errors();
  assert.equal(errors.length, 1, `expected one error, got ${JSON.stringify(r.events.slice(-3))}`);
  assert.equal(errors[0]!.type === "error" && errors[0]!.condition, condition, JSON.stringify(errors[0]));
  assert.equal(r.events[r.events.length - 1], errors[0], "the error is the last event");
}

function errorText(r: Recorder): string {
  const error = r.errors()[0];
  return error?.type === "error" ? error.text : "";
}

function assertNoError(r: Recorder): void {
  assert.deepEqual(r.errors(), []);
}

const STREAM_NS = "http://etherx.jabber.org/streams";
const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
  " xmlns:db='jabber:server:dialback' to='a.example' from='b.example' version='1.0' xml:lang='en' id='abc'>";
/** A header with no declaration, for tests that count bytes. */
const H = "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>";

/** `<message to='a'><body>...</body></message>` of exactly `bytes` UTF-8 bytes, padded with `fill`. */
function stanzaOfSize(bytes: number, fill = "a"): string {
  const open = "<message to='a.example'><body>";
  const close = "</body></message>";
  let room = bytes - Buffer.byteLength(open + close);
  const fillBytes = Buffer.byteLength(fill);
  let body = fill.repeat(Math.floor(room / fillBytes));
  room -= Buffer.byteLength(body);
  body += "a".repeat(room);
  const out = open + body + close;
  assert.equal(Buffer.byteLength(out), bytes);
  return out;
}

/** A small but realistic stream: chat message with XEP-0085/0184, presence with caps, iq, dialback. */
const REALISTIC =
  HEADER +
  "\n<message from='juliet@b.example/balcony' to='romeo@a.example' type='chat' id='m1' xml:lang='fr'>" +
  "<body>héllo ✓ 😀 &amp; &lt;tag&gt; &apos;q&apos; &quot;dq&quot; &#x263A;&#9786;</body>" +
  "<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/></message>\r\n" +
  "<presence from='juliet@b.example/balcony' to='romeo@a.example'><show>away</show><status>Grüße\r\naus Köln</status>" +
  "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://dino.im' ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>" +
  " " +
  "<iq type='result' id='i1' from='b.example' to='a.example'><query xmlns='http://jabber.org/protocol/disco#info'>" +
  "<identity category='server' type='im' name='Ünïcödé &amp; co'/><feature var='urn:xmpp:ping'/>" +
  "<feature var='http://jabber.org/protocol/disco#info'/></query></iq>\n\n" +
  "<db:result from='b.example' to='a.example'>b4835385f37fe2895af6c196b59097b16862406db80559900d596b8b2c4f1a7b</db:result>" +
  "<iq type='set' id='p1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:avatar:metadata'>" +
  "<item id='abc'><metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='12345' id='abc' height='64' width='64' type='image/png'/>" +
  "</metadata></item></publish></pubsub></iq>" +
  "<message to='x@a.example'><body><![CDATA[<not a tag> & ]]>after</body></message>" +
  "</stream:stream>";

function eventsOf(chunks: readonly (string | Buffer)[], limits: StreamParserLimits = LIMITS): Event[] {
  return record(limits).write(...chunks).events;
}

// ---------------------------------------------------------------------------------------------

describe("saxes plugin", () => {
  it("rejects bad options: it takes none, and the factory refuses impossible limits", () => {
    assert.equal(plugin.parseOptions, undefined, "no [plugins.saxes] options");
    const factory = new SaxesStreamParserFactory();
    const handlers = { onStreamStart() {}, onElement() {}, onStreamEnd() {}, onError() {} };
    for (const maxStanzaSize of [0, -1, 1.5, Number.NaN, -Infinity]) {
      assert.throws(() => factory.create(handlers, { maxStanzaSize, maxDepth: 8 }), /maxStanzaSize: expected a positive integer or Infinity/);
    }
    for (const maxDepth of [0, -3, 2.5, Number.NaN, Infinity, MAX_SUPPORTED_DEPTH + 1]) {
      assert.throws(() => factory.create(handlers, { maxStanzaSize: 1024, maxDepth }), /maxDepth: expected an integer from 1 to 256/);
    }
    assert.doesNotThrow(() => factory.create(handlers, { maxStanzaSize: Infinity, maxDepth: 1 }));
    assert.doesNotThrow(() => factory.create(handlers, { maxStanzaSize: 1, maxDepth: MAX_SUPPORTED_DEPTH }));
  });

  it("declares and registers the Stream slot", async () => {
    assert.equal(plugin.name, "saxes");
    assert.deepEqual(plugin.provides, [STREAM_PARSER_FACTORY]);
    const provided: [unknown, Provider<unknown>][] = [];
    const ctx = {
      provide: (token: unknown, provider: Provider<unknown>) => provided.push([token, provider]),
    } as unknown as PluginContext<Record<string, never>>;
    await plugin.register(ctx);
    assert.equal(provided.length, 1);
    assert.equal(provided[0]![0], STREAM_PARSER_FACTORY);
    const provider = provided[0]![1];
    assert.ok("useValue" in provider && provider.useValue instanceof SaxesStreamParserFactory);
  });
});

describe("FastSaxesParser (the saxes fast-property trap, fast-saxes.ts)", () => {
  it("pre-creates every handler slot that saxes' on() writes", () => {
    const parser = new FastSaxesParser();
    const own = Object.keys(parser);
    for (const slot of ["xmldeclHandler", "textHandler", "piHandler", "doctypeHandler", "commentHandler", "openTagStartHandler",
      "attributeHandler", "openTagHandler", "closeTagHandler", "cdataHandler", "errorHandler", "endHandler", "readyHandler"]) {
      assert.ok(own.includes(slot), `slot ${slot} exists after construction`);
    }
    // If a saxes upgrade renames the slots, on() would add new properties again: catch that here.
    const before = own.length;
    const handler = (): void => {};
    for (const event of ["xmldecl", "text", "processinginstruction", "doctype", "comment", "opentagstart", "attribute",
      "opentag", "closetag", "cdata", "error", "end", "ready"] as const) {
      parser.on(event, handler);
    }
    assert.equal(Object.keys(parser).length, before, "on() adds no property");
  });

  it("stays in V8 fast-properties mode with all handlers set, where plain saxes does not", () => {
    const here = fileURLToPath(new URL(".", import.meta.url));
    const script = `
      const { FastSaxesParser } = await import(${JSON.stringify(`${here}fast-saxes.ts`)});
      const { SaxesStreamParser } = await import(${JSON.stringify(`${here}saxes-stream-parser.ts`)});
      const { SaxesParser } = await import("saxes");
      const events = ["xmldecl", "text", "processinginstruction", "doctype", "comment", "opentagstart", "opentag", "closetag", "cdata", "error", "end"];
      const plain = new SaxesParser({ xmlns: true });
      for (const e of events) plain.on(e, () => {});
      const fast = new FastSaxesParser();
      for (const e of events) fast.on(e, () => {});
      const stream = new SaxesStreamParser({ onStreamStart() {}, onElement() {}, onStreamEnd() {}, onError() {} }, { maxStanzaSize: 1000, maxDepth: 5 });
      stream.write("<stream xmlns='jabber:server'><a>x</a>");
      console.log(JSON.stringify({ plain: %HasFastProperties(plain), fast: %HasFastProperties(fast), inStream: %HasFastProperties(stream.sax) }));
    `;
    const out = spawnSync(process.execPath, ["--allow-natives-syntax", "--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
    });
    assert.equal(out.status, 0, out.stderr);
    const result = JSON.parse(out.stdout.trim().split("\n").pop()!) as { plain: boolean; fast: boolean; inStream: boolean };
    assert.equal(result.fast, true, "FastSaxesParser keeps fast properties");
    assert.equal(result.inStream, true, "the parser inside SaxesStreamParser keeps fast properties");
    // Not a requirement, a record of why the subclass exists. If this flips, saxes fixed the trap.
    assert.equal(result.plain, false, "plain SaxesParser with 11 handlers is in dictionary mode");
  });

  it("is a SaxesParser", () => {
    assert.ok(new FastSaxesParser() instanceof SaxesParser);
  });
});

describe("stream header (RFC 6120 §4.7)", () => {
  it("reports name, namespace, attributes, default namespace and prefixes", () => {
    const r = record().write(HEADER);
    assert.deepEqual(r.events, [
      {
        type: "start",
        header: {
          name: "stream",
          ns: STREAM_NS,
          attrs: { to: "a.example", from: "b.example", version: "1.0", "xml:lang": "en", id: "abc" },
          defaultNs: "jabber:server",
          prefixes: { stream: STREAM_NS, db: "jabber:server:dialback" },
        },
      },
    ]);
  });

  it("reports the header as soon as its '>' arrives, byte by byte", () => {
    const r = record();
    const bytes = Buffer.from(HEADER);
    for (let i = 0; i < bytes.length - 1; i++) r.write(bytes.subarray(i, i + 1));
    assert.equal(r.events.length, 0, "nothing before the '>'");
    r.write(bytes.subarray(bytes.length - 1));
    assert.equal(r.events.length, 1);
    assert.equal(r.events[0]!.type, "start");
  });

  it("does not judge the namespace: a wrong one is reported for the stream engine to refuse", () => {
    const r = record().write("<stream xmlns='jabber:client' to='a.example'>");
    assert.deepEqual(r.events, [{ type: "start", header: { name: "stream", ns: "jabber:client", attrs: { to: "a.example" }, defaultNs: "jabber:client", prefixes: {} } }]);
  });

  it("reports a header without a default namespace", () => {
    const r = record().write("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
    assert.equal(r.events[0]!.type === "start" && r.events[0]!.header.defaultNs, undefined);
  });

  it("refuses an undeclared prefix on the root", () => {
    assertError(record().write("<stream:stream xmlns='jabber:server'>"), "not-well-formed");
  });
});

describe("top-level elements", () => {
  it("delivers each complete stanza once, with ns on every element and no xmlns attributes", () => {
    const r = record().write(HEADER, "<message to='romeo@a.example' type='chat' xml:lang='en'><body>hi</body><thread>t1</thread></message>");
    assertNoError(r);
    assert.deepEqual(r.elements(), [
      {
        name: "message",
        ns: "jabber:server",
        attrs: { to: "romeo@a.example", type: "chat", "xml:lang": "en" },
        children: [
          { name: "body", ns: "jabber:server", attrs: {}, children: ["hi"] },
          { name: "thread", ns: "jabber:server", attrs: {}, children: ["t1"] },
        ],
      },
    ]);
  });

  it("does not deliver an element before its end tag", () => {
    const r = record().write(HEADER, "<message><body>hi</body>");
    assert.deepEqual(r.elements(), []);
    r.write("</message>");
    assert.equal(r.elements().length, 1);
  });

  it("resolves nested default namespaces: children inherit the declaring element's", () => {
    const r = record().write(
      HEADER,
      "<message><request xmlns='urn:xmpp:receipts'><x><y/></x></request><body>b</body></message>",
    );
    const [message] = r.elements();
    assert.deepEqual(message, {
      name: "message",
      ns: "jabber:server",
      attrs: {},
      children: [
        {
          name: "request",
          ns: "urn:xmpp:receipts",
          attrs: {},
          children: [{ name: "x", ns: "urn:xmpp:receipts", attrs: {}, children: [{ name: "y", ns: "urn:xmpp:receipts", attrs: {}, children: [] }] }],
        },
        { name: "body", ns: "jabber:server", attrs: {}, children: ["b"] },
      ],
    });
  });

  it("resolves prefixes declared on the root (<db:result>) and on the stanza", () => {
    const r = record().write(
      HEADER,
      "<db:result from='b.example' to='a.example'>key</db:result>",
      "<db:verify from='b.example' to='a.example' id='s1' type='valid'/>",
      "<iq xmlns:p='urn:example:p' type='get'><p:query p:flag='1'><item/></p:query></iq>",
    );
    assertNoError(r);
    assert.deepEqual(r.elements(), [
      { name: "result", ns: "jabber:server:dialback", attrs: { from: "b.example", to: "a.example" }, children: ["key"] },
      { name: "verify", ns: "jabber:server:dialback", attrs: { from: "b.example", to: "a.example", id: "s1", type: "valid" }, children: [] },
      {
        name: "iq",
        ns: "jabber:server",
        attrs: { type: "get" },
        children: [
          // A prefixed element does not change the default namespace for its children.
          { name: "query", ns: "urn:example:p", attrs: { "p:flag": "1" }, children: [{ name: "item", ns: "jabber:server", attrs: {}, children: [] }] },
        ],
      },
    ]);
  });

  it("gives the empty namespace to an element that undeclares the default", () => {
    const [message] = record().write(HEADER, "<message><x xmlns=''/></message>").elements();
    assert.equal((message!.children[0] as ElementDump).ns, "");
  });

  it("merges adjacent text, CDATA sections, predefined entities and character references", () => {
    const [message] = record()
      .write(HEADER, "<message><body>a &amp; b<![CDATA[ <c> & ]]>&lt;&gt;&apos;&quot;&#x263A;&#9786;", "-tail</body></message>")
      .elements();
    assert.deepEqual(message!.children, [{ name: "body", ns: "jabber:server", attrs: {}, children: ["a & b <c> & <>'\"☺☺-tail"] }]);
  });

  it("keeps text between child elements and normalises line ends", () => {
    const [message] = record().write(HEADER, "<message>\r\n  <body>x\ry</body>\n</message>").elements();
    assert.deepEqual(message!.children, ["\n  ", { name: "body", ns: "jabber:server", attrs: {}, children: ["x\ny"] }, "\n"]);
  });

  it("ignores whitespace between top-level elements (keepalives)", () => {
    const r = record().write(HEADER, " ", "\n", "<presence/>", " \t\r\n ", "<presence/>", " ");
    assertNoError(r);
    assert.equal(r.elements().length, 2);
  });

  for (const [label, junk] of [
    ["text", "hello"],
    ["an entity", "&amp;"],
    ["a CDATA section", "<![CDATA[x]]>"],
  ] as const) {
    it(`refuses ${label} directly inside the stream root: not-well-formed`, () => {
      const r = record().write(HEADER, "<presence/>", junk, "<presence/>");
      assert.equal(r.elements().length, 1, "the element before is delivered");
      assertError(r, "not-well-formed");
    });
  }
});

describe("what parsers share (one set of handlers and tables for every stream, docs/performance.md \"Memory\")", () => {
  it("interleaved streams each get their own events: elements, text, CDATA, entities, errors", () => {
    const a = record();
    const b = record();
    // The header of each, then pieces of each in turn, so that every shared handler runs for one
    // parser between two calls for the other.
    a.write(HEADER, "<message id='a1'><body>x &amp; <![CDATA[<y>]]></body>");
    b.write(HEADER.replace("id='abc'", "id='def'"), "<db:result from='c.example' to='a.example'>k&lt;b");
    a.write("</message><db:result from='b.example' to='a.example'>ka</db:result>");
    b.write("</db:result><presence><status>s&#x263A;</status></presence>");
    a.write("<!-- comment -->");
    b.write("<iq type='get' id='b2'/>");
    assertError(a, "restricted-xml");
    assertNoError(b);
    assert.deepEqual(a.events[0]!.type === "start" && a.events[0]!.header.attrs.id, "abc");
    assert.deepEqual(b.events[0]!.type === "start" && b.events[0]!.header.attrs.id, "def");
    assert.deepEqual(
      a.elements().map((e) => [e.name, e.children]),
      [["message", [{ name: "body", ns: "jabber:server", attrs: {}, children: ["x & <y>"] }]], ["result", ["ka"]]],
    );
    assert.deepEqual(
      b.elements().map((e) => [e.name, e.attrs.from ?? e.attrs.id, e.children]),
      [["result", "c.example", ["k<b"]], ["presence", undefined, [{ name: "status", ns: "jabber:server", attrs: {}, children: ["s\u263A"] }]], ["iq", "b2", []]],
    );
    // A stream opened after both still reads the XML declaration and the predefined entities.
    const c = record().write("<?xml version='1.0' encoding='UTF-8'?>", H, "<message><body>&lt;&gt;&apos;&quot;&amp;</body></message>");
    assertNoError(c);
    assert.deepEqual(c.elements()[0]!.children, [{ name: "body", ns: "jabber:server", attrs: {}, children: ["<>'\"&"] }]);
  });

  it("a stream refused for a processing instruction or DOCTYPE does not affect one that goes on", () => {
    const bad = record().write(H, "<message><body>a");
    const good = record().write(H, "<message><body>b");
    bad.write("<?pi x?></body></message>");
    good.write("</body></message>");
    assertError(bad, "restricted-xml");
    assertNoError(good);
    assert.equal(good.elements().length, 1);
    const doctype = record().write("<!DOCTYPE stream:stream>", H);
    assertError(doctype, "restricted-xml");
    assertNoError(good.write("<presence/>"));
    assert.equal(good.elements().length, 2);
  });

  it("streams with the same root declarations share one table of them; others keep their own", () => {
    type Sax = { sax: { tags: { ns: Record<string, string> }[]; topNS: unknown } };
    const header = (db: string) => `<stream:stream xmlns='jabber:server' xmlns:stream='${STREAM_NS}' xmlns:db='${db}'>`;
    const one = record().write(header("jabber:server:dialback"), "<db:result from='b.example' to='a.example'>k1</db:result>");
    const two = record().write(header("jabber:server:dialback"), "<db:result from='c.example' to='a.example'>k2</db:result>");
    const odd = record().write(header("urn:example:not-dialback"), "<db:result from='d.example' to='a.example'>k3</db:result>");
    for (const r of [one, two, odd]) assertNoError(r);
    const [s1, s2, s3] = [one, two, odd].map((r) => (r.parser as unknown as Sax).sax);
    assert.equal(s1!.tags[0]!.ns, s2!.tags[0]!.ns, "same declarations: one table");
    assert.notEqual(s1!.tags[0]!.ns, s3!.tags[0]!.ns);
    assert.equal(s3!.tags[0]!.ns.db, "urn:example:not-dialback");
    // Between reads, saxes' current bindings are the open root's, not the last closed element's.
    assert.equal(s1!.topNS, s1!.tags[0]!.ns);
    assert.deepEqual([one, two, odd].map((r) => r.elements()[0]!.ns), ["jabber:server:dialback", "jabber:server:dialback", "urn:example:not-dialback"]);
    // An element that declares its own prefix after that still resolves it, and the next one does not inherit it.
    two.write("<x:a xmlns:x='urn:x'><x:b/></x:a><db:verify from='c.example' to='a.example' id='i'>k</db:verify>", "<x:c/>");
    assertError(two, "not-well-formed");
    assert.deepEqual(two.elements().map((e) => [e.name, e.ns]), [["result", "jabber:server:dialback"], ["a", "urn:x"], ["verify", "jabber:server:dialback"]]);
    assert.equal(s1!.tags[0]!.ns.x, undefined, "the shared table is not written by another stream's elements");
  });

  it("parsers share saxes' entity table and, once the root is open, drop their XML declaration objects", () => {
    const one = new SaxesStreamParserFactory().create({ onStreamStart() {}, onElement() {}, onStreamEnd() {}, onError() {} }, LIMITS) as unknown as { sax: Record<string, unknown> };
    const two = new SaxesStreamParserFactory().create({ onStreamStart() {}, onElement() {}, onStreamEnd() {}, onError() {} }, LIMITS) as unknown as { sax: Record<string, unknown>; write(s: string): void };
    assert.equal(one.sax.ENTITIES, two.sax.ENTITIES);
    assert.equal(one.sax.openTagHandler, two.sax.openTagHandler, "a handler saxes calls as a method is shared");
    assert.notEqual(one.sax.textHandler, two.sax.textHandler, "saxes calls the text handler without a `this`: one per parser");
    two.write(HEADER);
    assert.deepEqual({ ...(two.sax.xmlDecl as object) }, { version: undefined, encoding: undefined, standalone: undefined });
  });
});

describe("restricted XML (RFC 6120 §11.1)", () => {
  const cases: [string, string[]][] = [
    ["a DOCTYPE before the root", ["<?xml version='1.0'?><!DOCTYPE stream:stream>", H]],
    ["a DOCTYPE with an internal subset", ["<!DOCTYPE stream [<!ELEMENT stream ANY>]>", H]],
    [
      "a DOCTYPE declaring entities (billion laughs)",
      ["<!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>" +
        "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>]>", H, "<message><body>&lol3;</body></message>"]],
    ["a processing instruction before the root", ["<?xml version='1.0'?><?xml-stylesheet href='a.xsl'?>", H]],
    ["a processing instruction between stanzas", [H, "<?foo bar?>"]],
    ["a processing instruction inside a stanza", [H, "<message><?foo?></message>"]],
    ["a comment before the root", ["<!-- hello -->", H]],
    ["a comment between stanzas", [H, "<!-- keepalive -->"]],
    ["a comment inside a stanza", [H, "<message><body>a<!-- b --></body></message>"]],
  ];
  for (const [label, chunks] of cases) {
    it(`refuses ${label}: restricted-xml`, () => {
      const r = record().write(...chunks);
      assertError(r, "restricted-xml");
      assert.deepEqual(r.elements(), []);
    });
  }

  it("accepts the XML declaration, only at the very start", () => {
    assertNoError(record().write("<?xml version='1.0' encoding='UTF-8'?>", H, "<presence/>"));
    assertError(record().write(" <?xml version='1.0'?>", H), "not-well-formed");
    assertError(record().write(H, "<?xml version='1.0'?>"), "not-well-formed");
  });

  it("delivers the complete stanza before the offending comment, then nothing", () => {
    const r = record().write(H, "<presence/><!-- x --><presence/>");
    assert.equal(r.elements().length, 1);
    assertError(r, "restricted-xml");
  });

  it("parses with XML 1.0 rules even when the declaration says 1.1", () => {
    assertError(record().write("<?xml version='1.1'?>", H, "<message><body>&#1;</body></message>"), "not-well-formed");
  });
});

describe("not-well-formed input", () => {
  const cases: [string, (string | Buffer)[]][] = [
    ["mismatched tags", [H, "<message><body>hi</message>"]],
    ["a stanza closed by the stream's end tag", [H, "<message><body>hi</body></stream:stream>"]],
    ["an end tag with nothing open", [H, "</message>"]],
    ["duplicate attributes", [H, "<message to='a' to='b'/>"]],
    ["duplicate attributes through two prefixes", [H, "<message xmlns:a='urn:x' xmlns:b='urn:x' a:t='1' b:t='2'/>"]],
    ["an undeclared element prefix", [H, "<foo:message/>"]],
    ["an undeclared attribute prefix", [H, "<message foo:to='a'/>"]],
    ["an unquoted attribute", [H, "<message to=a.example><body/></message>"]],
    ["a control character in text", [H, "<message><body>a\u0001b</body></message>"]],
    ["a control character in an attribute", [H, "<message to='a\u0007'/>"]],
    ["a character reference to a control character", [H, "<message><body>&#0;</body></message>"]],
    ["U+FFFE", [H, "<message><body>\uFFFE</body></message>"]],
    ["an undefined entity", [H, "<message><body>&nbsp;</body></message>"]],
    ["']]>' in text", [H, "<message><body>a]]>b</body></message>"]],
    ["'<' in an attribute value", [H, "<message to='a<b'/>"]],
    ["text before the root", ["hello", H]],
    ["an invalid UTF-8 byte", [Buffer.from(H), Buffer.from("<message><body>"), Buffer.from([0xff]), Buffer.from("</body></message>")]],
    ["an overlong UTF-8 sequence", [Buffer.from(H + "<message><body>"), Buffer.from([0xc0, 0x80]), Buffer.from("</body></message>")]],
    ["a UTF-8 encoded surrogate", [Buffer.from(H + "<message><body>"), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from("</body></message>")]],
    ["a truncated UTF-8 sequence", [Buffer.from(H + "<message><body>"), Buffer.from([0xe2, 0x9c]), Buffer.from("</body></message>")]],
    // Chunks that end with an ASCII byte decode without a StringDecoder until one is needed.
    ["an invalid UTF-8 byte inside a chunk that ends in ASCII", [Buffer.concat([Buffer.from(H + "<message><body>"), Buffer.from([0xff]), Buffer.from("</body></message>")])]],
    ["a truncated UTF-8 sequence followed by ASCII in the same chunk", [Buffer.from(H), Buffer.concat([Buffer.from("<message><body>"), Buffer.from([0xe2, 0x9c]), Buffer.from("a</body></message>")])]],
    ["an invalid byte after the decoder took over", [Buffer.from(H + "<message><body>\u00e9"), Buffer.concat([Buffer.from([0xa9, 0xff]), Buffer.from("</body></message>")])]],
  ];
  for (const [label, chunks] of cases) {
    it(`refuses ${label}`, () => {
      const r = record().write(...chunks);
      assertError(r, "not-well-formed");
      assert.deepEqual(r.elements(), [], "nothing half-parsed is delivered");
    });
  }

  it("decodes multi-byte characters inside chunks and split across them, before and after a split", () => {
    const text = "h\u00e9 \u2713 \u{1F600}.";
    const bytes = Buffer.from(H + `<message><body>${text}</body><body>${text}</body></message>`);
    for (const size of [1, 2, 3, 5, 7, 64]) {
      const r = record().write(...chunked(bytes, size));
      assertNoError(r);
      assert.deepEqual(r.elements()[0]!.children.map((c) => typeof c === "string" ? c : c.children), [[text], [text]], `chunks of ${size}`);
    }
  });

  it("accepts an encoded U+FFFD split across chunks (it is a legal character)", () => {
    const r = record().write(Buffer.from(H + "<message><body>"), Buffer.from([0xef]), Buffer.from([0xbf]), Buffer.from([0xbd, 0x3c]), Buffer.from("/body></message>"));
    assertNoError(r);
    assert.deepEqual(r.elements()[0]!.children, [{ name: "body", ns: "jabber:server", attrs: {}, children: ["\uFFFD"] }]);
  });

  it("reports the error text from saxes", () => {
    const r = record().write(H, "<message to='a' to='b'/>");
    assert.match(errorText(r), /duplicate attribute/);
  });
});

describe("stanza size limit (listener max_stanza_size)", () => {
  const atLimit = stanzaOfSize(1024);
  const overLimit = stanzaOfSize(1025);

  it("accepts an element of exactly the limit and refuses one byte more, in one chunk", () => {
    const ok = record(KB).write(H + atLimit + "<presence/>");
    assertNoError(ok);
    assert.equal(ok.elements().length, 2);
    const over = record(KB).write(H + "<presence/>" + overLimit + "<presence/>");
    assert.equal(over.elements().length, 1, "the small element before it is delivered");
    assertError(over, "policy-violation");
  });

  it("counts bytes, not characters (multi-byte UTF-8 text)", () => {
    for (const fill of ["é", "✓", "😀"]) {
      assertNoError(record(KB).write(Buffer.from(H + stanzaOfSize(1024, fill))));
      assertError(record(KB).write(Buffer.from(H + stanzaOfSize(1025, fill))), "policy-violation");
      assertError(record(KB).write(...chunked(Buffer.from(H + stanzaOfSize(1025, fill)), 7)), "policy-violation");
      assertNoError(record(KB).write(...chunked(Buffer.from(H + stanzaOfSize(1024, fill)), 1)));
    }
  });

  for (const size of [1, 2, 3, 7, 100, 1000, 4096]) {
    it(`is exact when the stream arrives in ${size}-byte chunks`, () => {
      const ok = record(KB).write(...chunked(Buffer.from(H + atLimit + " " + atLimit), size));
      assertNoError(ok);
      assert.equal(ok.elements().length, 2);
      assertError(record(KB).write(...chunked(Buffer.from(H + atLimit + overLimit), size)), "policy-violation");
    });
  }

  it("refuses an oversized element as soon as it is known, without waiting for its end", () => {
    const r = record(KB).write(H, "<message><body>");
    let sent = "<message><body>".length;
    while (r.errors().length === 0 && sent < 100_000) {
      r.write("a".repeat(100));
      sent += 100;
    }
    assertError(r, "policy-violation");
    assert.ok(sent <= 1024 + 100, `refused after ${sent} bytes of the element`);
  });

  it("refuses an oversized element inside one big chunk", () => {
    const r = record(KB).write(Buffer.from(H + "<presence/>" + "<message><body>" + "x".repeat(100_000) + "</body></message><presence/>"));
    assert.equal(r.elements().length, 1);
    assertError(r, "policy-violation");
  });

  it("refuses an oversized start tag (attributes) before its '>'", () => {
    const r = record(KB).write(H, "<message to='" + "a".repeat(2000));
    assertError(r, "policy-violation");
  });

  it("has no limit when Infinity", () => {
    const r = record({ maxStanzaSize: Infinity, maxDepth: 8 }).write(H, stanzaOfSize(1_000_000));
    assertNoError(r);
    assert.equal(r.elements().length, 1);
  });
});

describe("header and between-stanza limits", () => {
  it(`refuses more than ${MAX_HEADER_BYTES} bytes before the header's '>'`, () => {
    assertError(record().write(" ".repeat(MAX_HEADER_BYTES + 1)), "policy-violation");
    assertError(record().write(...chunked(Buffer.from(" ".repeat(MAX_HEADER_BYTES + 100)), 1000)), "policy-violation");
    assertError(record().write("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='" + "a".repeat(MAX_HEADER_BYTES)), "policy-violation");
    assertError(record().write(`<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='${"a".repeat(MAX_HEADER_BYTES)}'>`), "policy-violation");
    assertNoError(record().write(" ".repeat(MAX_HEADER_BYTES - H.length) + H));
  });

  it("bounds what arrives between stanzas by max_stanza_size", () => {
    assertNoError(record(KB).write(H, " ".repeat(1024), "<presence/>", " ".repeat(1000), "<presence/>"));
    assertError(record(KB).write(H, "<presence/>", " ".repeat(1025)), "policy-violation");
    assertError(record(KB).write(H, " ".repeat(1025) + "<presence/>"), "policy-violation");
    // Text (not-well-formed once its end is seen) and unfinished markup keep counting across writes.
    assertError(record(KB).write(H, ...Array.from({ length: 20 }, () => "a".repeat(100))), "policy-violation");
    assertError(record(KB).write(H, "<presence/>", "<", ...Array.from({ length: 20 }, () => "x".repeat(100))), "policy-violation");
  });

  it("never refuses whitespace keepalives, however long the stream stays idle (RFC 6120 §4.6.1)", () => {
    const r = record(KB).write(H);
    for (let i = 0; i < 100_000; i++) r.write(i % 2 === 0 ? " " : "\r\n");
    r.write(" ".repeat(600), " ".repeat(600), "<presence/>");
    assertNoError(r);
    assert.equal(r.elements().length, 1);
  });

  it(`bounds whitespace between stanzas by ${MAX_GAP_BYTES_UNLIMITED} bytes when the stanza size is unlimited`, () => {
    const unlimited = { maxStanzaSize: Infinity, maxDepth: 8 };
    assertError(record(unlimited).write(H, " ".repeat(MAX_GAP_BYTES_UNLIMITED + 1)), "policy-violation");
    // A keepalive flood spread over many stanzas is fine: each gap is counted on its own.
    const r = record(unlimited);
    r.write(H);
    for (let i = 0; i < 100; i++) r.write(" ".repeat(10_000), "<presence/>");
    assertNoError(r);
    assert.equal(r.elements().length, 100);
  });
});

describe("depth limit", () => {
  const limits = { maxStanzaSize: 65536, maxDepth: 3 };
  it("accepts nesting up to maxDepth below the root (a stanza is depth 1)", () => {
    assertNoError(record(limits).write(H, "<message><a><b/></a></message>"));
  });
  it("refuses one level more: policy-violation", () => {
    const r = record(limits).write(H, "<presence/><message><a><b><c/></b></a></message>");
    assert.equal(r.elements().length, 1);
    assertError(r, "policy-violation");
  });
  it("checks at the open tag, before the element ends", () => {
    assertError(record(limits).write(H, "<message><a><b><c>"), "policy-violation");
  });
});

describe("hostile input is handled in linear time", () => {
  const deadline = 15_000;
  // CPU time of this process, not wall time: other processes on a busy machine cannot push a
  // linear parse over the deadline, while a quadratic one still blows it.
  const timed = (f: () => void): number => {
    const t0 = process.cpuUsage();
    f();
    const used = process.cpuUsage(t0);
    return Math.round((used.user + used.system) / 1000);
  };
  const FOUR_MB = 4 * 1024 * 1024;

  it("refuses a 4 MB unterminated attribute value", () => {
    const attack = "<message to='" + "a".repeat(FOUR_MB);
    for (const chunks of [[attack], [Buffer.from(attack)], chunked(Buffer.from(attack), 16 * 1024)]) {
      const ms = timed(() => {
        const r = record(LIMITS).write(H);
        for (const chunk of chunks) {
          r.write(chunk);
          if (r.errors().length > 0) break;
        }
        assertError(r, "policy-violation");
      });
      assert.ok(ms < deadline, `${ms} ms`);
    }
  });

  it("refuses 4 MB of nested open tags, by depth and by size", () => {
    const attack = "<a>".repeat(FOUR_MB / 3);
    const ms = timed(() => {
      for (const maxDepth of [DEFAULT_MAX_DEPTH, MAX_SUPPORTED_DEPTH]) {
        const byDepth = record({ maxStanzaSize: Infinity, maxDepth }).write(H, attack);
        assertError(byDepth, "policy-violation");
        assert.match(errorText(byDepth), /nested deeper/);
      }
      const bySize = record({ maxStanzaSize: 512, maxDepth: MAX_SUPPORTED_DEPTH }).write(...chunked(Buffer.from(H + attack), 16 * 1024));
      assertError(bySize, "policy-violation");
      assert.match(errorText(bySize), /larger than 512 bytes/);
    });
    assert.ok(ms < deadline, `${ms} ms`);
  });

  it("parses 2 MB of tiny elements at the deepest allowed level in bounded time", () => {
    // The worst case for saxes' prefix resolution, which walks the open elements (README, Depth).
    const flood = "<a>".repeat(MAX_SUPPORTED_DEPTH - 1) + "<b/>".repeat(FOUR_MB / 8);
    const ms = timed(() => {
      const r = record({ maxStanzaSize: Infinity, maxDepth: MAX_SUPPORTED_DEPTH }).write(H, flood);
      assertNoError(r);
    });
    assert.ok(ms < deadline, `${ms} ms`);
  });

  it("parses a 2 MB text body under an unlimited stanza size", () => {
    const unlimited = { maxStanzaSize: Infinity, maxDepth: DEFAULT_MAX_DEPTH };
    for (const fill of ["x", "é"]) {
      const text = fill.repeat(2 * 1024 * 1024);
      const stream = Buffer.from(H + "<message><body>" + text + "</body></message>");
      for (const chunks of [[stream], chunked(stream, 16 * 1024), chunked(stream, 1000)]) {
        const ms = timed(() => {
          const r = record(unlimited).write(...chunks);
          assertNoError(r);
          const [message] = r.elements();
          assert.equal(((message!.children[0] as ElementDump).children[0] as string).length, text.length);
        });
        assert.ok(ms < deadline, `${ms} ms`);
      }
    }
  });
});

describe("correct at any chunk split", () => {
  const whole = Buffer.from(REALISTIC);
  const expected = eventsOf([whole]);

  it("parses the realistic stream completely", () => {
    assertNoError(record().write(whole));
    assert.equal(expected.filter((e) => e.type === "element").length, 6);
    assert.deepEqual(expected[expected.length - 1], { type: "end" });
    const body = (expected[1] as { element: ElementDump }).element.children[0] as ElementDump;
    assert.deepEqual(body.children, ["héllo ✓ 😀 & <tag> 'q' \"dq\" ☺☺"]);
  });

  it("gives the same events when split in two at every byte offset", () => {
    for (let at = 0; at <= whole.length; at++) {
      assert.deepEqual(eventsOf([whole.subarray(0, at), whole.subarray(at)]), expected, `split at byte ${at}`);
    }
  });

  it("gives the same events when split in two at every character offset of the string", () => {
    for (let at = 0; at <= REALISTIC.length; at++) {
      assert.deepEqual(eventsOf([REALISTIC.slice(0, at), REALISTIC.slice(at)]), expected, `split at char ${at}`);
    }
  });

  it("gives the same events with 1-byte chunks of a larger stream, and with random chunk sizes", () => {
    const body = REALISTIC.slice(HEADER.length, -"</stream:stream>".length);
    const big = Buffer.from(HEADER + body.repeat(20) + "</stream:stream>");
    const bigExpected = eventsOf([big]);
    assert.equal(bigExpected.filter((e) => e.type === "element").length, 120);
    assert.deepEqual(eventsOf(chunked(big, 1)), bigExpected);
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let round = 0; round < 50; round++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < big.length; ) {
        const size = 1 + Math.floor(random() * 97);
        chunks.push(big.subarray(at, at + size));
        at += size;
      }
      assert.deepEqual(eventsOf(chunks), bigExpected, `round ${round}`);
    }
  });

  it("keeps the size limit exact at every split of a stream holding an element of exactly the limit", () => {
    const stream = Buffer.from(H + "<presence/>" + stanzaOfSize(1024, "é✓") + "\r\n" + stanzaOfSize(1024, "😀") + "<presence/>");
    for (let at = 0; at <= stream.length; at++) {
      const r = record(KB).write(stream.subarray(0, at), stream.subarray(at));
      assertNoError(r);
      assert.equal(r.elements().length, 4, `split at ${at}`);
    }
    const over = Buffer.from(H + "<presence/>" + stanzaOfSize(1025, "é✓") + "<presence/>");
    for (let at = 0; at <= over.length; at++) {
      const r = record(KB).write(over.subarray(0, at), over.subarray(at));
      assertError(r, "policy-violation");
    }
  });
});

describe("stream end, errors and close()", () => {
  it("reports the end of the stream once and ignores what follows", () => {
    const r = record().write(H, "<presence/></stream:stream>", "<message/>", "garbage <<<");
    assert.deepEqual(r.events.map((e) => e.type), ["start", "element", "end"]);
  });

  it("reports start and end for a self-closing root", () => {
    const r = record().write("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>");
    assert.deepEqual(r.events.map((e) => e.type), ["start", "end"]);
  });

  it("delivers a complete element, and the stream end, before an error that follows them", () => {
    // Each was whole and well-formed: a stanza is delivered or bounced, never lost.
    for (const chunks of [[H, "<presence/><presence/><<presence/>"], [H + "<presence/><message><body/></message>&bogus;"]]) {
      const r = record().write(...chunks);
      assert.deepEqual(r.events.map((e) => e.type), ["start", "element", "element", "error"], JSON.stringify(chunks));
    }
    const ended = record().write(H, "<presence/></stream:stream>garbage");
    assert.deepEqual(ended.events.map((e) => e.type), ["start", "element", "end"]);
  });

  it("does not deliver an element whose end tag saxes refuses", () => {
    const r = record().write(H, "<presence/><message></stream:stream>");
    assert.deepEqual(r.events.map((e) => e.type), ["start", "element", "error"]);
  });

  it("reports a mismatched root end tag as an error, not as the end", () => {
    const r = record().write(H, "</stream:other>");
    assert.deepEqual(r.events.map((e) => e.type), ["start", "error"]);
  });

  it("reports one error and ignores all further input", () => {
    const r = record().write(H, "<message to='a' to='b'/><presence/>&bogus;<!-- x -->");
    assertError(r, "not-well-formed");
    r.write("<presence/>", "</stream:stream>", Buffer.from([0xff]));
    assert.deepEqual(r.events.map((e) => e.type), ["start", "error"]);
  });

  it("calls no handler after close()", () => {
    const r = record().write(H, "<message><body>");
    r.parser.close();
    r.write("</body></message>", "<presence/>", "</stream:stream>");
    assert.deepEqual(r.events.map((e) => e.type), ["start"]);
    r.parser.close();
  });

  it("stops at once when a handler closes the parser", () => {
    const seen: string[] = [];
    let parser: StreamParser | undefined;
    parser = new SaxesStreamParserFactory().create(
      {
        onStreamStart: () => seen.push("start"),
        onElement: (element) => {
          seen.push(element.name);
          parser?.close();
        },
        onStreamEnd: () => seen.push("end"),
        onError: () => seen.push("error"),
      },
      LIMITS,
    );
    parser.write(H + "<message/><presence/><iq/></stream:stream>");
    assert.deepEqual(seen, ["start", "message"]);
  });

  it("stops when onStreamStart closes the parser (the engine refused the header)", () => {
    const seen: string[] = [];
    const parser: StreamParser = new SaxesStreamParserFactory().create(
      {
        onStreamStart: () => {
          seen.push("start");
          parser.close();
        },
        onElement: () => seen.push("element"),
        onStreamEnd: () => seen.push("end"),
        onError: () => seen.push("error"),
      },
      LIMITS,
    );
    parser.write(H + "<message/>bad text</stream:stream>");
    assert.deepEqual(seen, ["start"]);
  });

  it("lets a handler's exception through, then stays closed", () => {
    const seen: string[] = [];
    const parser = new SaxesStreamParserFactory().create(
      {
        onStreamStart: () => {},
        onElement: () => {
          seen.push("element");
          throw new Error("boom");
        },
        onStreamEnd: () => seen.push("end"),
        onError: () => seen.push("error"),
      },
      LIMITS,
    );
    assert.throws(() => parser.write(H + "<message/><presence/>"), /boom/);
    parser.write("<iq/></stream:stream>");
    assert.deepEqual(seen, ["element"]);
  });

  it("refuses a write from inside one of its handlers", () => {
    let inner: unknown;
    const parser: StreamParser = new SaxesStreamParserFactory().create(
      {
        onStreamStart: () => {
          try {
            parser.write("<presence/>");
          } catch (err) {
            inner = err;
          }
        },
        onElement: () => {},
        onStreamEnd: () => {},
        onError: () => {},
      },
      LIMITS,
    );
    parser.write(H);
    assert.match(String(inner), /called from one of its own handlers/);
  });
});
