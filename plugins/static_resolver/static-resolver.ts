import { isIP } from "node:net";
import { type ConnectTarget, normaliseDomain, type Resolver, type S2sSectionConfig } from "../../core/index.js";

export interface StaticEntry {
  readonly domain: string;
  readonly host: string;
  readonly port?: number;
  readonly tls: boolean;
}

/**
 * A resolver without DNS: this plugin's own table (several targets per domain, tried in order);
 * the core applies `s2s.address` before any resolver. A domain in neither has no address: its
 * stanzas bounce at once.
 */
export class StaticResolver implements Resolver {
  constructor(
    private readonly s2s: S2sSectionConfig,
    private readonly table: readonly StaticEntry[],
  ) {}

  async resolve(input: string): Promise<ConnectTarget[]> {
    // The table holds ASCII (IDNA) names; a caller may pass the Unicode form. A name that is not a
    // valid domain matches no entry (every entry was validated), whatever its case.
    const domain = normaliseDomain(input) ?? input.toLowerCase();
    return this.table
      .filter((e) => e.domain === domain)
      .map((e) => ({ host: e.host, port: e.port ?? this.s2s.outgoing.port, directTls: e.tls, family: isIP(e.host) === 6 ? 6 : isIP(e.host) === 4 ? 4 : undefined, via: domain }));
  }
}
