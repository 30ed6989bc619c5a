import type { Subscription } from "rxjs";
import { VirtualTimeScheduler } from "../cjs/rxjs.js";
import type { Clock, Timer } from "./clock.js";

/**
 * A clock that moves only when told to (`advance`): timers and RxJS pipelines scheduled on it run
 * in order, at their due virtual time, inside `advance`. For tests of session and stream state
 * machines that must not wait for real time; sockets and promises stay real, so after `advance`
 * a test awaits the effect (a socket closing, an event) as usual.
 */
export class VirtualClock implements Clock {
  readonly scheduler = new VirtualTimeScheduler();

  constructor(startMs = 0) {
    this.scheduler.frame = startMs;
  }

  now(): number {
    return this.scheduler.frame;
  }

  timer(ms: number, fn: () => void): Timer {
    // `unref` means nothing here: virtual timers never hold the process.
    const scheduler = this.scheduler;
    let pending: Subscription | undefined = scheduler.schedule(fn, ms);
    return {
      cancel: () => {
        pending?.unsubscribe();
        pending = undefined;
      },
      restart: () => {
        if (!pending) return;
        pending.unsubscribe();
        pending = scheduler.schedule(fn, ms);
      },
    };
  }

  /** Timers (and scheduled RxJS work) not yet run or cancelled. */
  get pending(): number {
    return this.scheduler.actions.length;
  }

  /** Move time forward by `ms`, running everything that falls due, in order, on the way. */
  advance(ms: number): void {
    const scheduler = this.scheduler;
    const target = scheduler.frame + ms;
    scheduler.maxFrames = target;
    try {
      scheduler.flush();
    } finally {
      scheduler.maxFrames = Infinity;
    }
    scheduler.frame = target;
  }
}
