import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_DEPTH, NS, serialize, type XmlElement } from "../../core/index.js";
import { SaxesStreamParser } from "../../plugins/saxes/saxes-stream-parser.js";
import { dump } from "./differential.js";
import { randomStanzas } from "./corpus.js";

// A stanza the fast path read is forwarded as the text it was read from (XmlElement.received,
// core/xml/element.ts) instead of being serialised again. Whatever the reading and the writing
// streams' default namespaces (jabber:server, jabber:component:accept), the peer must parse exactly
// the tree that serialising would have given it: checked here by parsing both in the writing stream.

/** The prefixes each stream's header declares (XmlStream#sendHeader): `db` only on S2S streams. */
function prefixes(contentNs: string): ReadonlyMap<string, string> {
  return new Map(contentNs === NS.SERVER ? [[NS.STREAM, "stream"], [NS.DIALBACK, "db"]] : [[NS.STREAM, "stream"]]);
}
const CONTENT: ReadonlySet<string> = new Set([NS.SERVER, NS.CLIENT, NS.COMPONENT]);

function header(ns: string): string {
  const db = ns === NS.SERVER ? ` xmlns:db='${NS.DIALBACK}'` : "";
  return `<stream:stream xmlns='${ns}' xmlns:stream='${NS.STREAM}'${db} to='a.example'>`;
}

/** The top-level elements of `content` read on a stream whose default namespace is `ns` (the content after the header, in its own read, as on a live stream). */
function read(ns: string, content: string, strict = true): XmlElement[] {
  const out: XmlElement[] = [];
  const errors: string[] = [];
  const parser = new SaxesStreamParser(
    { onStreamStart: () => {}, onElement: (e) => out.push(e), onStreamEnd: () => {}, onError: (c, t) => errors.push(`${c}: ${t}`) },
    { maxStanzaSize: Infinity, maxDepth: DEFAULT_MAX_DEPTH },
  );
  parser.write(header(ns));
  parser.write(content);
  if (strict) assert.deepEqual(errors, [], content);
  return out;
}

/** What XmlStream#serialize (core/stream/xml-stream.ts) writes on a stream whose default namespace is `contentNs`. */
function written(element: XmlElement, contentNs: string): string {
  const inherited = element.ns !== undefined && CONTENT.has(element.ns) ? element.ns : contentNs;
  return serialize(element, inherited, prefixes(contentNs));
}

/**
 * `stanza` read on a `from` stream and written on a `to` stream: the tree the peer parses from what
 * we wrote equals the tree it parses from the same element serialised (a clone carries no received
 * text). Returns both texts.
 */
function forward(stanza: string, from: string, to: string): { direct: string; serialised: string } {
  const [element] = read(from, stanza);
  assert.ok(element, stanza);
  const direct = written(element, to);
  const serialised = written(element.clone(), to);
  const peer = read(to, direct).map(dump);
  assert.deepEqual(peer, read(to, serialised).map(dump), `${stanza}\n${from} -> ${to}\nwritten: ${direct}\nserialised: ${serialised}`);
  assert.equal(peer.length, 1);
  return { direct, serialised };
}

const STREAMS: readonly [string, string][] = [
  [NS.SERVER, NS.SERVER],
  [NS.COMPONENT, NS.SERVER],
  [NS.SERVER, NS.COMPONENT],
  [NS.COMPONENT, NS.COMPONENT],
];

