import type { ProbeReport } from "./probe.js";

/** The probe report for a terminal: one line per step with its time, then the verdict. */
export function formatProbeReport(report: ProbeReport, ranIn: string): string {
  const lines = [`probe ${report.domain} from ${report.from} (in a ${ranIn})`];
  for (const s of report.steps) {
    lines.push(`${`${s.atMs.toFixed(1)} ms`.padStart(11)}  ${s.step.padEnd(11)}  ${s.status.padEnd(7)}  ${s.detail}`);
  }
  lines.push(report.ok ? `OK: federation from ${report.from} to ${report.domain} works (${report.totalMs.toFixed(0)} ms)` : `FAILED at ${report.failedStep}: ${report.reason}`);
  return `${lines.join("\n")}\n`;
}
