import { benchMessage, type RawComponent } from "../lib/raw-component.js";

/**
 * First message on a fresh link: X (component on A) sends one message to Y (component on B)
 * while A has no link to B yet (fresh processes). The time to Y's arrival includes A's SRV
 * lookup, TCP, STARTTLS, dialback (B's verification connection back to A's domain, with its own
 * SRV lookup, TCP and STARTTLS) and the delivery itself.
 */
export async function firstMessageLatency(x: RawComponent, y: RawComponent, timeoutMs: number): Promise<number> {
  return (await firstMessage(x, y, timeoutMs)).latencyMs;
}

/**
 * The same, with the window it took on CLOCK_MONOTONIC (µs, the clock of V8's CPU profiles), so
 * that `--first-message --cpu-prof` can cut the servers' profiles to it.
 */
export async function firstMessage(x: RawComponent, y: RawComponent, timeoutMs: number): Promise<{ latencyMs: number; windowUs: { start: number; end: number } }> {
  const arrival = y.nextArrival(timeoutMs);
  const bounced = watchBounces(x, timeoutMs);
  const mono0 = Number(process.hrtime.bigint() / 1000n);
  const t0 = performance.now();
  x.write(benchMessage(x.domain, y.domain, 0));
  try {
    const at = await Promise.race([arrival, bounced.promise]);
    const latencyMs = at - t0;
    return { latencyMs, windowUs: { start: mono0, end: mono0 + Math.round(latencyMs * 1000) } };
  } finally {
    bounced.stop();
  }
}

/**
 * Rejects as soon as X receives anything that looks like a bounce (X is sent nothing else in the
 * bench), or its server closes the stream, with what X got: a broken link fails in milliseconds
 * with its reason instead of at the deadline.
 */
export function watchBounces(x: RawComponent, timeoutMs: number): { promise: Promise<never>; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const base = x.received;
  const deadline = Date.now() + timeoutMs;
  const promise = new Promise<never>((_, reject) => {
    const poll = () => {
      if (x.received > base) return reject(new Error(`${x.domain} got a bounce: ${x.recent.slice(-1500)}`));
      if (x.closed) return reject(new Error(`${x.domain}: the server closed the component stream: ${x.recent.slice(-1500)}`));
      if (Date.now() < deadline) timer = setTimeout(poll, 25);
    };
    timer = setTimeout(poll, 25);
  });
  promise.catch(() => {});
  return { promise, stop: () => clearTimeout(timer) };
}
