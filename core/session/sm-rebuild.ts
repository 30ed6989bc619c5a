import { DEFAULT_MAX_DEPTH, type StreamParserFactory } from "../stream/parser.js";
import { NS, type XmlElement } from "../xml/element.js";

/**
 * The stream header the kept texts were written under (XmlStream.sendHeader on an S2S stream):
 * jabber:server by default, `stream` and `db` prefixes declared, so each text parses as it did
 * for the peer.
 */
const S2S_HEADER = `<stream:stream xmlns='${NS.SERVER}' xmlns:stream='${NS.STREAM}' xmlns:db='${NS.DIALBACK}'>`;

export interface Rebuilt {
  /** The stanzas that parsed again, in order. */
  readonly stanzas: XmlElement[];
  /** Texts that did not (never expected: we wrote them), with the parser's reason. */
  readonly failed: { readonly text: string; readonly reason: string }[];
}

/**
 * XEP-0198 bounce: the elements of stanzas kept as the text we wrote (sm-outbound.ts), so that
 * the router can answer each sender with an error stanza (it needs from/to/id/type and the
 * original). Rare (a link that could not be resumed), so each text gets its own parser: one bad
 * text cannot take the ones after it down.
 */
export function rebuildStanzas(texts: readonly string[], parsers: StreamParserFactory): Rebuilt {
  const stanzas: XmlElement[] = [];
  const failed: { text: string; reason: string }[] = [];
  for (const text of texts) {
    let element: XmlElement | undefined;
    let reason = "no element";
    const parser = parsers.create(
      {
        onStreamStart: () => {},
        onElement: (e) => (element ??= e),
        onStreamEnd: () => {},
        onError: (condition, why) => (reason = `${condition}: ${why}`),
      },
      { maxStanzaSize: Infinity, maxDepth: DEFAULT_MAX_DEPTH },
    );
    try {
      parser.write(S2S_HEADER);
      parser.write(text);
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    } finally {
      parser.close();
    }
    if (element) stanzas.push(element);
    else failed.push({ text, reason });
  }
  return { stanzas, failed };
}
