import { systemClock, type Clock } from "../clock/clock.js";

/**
 * Settle with `work`, or reject with `onTimeout()`'s error after `ms` (Infinity: never). The timer
 * is cleared as soon as `work` settles, so nothing keeps the process alive after the answer.
 * `onTimeout` may also clean up (destroy a stream) before returning the error. Sessions pass their
 * `Clock` (virtual time in tests); the system clock is for callers that have none injected.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error, clock: Clock = systemClock): Promise<T> {
  if (ms === Infinity) return work;
  return new Promise<T>((resolve, reject) => {
    const timer = clock.timer(ms, () => reject(onTimeout()));
    work.then(
      (value) => {
        timer.cancel();
        resolve(value);
      },
      (err: unknown) => {
        timer.cancel();
        reject(err);
      },
    );
  });
}
