import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Subject } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { ERROR_CODES, S2sError } from "../errors.js";
import { EventBus, type S2sEvent } from "../events/events.js";
import { createLogger } from "../logging/logger.js";
import { backoffDelay, retrySignals$, type BackoffOptions, type PairOutcome, type RetrySignal } from "./backoff.js";
import type { OutboundSessionNeeds } from "./outbound-session.js";
import type { OutboundSession } from "./outbound-session.js";
import { RetryScheduler } from "./retry-scheduler.js";

const FAILED: PairOutcome = { kind: "failed" };
const SUCCEEDED: PairOutcome = { kind: "succeeded" };
const INBOUND: PairOutcome = { kind: "inbound_authenticated" };

const noJitter = (initialDelayMs: number, maxDelayMs: number): BackoffOptions => ({ initialDelayMs, maxDelayMs, jitter: 0 });

/** Virtual time (no real sleeps in tests): RxJS timers inside run() advance without real waiting. */
function virtualTime(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
}

describe("backoffDelay", () => {
  it("doubles from the initial delay and stops at max_retry_delay", () => {
    const options = noJitter(1000, 300_000);
    const delays = Array.from({ length: 12 }, (_, i) => backoffDelay(i + 1, options));
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000, 300000]);
    assert.equal(backoffDelay(10_000, options), 300_000, "no overflow after many failures");
  });

  it("jitters by ±10 % at most, never beyond the maximum", () => {
    const at = (random: number, attempt: number) => backoffDelay(attempt, { initialDelayMs: 1000, maxDelayMs: 8000, jitter: 0.1, random: () => random });
    assert.equal(at(0, 1), 900);
    assert.equal(at(0.5, 1), 1000);
    assert.equal(at(0.9999999, 1), 1100);
    assert.equal(at(0, 3), 3600);
    assert.equal(at(0.9999999, 4), 8000, "the cap holds with jitter");
    assert.equal(at(0, 4), 7200);
  });
});

