import { Resolver as NodeDnsResolver } from "node:dns/promises";

/** Most idle channels kept for reuse (each a c-ares channel: a few KiB, no socket while idle). */
export const MAX_IDLE_CHANNELS = 4;
/**
 * A channel reads the system's DNS servers when it is made (without `servers`): one older than
 * this is not reused, so a change of /etc/resolv.conf is seen within the time a cached SRV answer
 * lives anyway (SRV_CACHE_MS).
 */
export const CHANNEL_MAX_AGE_MS = 300_000;

export interface ChannelOptions {
  /** Milliseconds per try (c-ares `timeout`). */
  readonly timeoutMs: number;
  /** Total tries per query (c-ares `tries`). */
  readonly tries: number;
  readonly servers?: readonly string[];
  readonly now?: () => number;
}

/**
 * node:dns Resolvers (c-ares channels) shared by the resolutions one at a time. Making one costs
 * 0.2-0.5 ms (c-ares reads resolv.conf and nsswitch.conf, then `setServers`), about 1 ms the
 * first time in a process, and every resolution needs one of its own: cancelling a resolution
 * (its deadline, an abort) cancels every query of its channel, and must not touch another
 * domain's (DnsLookups). So a resolution takes a channel and gives it back when it ended with
 * nothing in flight and nothing cancelled; the next one reuses it.
 */
export class DnsChannels {
  readonly #idle: NodeDnsResolver[] = [];
  /** When each channel this made was made; one it did not make is never shared. */
  readonly #madeAt = new WeakMap<NodeDnsResolver, number>();
  readonly #now: () => number;

  constructor(private readonly options: ChannelOptions) {
    this.#now = options.now ?? Date.now;
  }

  take(): NodeDnsResolver {
    for (let channel = this.#idle.pop(); channel; channel = this.#idle.pop()) {
      if (this.#young(channel)) return channel;
    }
    return this.#make();
  }

  /** Back from a resolution that has no query in flight and was not cancelled. */
  give(channel: NodeDnsResolver): void {
    if (this.#idle.length < MAX_IDLE_CHANNELS && this.#young(channel)) this.#idle.push(channel);
  }

  /**
   * One channel made now, at start-up, for the first resolution: it also compiles node:dns's
   * channel code, which the first link would otherwise wait for (~1 ms). A few KiB; no socket
   * until a query is sent.
   */
  prepare(): void {
    if (this.#idle.length === 0) this.give(this.#make());
  }

  /** Idle channels now (tests). */
  get idle(): number {
    return this.#idle.length;
  }

  #young(channel: NodeDnsResolver): boolean {
    const madeAt = this.#madeAt.get(channel);
    return madeAt !== undefined && this.#now() - madeAt < CHANNEL_MAX_AGE_MS;
  }

  #make(): NodeDnsResolver {
    // c-ares: `timeout` is the first try's wait (later tries back off), `tries` the total number of tries (node:dns Resolver options, c-ares semantics).
    const channel = new NodeDnsResolver({ timeout: this.options.timeoutMs, tries: this.options.tries });
    if (this.options.servers?.length) channel.setServers([...this.options.servers]);
    this.#madeAt.set(channel, this.#now());
    return channel;
  }
}
