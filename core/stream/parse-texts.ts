import { DEFAULT_MAX_DEPTH, type StreamParser, type StreamParserFactory } from "./parser.js";
import { escapeAttr, NS, type XmlElement } from "../xml/element.js";

/**
 * Elements back from texts this server wrote or read itself (a XEP-0198 bounce, a cluster hop):
 * each text is one top-level element, parsed under a stream whose default namespace is `ns`
 * (with the `stream` and `db` prefixes declared, as on an S2S stream). One parser for all of them;
 * a text that does not give exactly one element (never expected) yields the parser's reason in its
 * place, and the parser starts afresh for the rest, so one bad text cannot take the others down.
 */
export function parseTexts(parsers: StreamParserFactory, ns: string, texts: readonly string[]): (XmlElement | string)[] {
  const parser = new TextParser(parsers);
  try {
    return texts.map((text) => parser.parse(ns, text));
  } finally {
    parser.close();
  }
}

/** One namespace's open stream: the parser, what it gave for the current text, its first error. */
interface OpenStream {
  readonly parser: StreamParser;
  readonly out: XmlElement[];
  reason?: string;
}

/**
 * `parseTexts` one text at a time, for texts that come one by one (the children of a stanza that
 * crossed nodes as its text, built when first read: plugins/cluster-redis/wire.ts). The parser of
 * each namespace stays open between calls (creating one costs more than parsing a stanza), and is
 * started afresh after a text that failed. Not re-entrant: the elements it returns build their
 * children with their own parser's builder, never through this one.
 */
export class TextParser {
  readonly #open = new Map<string, OpenStream>();

  constructor(private readonly parsers: StreamParserFactory) {}

  /** The element that is all of `text`, in default namespace `ns`, or the parser's reason. */
  parse(ns: string, text: string): XmlElement | string {
    const stream = this.#open.get(ns) ?? this.#start(ns);
    try {
      stream.parser.write(text);
    } catch (err) {
      stream.reason ??= err instanceof Error ? err.message : String(err);
    }
    const element = stream.out.length === 1 ? stream.out[0] : undefined;
    stream.out.length = 0;
    if (stream.reason === undefined && element !== undefined) return element;
    const reason = stream.reason ?? "not one complete element";
    this.#open.delete(ns);
    stream.parser.close();
    return reason;
  }

  close(): void {
    for (const stream of this.#open.values()) stream.parser.close();
    this.#open.clear();
  }

  #start(ns: string): OpenStream {
    const out: XmlElement[] = [];
    const stream: OpenStream = {
      out,
      parser: this.parsers.create(
        {
          onStreamStart: () => {},
          onElement: (e) => void out.push(e),
          onStreamEnd: () => {},
          onError: (condition, why) => (stream.reason ??= `${condition}: ${why}`),
        },
        { maxStanzaSize: Infinity, maxDepth: DEFAULT_MAX_DEPTH },
      ),
    };
    stream.parser.write(`<stream:stream xmlns='${escapeAttr(ns)}' xmlns:stream='${NS.STREAM}' xmlns:db='${NS.DIALBACK}'>`);
    this.#open.set(ns, stream);
    return stream;
  }
}
