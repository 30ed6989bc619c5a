/** Small text helpers for config problem lines, shared by the config validator and the plugin loader. */

/** Render a config value the way it appears in TOML-ish problem lines: strings quoted, arrays/tables as JSON. */
export function formatValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === Infinity) return '"infinity"';
  try {
    const s = JSON.stringify(value);
    if (s === undefined) return String(value);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(value);
  }
}

/** The candidate closest to `input` by edit distance (<= 2), or one that starts with it, for "did you mean". */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(input.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best ?? candidates.find((c) => c.startsWith(input) || input.startsWith(c));
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
