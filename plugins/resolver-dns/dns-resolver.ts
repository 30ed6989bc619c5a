import { Resolver as DnsResolver } from "node:dns/promises";
import type { S2sSectionConfig } from "../../core/config/types.js";
import { ERROR_CODES, S2sError } from "../../core/errors.js";
import type { ConnectTarget, Resolver } from "../../core/resolver/resolver.js";
import { addressOverride } from "../../core/resolver/address-override.js";

const NO_ANSWER = new Set(["ENOTFOUND", "ENODATA", "ENONAME"]);

/** RFC 6120 §3.2 resolution: `s2s.address`, then A/AAAA of the domain on `outgoing.port`. */
export class DnsSrvResolver implements Resolver {
  readonly #dns: DnsResolver;

  constructor(private readonly s2s: S2sSectionConfig, servers?: readonly string[]) {
    this.#dns = new DnsResolver({ timeout: s2s.dns.timeoutMs, tries: s2s.dns.retries });
    if (servers?.length) this.#dns.setServers([...servers]);
  }

  async resolve(domain: string): Promise<ConnectTarget[]> {
    const override = addressOverride(this.s2s, domain);
    if (override) return override;
    const targets: ConnectTarget[] = [];
    for (const family of this.s2s.outgoing.ipVersions) {
      for (const address of await this.#addresses(domain, family)) targets.push({ host: address, port: this.s2s.outgoing.port, directTls: false, family, via: domain });
    }
    return targets;
  }

  async #addresses(host: string, family: 4 | 6): Promise<string[]> {
    try {
      return family === 4 ? await this.#dns.resolve4(host) : await this.#dns.resolve6(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      // "No such name / no such record" is an answer; anything else means we could not ask (style.md §6).
      if (NO_ANSWER.has(code)) return [];
      throw new S2sError(ERROR_CODES.RESOLVE_FAILED, `DNS ${family === 4 ? "A" : "AAAA"} lookup of ${host} failed: ${code}`, "remote-server-not-found", { cause: err });
    }
  }
}
