import { definePlugin, RESOLVER } from "../../core/index.js";
import { parseStaticOptions, type StaticResolverOptions } from "./options.js";
import { StaticResolver } from "./static-resolver.js";

export default definePlugin<StaticResolverOptions>({
  name: "static_resolver",
  description: "Resolver from a static table in TOML (and s2s.address), no DNS",
  provides: [RESOLVER],
  s2sOptions: ["address", "outgoing.port"],
  parseOptions: (raw) => parseStaticOptions(raw),
  register(ctx) {
    ctx.provide(RESOLVER, { useValue: new StaticResolver(ctx.config.s2s, ctx.options.hosts) });
  },
});
