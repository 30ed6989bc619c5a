import type { Logger } from "../logging/logger.js";

/** A burst ends after this long without a new refusal. */
const DEFAULT_QUIET_MS = 10_000;

/**
 * Logs a refusal once per burst, not once per refused connection or stanza: a flood must not turn
 * into a log flood that costs more than the refusals save. The first refusal of a burst is logged at `info` with its details;
 * when no refusal has come for `quietMs`, one `<what>_burst_end` line says how many there were.
 */
export class BurstLog {
  #count = 0;
  #timer?: NodeJS.Timeout;

  constructor(
    private readonly logger: Logger,
    readonly what: string,
    private readonly quietMs = DEFAULT_QUIET_MS,
  ) {}

  hit(fields: Record<string, unknown>): void {
    if (this.#count++ === 0) this.logger.info({ what: this.what, ...fields }, "refusing: limit reached (logged once per burst)");
    // One timer per burst, not one per refusal: it checks on expiry whether the burst went quiet.
    this.#lastHit = Date.now();
    if (!this.#timer) this.#schedule(this.quietMs);
  }

  #lastHit = 0;

  #schedule(ms: number): void {
    // Real time on purpose: it only groups log lines, decides nothing a test would need to drive.
    this.#timer = setTimeout(() => {
      const quietFor = Date.now() - this.#lastHit;
      if (quietFor >= this.quietMs) this.#end();
      else this.#schedule(this.quietMs - quietFor);
    }, ms);
    this.#timer.unref?.();
  }

  /** Say how the burst ended now (server shutdown) instead of after the quiet period. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#count > 0) this.#end();
  }

  #end(): void {
    this.#timer = undefined;
    this.logger.info({ what: `${this.what}_burst_end`, refused: this.#count });
    this.#count = 0;
  }
}
