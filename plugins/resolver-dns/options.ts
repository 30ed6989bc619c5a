import { isIP } from "node:net";
import type { OptionsResult } from "../../core/plugins/plugin.js";
import { closestMatch, formatValue } from "../../core/plugins/text.js";
import { DEFAULT_CACHE_SIZE } from "./dns-resolver.js";

export interface DnsResolverOptions {
  /** DNS servers to ask ("ip", "ip:port", "[ipv6]:port"); undefined: the system's (/etc/resolv.conf). */
  readonly servers?: readonly string[];
  /** Most DNS answers cached (0 disables the cache). */
  readonly cacheSize: number;
}

const KEYS = ["servers", "cache_size"];

/** `[plugins.dns] servers = ["127.0.0.1:5353"]`, `cache_size = 1000`. */
export function parseDnsOptions(raw: Readonly<Record<string, unknown>>): OptionsResult<DnsResolverOptions> {
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (KEYS.includes(key)) continue;
    const hint = closestMatch(key, KEYS);
    problems.push(`${key}: unknown option (got ${formatValue(raw[key])}, expected ${KEYS.join(" or ")}${hint ? `; did you mean "${hint}"?` : ""})`);
  }

  let servers: string[] | undefined;
  if (raw.servers !== undefined) {
    if (!Array.isArray(raw.servers) || raw.servers.length === 0) {
      problems.push(`servers: expected a non-empty array of DNS server addresses (got ${formatValue(raw.servers)}, expected e.g. ["127.0.0.1:5353"]; leave it out to use the system's)`);
    } else {
      servers = [];
      raw.servers.forEach((s: unknown, i) => {
        if (typeof s === "string" && isServerAddress(s)) servers!.push(s);
        else problems.push(`servers[${i}]: expected an IP address with an optional port (got ${formatValue(s)}, expected e.g. "192.0.2.53", "127.0.0.1:5353" or "[2001:db8::53]:53")`);
      });
    }
  }

  let cacheSize = DEFAULT_CACHE_SIZE;
  if (raw.cache_size !== undefined) {
    const v = raw.cache_size;
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 1_000_000) cacheSize = v;
    else problems.push(`cache_size: expected an integer from 0 to 1000000 (got ${formatValue(v)}, expected e.g. 1000; 0 disables the cache)`);
  }
  return problems.length ? { problems } : { options: { servers, cacheSize } };
}

/** What node's `Resolver.setServers` accepts: "ip", "ipv4:port", "[ipv6]" or "[ipv6]:port". Host names are refused (no DNS to find DNS). */
export function isServerAddress(s: string): boolean {
  if (isIP(s)) return true;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(s);
  if (v4) return isIP(v4[1]!) === 4 && isPort(v4[2]!);
  const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  if (v6) return isIP(v6[1]!) === 6 && (v6[2] === undefined || isPort(v6[2]));
  return false;
}

function isPort(s: string): boolean {
  const n = Number(s);
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}
