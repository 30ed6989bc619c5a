import { cpuMicros, peakRssBytes } from "../lib/proc.js";
import { benchMessage, type RawComponent } from "../lib/raw-component.js";
import { watchBounces } from "./latency.js";

/** Resolves on the socket's next 'drain', rejects after `ms` (timer and listener removed either way). */
function drained(x: RawComponent, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      x.socket.off("drain", onDrain);
      reject(new Error(`${x.domain}: no 'drain' within ${ms} ms`));
    }, ms);
    x.socket.once("drain", onDrain);
  });
}

/** `count` bench messages from X to Y, `batch` per string (one socket write each). */
export function messageBatches(x: RawComponent, y: RawComponent, count: number, batch = DEFAULT_BATCH): string[] {
  const batches: string[] = [];
  for (let i = 0; i < count; i += batch) {
    let text = "";
    for (let j = i; j < Math.min(count, i + batch); j++) text += benchMessage(x.domain, y.domain, j + 1);
    batches.push(text);
  }
  return batches;
}

/** Writes every batch as fast as X's socket takes them: until write() returns false, then wait for 'drain'. */
export async function sendAll(x: RawComponent, batches: readonly string[], deadline: number): Promise<void> {
  for (const batch of batches) {
    if (!x.write(batch)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${x.domain}: the socket did not drain before the deadline`);
      await drained(x, left);
    }
  }
}

/**
 * Messages per socket write. 1 (the default) is what a component does: one write per stanza,
 * which reach the server as small TCP segments until backpressure builds up. Larger batches
 * (`--batch N`) hand the servers bigger reads and cut the client's own cost; the servers' cost
 * per message drops with them (both systems), so compare figures only at the same batch size.
 */
export const DEFAULT_BATCH = 1;

export interface ThroughputResult {
  readonly messages: number;
  readonly seconds: number;
  readonly msgsPerSec: number;
  /** CPU (user + system, all threads, from /proc) per message, µs. */
  readonly cpuUsPerMsgA: number;
  readonly cpuUsPerMsgB: number;
  /** CPU of the bench process itself (X writing, Y counting; same code for both systems) per message, µs. */
  readonly cpuUsPerMsgClient: number;
  /** Peak RSS (VmHWM) of each server at the end of the run, bytes. */
  readonly peakRssA: number;
  readonly peakRssB: number;
  /** The timed window on CLOCK_MONOTONIC in µs (the clock of V8's CPU profiles), to cut a `--cpu-prof` profile to it. */
  readonly windowUs: { readonly start: number; readonly end: number };
}

/**
 * `count` messages of ~200 bytes from X (component on A) to Y (component on B) over the one
 * established link, written as fast as X's socket takes them (write until write() returns false,
 * then wait for 'drain'), timed from the first write to the last arrival at Y. CPU time of A's
 * and B's processes is read from /proc before the first write and after the last arrival.
 * The link must be warm (one message delivered before).
 */
export async function throughput(x: RawComponent, y: RawComponent, pids: { a: number; b: number }, count: number, timeoutMs: number, batch = DEFAULT_BATCH): Promise<ThroughputResult> {
  const batches = messageBatches(x, y, count, batch);
  const target = y.received + count;
  const deadline = Date.now() + timeoutMs;
  const bounced = watchBounces(x, timeoutMs);
  const cpuA0 = cpuMicros(pids.a);
  const cpuB0 = cpuMicros(pids.b);
  const client0 = process.cpuUsage();
  const mono0 = Number(process.hrtime.bigint() / 1000n);
  const t0 = performance.now();
  const arrived = y.waitFor(target, timeoutMs);
  arrived.catch(() => {});
  try {
    await Promise.race([Promise.all([sendAll(x, batches, deadline), arrived]), bounced.promise]);
  } finally {
    bounced.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const mono1 = Number(process.hrtime.bigint() / 1000n);
  const cpuA = cpuMicros(pids.a) - cpuA0;
  const cpuB = cpuMicros(pids.b) - cpuB0;
  const client = process.cpuUsage(client0);
  return {
    messages: count,
    seconds,
    msgsPerSec: count / seconds,
    cpuUsPerMsgA: cpuA / count,
    cpuUsPerMsgB: cpuB / count,
    cpuUsPerMsgClient: (client.user + client.system) / count,
    peakRssA: peakRssBytes(pids.a),
    peakRssB: peakRssBytes(pids.b),
    windowUs: { start: mono0, end: mono1 },
  };
}
