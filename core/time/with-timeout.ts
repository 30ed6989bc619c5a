/**
 * Settle with `work`, or reject with `onTimeout()`'s error after `ms` (Infinity: never). The timer
 * is cleared as soon as `work` settles, so nothing keeps the process alive after the answer.
 * `onTimeout` may also clean up (destroy a stream) before returning the error.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (ms === Infinity) return work;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
