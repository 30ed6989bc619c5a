/**
 * A Redis that keeps its TCP connection open but never answers (a frozen or stalled process, a
 * half-dead proxy): ioredis sets no command timeout and TCP keepalive sees nothing wrong (the
 * kernel still acknowledges), so without a deadline the batch on its way to a node would wait
 * forever and everything behind it would queue. Every command the cluster awaits goes through
 * `within()`: past `timeoutMs` without an answer it is an outage (the caller's outage path runs:
 * cross-node stanzas bounce or are sent from this node), and the first late answer on the same
 * connection ends it.
 *
 * A PUBLISH that times out is still in Redis's input buffer and would run once Redis resumes,
 * after its stanzas were already bounced or sent from this node: a duplicate. So a forward is
 * published by a script that first checks Redis's own clock against a deadline (`publishBy`,
 * scripts.ts) set to half the timeout: what Redis runs too late is dropped by Redis itself, and
 * what it runs in time has half the timeout left for its answer to reach us.
 */

/** A command Redis did not answer in time (the connection is still open). */
export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = "RedisTimeoutError";
  }
}

/**
 * The command timeout for a lease: a healthy Redis answers in well under a millisecond, so the
 * floor (2 s) is there for this node's own stalls (garbage collection, a busy event loop, during
 * which the timer fires before the answer already in the socket is read); the cap (5 s) bounds
 * how long a stanza waits on a Redis that will not answer. In between, a quarter of the lease,
 * so an outage is seen before the leases (renewed every third of it) run out.
 */
export function commandTimeoutMs(leaseMs: number): number {
  return Math.min(5000, Math.max(2000, Math.round(leaseMs / 4)));
}

export interface RedisDeadlineHooks {
  /** The first command of an outage that found no answer in time. */
  readonly timedOut: (err: RedisTimeoutError) => void;
  /** A command that had timed out got its answer after all: Redis answers again. */
  readonly answered: () => void;
}

export class RedisDeadline {
  /** Redis answered nothing within the timeout since the last answer. */
  #stalled = false;
  /** When the stall was noticed (Date.now()). */
  #stalledSince = 0;
  /** The connection was closed to open a new one during this stall (once per stall). */
  #replaced = false;
  /** Redis's clock minus ours (ms), from TIME with a short round trip (see noteTime). */
  #offsetMs = 0;

  constructor(
    readonly timeoutMs: number,
    private readonly hooks: RedisDeadlineHooks,
  ) {}

  get stalled(): boolean {
    return this.#stalled;
  }

  /** The connection was closed and opened again: whatever was stalled on it is gone. */
  reset(): void {
    this.#stalled = false;
    this.#replaced = false;
  }

  /**
   * True once per stall, when it has lasted `ms`: time to close the connection and open a new one
   * (a path that died without a reset answers nothing ever; a new connection either answers or
   * fails to connect, and what the old one carried is dropped by Redis's own deadline check).
   */
  replaceAfter(ms: number, now: number): boolean {
    if (!this.#stalled || this.#replaced || now - this.#stalledSince < ms) return false;
    this.#replaced = true;
    return true;
  }

  /**
   * `work`'s outcome if it settles within the timeout, else a RedisTimeoutError. The timer is
   * checked again after the I/O phase of the event loop (setImmediate), so an answer that reached
   * the socket while this process was busy wins over a timer that fired late.
   */
  within<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (settled) return;
          settled = true;
          const err = new RedisTimeoutError(this.timeoutMs);
          const first = !this.#stalled;
          this.#stalled = true;
          if (first) this.#stalledSince = Date.now();
          // The answer may still come (Redis resumed): that ends the stall.
          work.then(
            () => this.#lateAnswer(),
            (e: unknown) => {
              if (isReply(e)) this.#lateAnswer();
            },
          );
          if (first) this.hooks.timedOut(err);
          reject(err);
        });
      }, this.timeoutMs);
      work.then(
        (value) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          reject(err);
        },
      );
    });
  }

  #lateAnswer(): void {
    // A connection being replaced may still answer while it closes: only the new one's "ready" counts.
    if (!this.#stalled || this.#replaced) return;
    this.#stalled = false;
    this.hooks.answered();
  }

  /** The deadline, on Redis's clock (ms since the epoch), by which a publish sent now must run. */
  publishDeadline(): number {
    return Date.now() + this.#offsetMs + Math.floor(this.timeoutMs / 2);
  }

  /**
   * A TIME answer (`[seconds, microseconds]`) asked at `sentAt` and read at `readAt` (our
   * Date.now()). Kept only when the round trip was short, so that the offset is accurate to a few
   * milliseconds against a deadline of a second or more.
   */
  noteTime(time: readonly [string, string] | readonly string[], sentAt: number, readAt: number): void {
    if (readAt - sentAt > 100) return;
    const redisMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    if (Number.isFinite(redisMs)) this.#offsetMs = redisMs - (sentAt + readAt) / 2;
  }
}

/** An error answer from Redis (a ReplyError), as opposed to a closed connection or our own timeout. */
function isReply(err: unknown): boolean {
  return err instanceof Error && err.name === "ReplyError";
}
