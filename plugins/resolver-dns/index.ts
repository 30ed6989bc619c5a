import { RESOLVER } from "../../core/resolver/resolver.js";
import { definePlugin } from "../../core/plugins/plugin.js";
import { formatValue } from "../../core/plugins/text.js";
import { DnsSrvResolver } from "./dns-resolver.js";

export interface DnsResolverOptions {
  /** DNS servers to ask ("ip" or "ip:port"); default: the system's. */
  readonly servers?: readonly string[];
}

export default definePlugin<DnsResolverOptions>({
  name: "dns",
  description: "RFC 6120 §3.2 resolution: s2s.address, DNS SRV (xmpps/xmpp), A/AAAA fallback",
  provides: [RESOLVER],
  s2sOptions: ["address", "outgoing.port", "outgoing.ip_versions", "dns.timeout", "dns.retries"],
  parseOptions(raw) {
    const problems: string[] = [];
    for (const key of Object.keys(raw)) if (key !== "servers") problems.push(`${key}: unknown option (got ${formatValue(raw[key])}, expected servers)`);
    const servers = raw.servers;
    if (servers !== undefined && (!Array.isArray(servers) || servers.some((s) => typeof s !== "string" || !s))) {
      problems.push(`servers: expected an array of DNS server addresses (got ${formatValue(servers)}, expected e.g. ["127.0.0.1:5353"])`);
    }
    return problems.length ? { problems } : { options: { servers: servers as string[] | undefined } };
  },
  register(ctx) {
    ctx.provide(RESOLVER, { useValue: new DnsSrvResolver(ctx.config.s2s, ctx.options.servers) });
  },
});
