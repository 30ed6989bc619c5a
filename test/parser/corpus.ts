/**
 * Inputs for the differential parser tests: the hostile and well-formed cases of
 * plugins/saxes/saxes-stream-parser.test.ts (restricted XML, not-well-formed input, limits, chunk
 * splits), plus cases aimed at the edges of the fast path's subset (fast-path.ts), and a seeded
 * generator of random stanzas that mixes the subset with everything outside it.
 */
import { seededRandom } from "../helpers/seeded-random.js";

export const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
  " xmlns:db='jabber:server:dialback' to='a.example' from='b.example' version='1.0' xml:lang='en' id='abc'>";
/** Headers that change what a top-level element inherits. */
export const HEADERS = [
  HEADER,
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>",
  "<stream xmlns='http://etherx.jabber.org/streams'>",
  "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='c.example'>\n",
];

/** Top-level content after HEADER, each a case of its own (the stream is left open unless it closes it). */
export const CASES: readonly string[] = [
  // Well-formed, inside the fast path's subset.
  "<message from='juliet@b.example/balcony' to='romeo@a.example' type='chat' id='m1' xml:lang='fr'><body>hello</body></message>",
  "<presence/>",
  "<presence />",
  "<presence\n/>",
  "<presence\tfrom='a'\nto='b' />",
  "<iq type = 'get' id=\"x\"><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
  "<message><body>a &amp; b &lt;c&gt; &apos;d&apos; &quot;e&quot;</body></message>",
  "<message to='a&amp;b&lt;&gt;&apos;&quot;'/>",
  "<message to=\"it's\" from='say \"hi\"'/>",
  "<message><body>héllo ✓ 😀 ü</body><subject>Grüße</subject></message>",
  "<message to='😀é✓'/>",
  "<message><body>line 1\nline 2\n\tindented</body></message>",
  "<message><body>]]</body><x>]</x><y>a]]&gt;b</y><z>]>]</z></message>",
  "<message><body>a > b</body></message>",
  "<message>  <body>x</body>\n  <thread>t</thread>  </message>",
  "<message xmlns='jabber:client'><body/></message>",
  "<message xmlns=''><body/></message>",
  "<message><x xmlns='urn:x'><y/><z xmlns='urn:z'><w/></z></x><v/></message>",
  "<message xml:lang='de' xml_lang='x' x.y='1' x-y='2' _z='3'/>",
  "<message></message >",
  "<message></message\n>",
  "<stanza/><x/><y.z/><A_b-c/>",
  "\n \t<presence/>\n \n<presence/> ",
  "<message><body>\u0085\u2028\u007f\u009f\ue000\ufffd</body></message>",
  "<message><body>" + "x".repeat(3000) + "</body></message>",
  "</stream:stream>",
  "<presence/></stream:stream>",
  "<presence/></stream:stream><message/>garbage <<<",
  // Well-formed, outside the subset (saxes parses them).
  "<db:result from='b.example' to='a.example'>abc</db:result>",
  "<message><body><![CDATA[<not a tag> & ]]>after</body></message>",
  "<message><body>&#x263A;&#9786;&#10;</body></message>",
  "<message to='&#x61;'/>",
  "<message><body>a\r\nb\rc</body></message>",
  "<message to='a\tb\nc'/>",
  "<message to='a\r\nb'/>",
  "<message xmlns:x='urn:x'><x:y x:a='1'/></message>",
  "<message xml:space='preserve'/>",
  "<message xmlns=' jabber:server '/>",
  "<méssage/>",
  "<message attré='1'/>",
  "<message __proto__='x' constructor='y' toString='z'/>",
  "<message\r\n to='a'/>",
  "<x:stream xmlns:x='http://etherx.jabber.org/streams'/>",
  // Hostile: restricted XML (RFC 6120 §11.1).
  "<!-- a comment -->",
  "<message><!-- a comment --></message>",
  "<?pi data?>",
  "<message><?pi data?></message>",
  "<!DOCTYPE foo>",
  "<message><!DOCTYPE foo></message>",
  "<!ENTITY x 'y'>",
  // Hostile: not well-formed.
  "<message><body>hi</message>",
  "<message><body>hi</body></stream:stream>",
  "</message>",
  "<message to='a' to='b'/>",
  "<message xmlns='a' xmlns='b'/>",
  "<message xmlns:a='urn:x' xmlns:b='urn:x' a:t='1' b:t='2'/>",
  "<foo:message/>",
  "<message foo:to='a'/>",
  "<message to=a.example><body/></message>",
  "<message to='a'from='b'/>",
  "<message to></message>",
  "<message to='a' / >",
  "<message/ >",
  "<message><body>a\u0001b</body></message>",
  "<message to='a\u0007'/>",
  "<message><body>&#0;</body></message>",
  "<message><body>\uFFFE</body></message>",
  "<message><body>\uFFFF</body></message>",
  "<message><body>&nbsp;</body></message>",
  "<message><body>&amp</body></message>",
  "<message><body>& amp;</body></message>",
  "<message to='&nbsp;'/>",
  "<message><body>a]]>b</body></message>",
  "<message><body>]]]]></body></message>",
  "<message to='a<b'/>",
  "<message xmlns='http://www.w3.org/2000/xmlns/'/>",
  "<message xmlns='http://www.w3.org/XML/1998/namespace'/>",
  "<message xmlns:xml='urn:x'/>",
  "<xmlns:message/>",
  "< message/>",
  "<1message/>",
  "<message></ message>",
  "<message></messagex>",
  "<message></messag>",
  "<message></>",
  "<message><a></b></message>",
  "hello",
  "<presence/>hello<presence/>",
  "<presence/>\u00a0<presence/>",
  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>",
  "<stream xmlns='http://etherx.jabber.org/streams'/>",
  "<stream/>",
  "<message><stream/></message>",
  "<presence/><presence/><<presence/>",
  "<message to='\uD800'/>",
  "<message><body>\uDC00</body></message>",
  "<message><body>\uD83D</body></message>",
  "<message><body>\uD83D\uD83D\uDE00</body></message>",
  "<" + "a>".repeat(40),
  "<message>" + "<a>".repeat(35) + "</a>".repeat(35) + "</message>",
  "<message>" + "<a/>".repeat(40) + "</message>",
  // Long plain runs (the fast path skips them by one native search) ending in a character that
  // needs a look, in text and in attribute values; the characters that are plain only where they stand.
  "<message to='a>b' from=\"c'd\" id='e=f/g'><body>a > b = c 'd' \"e\" / ? !</body></message>",
  "<message><body>" + "x".repeat(60) + "]]>" + "</body></message>",
  "<message><body>" + "x".repeat(60) + "]]&gt;" + "</body></message>",
  "<message><body>]" + "x".repeat(60) + "]]></body></message>",
  "<message><body>" + "x".repeat(60) + "\r" + "</body></message>",
  "<message><body>" + "x".repeat(60) + "\u0001" + "</body></message>",
  "<message><body>" + "x".repeat(60) + "\uFFFE" + "</body></message>",
  "<message><body>" + "x".repeat(60) + "\uD800" + "</body></message>",
  "<message><body>" + "x".repeat(60) + "\uDE00" + "x".repeat(20) + "</body></message>",
  "<message><body>" + "x".repeat(60) + "&bad;" + "</body></message>",
  "<message to='" + "x".repeat(60) + "é'/>",
  "<message to='" + "x".repeat(60) + "\t'/>",
  "<message to='" + "x".repeat(60) + "<'/>",
  "<message to='" + "x".repeat(60) + "\uFFFF'/>",
  "<message to='" + "x".repeat(60) + "&amp;" + "x".repeat(60) + "'/>",
  "<message to='" + "x".repeat(60) + "'><body>" + "y".repeat(60) + "</body><x a='" + "z".repeat(60) + "&lt;'/></message>",
  // Declarations that make the fast path build the element in a second pass over the same text.
  "<message xmlns='jabber:client' to='" + "x".repeat(30) + "&amp;y'><body>" + "x".repeat(30) + "é &amp; ✓</body></message>",
  "<message to='a'><x xmlns='jabber:server'>" + "x".repeat(30) + "&lt;" + "y".repeat(30) + "</x></message>",
  "<message xmlns='jabber:server'><body>" + "x".repeat(30) + "]]></body></message>",
  "<message xmlns='jabber:client' to='a'><a>x<a>y</a>z</a><b>w</b></message>",
  "<message xmlns='jabber:client'><a>x<a>y</a>z</a></message>",
  // More attributes than the fast path compares (it leaves such an element to saxes).
  "<message " + Array.from({ length: 40 }, (_, k) => `a${k}='${k}'`).join(" ") + "><x " + Array.from({ length: 40 }, (_, k) => `b${k}='${k}'`).join(" ") + "/></message>",
  "<message " + Array.from({ length: 40 }, (_, k) => `a${k}='${k}'`).join(" ") + " a39='again'/>",
  "<message to='a'><a xmlns='jabber:server'>x<a>y</a>z</a>w<b>v</b></message>",
];

