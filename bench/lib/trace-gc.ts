/**
 * What V8's `--trace-gc` lines in a server's log say about one run (`npm run bench -- --sm
 * --trace-gc`): how many young-generation (Scavenge) and full (Mark-Compact) collections, the
 * main thread's pause in each kind, and the largest heap left after a collection. Copying
 * long-lived objects out of the young generation is what makes a retention queue expensive, and
 * it shows here as scavenge time and a heap that grows after each scavenge.
 */
export interface GcSummary {
  readonly scavenges: number;
  readonly scavengeMs: number;
  readonly markCompacts: number;
  readonly markCompactMs: number;
  /** Largest "after" heap of any collection, MB. */
  readonly maxHeapAfterMb: number;
}

// e.g. "[8167:0x34b8b860]  156 ms: Scavenge 4.4 (4.5) -> 3.8 (5.5) MB, 6.55 / 0.01 ms  (average mu ..."
const LINE = /\d+ ms: (Scavenge|Mark-Compact|Mark-Sweep|Minor Mark-Sweep)\b[^,]*?-> ([\d.]+) \([\d.]+\) MB, ([\d.]+) \/ [\d.]+ ms/;

export function summarizeTraceGc(log: string): GcSummary {
  let scavenges = 0, scavengeMs = 0, markCompacts = 0, markCompactMs = 0, maxHeapAfterMb = 0;
  for (const line of log.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const ms = Number(m[3]);
    if (m[1] === "Scavenge" || m[1] === "Minor Mark-Sweep") {
      scavenges++;
      scavengeMs += ms;
    } else {
      markCompacts++;
      markCompactMs += ms;
    }
    maxHeapAfterMb = Math.max(maxHeapAfterMb, Number(m[2]));
  }
  return { scavenges, scavengeMs, markCompacts, markCompactMs, maxHeapAfterMb };
}

export function formatGc(g: GcSummary): string {
  return `${g.scavenges} scavenges ${g.scavengeMs.toFixed(0)} ms, ${g.markCompacts} mark-compacts ${g.markCompactMs.toFixed(0)} ms, heap after GC up to ${g.maxHeapAfterMb.toFixed(1)} MB`;
}
