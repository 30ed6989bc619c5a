import { SYSTEM_LABEL, type System } from "../world.js";

/**
 * The bench's two tables (docs/performance.md): every figure with ours, each reference and the
 * ratios; then each target with ours, the reference it is measured against, the ratio, the limit
 * and whether it is met. Pure formatting, no I/O.
 */

export interface FigureRow {
  readonly figure: string;
  readonly values: Partial<Record<System, number>>;
  /** Printed instead of (or after) a value, e.g. "too noisy" or the spread of the trials. */
  readonly notes?: Partial<Record<System, string>>;
  readonly digits: number;
  readonly better: "higher" | "lower";
}

/** One target: ours on `figure` against a reference system's (a ratio), or against a fixed limit (`absolute`). */
export interface Target {
  readonly label: string;
  readonly figure: string;
  readonly against: Exclude<System, "ours"> | "absolute";
  readonly op: ">=" | "<=";
  /** A ratio ours/reference, or (absolute) a value in the figure's unit. */
  readonly limit: number;
  readonly limitLabel: string;
}

export type Verdict = "yes" | "NO" | "";

const fmtNumber = (n: number | undefined, digits: number) => (n === undefined || !Number.isFinite(n) ? "-" : digits === 0 ? Math.round(n).toLocaleString("en-US") : n.toFixed(digits));

export function ratio(row: FigureRow | undefined, reference: System): number | undefined {
  const ours = row?.values.ours;
  const ref = row?.values[reference];
  return ours !== undefined && ref !== undefined && ref > 0 ? ours / ref : undefined;
}

export interface TargetResult {
  readonly target: Target;
  readonly ours?: number;
  readonly reference?: number;
  readonly ratio?: number;
  readonly met: Verdict;
}

export function evaluate(target: Target, rows: readonly FigureRow[]): TargetResult {
  const row = rows.find((r) => r.figure === target.figure);
  const ours = row?.values.ours;
  if (target.against === "absolute") {
    const met: Verdict = ours === undefined ? "" : (target.op === ">=" ? ours >= target.limit : ours <= target.limit) ? "yes" : "NO";
    return { target, ours, met };
  }
  const r = ratio(row, target.against);
  const met: Verdict = r === undefined ? "" : (target.op === ">=" ? r >= target.limit : r <= target.limit) ? "yes" : "NO";
  return { target, ours, reference: row?.values[target.against], ratio: r, met };
}

function grid(head: readonly string[], body: readonly string[][], leftColumns: ReadonlySet<number>): string {
  const all = [head, ...body];
  const widths = head.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  return all.map((row) => row.map((cell, c) => (leftColumns.has(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd()).join("\n");
}

/** figure | ours | each reference | ours/each reference | better. */
export function figuresTable(rows: readonly FigureRow[], systems: readonly System[]): string {
  const refs = systems.filter((s) => s !== "ours");
  const head = ["figure", ...systems.map((s) => SYSTEM_LABEL[s]), ...refs.map((s) => `ours/${SYSTEM_LABEL[s]}`), "better"];
  const body = rows.map((r) => {
    const cell = (s: System) => {
      const n = r.values[s];
      const note = r.notes?.[s];
      return note ? (n === undefined ? note : `${fmtNumber(n, r.digits)} ${note}`) : fmtNumber(n, r.digits);
    };
    return [r.figure, ...systems.map(cell), ...refs.map((s) => fmtRatio(ratio(r, s))), r.better];
  });
  return grid(head, body, new Set([0, head.length - 1]));
}

const fmtRatio = (r: number | undefined) => (r === undefined ? "-" : `${r.toFixed(2)}x`);

/** target | ours | reference | ours/reference | limit | met. */
export function targetsTable(results: readonly TargetResult[], rows: readonly FigureRow[]): string {
  const head = ["target", "ours", "reference", "ours/reference", "limit", "met"];
  const body = results.map(({ target, ours, reference, ratio: r, met }) => {
    const digits = rows.find((row) => row.figure === target.figure)?.digits ?? 1;
    const ref = target.against === "absolute" ? "(absolute)" : `${fmtNumber(reference, digits)} ${SYSTEM_LABEL[target.against]}`;
    return [target.label, fmtNumber(ours, digits), ref, fmtRatio(r), target.limitLabel, met === "" ? "-" : met];
  });
  return grid(head, body, new Set([0, 4, 5]));
}
