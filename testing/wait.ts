import { filter, firstValueFrom, timeout, type Observable } from "rxjs";

/** Generous default deadline: shared machines are slow and noisy; tests wait on events, never on sleeps. */
export const DEADLINE_MS = 20_000;

/** The first value of `source$` that matches, or a rejection naming `what` after `ms`. */
export function waitFor<T>(source$: Observable<T>, predicate: (value: T) => boolean, ms = DEADLINE_MS, what = "event"): Promise<T> {
  return firstValueFrom(source$.pipe(filter(predicate), timeout({ first: ms, with: () => { throw new Error(`timed out after ${ms} ms waiting for ${what}`); } })));
}

/** Resolve when `check()` is true, polling on a short interval, or reject after `ms`. */
export async function eventually(check: () => boolean, ms = DEADLINE_MS, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
