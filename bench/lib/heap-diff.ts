import { readFileSync } from "node:fs";

/**
 * Compare two V8 heap snapshots (`v8.writeHeapSnapshot`) by constructor, the way DevTools'
 * "Comparison" view groups them: objects and native objects by their name, everything else by
 * their node type ("(closure)", "(string)", "(array)", "(system)", ...). Used by
 * bench/link-memory.ts --heap-diff to say what each idle link holds in the JS heap.
 */
export interface HeapDiffRow {
  readonly name: string;
  /** Objects in `after` minus objects in `before`. */
  readonly count: number;
  /** Self size in `after` minus `before`, bytes. */
  readonly bytes: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function totals(file: string): Map<string, { count: number; bytes: number }> {
  const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = [fields.indexOf("type"), fields.indexOf("name"), fields.indexOf("self_size")];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + typeAt]!]!;
    const key = type === "object" || type === "native" ? s.strings[s.nodes[i + nameAt]!]! : `(${type})`;
    const row = out.get(key) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += s.nodes[i + sizeAt]!;
    out.set(key, row);
  }
  return out;
}

/** Rows whose size changed, largest growth first, and the total growth in bytes. */
export function heapDiff(beforeFile: string, afterFile: string): { rows: HeapDiffRow[]; bytes: number } {
  const [before, after] = [totals(beforeFile), totals(afterFile)];
  const rows: HeapDiffRow[] = [];
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const [b, a] = [before.get(name) ?? { count: 0, bytes: 0 }, after.get(name) ?? { count: 0, bytes: 0 }];
    if (a.bytes !== b.bytes || a.count !== b.count) rows.push({ name, count: a.count - b.count, bytes: a.bytes - b.bytes });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  return { rows, bytes: rows.reduce((sum, r) => sum + r.bytes, 0) };
}
