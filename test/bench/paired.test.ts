import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { medianInterval, pairedRatio, verdict } from "../../bench/lib/paired.js";

/** The rule that turns off/on pairs into the metrics cost figure, or "too noisy" (bench/lib/paired.ts). */
describe("paired ratio and its interval (bench/lib/paired.ts)", () => {
  it("gives the sign-test interval of the median: x(2)..x(9) of 10 values, 97.9 %", () => {
    const ci = medianInterval([10, 1, 9, 2, 8, 3, 7, 4, 6, 5])!;
    assert.deepEqual([ci.low, ci.high], [2, 9]);
    assert.ok(Math.abs(ci.confidence - (1 - 22 / 1024)) < 1e-12, String(ci.confidence));
  });

  it("gives no interval below 6 values (even min..max covers the median with less than 95 %)", () => {
    assert.equal(medianInterval([1, 2, 3, 4, 5]), undefined);
    assert.deepEqual(medianInterval([1, 2, 3, 4, 5, 6]), { low: 1, high: 6, confidence: 1 - 2 / 64 });
  });

  it("summarises on/off per pair, not the ratio of the medians", () => {
    const r = pairedRatio([10, 20, 40], [11, 22, 44]);
    assert.ok(Math.abs(r.median - 1.1) < 1e-12 && Math.abs(r.min - 1.1) < 1e-12 && Math.abs(r.max - 1.1) < 1e-12, JSON.stringify(r));
    assert.throws(() => pairedRatio([1, 2], [1]), /2 and 1 values/);
  });

  it("says met, NOT met or too noisy from where the interval lies against the limit", () => {
    const off = Array.from({ length: 10 }, () => 100);
    const on = (costs: number[]) => costs.map((c) => 100 * (1 + c));
    assert.equal(verdict(pairedRatio(off, on([0.0, 0.01, -0.01, 0.02, 0.005, 0.01, 0.0, 0.015, -0.005, 0.01])), 0.03), "met");
    assert.equal(verdict(pairedRatio(off, on([0.05, 0.06, 0.04, 0.07, 0.05, 0.06, 0.045, 0.05, 0.055, 0.08])), 0.03), "NOT met");
    assert.equal(verdict(pairedRatio(off, on([-0.1, 0.1, 0.0, 0.05, -0.05, 0.08, 0.02, -0.08, 0.12, 0.01])), 0.03), "too noisy");
    assert.equal(verdict(pairedRatio(off.slice(0, 3), on([0, 0, 0])), 0.03), "too few pairs");
  });
});
