import { isIP } from "node:net";
import {
  type Check,
  checkItems,
  child,
  didYouMean,
  field,
  formatValue,
  integer,
  item,
  type OptionsResult,
  positiveInteger,
  problem,
  reportDuplicates,
  type S2sChecked,
  type S2sOwner,
  type S2sSection,
  type S2sValues,
  secondsToMs,
  subTable,
  type TableShape,
} from "../../core/index.js";

/** Most DNS answers cached by default (`[plugins.dns] cache_size`). */
export const DEFAULT_CACHE_SIZE = 1000;

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
    const hint = didYouMean(key, KEYS);
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

const DNS_SHAPE: TableShape = { keys: ["timeout", "retries"] };
const IP_VERSIONS_EXPECTED = "a non-empty array of unique IP versions, 4 and/or 6, e.g. [4, 6]";

/**
 * `s2s.outgoing.ip_versions` (which address families to look up and try, in order) and
 * `s2s.dns.timeout` / `s2s.dns.retries` (per query; `[s2s.outgoing.dns]` in MongooseIM 6.4+).
 * `address` and `outgoing.port` are checked by the core, which reads them too (core/resolver/address-override.ts).
 */
export const dnsS2sOptions: S2sOwner = { plugin: "dns", keys: ["outgoing.ip_versions", "dns.timeout", "dns.retries"], validate: validateDnsKeys };

function validateDnsKeys({ ctx, outgoing, moved }: S2sSection): S2sChecked {
  const at = moved("dns");
  const dnsPath = child(at.path, "dns");
  const dns = subTable(ctx, at.table, at.path, "dns", DNS_SHAPE);
  const values: S2sValues = {
    outgoing: { ipVersions: field(ctx, outgoing, "s2s.outgoing", "ip_versions", ipVersions) ?? [4, 6] },
    dns: {
      timeoutMs: field(ctx, dns, dnsPath, "timeout", secondsToMs({ integral: true, infinity: false })) ?? 10_000,
      retries: field(ctx, dns, dnsPath, "retries", positiveInteger) ?? 2,
    },
  };
  return { values };
}

const ipVersions: Check<(4 | 6)[]> = (ctx, path, value) => {
  const ipVersion: Check<4 | 6> = (c, p, v) => {
    const n = integer(4, 6, IP_VERSIONS_EXPECTED, "an integer")(c, p, v);
    return n === undefined ? undefined : n === 4 || n === 6 ? n : problem(c, p, "not an IP version", v, IP_VERSIONS_EXPECTED);
  };
  const versions = checkItems(ctx, path, value, ipVersion, IP_VERSIONS_EXPECTED, { nonEmpty: true });
  if (versions === undefined) return undefined;
  const before = ctx.problems.length;
  reportDuplicates(ctx, versions, (v) => v, (i) => item(path, i), "IP version");
  return versions.every((v) => v !== undefined) && ctx.problems.length === before ? (versions as (4 | 6)[]) : undefined;
};
