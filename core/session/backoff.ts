import type { Observable, SchedulerLike } from "rxjs";
import { EMPTY, map, of, scan, switchMap, timer } from "../cjs/rxjs.js";

/** What happened to a (local, remote) pair's connection attempts. */
export type PairOutcome =
  | { readonly kind: "failed" }
  | { readonly kind: "succeeded" }
  /** An inbound stream authenticated the remote: it is up, retry at once (and forget the backoff). */
  | { readonly kind: "inbound_authenticated" };

/** Emitted when the pair should be retried (`attempt` failures so far, `delayMs` waited). */
export interface RetrySignal {
  readonly attempt: number;
  readonly delayMs: number;
}

export interface BackoffOptions {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Fraction of the delay added or removed at random (0.1 = ±10 %), so pairs do not retry in lockstep. */
  readonly jitter: number;
  readonly random?: () => number;
  /** Told the real (jittered) delay of each scheduled retry, for events and logs. */
  readonly onScheduled?: (attempt: number, delayMs: number) => void;
}

/** Delay before retry number `attempt` (1-based): initial × 2^(attempt-1), capped at the maximum, then jittered. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const base = Math.min(options.initialDelayMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 52), options.maxDelayMs);
  const random = options.random ?? Math.random;
  const jittered = base * (1 + options.jitter * (2 * random() - 1));
  return Math.max(0, Math.min(Math.round(jittered), options.maxDelayMs));
}

/**
 * The retry pipeline of one pair: each failure schedules a retry after a doubling delay; a success
 * resets the count; an inbound authentication cancels the wait and retries at once. A newer outcome
 * replaces a pending wait (switchMap), so a success or an inbound stream never leaves a stale timer.
 */
export function retrySignals$(outcomes$: Observable<PairOutcome>, options: BackoffOptions, scheduler?: SchedulerLike): Observable<RetrySignal> {
  return outcomes$.pipe(
    scan((state, outcome) => ({ attempt: outcome.kind === "failed" ? state.attempt + 1 : 0, previous: state.attempt, outcome }), { attempt: 0, previous: 0, outcome: { kind: "succeeded" } as PairOutcome }),
    switchMap(({ attempt, previous, outcome }) => {
      // Only a pair that has failed has anything to retry; an inbound stream on a healthy pair is no signal.
      if (outcome.kind === "inbound_authenticated") return previous > 0 ? of({ attempt: 0, delayMs: 0 }) : EMPTY;
      if (outcome.kind === "succeeded") return EMPTY;
      const delayMs = backoffDelay(attempt, options);
      options.onScheduled?.(attempt, delayMs);
      return timer(delayMs, scheduler).pipe(map(() => ({ attempt, delayMs })));
    }),
  );
}
