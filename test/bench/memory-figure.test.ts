import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { perLinkFigure } from "../../bench/scenarios/memory.js";

const MiB = 2 ** 20;

/** The rule that turns a memory trial's RSS samples into a figure or "too noisy" (docs/performance.md). */
describe("memory per link figure (bench/scenarios/memory.ts)", () => {
  it("gives (median after - median before) / links when the samples are steady", () => {
    const r = perLinkFigure([100 * MiB, 100 * MiB, 101 * MiB], [150 * MiB, 151 * MiB, 150 * MiB], 1000);
    assert.equal(r.noisy, undefined);
    assert.ok(Math.abs(r.kibPerLink! - 51.2) < 0.01, String(r.kibPerLink));
    assert.ok(Math.abs(r.noiseKib - 2.048) < 0.01, String(r.noiseKib));
  });

  it("never gives a negative figure: RSS that shrank is too noisy", () => {
    const r = perLinkFigure([120 * MiB, 120 * MiB, 120 * MiB], [110 * MiB, 110 * MiB, 110 * MiB], 20);
    assert.equal(r.kibPerLink, undefined);
    assert.match(r.noisy!, /^too noisy/);
  });

  it("says too noisy when the samples wander more than half the difference", () => {
    const r = perLinkFigure([100 * MiB, 104 * MiB, 100 * MiB], [104 * MiB, 108 * MiB, 104 * MiB], 100);
    assert.equal(r.kibPerLink, undefined);
    assert.match(r.noisy!, /^too noisy: samples wander/);
  });
});
