import { domainToASCII } from "node:url";
import { formatValue, type OptionsResult } from "../../core/index.js";
import type { StaticEntry } from "./static-resolver.js";

export interface StaticResolverOptions {
  readonly hosts: readonly StaticEntry[];
}

/** `[plugins.static_resolver] hosts = [{domain = "b.example", host = "127.0.0.2", port = 5269, tls = false}]` */
export function parseStaticOptions(raw: Readonly<Record<string, unknown>>): OptionsResult<StaticResolverOptions> {
  const problems: string[] = [];
  const hosts: StaticEntry[] = [];
  for (const key of Object.keys(raw)) if (key !== "hosts") problems.push(`${key}: unknown option (got ${formatValue(raw[key])}, expected hosts)`);
  const list = raw.hosts ?? [];
  if (!Array.isArray(list)) return { problems: [...problems, `hosts: expected an array of tables (got ${formatValue(list)}, expected [{domain = "...", host = "..."}])`] };
  list.forEach((item: unknown, i) => {
    const path = `hosts[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      problems.push(`${path}: expected a table (got ${formatValue(item)}, expected {domain = "...", host = "..."})`);
      return;
    }
    const e = item as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!["domain", "host", "port", "tls"].includes(k)) problems.push(`${path}.${k}: unknown key (got ${formatValue(e[k])}, expected domain, host, port or tls)`);
    const domain = typeof e.domain === "string" ? domainToASCII(e.domain.toLowerCase()) : "";
    if (!domain) problems.push(`${path}.domain: expected a domain name (got ${formatValue(e.domain)}, expected e.g. "b.example")`);
    if (typeof e.host !== "string" || e.host === "") problems.push(`${path}.host: expected an IP address or host name (got ${formatValue(e.host)}, expected e.g. "127.0.0.2")`);
    if (e.port !== undefined && !(typeof e.port === "number" && Number.isInteger(e.port) && e.port >= 1 && e.port <= 65535)) problems.push(`${path}.port: expected a port number (got ${formatValue(e.port)}, expected 1-65535)`);
    if (e.tls !== undefined && typeof e.tls !== "boolean") problems.push(`${path}.tls: expected a boolean (got ${formatValue(e.tls)}, expected true or false)`);
    if (domain && typeof e.host === "string" && e.host) hosts.push({ domain, host: e.host, port: e.port as number | undefined, tls: e.tls === true });
  });
  return problems.length ? { problems } : { options: { hosts } };
}
