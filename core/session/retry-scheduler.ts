import type { Subscription } from "rxjs";
import { Subject, takeUntil } from "../cjs/rxjs.js";
import { ERROR_CODES, isS2sError } from "../errors.js";
import type { OutboundSession, OutboundSessionNeeds } from "./outbound-session.js";
import { retrySignals$, type PairOutcome } from "./backoff.js";

/** ±10 %: enough to spread pairs that failed together, small enough that the doubling stays visible. */
const JITTER = 0.1;

interface PairState {
  readonly outcomes: Subject<PairOutcome>;
  waiting: boolean;
  attempt: number;
  /** When the scheduled retry is due (clock time), for the admin API. */
  retryAt?: number;
  /** The hold window, on the clock's scheduler (virtual time in tests). */
  holdTimer?: Subscription;
  /** This pair's retry pipeline; ended by forget() so a pending wait cannot fire afterwards. */
  pipeline?: Subscription;
}

/**
 * Retry with doubling backoff per (local, remote) pair, as RxJS pipelines over connection outcomes
 * (`retrySignals$`). While a pair waits, new stanzas are held for the hold window and then bounced
 * `remote-server-not-found`; a retry before the window ends takes them along.
 */
export class RetryScheduler {
  readonly #pairs = new Map<OutboundSession, PairState>();
  readonly #shutdown$ = new Subject<void>();

  constructor(
    private readonly deps: Pick<OutboundSessionNeeds, "clock" | "settings" | "events" | "logger">,
    private readonly retry: (session: OutboundSession) => void,
  ) {}

  /** Read-only backoff state of a pair (admin API, metrics). */
  backoffOf(session: OutboundSession): { waiting: boolean; attempt: number; retryAt?: number } {
    const state = this.#pairs.get(session);
    if (!state) return { waiting: false, attempt: 0 };
    return { waiting: state.waiting, attempt: state.attempt, ...(state.waiting && state.retryAt !== undefined ? { retryAt: state.retryAt } : {}) };
  }

  isWaiting(session: OutboundSession): boolean {
    return this.#pairs.get(session)?.waiting ?? false;
  }

  failed(session: OutboundSession, err: unknown): void {
    // Denied by policy, or "." / no address: retrying cannot help; bounce now (RFC 6120 §3.2.1).
    if (isS2sError(err) && (err.code === ERROR_CODES.POLICY_DENIED || err.code === ERROR_CODES.NO_SERVICE)) {
      session.bounceQueuedFor(err);
      return;
    }
    // Stanzas that waited for this attempt have waited long enough.
    session.bounceQueuedFor(err);
    const state = this.#state(session);
    state.attempt += 1;
    state.waiting = true;
    state.outcomes.next({ kind: "failed" });
  }

  succeeded(session: OutboundSession): void {
    const state = this.#pairs.get(session);
    if (!state) return;
    state.attempt = 0;
    this.#endWait(state);
    state.outcomes.next({ kind: "succeeded" });
  }

  cancelWait(session: OutboundSession): void {
    const state = this.#pairs.get(session);
    if (!state?.waiting) return;
    state.attempt = 0;
    state.outcomes.next({ kind: "inbound_authenticated" });
  }

  /** A stanza arrived while waiting: start the hold window if it is not running. */
  hold(session: OutboundSession): void {
    const state = this.#pairs.get(session);
    if (!state?.waiting || state.holdTimer) return;
    state.holdTimer = this.deps.clock.scheduler.schedule(() => {
      state.holdTimer = undefined;
      session.bounceQueued("remote-server-not-found", "cancel", `${session.remoteDomain} is unreachable; retrying later`);
    }, this.deps.settings.holdWindowMs);
  }

  forget(session: OutboundSession): void {
    const state = this.#pairs.get(session);
    if (!state) return;
    this.#endWait(state);
    // complete() alone would let switchMap finish a pending timer and retry a forgotten session.
    state.pipeline?.unsubscribe();
    state.outcomes.complete();
    this.#pairs.delete(session);
  }

  stop(): void {
    this.#shutdown$.next();
    for (const state of this.#pairs.values()) this.#endWait(state);
    this.#pairs.clear();
  }

  #state(session: OutboundSession): PairState {
    let state = this.#pairs.get(session);
    if (state) return state;
    const outcomes = new Subject<PairOutcome>();
    state = { outcomes, waiting: false, attempt: 0 };
    const s = state;
    const settings = this.deps.settings;
    const { localDomain: local, remoteDomain: remote } = session;
    const options = {
      initialDelayMs: settings.initialRetryDelayMs,
      maxDelayMs: settings.maxRetryDelayMs,
      jitter: JITTER,
      onScheduled: (attempt: number, delayMs: number) => {
        s.retryAt = this.deps.clock.now() + delayMs;
        this.deps.events.emit({ type: "retry_scheduled", local, remote, delayMs, attempt });
        this.deps.logger.info({ what: "retry_scheduled", local, remote, delayMs, attempt });
      },
    };
    state.pipeline = retrySignals$(outcomes, options, this.deps.clock.scheduler)
      .pipe(takeUntil(this.#shutdown$))
      .subscribe(() => {
        this.#endWait(s);
        this.retry(session);
      });
    this.#pairs.set(session, state);
    return state;
  }

  #endWait(state: PairState): void {
    state.waiting = false;
    state.holdTimer?.unsubscribe();
    state.holdTimer = undefined;
  }
}
