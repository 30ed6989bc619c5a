/**
 * Pools the off/on pairs of several `npm run bench -- --metrics-cost` result files into one paired
 * ratio with its sign-test interval and verdict (bench/lib/paired.ts), as one longer run would
 * give. Each pair was measured within one invocation (off and on links at the same time), so
 * pooling keeps every comparison paired.
 *
 *   node --import tsx bench/pool-metrics-cost.ts bench/reference/bench-metrics-cost-*.json
 */
import { readFileSync } from "node:fs";
import { pairedRatio, verdict } from "./lib/paired.js";

interface CostTrial {
  readonly pair: number;
  readonly metrics: boolean;
  readonly cpuUsPerMsgAB: number;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node --import tsx bench/pool-metrics-cost.ts RESULT.json [RESULT.json ...]");
  process.exit(2);
}
const off: number[] = [];
const on: number[] = [];
for (const file of files) {
  const trials = (JSON.parse(readFileSync(file, "utf8")) as { trials: { metricsCost: { trials: CostTrial[] } } }).trials.metricsCost.trials;
  const pairs = new Map<number, { off?: number; on?: number }>();
  for (const t of trials) pairs.set(t.pair, { ...pairs.get(t.pair), [t.metrics ? "on" : "off"]: t.cpuUsPerMsgAB });
  for (const p of pairs.values()) {
    if (p.off === undefined || p.on === undefined) continue; // a pair cut short by the run's time bound
    off.push(p.off);
    on.push(p.on);
  }
}
const r = pairedRatio(off, on);
const pct = (x: number) => `${x >= 1 ? "+" : ""}${((x - 1) * 100).toFixed(1)} %`;
const ci = r.ci ? `${(r.ci.confidence * 100).toFixed(1)} % CI ${pct(r.ci.low)} .. ${pct(r.ci.high)}` : "no interval";
console.log(`metrics cost, pooled from ${files.length} file(s): CPU µs per stanza, servers A + B on/off = ${r.median.toFixed(3)} (${pct(r.median)}; ${ci}; range ${pct(r.min)} .. ${pct(r.max)}; ${r.pairs} pairs): <= 3 % ${verdict(r, 0.03)}`);
