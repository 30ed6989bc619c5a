/**
 * What `[instrumentation.prometheus]` costs on the stanza path (target <= 3 %, docs/performance.md), measured as a
 * paired comparison in one invocation: pairs of trials, metrics off and on, each trial on fresh
 * server processes with the same workload. By default (`concurrent`) the two links of a pair run
 * at the same time and are measured over the same window, so whatever else the shared machine
 * does at that moment weighs on both; `sequential` runs them back to back in alternating order
 * (off-on, on-off, ...: a drift in the load hits both sides equally). With metrics
 * on, both servers serve `/metrics` on a `[[listen.http]]` and the bench scrapes them every
 * `scrapeMs` during the run, as Prometheus would: the cost includes collection at scrape time.
 *
 * The figure is CPU time per stanza of the two servers (A + B, all threads, nanosecond
 * schedstat), which another process's load disturbs far less than wall-clock throughput;
 * throughput is reported beside it. Each pair gives one ratio on/off; the result is the median of
 * the ratios with a distribution-free 95 % interval (bench/lib/paired.ts), and the verdict says
 * "too noisy" when that interval straddles the limit.
 */
import { readFileSync } from "node:fs";
import { cpuMicros, median } from "../lib/proc.js";
import { pairedRatio, verdict, type PairedRatio, type Verdict } from "../lib/paired.js";
import { RawComponent } from "../lib/raw-component.js";
import { Scraper, scrapeSample } from "../lib/scraper.js";
import type { BenchWorld, RunningServer } from "../world.js";
import { firstMessageLatency, watchBounces } from "./latency.js";
import { messageBatches, sendAll, throughput } from "./throughput.js";

/** Issue 12: the metrics may cost at most 3 % on the hot path. */
export const METRICS_COST_LIMIT = 0.03;

export interface MetricsCostOptions {
  readonly pairs: number;
  readonly messages: number;
  /** Untimed messages over the link first (V8 warm-up; the first scrapes happen here too). */
  readonly warmup: number;
  readonly batch: number;
  readonly scrapeMs: number;
  /** Length of the idle off/on measurement, s. */
  readonly idleSeconds: number;
  /** concurrent (default): the off and on links run at the same time; sequential: one after the other. */
  readonly mode: CostMode;
  /**
   * Control run (A/A, `--cost-control`): the "on" side runs with metrics off too, so the ratio
   * shows what the method itself gives when there is no difference (bias and spread).
   */
  readonly control?: boolean;
  /** Epoch ms after which no new pair starts (the run's overall bound). */
  readonly deadlineAt: number;
  readonly say: (line: string) => void;
}

export interface CostTrial {
  readonly pair: number;
  readonly metrics: boolean;
  readonly msgsPerSec: number;
  readonly cpuUsPerMsgA: number;
  readonly cpuUsPerMsgB: number;
  readonly cpuUsPerMsgAB: number;
  /** Metrics on: scrapes answered during the timed run (both servers). */
  readonly scrapes?: number;
  /** Metrics on: server A's CPU per scrape of /metrics, µs (SCRAPE_SAMPLES back-to-back scrapes after the run). */
  readonly cpuUsPerScrapeA?: number;
}

/** Back-to-back scrapes after the run, for the CPU one scrape costs a server. */
const SCRAPE_SAMPLES = 20;

export interface CostFigure {
  readonly figure: string;
  readonly better: "lower" | "higher";
  readonly off: number;
  readonly on: number;
  /** on / off, per pair. */
  readonly ratio: PairedRatio;
}

/** An idle pair (link up, no traffic, no scrape) off and on at the same time: what the metrics cost with nothing to count. */
export interface IdleCost {
  readonly seconds: number;
  /** Server A's CPU, ms per second, and its voluntary context switches (wake-ups) per second. */
  readonly off: { readonly cpuMsPerSec: number; readonly wakeupsPerSec: number };
  readonly on: { readonly cpuMsPerSec: number; readonly wakeupsPerSec: number };
}

export interface MetricsCostResult {
  readonly trials: readonly CostTrial[];
  readonly idle?: IdleCost;
  /** Complete pairs (both trials measured). */
  readonly pairs: number;
  readonly figures: readonly CostFigure[];
  /** Of the first figure (CPU per stanza, A + B) against METRICS_COST_LIMIT. */
  readonly verdict?: Verdict;
  readonly errors: readonly string[];
  /** Set when the time bound stopped the run before `pairs`. */
  readonly cutShort?: string;
}

