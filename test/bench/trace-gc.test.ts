import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { summarizeTraceGc } from "../../bench/lib/trace-gc.js";

describe("summarizeTraceGc (bench --sm --trace-gc)", () => {
  it("counts each kind of collection, its pause and the largest heap left, ignoring other lines", () => {
    const log = [
      `{"level":30,"what":"started"}`,
      `[8167:0x34b8b860]      156 ms: Scavenge 4.4 (4.5) -> 3.8 (5.5) MB, 6.55 / 0.01 ms  (average mu = 1.000, current mu = 1.000) allocation failure; `,
      `[8167:0x34b8b860]     4085 ms: Scavenge 22.0 (31.0) -> 18.5 (49.0) MB, 8.45 / 0.00 ms  (average mu = 1.000, current mu = 1.000) task; `,
      `[8167:0x34b8b860]     5000 ms: Mark-Compact 40.1 (52.0) -> 30.2 (50.0) MB, 16.10 / 0.00 ms  (+ 3.1 ms in 20 steps since start of marking, biggest step 0.5 ms) (average mu = 0.9) finalize incremental marking; `,
    ].join("\n");
    const g = summarizeTraceGc(log);
    assert.equal(g.scavenges, 2);
    assert.equal(Math.round(g.scavengeMs * 100), 1500);
    assert.equal(g.markCompacts, 1);
    assert.equal(Math.round(g.markCompactMs * 10), 161);
    assert.equal(g.maxHeapAfterMb, 30.2);
  });

  it("gives zeros for a log without --trace-gc lines", () => {
    assert.deepEqual(summarizeTraceGc(`{"what":"stopped"}\n`), { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, maxHeapAfterMb: 0 });
  });
});
