/**
 * What Prometheus does to a server with metrics on: GET /metrics at a fixed interval. The bench
 * scrapes during the measured run so that the "metrics on" figure pays for the collection at
 * scrape time (collect() callbacks, process metrics, the text rendering, the HTTP response), not
 * only for the counting.
 */
export class Scraper {
  /** Scrapes answered 200, per URL. */
  readonly ok = new Map<string, number>();
  readonly failures: string[] = [];
  #timer?: NodeJS.Timeout;
  #inFlight = new Set<Promise<void>>();
  #stopped = false;

  constructor(readonly urls: readonly string[], readonly intervalMs: number) {
    for (const url of urls) this.ok.set(url, 0);
  }

  /** Scrapes every URL now, then every `intervalMs` (one scrape per URL at a time, as Prometheus). */
  start(): this {
    const tick = () => {
      if (this.#stopped) return;
      for (const url of this.urls) this.#track(this.#scrapeOnce(url));
      this.#timer = setTimeout(tick, this.intervalMs);
    };
    tick();
    return this;
  }

  /** Scrapes answered so far, over every URL. */
  get count(): number {
    let n = 0;
    for (const v of this.ok.values()) n += v;
    return n;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await Promise.all(this.#inFlight);
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  async #scrapeOnce(url: string, retry = true): Promise<void> {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      await res.text();
      if (res.status === 200) this.ok.set(url, this.ok.get(url)! + 1);
      else this.failures.push(`${url}: HTTP ${res.status}`);
    } catch (err) {
      // A kept-alive connection that the server closed just as it was reused (its keepAliveTimeout
      // on a starved machine) fails once; Prometheus would count a failed scrape and go on.
      if (retry) return this.#scrapeOnce(url, false);
      const cause = (err as Error & { cause?: Error }).cause;
      this.failures.push(`${url}: ${(err as Error).message}${cause ? ` (${cause.message})` : ""}`);
    }
  }
}

/** One scrape: the value of `name{labels}` in the text format, undefined when absent. */
export async function scrapeSample(url: string, name: string, labels: Readonly<Record<string, string>> = {}): Promise<number | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? "").split(",").filter(Boolean);
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) return Number(m[3]);
  }
  return undefined;
}
