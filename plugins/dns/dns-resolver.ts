import { isIP } from "node:net";
import {
  type Clock,
  type ConnectTarget,
  ERROR_CODES,
  isS2sError,
  type Logger,
  type Resolver,
  type S2sError,
  type S2sSectionConfig,
} from "../../core/index.js";
import { TtlCache } from "./cache.js";
import { DnsChannels } from "./channels.js";
import { DnsLookups, type CachedAnswer, type LookupOptions, type SrvRecord } from "./dns-lookups.js";
import { classifyDomain } from "./names.js";
import { isNoService, orderSrv, type RandomSource, type SrvChoice } from "./srv-order.js";
import { DEFAULT_CACHE_SIZE } from "./options.js";

export interface DnsSrvResolverOptions {
  /** DNS servers to ask ("ip", "ip:port", "[ipv6]:port"); default: the system's. */
  readonly servers?: readonly string[];
  /** Most answers kept (0: no cache). Default 1000. */
  readonly cacheSize?: number;
  /** Overrides the overall deadline of one resolution (tests). */
  readonly deadlineMs?: number;
  /** For RFC 2782 weighted selection (tests inject a seeded source). */
  readonly random?: RandomSource;
  readonly now?: () => number;
  /** The per-resolution deadline runs on it. Default: the system clock. */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** The result of one SRV query, before merging (RFC 6120 §3.2.1, XEP-0368). */
type SrvSet =
  | { readonly kind: "records"; readonly records: readonly SrvRecord[] }
  /** NXDOMAIN or NODATA. */
  | { readonly kind: "none" }
  /** A single "." target: the service is decidedly not offered. */
  | { readonly kind: "no-service" }
  | { readonly kind: "failed"; readonly error: S2sError };

/**
 * RFC 6120 §3.2 resolution of a remote domain into ordered connect targets:
 * 1. `s2s.address` wins and skips DNS;
 * 2. an IP literal is its own address, on `outgoing.port`;
 * 3. SRV `_xmpps-server._tcp` (direct TLS) and `_xmpp-server._tcp`, asked in parallel and merged
 *    by priority, then weighted random (RFC 2782, XEP-0368 §3); a lone "." target means no service;
 * 4. when neither exists, the domain's own A/AAAA on `outgoing.port` (RFC 6120 §3.2.2);
 * every host in `outgoing.ip_versions` order. "No such name" resolves to []; "could not ask"
 * rejects with RESOLVE_FAILED ("no answer" is a value, "could not ask" an error).
 */
export class DnsSrvResolver implements Resolver {
  readonly #cache: TtlCache<CachedAnswer>;
  readonly #lookupOptions: LookupOptions;
  readonly #random: RandomSource;
  readonly #channels: DnsChannels;

  constructor(
    private readonly s2s: S2sSectionConfig,
    private readonly options: DnsSrvResolverOptions = {},
  ) {
    this.#cache = new TtlCache(options.cacheSize ?? DEFAULT_CACHE_SIZE, options.now);
    this.#lookupOptions = { timeoutMs: s2s.dns.timeoutMs, tries: s2s.dns.retries, deadlineMs: options.deadlineMs, clock: options.clock };
    this.#random = options.random ?? Math.random;
    this.#channels = new DnsChannels({ timeoutMs: s2s.dns.timeoutMs, tries: s2s.dns.retries, servers: options.servers, now: options.now });
    this.#channels.prepare();
  }

  /** Channels waiting for the next resolution (tests). */
  get idleChannels(): number {
    return this.#channels.idle;
  }

  /** Forget every cached answer. */
  clearCache(): void {
    this.#cache.clear();
  }

