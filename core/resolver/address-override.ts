import { isIP } from "node:net";
import type { S2sSectionConfig } from "../config/types.js";
import { comparableDomain } from "../router/stanza.js";
import type { ConnectTarget, Resolver } from "./resolver.js";

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

/**
 * The Resolver slot behind `s2s.address`, which the core applies once, before any resolver
 * (so no resolver plugin has to re-apply it). The domain is matched as the entries are
 * written: lower case, IDNA ASCII, without a trailing dot; a listed domain never reaches the
 * resolver (no DNS query).
 */
export function withAddressOverride(s2s: S2sSectionConfig, resolver: Resolver): Resolver {
  if (s2s.address.length === 0) return resolver;
  return {
    resolve(domain, signal) {
      const name = comparableDomain(domain).replace(/\.$/, "");
      const override = addressOverride(s2s, name) ?? addressOverride(s2s, domain);
      return override ? Promise.resolve(override) : resolver.resolve(domain, signal);
    },
  };
}
