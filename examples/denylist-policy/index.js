// @ts-check
/**
 * xmpp-s2s-denylist-policy: the declaration. Nothing runs on import: the loader
 * reads what this plugin provides and needs, parses `[plugins.<name>]` with `parseOptions`, then
 * calls `register`. The logic lives in denylist.js, the options in options.js.
 */
import { definePlugin, POLICY } from "xmpp-s2s";
import { DenylistPolicy } from "./denylist.js";
import { parseDenylistOptions } from "./options.js";

export default definePlugin({
  name: "denylist",
  description: "denies the remote domains listed in a file (one per line) and picks up changes to it",
  provides: [POLICY],
  parseOptions: (raw, config) => parseDenylistOptions(raw, config.baseDir),
  register(ctx) {
    const policy = new DenylistPolicy(ctx.options.file, ctx.options.domains, ctx.logger);
    if (ctx.options.watch) policy.watch();
    ctx.logger.info({ what: "denylist_loaded", file: ctx.options.file, domains: policy.size, watch: ctx.options.watch });
    ctx.provide(POLICY, { useValue: policy });
  },
});