/** Elements, text and oddities the random generator picks from (weights by repetition). */
const NAMES = ["message", "presence", "iq", "body", "x", "a.b", "c-d", "_e", "thread", "query", "item"];
const TEXTS = ["hello", "a &amp; b", "&lt;&gt;", "&apos;&quot;", "é✓", "😀", "\n", "\t", " ", "]]", "]", ">", "line\nline", "x".repeat(40), "y".repeat(30) + "é", "a > b = 'c' \"d\""];
const ODD_TEXTS = ["\r\n", "\r", "&#65;", "&#x1F600;", "<![CDATA[c]]>", "<!--c-->", "<?p?>", "&nbsp;", "]]>", "\u0001", "\uFFFE", "\uD800", "&", "z".repeat(30) + "]]>", "z".repeat(30) + "\u0002"];
const ATTR_VALUES = ["a.example", "juliet@b.example/balcony", "x&amp;y", "&lt;&gt;", "it&apos;s", "é😀", "", "a b", "a>b=c/d", "w".repeat(30) + "✓", "x&amp;y=z"];
const ODD_ATTR_VALUES = ["a\tb", "a\nb", "&#65;", "a<b", "&bad;", "a\r\nb", "v".repeat(30) + "\n", "v".repeat(30) + "<"];
const NAMESPACES = ["jabber:server", "jabber:client", "urn:xmpp:receipts", "", "http://jabber.org/protocol/caps"];

