/**
 * Parser scenario of `npm run bench` (docs/performance.md), and the shared code of bench/parser-bench.ts:
 * the corpus of realistic federation traffic (deterministic), our parser (plugins/saxes)
 * and the naive saxes reference, and the timing loop.
 *
 * In `npm run bench` the corpus is written once to a file; our parser runs on it in a child
 * process of its own (see parser-bench.ts for why one process per parser) and Prosody's
 * util.xmppstream runs on the same file in lua5.4 (bench/prosody-parser.lua), both fed in
 * 16 KiB chunks, both reporting the median of the same number of runs after one warm-up.
 *
 *   node --import tsx bench/scenarios/parser.ts --child-file FILE --runs N --stanzas S   (child: ours on FILE, JSON on stdout)
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath } from "node:url";
import { SaxesParser, type SaxesTagNS } from "saxes";
import { XmlElement } from "../../core/xml/element.js";
import { DEFAULT_MAX_DEPTH } from "../../core/stream/parser.js";
import { SaxesStreamParserFactory } from "../../plugins/saxes/saxes-stream-parser.js";
import { seededRandom } from "../../test/helpers/seeded-random.js";

/** Size of the chunks fed to every parser (what a socket read typically hands over). */
export const CHUNK = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Corpus: deterministic (seeded PRNG), realistic federation traffic.


const WORDS = [
  "hello", "the", "meeting", "is", "at", "noon", "federation", "works", "see", "you", "tomorrow",
  "ok", "thanks", "server", "déjà", "vu", "naïve", "Grüße", "héllo", "✓", "日本語", "😀", "Привет",
  "&", "<tag>", "\"quoted\"", "it's", "café", "données", "?", "!",
];
const USERS = ["alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy"];
const RESOURCES = ["phone", "laptop", "Conversations.x7Yq", "gajim", "dino"];
const FEATURES = [
  "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "urn:xmpp:ping",
  "http://jabber.org/protocol/caps", "urn:xmpp:receipts", "http://jabber.org/protocol/chatstates",
  "urn:xmpp:avatar:metadata+notify", "urn:xmpp:mam:2", "urn:xmpp:carbons:2", "jabber:iq:version",
];

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;");
}

export function generateStream(targetBytes: number, seed: number): { bytes: Buffer; stanzas: number } {
  const rnd = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const hex = (n: number): string => {
    let s = "";
    for (let i = 0; i < n; i++) s += "0123456789abcdef"[Math.floor(rnd() * 16)];
    return s;
  };
  const jid = (domain: string, full: boolean): string => `${pick(USERS)}@${domain}${full ? `/${pick(RESOURCES)}` : ""}`;
  const sentence = (min: number, max: number): string => {
    const n = min + Math.floor(rnd() * (max - min));
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(pick(WORDS));
    return escapeXml(out.join(" "));
  };

  const parts: string[] = [
    "<?xml version='1.0'?>",
    "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'" +
      " from='b.example' to='a.example' id='3f9a1c' version='1.0' xml:lang='en'>",
  ];
  let size = Buffer.byteLength(parts.join(""));
  let stanzas = 0;
  while (size < targetBytes) {
    const from = jid("b.example", true);
    const to = jid("a.example", rnd() < 0.5);
    const id = hex(12);
    const r = rnd();
    let s: string;
    if (r < 0.35) {
      // Chat message with XEP-0085 chat state and a XEP-0184 receipt request.
      const lang = rnd() < 0.3 ? " xml:lang='fr'" : "";
      s = `<message from='${from}' to='${to}' type='chat' id='${id}'${lang}><body>${sentence(4, 40)}</body>` +
        `<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/>` +
        (rnd() < 0.2 ? `<thread>${hex(16)}</thread>` : "") + `</message>`;
    } else if (r < 0.45) {
      s = `<message from='${from}' to='${to}' id='${id}'><received xmlns='urn:xmpp:receipts' id='${hex(12)}'/></message>`;
    } else if (r < 0.52) {
      s = `<message from='${from}' to='${to}' type='chat' id='${id}'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`;
    } else if (r < 0.72) {
      // Presence with XEP-0115 caps.
      s = `<presence from='${from}' to='${to}'><show>${pick(["away", "chat", "dnd", "xa"])}</show>` +
        `<status>${sentence(1, 8)}</status><priority>${Math.floor(rnd() * 50)}</priority>` +
        `<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' ver='${hex(27)}='/></presence>`;
    } else if (r < 0.80) {
      s = `<iq from='${from}' to='${to}' type='get' id='${id}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`;
    } else if (r < 0.88) {
      // XEP-0030 disco#info result.
      let features = "";
      const n = 3 + Math.floor(rnd() * 7);
      for (let i = 0; i < n; i++) features += `<feature var='${FEATURES[(i * 3 + n) % FEATURES.length]}'/>`;
      s = `<iq from='${from}' to='${to}' type='result' id='${id}'><query xmlns='http://jabber.org/protocol/disco#info'>` +
        `<identity category='client' type='phone' name='${escapeXml(pick(["Conversations", "Gajim", "Dino", "Monal", "Siskin"]))}'/>${features}</query></iq>`;
    } else if (r < 0.97) {
      // XEP-0060 publish of XEP-0084 avatar metadata.
      s = `<iq from='${from}' to='${jid("b.example", false)}' type='set' id='${id}'><pubsub xmlns='http://jabber.org/protocol/pubsub'>` +
        `<publish node='urn:xmpp:avatar:metadata'><item id='${hex(40)}'><metadata xmlns='urn:xmpp:avatar:metadata'>` +
        `<info bytes='${1000 + Math.floor(rnd() * 30000)}' id='${hex(40)}' height='64' width='64' type='image/png'/>` +
        `</metadata></item></publish></pubsub></iq>`;
    } else {
      // XEP-0220 dialback on the same stream (prefixed element, root-declared prefix).
      s = `<db:result from='b.example' to='a.example'>${hex(64)}</db:result>`;
    }
    // Whitespace keepalives and pretty-printing between stanzas, as some servers send.
    if (rnd() < 0.1) s += "\n";
    if (rnd() < 0.02) s += " ";
    parts.push(s);
    size += Buffer.byteLength(s);
    stanzas++;
  }
  return { bytes: Buffer.from(parts.join(""), "utf8"), stanzas };
}

