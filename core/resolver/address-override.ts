import { isIP } from "node:net";
import type { S2sSectionConfig } from "../config/types.js";
import type { ConnectTarget } from "./resolver.js";

/**
 * `s2s.address`: an entry for the domain wins and skips DNS (MongooseIM semantics); the port
 * defaults to `outgoing.port`, `tls = true` marks XEP-0368 direct TLS. Undefined: no entry.
 */
export function addressOverride(s2s: S2sSectionConfig, domain: string): ConnectTarget[] | undefined {
  const entry = s2s.address.find((a) => a.host === domain);
  if (!entry) return undefined;
  const family = isIP(entry.ipAddress);
  return [{ host: entry.ipAddress, port: entry.port ?? s2s.outgoing.port, directTls: entry.tls, family: family === 6 ? 6 : 4, via: domain }];
}
