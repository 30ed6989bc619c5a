// @ts-check
/**
 * xmpp-s2s-static-json-resolver: the declaration. It provides the Resolver slot,
 * which takes one provider, so the operator chooses it with `[plugins] resolver = "<name>"`
 * (the built-in DNS resolver is then not loaded). Logic: static-json-resolver.js; options: options.js.
 */
import { definePlugin, RESOLVER } from "xmpp-s2s";
import { parseStaticJsonOptions } from "./options.js";
import { StaticJsonResolver } from "./static-json-resolver.js";

export default definePlugin({
  name: "static_json",
  description: "Resolver from a JSON file (after s2s.address), no DNS",
  provides: [RESOLVER],
  s2sOptions: ["address", "outgoing.port"],
  parseOptions: (raw, config) => parseStaticJsonOptions(raw, config.baseDir),
  register(ctx) {
    ctx.logger.info({ what: "static_json_loaded", file: ctx.options.file, domains: ctx.options.table.size });
    ctx.provide(RESOLVER, { useValue: new StaticJsonResolver(ctx.config.s2s, ctx.options.table) });
  },
});