/** A random stream body: mostly the fast path's subset, with a share of everything around it. */
export function randomStanzas(seed: number, count: number, oddity: number): string {
  const rnd = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const space = (): string => (rnd() < 0.9 ? " " : pick(["  ", "\n", "\t", " \n "]));
  const element = (depth: number): string => {
    if (rnd() < oddity / 3) return pick(["<db:result from='b' to='a'>k</db:result>", "<p:x xmlns:p='urn:p'/>", "<x xmlns:p='urn:p' p:a='1'/>", "<!--c-->", "<?p?>", "<a xml:space='x'/>"]);
    const name = depth === 0 ? pick(["message", "presence", "iq"]) : pick(NAMES);
    let open = "<" + name;
    const used = new Set<string>();
    const attrs = Math.floor(rnd() * 4);
    for (let i = 0; i < attrs; i++) {
      const attr = pick(["to", "from", "id", "type", "xml:lang", "xmlns", "a", "b"]);
      if (used.has(attr) && rnd() > oddity) continue;
      used.add(attr);
      const value = attr === "xmlns" ? pick(NAMESPACES) : rnd() < oddity ? pick(ODD_ATTR_VALUES) : pick(ATTR_VALUES);
      const quote = rnd() < 0.8 ? "'" : '"';
      const eq = rnd() < 0.95 ? "=" : pick([" = ", "=\n", "\t="]);
      open += space() + attr + eq + quote + value.replace(quote === "'" ? /'/g : /"/g, quote === "'" ? "&apos;" : "&quot;") + quote;
    }
    if (rnd() < 0.1) open += space();
    if (depth > 3 || rnd() < 0.25) return open + "/>";
    let content = "";
    const parts = Math.floor(rnd() * 4);
    for (let i = 0; i < parts; i++) {
      const r = rnd();
      if (r < 0.45) content += element(depth + 1);
      else content += rnd() < oddity ? pick(ODD_TEXTS) : pick(TEXTS);
    }
    return open + ">" + content + "</" + name + (rnd() < 0.05 ? space() : "") + ">";
  };
  let out = "";
  for (let i = 0; i < count; i++) {
    out += element(0);
    if (rnd() < 0.2) out += pick(["\n", " ", "\n\n", "\t"]);
  }
  return out;
}

/** A copy of `text` with one random edit: a character replaced, inserted or deleted, or cut off. */
export function mutate(text: string, rnd: () => number): string {
  const at = Math.floor(rnd() * (text.length + 1));
  const insert = ["<", ">", "/", "&", ";", "'", '"', "=", " ", "\r", "\n", "]", ":", "x", "!", "?", "-", "\u0000", "é", "\uD83D", "\uDE00", "\uFFFE", "#"][Math.floor(rnd() * 23)]!;
  switch (Math.floor(rnd() * 4)) {
    case 0:
      return text.slice(0, at) + insert + text.slice(at + 1);
    case 1:
      return text.slice(0, at) + insert + text.slice(at);
    case 2:
      return text.slice(0, at) + text.slice(at + 1);
    default:
      return text.slice(0, at);
  }
}