/** Stanzas the received text is written for, as they are. */
const FORWARDED: readonly string[] = [
  "<message from='juliet@b.example/balcony' to='romeo@a.example' type='chat' id='m1'><body>hello</body></message>",
  "<presence/>",
  "<presence from='a@b.example' to='c@a.example' />",
  // Entities, and the characters that need none where they stand.
  "<message to='a@a.example' id='x&amp;y&lt;z&gt;&apos;&quot;'><body>a &amp; b &lt;c&gt; &apos;d&apos; &quot;e&quot; f > g ' h \" i ]] j</body></message>",
  // Both quote kinds, and the other one inside a value.
  `<message to="a@a.example" from='b@b.example' id="it's" type='say "hi"'><body>x</body></message>`,
  // Whitespace inside tags, and between children.
  "<message\tto = 'a@a.example'\n from='b@b.example' ><body >x</body >\n  <thread>t</thread\n></message >",
  // Namespaced children (default declarations), an undeclared default, and xml:lang.
  "<message to='a@a.example' xml:lang='fr'><body xml:lang='en'>hi</body><x xmlns='urn:x'><y><z xmlns=''/></y></x><request xmlns='urn:xmpp:receipts'/></message>",
  "<iq type='result' id='i1' to='a@a.example'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='server' type='im' name='Ünïcödé 😀'/><feature var='urn:xmpp:ping'/></query></iq>",
  // A child in the stream or dialback namespace (the serialiser writes those with a prefix).
  "<message to='a@a.example'><error xmlns='http://etherx.jabber.org/streams'/><result xmlns='jabber:server:dialback'>k</result></message>",
  // A child in another content namespace than the stanza's.
  "<message to='a@a.example'><x xmlns='urn:x'><body xmlns='jabber:client'>c</body></x></message>",
  // Non-ASCII text and astral characters; tabs and newlines in text.
  "<message to='a@a.example'><body>Grüße\taus\nKöln ✓ 😀</body></message>",
];

/** Stanzas whose text would not mean the same in another default namespace: serialised instead. */
const SERIALISED: readonly string[] = [
  // A declaration on the stanza itself.
  "<message xmlns='jabber:server' to='a@a.example'><body>x</body></message>",
  "<message xmlns='jabber:component:accept' to='a@a.example'><body>x</body></message>",
  "<message xmlns='jabber:client' to='a@a.example'><body>x</body></message>",
  // A child re-declaring the stanza's namespace, directly or further down.
  "<message to='a@a.example'><body xmlns='{ns}'>x</body></message>",
  "<message to='a@a.example'><x xmlns='urn:x'><body xmlns='{ns}'>x</body></x></message>",
];

describe("forwarding the received text of a stanza", () => {
  for (const [from, to] of STREAMS) {
    it(`${from} -> ${to}: writes the received text, which the peer parses as the serialised tree`, () => {
      for (const stanza of FORWARDED) assert.equal(forward(stanza, from, to).direct, stanza, "the received text is what gets written");
    });

    it(`${from} -> ${to}: serialises a stanza with a declaration that would change meaning, with the same result`, () => {
      for (const template of SERIALISED) {
        const stanza = template.replace("{ns}", from);
        const { direct, serialised } = forward(stanza, from, to);
        assert.equal(direct, serialised, `serialised: ${stanza}`);
      }
    });
  }

  it("generated stanzas: whatever path each takes, the peer parses the serialised tree", () => {
    let forwarded = 0;
    for (let seed = 1; seed <= 40; seed++) {
      // Mostly well-formed input (oddity 0; the generator still writes "]]>" now and then: the
      // elements before it count).
      const body = randomStanzas(seed, 25, 0);
      for (const [from, to] of STREAMS) {
        for (const element of read(from, body, false)) {
          const direct = written(element, to);
          const serialised = written(element.clone(), to);
          assert.deepEqual(read(to, direct).map(dump), read(to, serialised).map(dump), `${from} -> ${to}: ${direct}`);
          if (direct !== serialised) forwarded++;
        }
      }
    }
    assert.ok(forwarded > 1000, `the received text was used (${forwarded} times)`);
  });

  it("a stanza read by saxes (split across reads) has no received text and is serialised", () => {
    const stanza = "<message to='a@a.example' type=\"chat\"><body>x</body></message>";
    const out: XmlElement[] = [];
    const parser = new SaxesStreamParser(
      { onStreamStart: () => {}, onElement: (e) => out.push(e), onStreamEnd: () => {}, onError: (c, t) => assert.fail(`${c}: ${t}`) },
      { maxStanzaSize: Infinity, maxDepth: DEFAULT_MAX_DEPTH },
    );
    parser.write(header(NS.SERVER));
    parser.write(stanza.slice(0, 20));
    parser.write(stanza.slice(20));
    assert.equal(out.length, 1);
    assert.equal(written(out[0]!, NS.SERVER), "<message to='a@a.example' type='chat'><body>x</body></message>");
  });
});
