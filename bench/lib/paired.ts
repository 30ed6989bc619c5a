import { median } from "./proc.js";

/**
 * A ratio from paired trials (B over A, each pair run back to back on the same machine) with a
 * distribution-free confidence interval of its median: no assumption about the shape of the
 * noise, which on a shared machine is anything but normal (another process's burst hits one trial).
 */
export interface PairedRatio {
  readonly pairs: number;
  /** Median of the per-pair ratios. */
  readonly median: number;
  /** Lowest and highest per-pair ratio. */
  readonly min: number;
  readonly max: number;
  /** Confidence interval of the median (order statistics), undefined with fewer than 6 pairs. */
  readonly ci?: { readonly low: number; readonly high: number; readonly confidence: number };
}

/** P(X <= k) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(n: number, k: number): number {
  let term = 0.5 ** n;
  let sum = term;
  for (let i = 1; i <= k; i++) {
    term = (term * (n - i + 1)) / i;
    sum += term;
  }
  return sum;
}

/**
 * The interval [x(k), x(n+1-k)] of the sorted values covers the median with probability
 * 1 - 2 P(X <= k-1), X ~ Binomial(n, 1/2) (the sign-test interval). The largest k whose coverage is
 * at least `confidence`; undefined when even [min, max] does not reach it (n < 6 for 95 %).
 */
export function medianInterval(values: readonly number[], confidence = 0.95): PairedRatio["ci"] {
  const n = values.length;
  const sorted = [...values].sort((a, b) => a - b);
  let k = 0;
  while (k + 1 <= n / 2 && 1 - 2 * binomialHalfCdf(n, k) >= confidence) k++;
  if (k === 0) return undefined;
  return { low: sorted[k - 1]!, high: sorted[n - k]!, confidence: 1 - 2 * binomialHalfCdf(n, k - 1) };
}

/** Per-pair ratios `b[i] / a[i]`, summarised. */
export function pairedRatio(a: readonly number[], b: readonly number[]): PairedRatio {
  if (a.length !== b.length || a.length === 0) throw new Error(`pairedRatio: ${a.length} and ${b.length} values (expected the same, at least 1)`);
  const ratios = a.map((x, i) => b[i]! / x);
  return { pairs: ratios.length, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), ci: medianInterval(ratios) };
}

/** Whether a cost (ratio - 1, lower is better) is within `limit`, given its interval. */
export type Verdict = "met" | "NOT met" | "too noisy" | "too few pairs";

/**
 * "met" when the whole interval is at or below 1 + limit, "NOT met" when the whole interval is
 * above it, "too noisy" when the interval straddles it (the spread is larger than the distance
 * between the effect and the limit: no honest figure either way).
 */
export function verdict(r: PairedRatio, limit: number): Verdict {
  if (!r.ci) return "too few pairs";
  if (r.ci.high <= 1 + limit) return "met";
  if (r.ci.low > 1 + limit) return "NOT met";
  return "too noisy";
}
