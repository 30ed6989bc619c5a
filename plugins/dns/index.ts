import { CLOCK, definePlugin, RESOLVER } from "../../core/index.js";
import { DnsSrvResolver } from "./dns-resolver.js";
import { parseDnsOptions, type DnsResolverOptions } from "./options.js";

export type { DnsResolverOptions } from "./options.js";

export default definePlugin<DnsResolverOptions>({
  name: "dns",
  description: "RFC 6120 §3.2 resolution: s2s.address, DNS SRV (xmpps/xmpp merged, XEP-0368), A/AAAA fallback",
  provides: [RESOLVER],
  s2sOptions: ["address", "outgoing.port", "outgoing.ip_versions", "dns.timeout", "dns.retries"],
  parseOptions: (raw) => parseDnsOptions(raw),
  register(ctx) {
    const { servers, cacheSize } = ctx.options;
    ctx.provide(RESOLVER, { useValue: new DnsSrvResolver(ctx.config.s2s, { servers, cacheSize, logger: ctx.logger, clock: ctx.container.resolve(CLOCK) }) });
  },
});
