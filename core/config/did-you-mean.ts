/**
 * "Did you mean" for unknown configuration keys (and unknown values). A candidate is suggested when it
 * is within Levenshtein distance 2 of the unknown key, or when one of the two is a prefix of the
 * other (`use_start` -> `use_starttls`). Comparison ignores case.
 */

/** Classic two-row Levenshtein distance (insert, delete, substitute each cost 1). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}

/** Shortest prefix we accept as a prefix match: one or two letters would match almost anything. */
const MIN_PREFIX = 3;
const MAX_DISTANCE = 2;

/**
 * The best suggestion for `key` among `candidates`, or undefined. The closest by edit distance
 * wins; ties keep the candidates' order. A prefix match counts as distance MAX_DISTANCE (so a
 * near-typo beats a mere prefix).
 */
export function didYouMean(key: string, candidates: readonly string[]): string | undefined {
  const needle = key.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const hay = candidate.toLowerCase();
    if (hay === needle) return candidate; // differs only by case
    let score = levenshtein(needle, hay);
    const prefix =
      (needle.length >= MIN_PREFIX && hay.startsWith(needle)) || (hay.length >= MIN_PREFIX && needle.startsWith(hay));
    if (score > MAX_DISTANCE && prefix) score = MAX_DISTANCE + 0.5;
    if (score <= MAX_DISTANCE + 0.5 && score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}
