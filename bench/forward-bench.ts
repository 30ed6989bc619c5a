/**
 * Forwarding benchmark (not a test): what a server spends per stanza to read it from one stream and
 * write it to another, without sockets: the parser (plugins/saxes) on the realistic corpus of
 * bench/parser-bench.ts, then each top-level element written as the stream engine writes it to a
 * stream of the other content namespace (core/stream/xml-stream.ts: jabber:server ->
 * jabber:component:accept, what server B of `npm run bench` does for each message).
 *
 *   node --import tsx bench/forward-bench.ts            # ~8 MB corpus, median of 7 runs
 *   node --import tsx bench/forward-bench.ts --quick    # ~400 KB
 *   node --import tsx bench/forward-bench.ts --runs 15 # more runs (the fastest is printed too: the least disturbed)
 *   node --import tsx bench/forward-bench.ts --read     # also read every element's children (what a plugin that inspects payloads costs)
 *   node --import tsx bench/forward-bench.ts --link     # the messages of `npm run bench`'s link run instead of the corpus, one read each
 *   node --import tsx bench/forward-bench.ts --link --cold   # only the first pass over 20,000 of them, in this fresh process
 *
 * `--cold` measures what the link run of `npm run bench` pays per stanza in its fresh servers: code
 * that V8 has not compiled yet (interpreted first, optimised on another thread, whose CPU counts
 * too). Noisy: run it several times, alternating the two versions compared.
 *
 * It prints CPU µs per stanza and MB/s of CPU time (median of the runs after one warm-up run). Absolute figures
 * depend on the machine and its load (printed); compare two versions by running this file in each
 * checkout one after the other, several times alternately (docs/performance.md, "Forwarding the
 * received text").
 */
import os from "node:os";
import { NS, serialize, type XmlElement } from "../core/index.js";
import { SaxesStreamParserFactory } from "../plugins/saxes/saxes-stream-parser.js";
import { DEFAULT_MAX_DEPTH } from "../core/stream/parser.js";
import { chunksOf, CORPUS_SEED, generateStream, median } from "./scenarios/parser.js";
import { benchMessage } from "./lib/raw-component.js";

const DEFAULT_RUNS = 7;
const CONTENT: ReadonlySet<string> = new Set([NS.SERVER, NS.CLIENT, NS.COMPONENT]);
const PREFIXES: ReadonlyMap<string, string> = new Map([[NS.STREAM, "stream"]]);

/** Parse `chunks` and write every element for a jabber:component:accept stream; returns [stanzas, bytes written]. */
function forward(chunks: readonly Buffer[], read: boolean): [number, number] {
  let stanzas = 0;
  let written = 0;
  let failure: string | undefined;
  let pending = "";
  const parser = new SaxesStreamParserFactory().create(
    {
      onStreamStart: () => {},
      onElement: (element: XmlElement) => {
        stanzas++;
        if (read) for (const child of element.getChildren()) child.attr("id");
        // As XmlStream#serialize: a stanza of any content namespace is written in the stream's default one.
        const inherited = element.ns !== undefined && CONTENT.has(element.ns) ? element.ns : NS.COMPONENT;
        pending += serialize(element, inherited, PREFIXES);
        // As XmlStream#write: the writes of a tick leave as one string (one read's worth here).
        if (pending.length > 16_384) {
          written += Buffer.byteLength(pending);
          pending = "";
        }
      },
      onStreamEnd: () => {},
      onError: (condition, text) => {
        failure = `${condition}: ${text}`;
      },
    },
    { maxStanzaSize: 65536, maxDepth: DEFAULT_MAX_DEPTH },
  );
  for (const chunk of chunks) parser.write(chunk);
  parser.close();
  written += Buffer.byteLength(pending);
  if (failure !== undefined) throw new Error(`parser failed: ${failure}`);
  return [stanzas, written];
}

function main(): void {
  const quick = process.argv.includes("--quick");
  const read = process.argv.includes("--read");
  const runsArg = process.argv.indexOf("--runs");
  const RUNS = runsArg === -1 ? DEFAULT_RUNS : Number(process.argv[runsArg + 1]);
  if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error("--runs: expected a positive integer");
  const link = process.argv.includes("--link");
  const cold = process.argv.includes("--cold");
  const { bytes, stanzas, chunks } = link ? linkMessages(quick ? 2_000 : 20_000) : corpus(quick);
  if (cold) {
    const cpu0 = process.cpuUsage();
    const [got] = forward(chunks, read);
    const cpu = process.cpuUsage(cpu0);
    if (got !== stanzas) throw new Error(`${got} stanzas, expected ${stanzas}`);
    const load = os.loadavg().map((n) => n.toFixed(2)).join(" ");
    console.log(`forward bench, cold${read ? " (children read)" : ""}: first pass over ${stanzas} ${link ? "link-run messages, one read each" : "corpus stanzas"}; node ${process.version}; loadavg ${load}`);
    console.log(`${(((cpu.user + cpu.system) / stanzas)).toFixed(2)} CPU µs per stanza (all threads of this process, compilation included)`);
    return;
  }
  forward(chunks, read);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // CPU time of this process, not wall time: on a shared machine, time spent waiting for a core
    // is not the parser's. (Single-threaded work; GC helper threads count, as they do for a server.)
    const cpu0 = process.cpuUsage();
    const [got] = forward(chunks, read);
    const cpu = process.cpuUsage(cpu0);
    times.push((cpu.user + cpu.system) / 1e6);
    if (got !== stanzas) throw new Error(`${got} stanzas, expected ${stanzas}`);
  }
  const t = median(times);
  const load = os.loadavg().map((n) => n.toFixed(2)).join(" ");
  console.log(`forward bench${read ? " (children read)" : ""}${link ? " (link-run messages, one read each)" : ""}: ${(bytes.length / 1e6).toFixed(2)} MB, ${stanzas} stanzas, jabber:server -> jabber:component:accept; node ${process.version}; loadavg ${load}`);
  console.log(`median of ${RUNS}: ${((t / stanzas) * 1e6).toFixed(2)} CPU µs per stanza, ${(bytes.length / 1e6 / t).toFixed(1)} MB/s; fastest ${((Math.min(...times) / stanzas) * 1e6).toFixed(2)} µs (runs ${times.map((x) => ((x / stanzas) * 1e6).toFixed(2)).join(" ")} µs)`);
}

/** The parser benchmark's corpus in 16 KiB chunks. */
function corpus(quick: boolean): { bytes: Buffer; stanzas: number; chunks: Buffer[] } {
  const { bytes, stanzas } = generateStream(quick ? 400_000 : 8_000_000, CORPUS_SEED);
  return { bytes, stanzas, chunks: chunksOf(bytes) };
}

/** `count` messages of the link run (bench/lib/raw-component.ts) after a stream header, one chunk each, as a server reads them from its component. */
function linkMessages(count: number): { bytes: Buffer; stanzas: number; chunks: Buffer[] } {
  const chunks = [Buffer.from("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='a.example' version='1.0'>")];
  for (let i = 0; i < count; i++) chunks.push(Buffer.from(benchMessage("x.example", "b.example", i)));
  return { bytes: Buffer.concat(chunks), stanzas: count, chunks };
}

main();
