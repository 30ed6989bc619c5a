/**
 * Differential harness: the stream parser with its fast path (plugins/saxes/fast-path.ts) against
 * the same parser with the fast path off (every byte through saxes, the path it had before), on
 * the same chunks. Every handler call is recorded, so the comparison covers the elements (name,
 * namespace, attributes in order, text runs), the header, the stream end, and the error: its
 * condition and its text (saxes' line and column included), and that nothing follows it.
 */
import type { ParserErrorCondition, StreamHeader, StreamParserLimits, XmlElement } from "../../core/index.js";
import { SaxesStreamParser } from "../../plugins/saxes/saxes-stream-parser.js";

export interface ElementDump {
  readonly name: string;
  readonly ns: string | undefined;
  /** Attributes as [name, value] pairs, in their order (the serializer writes them in that order). */
  readonly attrs: [string, string][];
  readonly children: (string | ElementDump)[];
}

export type ParserEvent =
  | { readonly type: "start"; readonly header: StreamHeader }
  | { readonly type: "element"; readonly element: ElementDump }
  | { readonly type: "end" }
  | { readonly type: "error"; readonly condition: ParserErrorCondition; readonly text: string }
  | { readonly type: "threw"; readonly message: string };

export function dump(element: XmlElement): ElementDump {
  return {
    name: element.name,
    ns: element.ns,
    attrs: Object.entries(element.attrs),
    children: element.children.map((c) => (typeof c === "string" ? c : dump(c))),
  };
}

export interface RunOptions {
  readonly limits: StreamParserLimits;
  /** Close the parser from the handler of the Nth element (0-based), as the stream engine does on a restart. */
  readonly closeAtElement?: number;
  /** Throw from the handler of the Nth element (a handler bug: the parser must stop and rethrow). */
  readonly throwAtElement?: number;
}

/** Every handler call of one parser fed `chunks`, in order. */
export function parse(chunks: readonly (string | Buffer)[], fastPath: boolean, options: RunOptions): ParserEvent[] {
  const events: ParserEvent[] = [];
  let elements = 0;
  const parser: SaxesStreamParser = new SaxesStreamParser(
    {
      onStreamStart: (header) => events.push({ type: "start", header }),
      onElement: (element) => {
        events.push({ type: "element", element: dump(element) });
        const n = elements++;
        if (n === options.closeAtElement) parser.close();
        if (n === options.throwAtElement) throw new Error(`handler threw at element ${n}`);
      },
      onStreamEnd: () => events.push({ type: "end" }),
      onError: (condition, text) => events.push({ type: "error", condition, text }),
    },
    options.limits,
    { fastPath },
  );
  for (const chunk of chunks) {
    try {
      parser.write(chunk);
    } catch (err) {
      events.push({ type: "threw", message: (err as Error).message });
    }
  }
  return events;
}

/** Both parsers on the same chunks: their events, for `assert.deepEqual`. */
export function both(chunks: readonly (string | Buffer)[], options: RunOptions): { fast: ParserEvent[]; saxes: ParserEvent[] } {
  return { fast: parse(chunks, true, options), saxes: parse(chunks, false, options) };
}

/** `bytes` cut at the given offsets (sorted, within bounds). */
export function splitAt(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const at of offsets) {
    out.push(bytes.subarray(from, at));
    from = at;
  }
  out.push(bytes.subarray(from));
  return out;
}
