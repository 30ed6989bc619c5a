import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_DEPTH, type StreamParserLimits } from "../../core/index.js";
import { FastPath } from "../../plugins/saxes/fast-path.js";
import { CHUNK, generateStream } from "../../bench/scenarios/parser.js";
import { seededRandom } from "../helpers/seeded-random.js";
import { CASES, HEADER, HEADERS, mutate, randomStanzas } from "./corpus.js";
import { both, dump, parse, splitAt, type RunOptions } from "./differential.js";

// The fast path (plugins/saxes/fast-path.ts) must be invisible: for any input, at any chunking,
// the parser with it gives exactly the handler calls of the parser without it (saxes alone).

const DEFAULT: StreamParserLimits = { maxStanzaSize: 65536, maxDepth: DEFAULT_MAX_DEPTH };
const LIMITS: readonly StreamParserLimits[] = [
  DEFAULT,
  { maxStanzaSize: 120, maxDepth: 3 },
  { maxStanzaSize: Infinity, maxDepth: DEFAULT_MAX_DEPTH },
];

function same(chunks: readonly (string | Buffer)[], options: RunOptions, label: string): void {
  const { fast, saxes } = both(chunks, options);
  assert.deepEqual(fast, saxes, label);
}

/** Elements the fast path parsed during `f` (so a test can show it was exercised). */
function fastParses(f: () => void): number {
  const proto = FastPath.prototype;
  const original = proto.scan;
  let count = 0;
  proto.scan = function (this: FastPath, s: string, start: number, ns: string) {
    const element = original.call(this, s, start, ns);
    if (element !== null) count++;
    return element;
  };
  try {
    f();
  } finally {
    proto.scan = original;
  }
  return count;
}

describe("fast path against saxes: the test suite's hostile and well-formed cases", () => {
  it("takes the simple stanzas itself (the comparisons below exercise it)", () => {
    const n = fastParses(() => parse([HEADER, CASES[0]! + "<presence/><iq type='get' id='1'/>"], true, { limits: DEFAULT }));
    assert.equal(n, 3);
    // In the header's own chunk, saxes parses the first element (it hands back after an element).
    const afterHeader = fastParses(() => parse([HEADER + CASES[0]! + "<presence/><iq type='get' id='1'/>"], true, { limits: DEFAULT }));
    assert.equal(afterHeader, 2);
    const none = fastParses(() => parse([HEADER + CASES[0]!], false, { limits: DEFAULT }));
    assert.equal(none, 0, "switched off, it is never called");
  });

  it("gives the same events for every case, header and limit, in one chunk (string and bytes)", () => {
    let taken = 0;
    taken += fastParses(() => {
      for (const header of HEADERS) {
        for (const limits of LIMITS) {
          for (const body of CASES) {
            const text = header + body;
            same([text], { limits }, `string: ${JSON.stringify(text)} ${limits.maxStanzaSize}`);
            same([Buffer.from(text)], { limits }, `bytes: ${JSON.stringify(text)} ${limits.maxStanzaSize}`);
            same([header, body], { limits }, `header, then: ${JSON.stringify(text)} ${limits.maxStanzaSize}`);
          }
        }
      }
    });
    assert.ok(taken > 500, `the fast path took ${taken} elements`);
  });

  it("gives the same events for every case split in two at every byte and at every character", () => {
    for (const limits of LIMITS) {
      for (const body of CASES) {
        const text = HEADER + "<presence/>" + body + "<presence/>";
        const bytes = Buffer.from(text);
        for (let at = HEADER.length - 5; at <= bytes.length; at++) same([bytes.subarray(0, at), bytes.subarray(at)], { limits }, `${JSON.stringify(body)} split at byte ${at}`);
        for (let at = HEADER.length - 5; at <= text.length; at++) same([text.slice(0, at), text.slice(at)], { limits }, `${JSON.stringify(body)} split at char ${at}`);
      }
    }
  });

  it("gives the same events when the handler closes the parser or throws at each element", () => {
    const text = HEADER + CASES.slice(0, 20).join("");
    for (let n = 0; n < 22; n++) {
      same([text], { limits: DEFAULT, closeAtElement: n }, `close at ${n}`);
      same([text.slice(0, 700), text.slice(700)], { limits: DEFAULT, throwAtElement: n }, `throw at ${n}`);
    }
  });
});

