/**
 * What `[instrumentation.prometheus]` costs on the stanza path (issue 12: <= 3 %), measured as a
 * paired comparison in one invocation: pairs of trials, metrics off and on, back to back, in
 * alternating order (off-on, on-off, ...: a load change or a drift on this shared machine hits
 * both sides equally), each trial on fresh server processes with the same workload. With metrics
 * on, both servers serve `/metrics` on a `[[listen.http]]` and the bench scrapes them every
 * `scrapeMs` during the run, as Prometheus would: the cost includes collection at scrape time.
 *
 * The figure is CPU time per stanza of the two servers (A + B, all threads, nanosecond
 * schedstat), which another process's load disturbs far less than wall-clock throughput;
 * throughput is reported beside it. Each pair gives one ratio on/off; the result is the median of
 * the ratios with a distribution-free 95 % interval (bench/lib/paired.ts), and the verdict says
 * "too noisy" when that interval straddles the limit.
 */
import { median } from "../lib/proc.js";
import { pairedRatio, verdict, type PairedRatio, type Verdict } from "../lib/paired.js";
import { RawComponent } from "../lib/raw-component.js";
import { Scraper, scrapeSample } from "../lib/scraper.js";
import type { BenchWorld, RunningServer } from "../world.js";
import { firstMessageLatency } from "./latency.js";
import { throughput } from "./throughput.js";

/** Issue 12: the metrics may cost at most 3 % on the hot path. */
export const METRICS_COST_LIMIT = 0.03;

export interface MetricsCostOptions {
  readonly pairs: number;
  readonly messages: number;
  /** Untimed messages over the link first (V8 warm-up; the first scrapes happen here too). */
  readonly warmup: number;
  readonly batch: number;
  readonly scrapeMs: number;
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
}

export interface CostFigure {
  readonly figure: string;
  readonly better: "lower" | "higher";
  readonly off: number;
  readonly on: number;
  /** on / off, per pair. */
  readonly ratio: PairedRatio;
}

export interface MetricsCostResult {
  readonly trials: readonly CostTrial[];
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

async function costTrial(world: BenchWorld, pair: number, metrics: boolean, o: MetricsCostOptions): Promise<CostTrial> {
  const servers = await world.startPair("ours", metrics);
  const { a, b } = servers;
  let x: RawComponent | undefined;
  let y: RawComponent | undefined;
  let scraper: Scraper | undefined;
  const withLogs = (err: Error) => new Error(`${err.message}\n--- ${a.spec.name} log:\n${a.tail()}\n--- ${b.spec.name} log:\n${b.tail()}`);
  try {
    y = await RawComponent.connect(b.spec.ip, b.spec.servicePort, b.spec.componentDomain, b.spec.componentSecret);
    x = await RawComponent.connect(a.spec.ip, a.spec.servicePort, a.spec.componentDomain, a.spec.componentSecret);
    await firstMessageLatency(x, y, 30_000).catch((err: Error) => Promise.reject(withLogs(err)));
    if (metrics) scraper = new Scraper([metricsUrl(a), metricsUrl(b)], o.scrapeMs).start();
    if (o.warmup > 0) await throughput(x, y, { a: a.pid, b: b.pid }, o.warmup, 120_000, o.batch).catch((err: Error) => Promise.reject(withLogs(err)));
    const scrapesBefore = scraper?.count ?? 0;
    const tp = await throughput(x, y, { a: a.pid, b: b.pid }, o.messages, 120_000, o.batch).catch((err: Error) => Promise.reject(withLogs(err)));
    await scraper?.stop();
    if (scraper && scraper.failures.length > 0) throw new Error(`scrapes failed: ${scraper.failures.slice(0, 3).join("; ")}`);
    if (metrics) {
      // The "on" figure must be of servers that really counted: A wrote, B received every stanza.
      const sent = 1 + o.warmup + o.messages;
      const out = await scrapeSample(metricsUrl(a), "xmpp_s2s_stanzas_total", { direction: "outbound" });
      const inb = await scrapeSample(metricsUrl(b), "xmpp_s2s_stanzas_total", { direction: "inbound" });
      if (out !== sent || inb !== sent) throw new Error(`metrics on, but xmpp_s2s_stanzas_total is A outbound ${out}, B inbound ${inb} (sent ${sent})`);
    }
    return {
      pair,
      metrics,
      msgsPerSec: tp.msgsPerSec,
      cpuUsPerMsgA: tp.cpuUsPerMsgA,
      cpuUsPerMsgB: tp.cpuUsPerMsgB,
      cpuUsPerMsgAB: tp.cpuUsPerMsgA + tp.cpuUsPerMsgB,
      scrapes: scraper ? scraper.count - scrapesBefore : undefined,
    };
  } finally {
    await scraper?.stop();
    x?.close();
    y?.close();
    await servers.stop();
  }
}

const FIGURES: ReadonlyArray<{ figure: string; better: "lower" | "higher"; of: (t: CostTrial) => number }> = [
  { figure: "CPU µs per stanza, servers A + B", better: "lower", of: (t) => t.cpuUsPerMsgAB },
  { figure: "CPU µs per stanza, server A", better: "lower", of: (t) => t.cpuUsPerMsgA },
  { figure: "CPU µs per stanza, server B", better: "lower", of: (t) => t.cpuUsPerMsgB },
  { figure: "messages/s over one link (wall clock)", better: "higher", of: (t) => t.msgsPerSec },
];

export async function metricsCost(world: BenchWorld, o: MetricsCostOptions): Promise<MetricsCostResult> {
  const trials: CostTrial[] = [];
  const complete: Array<{ off: CostTrial; on: CostTrial }> = [];
  const errors: string[] = [];
  let cutShort: string | undefined;
  let longestPairMs = 0;
  for (let p = 1; p <= o.pairs; p++) {
    if (Date.now() + longestPairMs * 1.5 > o.deadlineAt) {
      cutShort = `time bound reached after ${p - 1} of ${o.pairs} pairs`;
      o.say(`metrics cost: ${cutShort}`);
      break;
    }
    const started = Date.now();
    // Alternate the order: off-on, on-off, ... (a drift in the machine's load hits both sides).
    const order = p % 2 === 1 ? [false, true] : [true, false];
    const got: Partial<Record<"on" | "off", CostTrial>> = {};
    for (const metrics of order) {
      try {
        const t = await costTrial(world, p, metrics, o);
        trials.push(t);
        got[metrics ? "on" : "off"] = t;
        o.say(`metrics cost pair ${p} ${metrics ? "on " : "off"}: CPU/stanza A ${t.cpuUsPerMsgA.toFixed(2)} µs, B ${t.cpuUsPerMsgB.toFixed(2)} µs, A+B ${t.cpuUsPerMsgAB.toFixed(2)} µs; ${Math.round(t.msgsPerSec).toLocaleString("en-US")} msgs/s${t.scrapes === undefined ? "" : `; ${t.scrapes} scrapes in the run`}`);
      } catch (err) {
        const text = `metrics cost pair ${p} ${metrics ? "on" : "off"} failed: ${(err as Error).message}`;
        errors.push(text);
        o.say(text);
      }
    }
    if (got.on && got.off) complete.push({ off: got.off, on: got.on });
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
  const first = figures[0];
  return { trials, pairs: complete.length, figures, verdict: first && verdict(first.ratio, METRICS_COST_LIMIT), errors, cutShort };
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
  return [describe, "", table, "", line].join("\n");
}