export function chunksOf(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK) out.push(bytes.subarray(at, at + CHUNK));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Contenders. Each returns the number of top-level elements it produced.

export function runOurs(chunks: readonly Buffer[]): number {
  let count = 0;
  let failure: string | undefined;
  const parser = new SaxesStreamParserFactory().create(
    {
      onStreamStart: () => {},
      onElement: () => {
        count++;
      },
      onStreamEnd: () => {},
      onError: (condition, text) => {
        failure = `${condition}: ${text}`;
      },
    },
    // Production-like limits (the default max_stanza_size, docs/configuration.md), so their cost is measured.
    { maxStanzaSize: 65536, maxDepth: DEFAULT_MAX_DEPTH },
  );
  for (const chunk of chunks) parser.write(chunk);
  parser.close();
  if (failure !== undefined) throw new Error(`ours failed: ${failure}`);
  return count;
}

/** Plain saxes, handlers set with `on()` (11 of them), building the same XmlElement trees. */
export function runReference(chunks: readonly Buffer[]): number {
  let count = 0;
  const parser = new SaxesParser({ xmlns: true });
  const decoder = new StringDecoder("utf8");
  const stack: XmlElement[] = [];
  let depth = -1;
  const onText = (text: string): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) return;
    const last = top.children.length - 1;
    if (last >= 0 && typeof top.children[last] === "string") top.children[last] += text;
    else top.children.push(text);
  };
  parser.on("xmldecl", () => {});
  parser.on("text", onText);
  parser.on("cdata", onText);
  parser.on("processinginstruction", () => {
    throw new Error("pi");
  });
  parser.on("doctype", () => {
    throw new Error("doctype");
  });
  parser.on("comment", () => {
    throw new Error("comment");
  });
  parser.on("opentagstart", () => {});
  parser.on("opentag", (tag: SaxesTagNS) => {
    depth++;
    if (depth === 0) return;
    const element = new XmlElement(tag.local, {}, tag.uri);
    for (const name in tag.attributes) {
      const attribute = tag.attributes[name]!;
      if (attribute.prefix === "xmlns" || name === "xmlns") continue;
      element.attrs[name] = attribute.value;
    }
    stack[stack.length - 1]?.children.push(element);
    stack.push(element);
  });
  parser.on("closetag", () => {
    depth--;
    if (depth < 0) return;
    const element = stack.pop();
    if (stack.length === 0 && element !== undefined) count++;
  });
  parser.on("error", (err) => {
    throw err;
  });
  parser.on("end", () => {});
  for (const chunk of chunks) parser.write(decoder.write(chunk));
  return count;
}

// ---------------------------------------------------------------------------------------------

