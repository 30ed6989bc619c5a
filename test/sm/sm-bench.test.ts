/**
 * `npm run bench -- --sm` stays runnable: one tiny trial (SM on and off, fresh processes each) must
 * print both figures and their ratio. The figures themselves come from the full run
 * (docs/performance.md), never from a test.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../helpers/build.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

describe("npm run bench -- --sm (smoke)", () => {
  it("runs SM on and off in one invocation and prints msgs/s for each and the ratio", () => {
    ensureBuilt();
    const run = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--sm", "--trials", "1", "--messages", "300", "--warmup", "1"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, XMPP_S2S_BUILT: "1" },
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^trial 1: SM (on |off) \d+ msgs\/s, [\d.]+ µs CPU\/msg \(A\+B\); SM (on |off) \d+ msgs\/s/m);
    assert.match(run.stdout, /^\| messages\/s over one link \| \d+ \| \d+ \| \d\.\d{3} \|$/m);
    assert.match(run.stdout, /^throughput: on\/off \d\.\d{3} \(median of 1 trials/m);
  });
});