describe("fast path against saxes: plain runs skipped by a native search", () => {
  // fast-path.ts skips runs of plain ASCII in text and attribute values by one search per stretch
  // of a read, and checks one character at a time from the first character that needs a look. Each
  // such character, at every place in a long plain run, in text and in a value, with plain
  // elements before and after it in the same read (the search's result is reused across them).
  const ODD = ["&amp;", "&bad;", "&", "é", "😀", "\uD83D", "\uDE00", "\uFFFE", "\uFFFF", "\u0001", "\r", "\t", "\n", "]", "]]>", "]]&gt;", "<", ">", "'", '"', "\u007f", "\u0085"];
  const RUN = "abcdefghijklmnopqrstuvwxyz0123456789 .,;:!?-_=/+*";

  function bodies(odd: string): string[] {
    const out: string[] = [];
    for (let k = 0; k <= RUN.length; k++) {
      const run = RUN.slice(0, k) + odd + RUN.slice(k);
      const value = run.replace(/'/g, '"');
      out.push(`<presence/><message to='a'><body>${run}</body></message><iq type='get' id='${RUN}'/>`);
      out.push(`<message to='${RUN}'/><message to='${value}' from='b'><x a='${RUN}'/></message><presence/>`);
      out.push(`<message>${run}<x/>${run}</message>`);
    }
    return out;
  }

  it("gives the same events for each odd character at each place of a run, in one read and split", () => {
    let taken = 0;
    taken += fastParses(() => {
      for (const odd of ODD) {
        for (const body of bodies(odd)) {
          const text = HEADER + body;
          same([HEADER, body], { limits: DEFAULT }, `${JSON.stringify(body)}`);
          same([HEADER, body + body], { limits: DEFAULT }, `twice: ${JSON.stringify(body)}`);
          const bytes = Buffer.from(text);
          const at = HEADER.length + Math.floor((bytes.length - HEADER.length) / 2);
          same([bytes.subarray(0, at), bytes.subarray(at)], { limits: DEFAULT }, `split at ${at}: ${JSON.stringify(body)}`);
        }
      }
    });
    assert.ok(taken > 5000, `the fast path took ${taken} elements`);
  });

  it("counts the UTF-8 bytes of what it skips and checks exactly (a stanza at its size limit, and one byte over)", () => {
    for (const odd of ODD) {
      for (let k = 0; k <= RUN.length; k += 7) {
        const run = RUN.slice(0, k) + odd + RUN.slice(k);
        for (const stanza of [`<message to='a'><body>${run}</body></message>`, `<message to='${run.replace(/'/g, "")}'/>`]) {
          const size = Buffer.byteLength(stanza);
          for (const maxStanzaSize of [size, size - 1]) {
            same([HEADER, `<presence/>${stanza}<presence/>`], { limits: { maxStanzaSize, maxDepth: DEFAULT_MAX_DEPTH } }, `${maxStanzaSize}: ${JSON.stringify(stanza)}`);
          }
        }
      }
    }
  });

  it("does not reuse what it found in one text for another, released or not", () => {
    const texts = ["x", ...ODD].map((odd) => `<message to='${RUN}'><body>${RUN}${odd}${RUN}</body></message>`);
    const reused = new FastPath(DEFAULT_MAX_DEPTH);
    for (const text of [...texts, ...texts.reverse()]) {
      const fresh = new FastPath(DEFAULT_MAX_DEPTH).scan(text, 0, "jabber:server");
      const again = reused.scan(text, 0, "jabber:server");
      assert.equal(again === null, fresh === null, JSON.stringify(text));
      if (fresh !== null && again !== null) assert.deepEqual(dump(again), dump(fresh), JSON.stringify(text));
    }
  });

  it("gives the same events when reads of the same length and content follow each other", () => {
    // The search's result belongs to one read; a next read that compares equal must not reuse a stale one.
    for (const odd of ODD) {
      const a = `<message to='${RUN}'><body>${RUN}${odd}</body></message>`;
      const b = `<message to='${RUN}'><body>${RUN}x</body></message>`;
      same([HEADER, a, a, b, a, b, b], { limits: DEFAULT }, `${JSON.stringify(odd)}`);
      same([HEADER, b, a, a], { limits: DEFAULT }, `${JSON.stringify(odd)}`);
    }
  });
});

describe("fast path against saxes: generated input", () => {
  it("parses the benchmark's realistic corpus identically, in 16 KiB chunks and in random ones", () => {
    const { bytes, stanzas } = generateStream(400_000, 0x5eed);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += CHUNK) chunks.push(bytes.subarray(at, at + CHUNK));
    const { fast, saxes } = both(chunks, { limits: DEFAULT });
    assert.equal(fast.filter((e) => e.type === "element").length, stanzas);
    assert.deepEqual(fast, saxes);
    const rnd = seededRandom(7);
    const offsets: number[] = [];
    for (let at = 0; at < bytes.length; at += 1 + Math.floor(rnd() * 3000)) offsets.push(at);
    same(splitAt(bytes, offsets.slice(1)), { limits: DEFAULT }, "random chunks");
  });

  it("parses random streams identically, from all-simple to one oddity in three, at random splits", () => {
    for (const oddity of [0, 0.05, 0.3]) {
      for (let seed = 1; seed <= 60; seed++) {
        const body = randomStanzas(seed, 40, oddity);
        for (const limits of LIMITS) {
          const text = HEADER + body + "</stream:stream>";
          same([text], { limits }, `seed ${seed} oddity ${oddity}: ${JSON.stringify(text)}`);
          const bytes = Buffer.from(text);
          const rnd = seededRandom(seed * 31);
          const offsets = new Set<number>();
          for (let k = 0; k < 8; k++) offsets.add(Math.floor(rnd() * bytes.length));
          same(splitAt(bytes, [...offsets].sort((a, b) => a - b)), { limits }, `seed ${seed} oddity ${oddity}, split at ${[...offsets]}`);
        }
      }
    }
  });

  it("parses random streams split in two at every byte boundary identically", () => {
    for (let seed = 100; seed < 112; seed++) {
      const bytes = Buffer.from(HEADER + randomStanzas(seed, 4, seed % 2 === 0 ? 0 : 0.2));
      for (let at = 0; at <= bytes.length; at++) same([bytes.subarray(0, at), bytes.subarray(at)], { limits: DEFAULT }, `seed ${seed} split at ${at}`);
    }
  });

  it("reports the same error (condition and text) for random mutations and truncations", () => {
    const rnd = seededRandom(2026);
    let errors = 0;
    for (let round = 0; round < 3000; round++) {
      const body = randomStanzas(1000 + (round % 50), 6, round % 3 === 0 ? 0.1 : 0);
      let text = HEADER + body;
      const edits = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < edits; k++) text = HEADER + mutate(text.slice(HEADER.length), rnd);
      const limits = LIMITS[round % LIMITS.length]!;
      const { fast, saxes } = both([text], { limits });
      assert.deepEqual(fast, saxes, `round ${round}: ${JSON.stringify(text)}`);
      if (saxes.some((e) => e.type === "error")) errors++;
      const bytes = Buffer.from(text);
      const at = Math.floor(rnd() * (bytes.length + 1));
      same([bytes.subarray(0, at), bytes.subarray(at)], { limits }, `round ${round} split at ${at}: ${JSON.stringify(text)}`);
    }
    assert.ok(errors > 500, `only ${errors} of the mutated streams were refused: the mutations are too mild to test errors`);
  });
});
