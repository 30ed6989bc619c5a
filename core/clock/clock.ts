import type { InjectionToken } from "tsyringe";
import { asyncScheduler, type SchedulerLike } from "rxjs";

/** Time source: sessions and RxJS pipelines take time from here so tests can run in virtual time. */
export interface Clock {
  now(): number;
  readonly scheduler: SchedulerLike;
}

export const systemClock: Clock = { now: () => Date.now(), scheduler: asyncScheduler };

export const CLOCK: InjectionToken<Clock> = Symbol.for("xmpp-s2s.Clock");
