import type { InjectionToken } from "tsyringe";
import type { SchedulerLike } from "rxjs";
import { asyncScheduler } from "../cjs/rxjs.js";

/** A one-shot timer from `Clock.timer`. */
export interface Timer {
  /** Stop it. Calling it again, or after the timer fired, does nothing. */
  cancel(): void;
  /**
   * Start the same delay over from now, whether or not it already fired (Node's `timer.refresh()`);
   * does nothing once cancelled. Allocates nothing: the idle timeout calls it on every chunk read.
   */
  restart(): void;
}

export interface TimerOptions {
  /**
   * Like Node's `timer.unref()`: this timer alone does not keep the process alive. For timers that
   * guard something else that does (a socket), so that an orderly stop never waits for them.
   */
  readonly unref?: boolean;
}

/**
 * Time source: sessions, streams and RxJS pipelines take time and timers from here, so tests can
 * run them in virtual time (`VirtualClock`). Core session and stream code never calls `setTimeout`.
 */
export interface Clock {
  now(): number;
  readonly scheduler: SchedulerLike;
  /** Call `fn` once, `ms` from now. */
  timer(ms: number, fn: () => void, options?: TimerOptions): Timer;
}

/** Node's timers behind the `Timer` interface; `refresh()` re-arms without allocating. */
class NodeTimer implements Timer {
  #handle: NodeJS.Timeout | undefined;

  constructor(ms: number, fn: () => void, options?: TimerOptions) {
    this.#handle = setTimeout(fn, ms);
    if (options?.unref) this.#handle.unref();
  }

  cancel(): void {
    clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  restart(): void {
    this.#handle?.refresh();
  }
}

export const systemClock: Clock = {
  now: () => Date.now(),
  scheduler: asyncScheduler,
  timer: (ms, fn, options) => new NodeTimer(ms, fn, options),
};

export const CLOCK: InjectionToken<Clock> = Symbol.for("xmpp-s2s.Clock");