  async resolve(domain: string, signal?: AbortSignal): Promise<ConnectTarget[]> {
    const kind = classifyDomain(domain);
    const name = kind.kind === "name" ? kind.ascii : kind.kind === "ip" ? kind.address : domain;
    if (kind.kind === "invalid") return [];
    const { port, ipVersions } = this.s2s.outgoing;
    if (kind.kind === "ip") {
      // `ip_versions = [4]` never uses IPv6, even when the domain is an IPv6 literal.
      return ipVersions.includes(kind.family) ? [{ host: kind.address, port, directTls: false, family: kind.family, via: domain }] : [];
    }

    const lookups = new DnsLookups(name, this.#lookupOptions, this.#cache, this.#channels, signal);
    // A lookup can take up to the overall deadline: say that it started and how it ended, so a slow one shows in the log.
    const log = this.options.logger;
    const started = Date.now();
    log?.debug({ what: "resolve_started", remote: domain, timeoutMs: this.#lookupOptions.timeoutMs, tries: this.#lookupOptions.tries });
    try {
      return await this.#resolveNames(lookups, domain, name, port);
    } catch (err) {
      if (isS2sError(err)) log?.info({ what: "resolve_failed", remote: domain, condition: err.condition, reason: err.message, ms: Date.now() - started });
      throw err;
    } finally {
      lookups.close();
    }
  }

  async #resolveNames(lookups: DnsLookups, domain: string, name: string, port: number): Promise<ConnectTarget[]> {
    const [tls, plain] = await Promise.all([
      this.#srvSet(lookups, `_xmpps-server._tcp.${name}`),
      this.#srvSet(lookups, `_xmpp-server._tcp.${name}`),
    ]);
    const sets = [
      { set: tls, directTls: true },
      { set: plain, directTls: false },
    ];
    const choices: SrvChoice[] = [];
    for (const { set, directTls } of sets) {
      if (set.kind === "records") for (const r of set.records) choices.push({ ...r, directTls });
    }
    const failed = sets.flatMap(({ set }) => (set.kind === "failed" ? [set.error] : []));
    if (choices.length === 0) {
      // A failed query might have held records: we cannot tell "no service" from "no answer yet".
      if (failed.length) throw failed[0];
      // RFC 6120 §3.2.1: "." means no XMPP service at all, and no fallback to A/AAAA.
      if (sets.some(({ set }) => set.kind === "no-service")) return [];
      // RFC 6120 §3.2.2: no SRV records at all: the domain itself on the default port.
      return await this.#hostTargets(lookups, [{ host: name, port, directTls: false }]);
    }
    if (failed.length) {
      // XEP-0368 records are optional: one set failing while the other answered is not worth a bounce.
      this.options.logger?.info({ what: "resolve_partial", remote: domain, reason: failed[0]!.message });
    }
    const ordered = orderSrv(choices, this.#random);
    return await this.#hostTargets(lookups, ordered.map((c) => ({ host: c.name, port: c.port, directTls: c.directTls })));
  }

  async #srvSet(lookups: DnsLookups, name: string): Promise<SrvSet> {
    try {
      const records = await lookups.srv(name);
      if (records.length === 0) return { kind: "none" };
      if (isNoService(records)) return { kind: "no-service" };
      // A "." among other records, or port 0, is not a usable record. Records that exist but are
      // all unusable mean "not offered" too: RFC 6120 §3.2.2 falls back only when there are none.
      const usable = records.filter((r) => r.name !== "" && r.name !== "." && r.port > 0);
      return usable.length ? { kind: "records", records: usable } : { kind: "no-service" };
    } catch (err) {
      if (isS2sError(err) && err.code === ERROR_CODES.RESOLVE_FAILED) return { kind: "failed", error: err };
      throw err;
    }
  }

  /**
   * Every host's addresses in `ip_versions` order (all IPv4 of a host, then all IPv6, for [4, 6]),
   * keeping each host's port and TLS mode. Hosts are resolved in parallel; a host that could not
   * be resolved is skipped as long as another host gave addresses.
   */
  async #hostTargets(lookups: DnsLookups, hosts: readonly { host: string; port: number; directTls: boolean }[]): Promise<ConnectTarget[]> {
    const families = this.s2s.outgoing.ipVersions;
    const pending = new Map<string, Promise<readonly string[] | S2sError>>();
    const addresses = (host: string, family: 4 | 6): Promise<readonly string[] | S2sError> => {
      const key = `${family} ${host}`;
      let p = pending.get(key);
      if (!p) {
        p = lookups.addresses(host, family).catch((err: unknown) => {
          if (isS2sError(err) && err.code === ERROR_CODES.RESOLVE_FAILED) return err;
          throw err;
        });
        pending.set(key, p);
      }
      return p;
    };
    type Found = { readonly family: 4 | 6; readonly result: readonly string[] | S2sError };
    const perHost = await Promise.all(
      hosts.map(async (h): Promise<Found[]> => {
        const literal = isIP(h.host);
        // Not RFC 2782, but seen in the wild: an SRV target written as an address.
        if (literal === 4 || literal === 6) return families.includes(literal) ? [{ family: literal, result: [h.host] }] : [];
        return Promise.all(families.map(async (family) => ({ family, result: await addresses(h.host, family) })));
      }),
    );
    const targets: ConnectTarget[] = [];
    const seen = new Set<string>();
    let failure: S2sError | undefined;
    hosts.forEach((h, i) => {
      for (const { family, result } of perHost[i]!) {
        if (isS2sError(result)) {
          failure ??= result;
          continue;
        }
        for (const address of result) {
          const key = `${address} ${h.port} ${h.directTls}`;
          if (seen.has(key)) continue;
          seen.add(key);
          targets.push({ host: address, port: h.port, directTls: h.directTls, family, via: h.host });
        }
      }
    });
    if (targets.length === 0 && failure) throw failure;
    if (failure) this.options.logger?.info({ what: "resolve_partial", remote: lookups.domain, reason: failure.message });
    return targets;
  }
}
