/**
 * A bounded cache of DNS answers with a time to live per entry. At most `maxEntries` entries: a
 * hit moves the entry to the young end, and inserting into a full cache evicts the oldest
 * (least recently used), so a flood of distinct domains cannot grow memory without bound.
 * `maxEntries = 0` disables caching. Expired entries are dropped when read or evicted.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>();

  constructor(
    readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new RangeError(`maxEntries: expected a non-negative integer, got ${maxEntries}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.expires <= this.now()) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Keep `value` for `ttlMs` (nothing is stored when `ttlMs <= 0` or the cache is disabled). */
  set(key: string, value: V, ttlMs: number): void {
    if (this.maxEntries === 0 || !(ttlMs > 0)) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, expires: this.now() + ttlMs });
  }

  clear(): void {
    this.#entries.clear();
  }
}
