import { definePlugin, STREAM_PARSER_FACTORY } from "../../core/index.js";
import { SaxesStreamParserFactory } from "./saxes-stream-parser.js";

/**
 * The Stream slot: a strict restricted-XML stream parser (RFC 6120 §4, §11) built on saxes, with
 * stanza-size and depth limits. No options of its own: the limits come from each listener
 * (`max_stanza_size`) through the stream engine. See README.md for limits and defaults.
 */
export default definePlugin({
  name: "saxes",
  description: "strict restricted-XML stream parser (saxes) with stanza size and depth limits",
  provides: [STREAM_PARSER_FACTORY],
  register(ctx) {
    ctx.provide(STREAM_PARSER_FACTORY, { useValue: new SaxesStreamParserFactory() });
  },
});
