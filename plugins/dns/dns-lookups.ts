import type { Resolver as NodeDnsResolver } from "node:dns/promises";
import { type Clock, ERROR_CODES, S2sError, systemClock, type Timer } from "../../core/index.js";
import type { TtlCache } from "./cache.js";
import type { DnsChannels } from "./channels.js";

/** One SRV record as node returns it (target "." comes back as name ""). */
export interface SrvRecord {
  readonly name: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

/** What the cache holds: SRV records or addresses; an empty array is a cached negative answer. */
export type CachedAnswer = readonly SrvRecord[] | readonly string[];

/**
 * Node's resolveSrv gives no TTL, so SRV answers are kept this long (a typical SRV TTL; a change
 * of SRV records is seen within 5 minutes).
 */
export const SRV_CACHE_MS = 300_000;
/** A/AAAA answers are kept for their own TTL, never longer than this. */
export const MAX_ADDRESS_CACHE_MS = 3_600_000;
/** "No such name / no such record" is kept this long (RFC 2308 negative caching, kept short). */
export const NEGATIVE_CACHE_MS = 60_000;
/** Added to the overall deadline so that the last try's reply has time to arrive. */
export const DEADLINE_SLACK_MS = 1_000;

/** "No answer": the name or the record does not exist. An answer (RFC 2308 NXDOMAIN/NODATA), not a failure. */
const NO_ANSWER = new Set([
  "ENOTFOUND", // NXDOMAIN
  "ENODATA", // NOERROR with no record of this type (NODATA)
  "EBADNAME", // a name DNS cannot carry cannot exist
]);

/** "Could not ask": the question has no answer yet; retrying later may help. Anything else is a bug and propagates as is. */
const COULD_NOT_ASK = new Set([
  "ETIMEOUT",
  "ESERVFAIL",
  "EREFUSED",
  "ECONNREFUSED",
  "ECANCELLED",
  "EFORMERR",
  "ENOTIMP",
  "EBADRESP",
  "EOF",
  "EFILE",
  "ENOMEM",
  "EDESTRUCTION",
  "ENOTINITIALIZED",
]);

export interface LookupOptions {
  /** Milliseconds per try (`s2s.dns.timeout`). */
  readonly timeoutMs: number;
  /** Total tries per query (`s2s.dns.retries`). */
  readonly tries: number;
  /** Whole-resolution bound; default 2 × timeout × tries + 1 s (see README "Time limits"). */
  readonly deadlineMs?: number;
  /** The deadline runs on it (core/clock/clock.ts). Default: the system clock. */
  readonly clock?: Clock;
}

/** 2 × timeout × tries + 1 s: enough for c-ares's own tries with back-off in the usual cases, bounded when `tries` is large. */
export function overallDeadlineMs(timeoutMs: number, tries: number): number {
  return 2 * timeoutMs * tries + DEADLINE_SLACK_MS;
}

/**
 * The DNS queries of one resolution. Each resolution has a node Resolver (one c-ares channel) to
 * itself while it runs, so that its overall deadline, enforced with `cancel()`, cancels its own
 * queries and never another domain's; the channel goes back to `channels` for the next
 * resolution when this one ends with nothing in flight (channels.ts). Answers are shared through
 * the cache.
 */
export class DnsLookups {
  readonly #dns: NodeDnsResolver;
  readonly #timer: Timer;
  #why?: string;
  readonly #onAbort?: () => void;
  /** Queries sent and not yet answered. */
  #inFlight = 0;

  constructor(
    /** The domain being resolved (ASCII), for messages. */
    readonly domain: string,
    options: LookupOptions,
    private readonly cache: TtlCache<CachedAnswer>,
    private readonly channels: DnsChannels,
    private readonly signal?: AbortSignal,
  ) {
    this.#dns = channels.take();
    const deadline = options.deadlineMs ?? overallDeadlineMs(options.timeoutMs, options.tries);
    this.#timer = (options.clock ?? systemClock).timer(deadline, () => {
      this.#deadlinePassed = true;
      this.#cancel(`no DNS answer within the overall deadline of ${deadline} ms`);
    }, { unref: true });
    if (signal) {
      this.#onAbort = () => this.#cancel("resolution aborted");
      if (signal.aborted) this.#onAbort();
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Stop the deadline timer; call once the resolution is over. */
  close(): void {
    this.#timer.cancel();
    if (this.#onAbort) this.signal?.removeEventListener("abort", this.#onAbort);
    // A cancelled channel, or one with a query still out (a resolution that ended on a bug), is
    // not shared: its next user could receive or cancel what belongs to this one.
    if (!this.#why && this.#inFlight === 0) this.channels.give(this.#dns);
    this.#why ??= "resolution over";
  }

  /** SRV records of `name` in wire order; [] when there is no such name or record. */
  async srv(name: string): Promise<readonly SrvRecord[]> {
    const key = `SRV ${name}`;
    const cached = this.cache.get(key) as readonly SrvRecord[] | undefined;
    if (cached) return cached;
    const records = await this.#ask("SRV", name, () => this.#dns.resolveSrv(name));
    this.cache.set(key, records, records.length ? SRV_CACHE_MS : NEGATIVE_CACHE_MS);
    return records;
  }

  /** Addresses of `host` in `family`; [] when there is no such name or record. */
  async addresses(host: string, family: 4 | 6): Promise<readonly string[]> {
    const type = family === 4 ? "A" : "AAAA";
    const key = `${type} ${host}`;
    const cached = this.cache.get(key) as readonly string[] | undefined;
    if (cached) return cached;
    const records = await this.#ask(type, host, () => (family === 4 ? this.#dns.resolve4(host, { ttl: true }) : this.#dns.resolve6(host, { ttl: true })));
    const ttlMs = records.length ? Math.min(MAX_ADDRESS_CACHE_MS, ...records.map((r) => r.ttl * 1000)) : NEGATIVE_CACHE_MS;
    const addresses = records.map((r) => r.address);
    this.cache.set(key, addresses, ttlMs);
    return addresses;
  }

  async #ask<T>(type: string, name: string, query: () => Promise<T[]>): Promise<T[]> {
    if (this.#why) throw this.#failure(type, name, "ECANCELLED");
    this.#inFlight++;
    try {
      return await query();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      if (NO_ANSWER.has(code)) return [];
      if (COULD_NOT_ASK.has(code)) throw this.#failure(type, name, code, err);
      throw err;
    } finally {
      this.#inFlight--;
    }
  }

  #failure(type: string, name: string, code: string, cause?: unknown): S2sError {
    const why = code === "ECANCELLED" && this.#why ? `: ${this.#why}` : "";
    // No answer in time (a try timed out, or our overall deadline cancelled the query): RFC 6120
    // §8.3.3.16 remote-server-timeout, type wait (the peer may answer later). Any other "could not ask" (SERVFAIL,
    // REFUSED...): the peer cannot be found for now, §8.3.3.15 remote-server-not-found.
    const timedOut = code === "ETIMEOUT" || (code === "ECANCELLED" && this.#deadlinePassed);
    return new S2sError(ERROR_CODES.RESOLVE_FAILED, `DNS ${type} query for ${name} (resolving ${this.domain}) failed: ${code}${why}`, timedOut ? "remote-server-timeout" : "remote-server-not-found", { cause });
  }

  #deadlinePassed = false;

  #cancel(why: string): void {
    if (this.#why) return;
    this.#why = why;
    this.#dns.cancel();
  }
}
