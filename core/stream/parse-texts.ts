import { DEFAULT_MAX_DEPTH, type StreamParserFactory } from "./parser.js";
import { escapeAttr, NS, type XmlElement } from "../xml/element.js";

/**
 * Elements back from texts this server wrote or read itself (a XEP-0198 bounce, a cluster hop):
 * each text is one top-level element, parsed under a stream whose default namespace is `ns`
 * (with the `stream` and `db` prefixes declared, as on an S2S stream). One parser for all of them;
 * a text that does not give exactly one element (never expected) yields the parser's reason in its
 * place, and the parser starts afresh for the rest, so one bad text cannot take the others down.
 */
export function parseTexts(parsers: StreamParserFactory, ns: string, texts: readonly string[]): (XmlElement | string)[] {
  const header = `<stream:stream xmlns='${escapeAttr(ns)}' xmlns:stream='${NS.STREAM}' xmlns:db='${NS.DIALBACK}'>`;
  const out: (XmlElement | string)[] = [];
  let reason: string | undefined;
  const open = () => {
    const parser = parsers.create(
      {
        onStreamStart: () => {},
        onElement: (e) => void out.push(e),
        onStreamEnd: () => {},
        onError: (condition, why) => (reason ??= `${condition}: ${why}`),
      },
      { maxStanzaSize: Infinity, maxDepth: DEFAULT_MAX_DEPTH },
    );
    parser.write(header);
    return parser;
  };
  let parser = open();
  for (const text of texts) {
    const before = out.length;
    try {
      parser.write(text);
    } catch (err) {
      reason ??= err instanceof Error ? err.message : String(err);
    }
    if (reason === undefined && out.length === before + 1) continue;
    out.length = before;
    out.push(reason ?? "not one complete element");
    parser.close();
    reason = undefined;
    parser = open();
  }
  parser.close();
  return out;
}