function metricsUrl(s: RunningServer): string {
  return `http://${s.spec.ip}:${s.spec.metricsPort}/metrics`;
}

/** A fresh pair of our servers with one warm link (first message delivered), scraped when metrics are on. */
interface Link {
  readonly metrics: boolean;
  readonly a: RunningServer;
  readonly b: RunningServer;
  readonly x: RawComponent;
  readonly y: RawComponent;
  readonly scraper?: Scraper;
  withLogs(err: Error): Error;
  close(): Promise<void>;
}

async function openLink(world: BenchWorld, metrics: boolean, o: MetricsCostOptions): Promise<Link> {
  const pair = await world.startPair("ours", metrics);
  const { a, b } = pair;
  let x: RawComponent | undefined;
  let y: RawComponent | undefined;
  let scraper: Scraper | undefined;
  const withLogs = (err: Error) => new Error(`${err.message}\n--- ${a.spec.name} log:\n${a.tail()}\n--- ${b.spec.name} log:\n${b.tail()}`);
  const close = async () => {
    await scraper?.stop();
    x?.close();
    y?.close();
    await pair.stop();
  };
  try {
    y = await RawComponent.connect(b.spec.ip, b.spec.servicePort, b.spec.componentDomain, b.spec.componentSecret);
    x = await RawComponent.connect(a.spec.ip, a.spec.servicePort, a.spec.componentDomain, a.spec.componentSecret);
    await firstMessageLatency(x, y, 30_000).catch((err: Error) => Promise.reject(withLogs(err)));
    // From before the warm-up: the first scrapes (prom-client's lazy set-up) are not in the timed run.
    if (metrics) scraper = new Scraper([metricsUrl(a), metricsUrl(b)], o.scrapeMs).start();
    return { metrics, a, b, x, y, scraper, withLogs, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * After the run, with metrics on: the figure must be of servers that really counted, so A must
 * have written and B received every stanza (first message + warm-up + timed run).
 */
async function checkCounted(link: Link, o: MetricsCostOptions): Promise<void> {
  if (!link.metrics) return;
  await link.scraper?.stop();
  if (link.scraper && link.scraper.failures.length > 0) throw new Error(`scrapes failed: ${link.scraper.failures.slice(0, 3).join("; ")}`);
  const sent = 1 + o.warmup + o.messages;
  const out = await scrapeSample(metricsUrl(link.a), "xmpp_s2s_stanzas_total", { direction: "outbound" });
  const inb = await scrapeSample(metricsUrl(link.b), "xmpp_s2s_stanzas_total", { direction: "inbound" });
  if (out !== sent || inb !== sent) throw new Error(`metrics on, but xmpp_s2s_stanzas_total is A outbound ${out}, B inbound ${inb} (sent ${sent})`);
}

/** Server A's CPU per scrape, µs: SCRAPE_SAMPLES scrapes one after the other on the now idle link. */
async function cpuPerScrape(link: Link): Promise<number> {
  const url = metricsUrl(link.a);
  const cpu0 = cpuMicros(link.a.pid);
  for (let i = 0; i < SCRAPE_SAMPLES; i++) await scrapeSample(url, "xmpp_s2s_stanzas_total", { direction: "outbound" });
  return (cpuMicros(link.a.pid) - cpu0) / SCRAPE_SAMPLES;
}

/** Sequential: one link at a time (the order alternates between pairs). */
async function sequentialTrial(world: BenchWorld, pair: number, metrics: boolean, o: MetricsCostOptions): Promise<CostTrial> {
  const link = await openLink(world, metrics, o);
  try {
    const { a, b, x, y } = link;
    if (o.warmup > 0) await throughput(x, y, { a: a.pid, b: b.pid }, o.warmup, 120_000, o.batch).catch((err: Error) => Promise.reject(link.withLogs(err)));
    const scrapesBefore = link.scraper?.count ?? 0;
    const tp = await throughput(x, y, { a: a.pid, b: b.pid }, o.messages, 120_000, o.batch).catch((err: Error) => Promise.reject(link.withLogs(err)));
    const scrapes = link.scraper ? link.scraper.count - scrapesBefore : undefined;
    await checkCounted(link, o);
    const cpuUsPerScrapeA = metrics ? await cpuPerScrape(link) : undefined;
    return { pair, metrics, msgsPerSec: tp.msgsPerSec, cpuUsPerMsgA: tp.cpuUsPerMsgA, cpuUsPerMsgB: tp.cpuUsPerMsgB, cpuUsPerMsgAB: tp.cpuUsPerMsgA + tp.cpuUsPerMsgB, scrapes, cpuUsPerScrapeA };
  } finally {
    await link.close();
  }
}

/** Sends `count` messages over each link at once (writes interleaved by the event loop) and waits for all of them. */
async function sendBoth(links: readonly Link[], count: number, o: MetricsCostOptions, deadline: number): Promise<void> {
  await Promise.all(
    links.map((l) => {
      const target = l.y.received + count;
      const bounced = watchBounces(l.x, deadline - Date.now());
      return Promise.race([Promise.all([sendAll(l.x, messageBatches(l.x, l.y, count, o.batch), deadline), l.y.waitFor(target, deadline - Date.now())]), bounced.promise])
        .catch((err: Error) => Promise.reject(l.withLogs(err)))
        .finally(() => bounced.stop());
    }),
  );
}

/**
 * Concurrent: both links at once, off and on, on fresh servers, with the same workload; CPU and
 * deliveries of each are read over the same wall-clock window (from the start until the first of
 * the two has delivered `messages`), so whatever else the machine does at that moment weighs on
 * both sides. The link written first alternates between pairs.
 */
async function concurrentTrial(worlds: CostWorlds, pair: number, o: MetricsCostOptions): Promise<{ off: CostTrial; on: CostTrial }> {
  const opened = await Promise.allSettled([openLink(worlds.off, false, o), openLink(worlds.on, !o.control, o)]);
  const links = opened.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  try {
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    const ordered = pair % 2 === 1 ? links : [...links].reverse();
    const deadline = Date.now() + 120_000;
    if (o.warmup > 0) await sendBoth(ordered, o.warmup, o, deadline);
    const base = links.map((l) => ({ a: cpuMicros(l.a.pid), b: cpuMicros(l.b.pid), received: l.y.received, scrapes: l.scraper?.count ?? 0 }));
    const t0 = performance.now();
    let window: Array<{ a: number; b: number; received: number; seconds: number; scrapes: number }> | undefined;
    const sample = () => {
      window ??= links.map((l, i) => ({ a: cpuMicros(l.a.pid) - base[i]!.a, b: cpuMicros(l.b.pid) - base[i]!.b, received: l.y.received - base[i]!.received, seconds: (performance.now() - t0) / 1000, scrapes: (l.scraper?.count ?? 0) - base[i]!.scrapes }));
    };
    // The window closes when the first link has delivered the whole run; the other still runs then.
    const firstDone = Promise.race(links.map((l, i) => l.y.waitFor(base[i]!.received + o.messages, 120_000).then(sample)));
    firstDone.catch(() => {});
    await sendBoth(ordered, o.messages, o, deadline);
    await firstDone;
    for (const l of links) await checkCounted(l, o);
    const perScrape = links[1]!.metrics ? await cpuPerScrape(links[1]!) : undefined;
    const trial = (i: number): CostTrial => {
      const w = window![i]!;
      const on = links[i]!.metrics;
      return { pair, metrics: i === 1, msgsPerSec: w.received / w.seconds, cpuUsPerMsgA: w.a / w.received, cpuUsPerMsgB: w.b / w.received, cpuUsPerMsgAB: (w.a + w.b) / w.received, scrapes: on ? w.scrapes : undefined, cpuUsPerScrapeA: on ? perScrape : undefined };
    };
    return { off: trial(0), on: trial(1) };
  } finally {
    await Promise.all(links.map((l) => l.close()));
  }
}

/** Voluntary context switches of a process's main thread (each one a wake-up from an idle wait). */
function wakeups(pid: number): number {
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
}

/**
 * Fresh off and on pairs with their link up and nothing to do, measured at the same time over
 * `idleSeconds` (after IDLE_SETTLE_MS): server A's CPU and wake-ups per second. Without traffic the
 * only difference is what the metrics run by themselves (timers, observers), so this figure is
 * stable where the loaded one is noisy.
 */
async function idleCost(worlds: CostWorlds, o: MetricsCostOptions): Promise<IdleCost> {
  const opened = await Promise.allSettled([openLink(worlds.off, false, o), openLink(worlds.on, true, o)]);
  const links = opened.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  try {
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    await links[1]!.scraper?.stop();
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const base = links.map((l) => ({ cpu: cpuMicros(l.a.pid), wake: wakeups(l.a.pid) }));
    await new Promise((r) => setTimeout(r, o.idleSeconds * 1000));
    const per = (i: number) => ({ cpuMsPerSec: (cpuMicros(links[i]!.a.pid) - base[i]!.cpu) / 1000 / o.idleSeconds, wakeupsPerSec: (wakeups(links[i]!.a.pid) - base[i]!.wake) / o.idleSeconds });
    return { seconds: o.idleSeconds, off: per(0), on: per(1) };
  } finally {
    await Promise.all(links.map((l) => l.close()));
  }
}

const IDLE_SETTLE_MS = 1_000;

/** Where the cost section starts its servers: one world per side, so that concurrent pairs never share a port. */
export interface CostWorlds {
  readonly off: BenchWorld;
  readonly on: BenchWorld;
}

export type CostMode = "concurrent" | "sequential";

const FIGURES: ReadonlyArray<{ figure: string; better: "lower" | "higher"; of: (t: CostTrial) => number }> = [
  { figure: "CPU µs per stanza, servers A + B", better: "lower", of: (t) => t.cpuUsPerMsgAB },
  { figure: "CPU µs per stanza, server A", better: "lower", of: (t) => t.cpuUsPerMsgA },
  { figure: "CPU µs per stanza, server B", better: "lower", of: (t) => t.cpuUsPerMsgB },
  { figure: "messages/s over one link (wall clock)", better: "higher", of: (t) => t.msgsPerSec },
];

export async function metricsCost(worlds: CostWorlds, o: MetricsCostOptions): Promise<MetricsCostResult> {
  const trials: CostTrial[] = [];
  const complete: Array<{ off: CostTrial; on: CostTrial }> = [];
  const errors: string[] = [];
  let cutShort: string | undefined;
  let longestPairMs = 0;
  const report = (t: CostTrial) => {
    trials.push(t);
    o.say(`metrics cost pair ${t.pair} ${t.metrics ? "on " : "off"}: CPU/stanza A ${t.cpuUsPerMsgA.toFixed(2)} µs, B ${t.cpuUsPerMsgB.toFixed(2)} µs, A+B ${t.cpuUsPerMsgAB.toFixed(2)} µs; ${Math.round(t.msgsPerSec).toLocaleString("en-US")} msgs/s${t.scrapes === undefined ? "" : `; ${t.scrapes} scrapes in the run`}${t.cpuUsPerScrapeA === undefined ? "" : `; A's CPU per scrape ${(t.cpuUsPerScrapeA / 1000).toFixed(2)} ms`}`);
  };
  const failed = (p: number, what: string, err: unknown) => {
    const text = `metrics cost pair ${p}${what} failed: ${(err as Error).message}`;
    errors.push(text);
    o.say(text);
  };
  for (let p = 1; p <= o.pairs; p++) {
    if (Date.now() + longestPairMs * 1.5 > o.deadlineAt) {
      cutShort = `time bound reached after ${p - 1} of ${o.pairs} pairs`;
      o.say(`metrics cost: ${cutShort}`);
      break;
    }
    const started = Date.now();
    if (o.mode === "concurrent") {
      try {
        const both = await concurrentTrial(worlds, p, o);
        report(both.off);
        report(both.on);
        complete.push(both);
      } catch (err) {
        failed(p, "", err);
      }
    } else {
      // Alternate the order: off-on, on-off, ... (a drift in the machine's load hits both sides).
      const order = p % 2 === 1 ? [false, true] : [true, false];
      const got: Partial<Record<"on" | "off", CostTrial>> = {};
      for (const metrics of order) {
        try {
          const t = await sequentialTrial(worlds.off, p, metrics, o);
          report(t);
          got[metrics ? "on" : "off"] = t;
        } catch (err) {
          failed(p, metrics ? " on" : " off", err);
        }
      }
      if (got.on && got.off) complete.push({ off: got.off, on: got.on });
    }
    longestPairMs = Math.max(longestPairMs, Date.now() - started);
  }
  const figures: CostFigure[] =
    complete.length === 0
      ? []
      : FIGURES.map((f) => ({
          figure: f.figure,
          better: f.better,
          off: median(complete.map((c) => f.of(c.off))),
          on: median(complete.map((c) => f.of(c.on))),
          ratio: pairedRatio(
            complete.map((c) => f.of(c.off)),
            complete.map((c) => f.of(c.on)),
          ),
        }));
  let idle: IdleCost | undefined;
  try {
    idle = await idleCost(worlds, o);
    o.say(`metrics cost, idle pair over ${idle.seconds} s: server A off ${idle.off.cpuMsPerSec.toFixed(2)} ms CPU/s, ${idle.off.wakeupsPerSec.toFixed(0)} wake-ups/s; on ${idle.on.cpuMsPerSec.toFixed(2)} ms CPU/s, ${idle.on.wakeupsPerSec.toFixed(0)} wake-ups/s`);
  } catch (err) {
    failed(0, " idle", err);
  }
  const first = figures[0];
  return { trials, idle, pairs: complete.length, figures, verdict: first && verdict(first.ratio, METRICS_COST_LIMIT), errors, cutShort };
}

/** on/off as a cost in time per stanza: CPU ratio - 1; for a throughput, off/on - 1. */
export function costOf(better: "lower" | "higher", ratio: number): number {
  return better === "lower" ? ratio - 1 : 1 / ratio - 1;
}

const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;

/** The table and the one-line figure (`metrics cost: ...`), as printed by bench/run.ts. */
export function formatMetricsCost(r: MetricsCostResult, describe: string): string {
  if (r.figures.length === 0) return `metrics cost: no complete pair of trials (${r.errors.length} failed)`;
  const head = ["figure", "off", "on", "on/off", "cost", "95 % CI of the cost", "range of the cost"];
  const rows = r.figures.map((f) => {
    const digits = f.better === "lower" ? 2 : 0;
    const num = (n: number) => (digits === 0 ? Math.round(n).toLocaleString("en-US") : n.toFixed(digits));
    const bounds = (lo: number, hi: number) => {
      const [a, b] = [costOf(f.better, lo), costOf(f.better, hi)].sort((p, q) => p - q);
      return `${pct(a!)} .. ${pct(b!)}`;
    };
    return [f.figure, num(f.off), num(f.on), f.ratio.median.toFixed(3), pct(costOf(f.better, f.ratio.median)), f.ratio.ci ? bounds(f.ratio.ci.low, f.ratio.ci.high) : "- (< 6 pairs)", bounds(f.ratio.min, f.ratio.max)];
  });
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  const table = all.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd()).join("\n");
  const h = r.figures[0]!;
  const ci = h.ratio.ci ? `${(h.ratio.ci.confidence * 100).toFixed(1)} % CI ${pct(costOf(h.better, h.ratio.ci.low))} .. ${pct(costOf(h.better, h.ratio.ci.high))}` : "no CI (< 6 pairs)";
  const line = `metrics cost: ${h.figure} on/off = ${h.ratio.median.toFixed(3)} (${pct(costOf(h.better, h.ratio.median))}; ${ci}; range ${pct(costOf(h.better, h.ratio.min))} .. ${pct(costOf(h.better, h.ratio.max))}; ${r.pairs} pairs): <= ${METRICS_COST_LIMIT * 100} % ${r.verdict}`;
  const perScrape = r.trials.flatMap((t) => (t.cpuUsPerScrapeA === undefined ? [] : [t.cpuUsPerScrapeA]));
  const onTrials = r.trials.filter((t) => t.metrics);
  // What one scrape a second takes from a server at the measured load: CPU per scrape / CPU per second.
  const loadCpuPerSec = onTrials.length > 0 ? median(onTrials.map((t) => t.cpuUsPerMsgA * t.msgsPerSec)) : undefined;
  const scrapeLine =
    perScrape.length > 0 && loadCpuPerSec
      ? `scrape cost: server A's CPU per scrape of /metrics ${(median(perScrape) / 1000).toFixed(2)} ms (median of ${perScrape.length} trials, ${SCRAPE_SAMPLES} scrapes each); one scrape a second is ${((median(perScrape) / loadCpuPerSec) * 100).toFixed(2)} % of A's CPU at the measured load (${(loadCpuPerSec / 1e6).toFixed(2)} CPU s/s)`
      : undefined;
  const idleLine = r.idle
    ? `idle cost: server A with its link up and no traffic, off ${r.idle.off.cpuMsPerSec.toFixed(2)} ms CPU/s (${r.idle.off.wakeupsPerSec.toFixed(0)} wake-ups/s), on ${r.idle.on.cpuMsPerSec.toFixed(2)} ms CPU/s (${r.idle.on.wakeupsPerSec.toFixed(0)} wake-ups/s), over ${r.idle.seconds} s, not scraped`
    : undefined;
  return [describe, "", table, "", line, ...(scrapeLine ? [scrapeLine] : []), ...(idleLine ? [idleLine] : [])].join("\n");
}