describe("retrySignals$ in virtual time", () => {
  it("a pair that keeps failing is retried after 1, 2, 4, 8 s ... capped at max_retry_delay", () => {
    const scheduler = virtualTime();
    scheduler.run(({ flush }) => {
      const outcomes = new Subject<PairOutcome>();
      const signals: Array<RetrySignal & { at: number }> = [];
      const scheduled: Array<[number, number]> = [];
      const options: BackoffOptions = { ...noJitter(1000, 10_000), onScheduled: (attempt, delayMs) => scheduled.push([attempt, delayMs]) };
      retrySignals$(outcomes, options).subscribe((signal) => {
        signals.push({ ...signal, at: scheduler.now() });
        // The retry fails again at once, up to 7 retries.
        if (signals.length < 7) outcomes.next(FAILED);
      });
      outcomes.next(FAILED);
      flush();
      assert.deepEqual(signals.map((s) => s.delayMs), [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
      assert.deepEqual(signals.map((s) => s.attempt), [1, 2, 3, 4, 5, 6, 7]);
      assert.deepEqual(signals.map((s) => s.at), [1000, 3000, 7000, 15_000, 25_000, 35_000, 45_000]);
      assert.deepEqual(scheduled, signals.map((s) => [s.attempt, s.delayMs]), "onScheduled (retry_scheduled) reports every wait");
    });
  });

  it("a success resets the delay; a success during a wait cancels it", () => {
    virtualTime().run(({ hot, expectObservable }) => {
      // f at 0 (wait 1 s), s at 100 ms cancels it, f at 200 ms starts again from 1 s.
      const outcomes = hot<PairOutcome>("f 99ms s 99ms f", { f: FAILED, s: SUCCEEDED });
      expectObservable(retrySignals$(outcomes, noJitter(1000, 60_000))).toBe("1200ms x", { x: { attempt: 1, delayMs: 1000 } });
    });
    virtualTime().run(({ hot, expectObservable }) => {
      // Two failures (1 s, then 2 s), a success, a failure: back to 1 s.
      const outcomes = hot<PairOutcome>("f 1999ms f 2999ms s 999ms f", { f: FAILED, s: SUCCEEDED });
      expectObservable(retrySignals$(outcomes, noJitter(1000, 60_000))).toBe("1000ms a 2999ms b 2999ms c", {
        a: { attempt: 1, delayMs: 1000 },
        b: { attempt: 2, delayMs: 2000 },
        c: { attempt: 1, delayMs: 1000 },
      });
    });
  });

  it("an inbound authenticated stream cancels the wait, retries at once and resets the delay", () => {
    virtualTime().run(({ hot, expectObservable }) => {
      // f at 0 (wait 1 s), i at 500 ms: retry now, no retry at 1 s; f at 1000 ms waits 1 s again.
      const outcomes = hot<PairOutcome>("f 499ms i 499ms f", { f: FAILED, i: INBOUND });
      expectObservable(retrySignals$(outcomes, noJitter(1000, 60_000))).toBe("500ms x 1499ms y", {
        x: { attempt: 0, delayMs: 0 },
        y: { attempt: 1, delayMs: 1000 },
      });
    });
    virtualTime().run(({ hot, expectObservable }) => {
      // On a pair that never failed, an inbound stream is no reason to retry.
      const outcomes = hot<PairOutcome>("i 99ms s 99ms i", { i: INBOUND, s: SUCCEEDED });
      expectObservable(retrySignals$(outcomes, noJitter(1000, 60_000))).toBe("-");
    });
  });
});

describe("RetryScheduler (the pipeline wired to sessions) in virtual time", () => {
  interface FakeSession {
    readonly localDomain: string;
    readonly remoteDomain: string;
    queued: number;
    readonly bounces: Array<{ condition: string; at: number }>;
    bounceQueued(condition: string): void;
    bounceQueuedFor(err: unknown): void;
  }

  function setup(scheduler: TestScheduler, settings: { initialRetryDelayMs?: number; maxRetryDelayMs?: number; holdWindowMs?: number } = {}) {
    const events = new EventBus();
    const seen: S2sEvent[] = [];
    events.events$.subscribe((e) => seen.push(e));
    const deps = {
      settings: { queueLimit: 100, idleTimeoutMs: Infinity, negotiationTimeoutMs: 30_000, initialRetryDelayMs: 1000, maxRetryDelayMs: 8000, holdWindowMs: 300, ...settings },
      events,
      logger: createLogger("silent"),
      clock: { now: () => scheduler.now(), scheduler },
    } as unknown as OutboundSessionNeeds;
    const retries: number[] = [];
    const retryScheduler = new RetryScheduler(deps, () => retries.push(scheduler.now()));
    const session: FakeSession = {
      localDomain: "a.example",
      remoteDomain: "b.example",
      queued: 0,
      bounces: [],
      bounceQueued(condition) {
        if (this.queued > 0) this.bounces.push({ condition, at: scheduler.now() });
        this.queued = 0;
      },
      bounceQueuedFor(err) {
        this.bounceQueued(err instanceof S2sError && err.condition ? err.condition : "remote-server-not-found");
      },
    };
    const scheduled = () => seen.filter((e): e is Extract<S2sEvent, { type: "retry_scheduled" }> => e.type === "retry_scheduled");
    return { retryScheduler, session: session as FakeSession & OutboundSession, retries, scheduled };
  }

  const unreachable = new S2sError(ERROR_CODES.CONNECT_FAILED, "cannot reach b.example", "remote-server-not-found");

  it("retries after the scheduled delay (reported by retry_scheduled, ±10 % jitter), doubling to the cap", () => {
    const scheduler = virtualTime();
    scheduler.run(({ flush }) => {
      const { retryScheduler, session, retries, scheduled } = setup(scheduler);
      for (let i = 0; i < 6; i++) {
        retryScheduler.failed(session, unreachable);
        assert.equal(retryScheduler.isWaiting(session), true);
        flush();
        assert.equal(retryScheduler.isWaiting(session), false);
      }
      const events = scheduled();
      assert.deepEqual(events.map((e) => e.attempt), [1, 2, 3, 4, 5, 6]);
      const bases = [1000, 2000, 4000, 8000, 8000, 8000];
      events.forEach((e, i) => {
        assert.ok(e.delayMs >= bases[i]! * 0.9 && e.delayMs <= Math.min(bases[i]! * 1.1, 8000), `attempt ${e.attempt}: ${e.delayMs} ms`);
        assert.equal(e.local, "a.example");
        assert.equal(e.remote, "b.example");
      });
      // Each retry happened exactly the announced delay after the failure before it.
      let at = 0;
      events.forEach((e, i) => {
        at += e.delayMs;
        assert.equal(retries[i], at);
      });
    });
  });

  it("a success resets the delay", () => {
    const scheduler = virtualTime();
    scheduler.run(({ flush }) => {
      const { retryScheduler, session, scheduled } = setup(scheduler, { maxRetryDelayMs: 60_000 });
      retryScheduler.failed(session, unreachable);
      flush();
      retryScheduler.failed(session, unreachable);
      flush();
      retryScheduler.failed(session, unreachable);
      flush();
      retryScheduler.succeeded(session);
      retryScheduler.failed(session, unreachable);
      flush();
      assert.deepEqual(scheduled().map((e) => e.attempt), [1, 2, 3, 1]);
      assert.ok(scheduled()[3]!.delayMs <= 1100);
    });
  });

  it("stanzas arriving during the wait are held for hold_window, then bounced remote-server-not-found", () => {
    const scheduler = virtualTime();
    scheduler.run(({ flush }) => {
      const { retryScheduler, session, retries } = setup(scheduler, { initialRetryDelayMs: 5000, holdWindowMs: 300 });
      retryScheduler.failed(session, unreachable);
      scheduler.schedule(() => {
        session.queued = 1;
        retryScheduler.hold(session);
        retryScheduler.hold(session); // a second stanza does not extend the window
      }, 100);
      flush();
      assert.deepEqual(session.bounces, [{ condition: "remote-server-not-found", at: 400 }]);
      assert.equal(retries.length, 1, "the retry still happens after the wait");
      assert.ok(retries[0]! >= 4500);
    });
  });

  it("a retry before the hold window ends takes the held stanzas along", () => {
    const scheduler = virtualTime();
    scheduler.run(({ flush }) => {
      const { retryScheduler, session, retries } = setup(scheduler, { initialRetryDelayMs: 1000, holdWindowMs: 10_000 });
      retryScheduler.failed(session, unreachable);
      session.queued = 2;
      retryScheduler.hold(session);
      flush();
      assert.deepEqual(session.bounces, []);
      assert.equal(session.queued, 2);
      assert.equal(retries.length, 1);
    });
  });

  it("an inbound authenticated stream cancels the wait and retries at once", () => {
    const scheduler = virtualTime();
    scheduler.run(({ flush }) => {
      const { retryScheduler, session, retries, scheduled } = setup(scheduler, { initialRetryDelayMs: 5000 });
      retryScheduler.failed(session, unreachable);
      retryScheduler.failed(session, unreachable); // a second failure: the wait is now about 8 s (10 s capped)
      scheduler.schedule(() => retryScheduler.cancelWait(session), 250);
      flush();
      assert.deepEqual(retries, [250], "retried at once, and the pending wait never fires");
      retryScheduler.failed(session, unreachable);
      flush();
      assert.equal(scheduled().at(-1)!.attempt, 1, "the backoff starts again from the initial delay");
    });
  });

  it("denied by policy or no service: bounced at once, no retry", () => {
    const scheduler = virtualTime();
    scheduler.run(({ flush }) => {
      const { retryScheduler, session, retries } = setup(scheduler);
      session.queued = 1;
      retryScheduler.failed(session, new S2sError(ERROR_CODES.NO_SERVICE, "b.example has no address for XMPP", "remote-server-not-found"));
      assert.equal(retryScheduler.isWaiting(session), false);
      session.queued = 1;
      retryScheduler.failed(session, new S2sError(ERROR_CODES.POLICY_DENIED, "denied", "service-unavailable"));
      flush();
      assert.deepEqual(session.bounces.map((b) => b.condition), ["remote-server-not-found", "service-unavailable"]);
      assert.deepEqual(retries, []);
    });
  });

  it("a forgotten pair is never retried, and stop() ends every wait", () => {
    const scheduler = virtualTime();
    scheduler.run(({ flush }) => {
      const { retryScheduler, session, retries } = setup(scheduler);
      retryScheduler.failed(session, unreachable);
      retryScheduler.forget(session);
      flush();
      assert.deepEqual(retries, []);
      retryScheduler.failed(session, unreachable);
      retryScheduler.stop();
      flush();
      assert.deepEqual(retries, []);
    });
  });
});
