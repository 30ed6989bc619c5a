/**
 * A token bucket over bytes read from one connection: `rate` tokens per second, at most `rate`
 * banked (one second of burst). Reading is never refused and nothing is dropped: `take` returns
 * how long the reader should pause so that the average stays at `rate` (MongooseIM's shapers pause
 * the receiver the same way).
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly rate: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(rate > 0)) throw new RangeError(`rate: expected a positive number of bytes per second, got ${rate}`);
    this.#tokens = rate;
    this.#at = this.now();
  }

  /** Spend `bytes`; returns the milliseconds to wait before reading again (0: go on). */
  take(bytes: number): number {
    const now = this.now();
    this.#tokens = Math.min(this.rate, this.#tokens + ((now - this.#at) * this.rate) / 1000);
    this.#at = now;
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.rate);
  }
}

/** A fresh bucket per connection for a listener's shaper (undefined: not shaped). */
export function shaperFor(spec: { readonly maxRate: number } | undefined): TokenBucket | undefined {
  return spec ? new TokenBucket(spec.maxRate) : undefined;
}
