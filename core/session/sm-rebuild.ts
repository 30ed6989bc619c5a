import { parseTexts } from "../stream/parse-texts.js";
import type { StreamParserFactory } from "../stream/parser.js";
import { NS, type XmlElement } from "../xml/element.js";

export interface Rebuilt {
  /** The stanzas that parsed again, in order. */
  readonly stanzas: XmlElement[];
  /** Texts that did not (never expected: we wrote them), with the parser's reason. */
  readonly failed: { readonly text: string; readonly reason: string }[];
}

/**
 * XEP-0198 bounce: the elements of stanzas kept as the text we wrote (sm-outbound.ts), so that
 * the router can answer each sender with an error stanza (it needs from/to/id/type and the
 * original). The texts were written on an S2S stream (jabber:server, `stream` and `db` declared).
 */
export function rebuildStanzas(texts: readonly string[], parsers: StreamParserFactory): Rebuilt {
  const stanzas: XmlElement[] = [];
  const failed: { text: string; reason: string }[] = [];
  parseTexts(parsers, NS.SERVER, texts).forEach((result, i) => {
    if (typeof result === "string") failed.push({ text: texts[i]!, reason: result });
    else stanzas.push(result);
  });
  return { stanzas, failed };
}