export interface Result {
  readonly name: string;
  readonly mbPerSec: number;
  readonly stanzasPerSec: number;
  readonly runs: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median time of up to `runs` runs after one untimed warm-up; no new run starts after `deadline` (Date.now()). */
export function measure(name: string, run: (chunks: readonly Buffer[]) => number, chunks: readonly Buffer[], bytes: number, stanzas: number, deadline: number, runs = 5): Result {
  // Warm-up on the same input, not timed.
  const warm = run(chunks);
  if (warm !== stanzas) throw new Error(`${name}: ${warm} stanzas, expected ${stanzas}`);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (i > 0 && Date.now() > deadline) break;
    const t0 = process.hrtime.bigint();
    const got = run(chunks);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (got !== stanzas) throw new Error(`${name}: ${got} stanzas, expected ${stanzas}`);
    times.push(seconds);
  }
  const t = median(times);
  return { name, mbPerSec: bytes / 1e6 / t, stanzasPerSec: stanzas / t, runs: times.length };
}


// ---------------------------------------------------------------------------------------------
// The bench scenario: ours and Prosody's parser on the same corpus file.

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = join(HERE, "..", "..");
const LUA_SCRIPT = join(ROOT, "bench", "prosody-parser.lua");
/** The corpus seed of parser-bench.ts: the same traffic mix. */
export const CORPUS_SEED = 0x5eed;

export interface ParserFigures {
  readonly mbPerSec: number;
  readonly stanzasPerSec: number;
  readonly runs: number;
}

export interface ParserScenarioResult {
  readonly bytes: number;
  readonly stanzas: number;
  readonly chunk: number;
  readonly ours: ParserFigures;
  readonly prosody?: ParserFigures;
}

/** Writes the corpus (`bytes` long, give or take a stanza) to `file`; returns its size and stanza count. */
export function writeCorpus(file: string, bytes: number): { bytes: number; stanzas: number } {
  const corpus = generateStream(bytes, CORPUS_SEED);
  writeFileSync(file, corpus.bytes);
  return { bytes: corpus.bytes.length, stanzas: corpus.stanzas };
}

function parseJsonLine(what: string, out: { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; error?: Error }): ParserFigures {
  if (out.status !== 0) throw new Error(`${what} failed (status ${out.status}, signal ${out.signal}${out.error ? `, ${out.error.message}` : ""}): ${out.stderr.trim().slice(-2000)}`);
  const line = out.stdout.trim().split("\n").pop() ?? "";
  const parsed = JSON.parse(line) as ParserFigures;
  if (!(parsed.mbPerSec > 0)) throw new Error(`${what}: no figure in ${JSON.stringify(line)}`);
  return parsed;
}

/**
 * Ours (child node process, same node flags as this one) and, when `prosody` is set, Prosody's
 * util.xmppstream (lua5.4) on the same corpus file. Each is bounded by `timeoutMs`.
 */
export function parserScenario(options: { dir: string; bytes: number; runs: number; prosody: boolean; timeoutMs: number }): ParserScenarioResult {
  const file = join(options.dir, "parser-corpus.xml");
  const { bytes, stanzas } = writeCorpus(file, options.bytes);
  const ours = parseJsonLine("our parser", spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--child-file", file, "--runs", String(options.runs), "--stanzas", String(stanzas)], {
    encoding: "utf8",
    timeout: options.timeoutMs,
    cwd: ROOT,
  }));
  const prosody = options.prosody
    ? parseJsonLine("Prosody's parser (lua5.4 bench/prosody-parser.lua)", spawnSync("lua5.4", [LUA_SCRIPT, file, String(options.runs), String(stanzas), String(CHUNK)], { encoding: "utf8", timeout: options.timeoutMs }))
    : undefined;
  return { bytes, stanzas, chunk: CHUNK, ours, prosody };
}

/** Child: our parser on the corpus file; one JSON line on stdout. */
function child(argv: readonly string[]): void {
  const arg = (name: string): string => {
    const i = argv.indexOf(name);
    if (i < 0 || argv[i + 1] === undefined) throw new Error(`missing ${name}`);
    return argv[i + 1]!;
  };
  const bytes = readFileSync(arg("--child-file"));
  const stanzas = Number(arg("--stanzas"));
  const runs = Number(arg("--runs"));
  const r = measure("ours", runOurs, chunksOf(bytes), bytes.length, stanzas, Number.POSITIVE_INFINITY, runs);
  process.stdout.write(`${JSON.stringify({ mbPerSec: r.mbPerSec, stanzasPerSec: r.stanzasPerSec, runs: r.runs })}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes("--child-file")) child(process.argv);
