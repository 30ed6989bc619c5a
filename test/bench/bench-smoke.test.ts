import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../helpers/build.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** A smoke run takes seconds (the metrics cost one 20-60 s on a busy machine); this only bounds a hang. */
const DEADLINE_MS = 180_000;

/**
 * Keeps `npm run bench` from rotting: `bench/run.ts --smoke` runs every scenario with tiny counts
 * (300 messages, 100 links, a 200 KB parser corpus, one trial), ours -> ours only, on plain
 * loopback (no network namespace, root, DNS or Prosody: `s2s.address`). A benchmark is not a
 * test: this asserts that the run completed and printed its table, never a timing.
 */
describe("bench smoke run (bench/run.ts --smoke)", () => {
  it("completes and prints the table with numbers, and writes the JSON", async () => {
    ensureBuilt();
    const out = mkdtempSync(join(tmpdir(), "xmpp-s2s-bench-smoke-"));
    try {
      const { code, output } = await runBench(["--smoke", "--out", out]);
      assert.equal(code, 0, `bench --smoke exited with ${code}:\n${output}`);
      for (const figure of ["messages/s over one link", "CPU µs per message, server A", "first message on a fresh link, ms", "CPU of A + B during that first message, ms", "parser MB/s"]) {
        const row = output.split("\n").find((line) => line.startsWith(figure));
        assert.ok(row, `no "${figure}" row in:\n${output}`);
        assert.match(row.slice(figure.length), /^\s+[\d,]+(\.\d+)?\s/, `"${figure}" has no number for ours: ${row}`);
      }
      // What the machine measured is not the test's business (a busy machine must not fail it): only that the memory row
      // reports a figure with its spread, or says it was too noisy; never a negative figure.
      const memory = output.split("\n").find((line) => line.startsWith("memory per idle TLS link, KiB"));
      assert.ok(memory, `no memory row in:\n${output}`);
      assert.match(memory.slice("memory per idle TLS link, KiB".length), /^\s+(\d[\d,]*(\.\d+)? \(|too noisy)/, `memory row: ${memory}`);
      assert.match(output, /memory trial 1 ours: 100 links .* after forced GC /, "the memory trial samples after a forced GC");
      const files = readdirSync(out).filter((f) => f.endsWith(".json"));
      assert.equal(files.length, 1, `one JSON result in ${out}: ${files.join(", ")}`);
      const json = JSON.parse(readFileSync(join(out, files[0]!), "utf8")) as { figures: Array<{ figure: string; ours?: number }> };
      assert.ok(json.figures.some((f) => f.figure === "messages/s over one link" && typeof f.ours === "number"), "the JSON carries the figures");
      const mem = json.figures.find((f) => f.figure === "memory per idle TLS link, KiB");
      assert.ok(mem && (mem.ours === undefined || mem.ours > 0), `memory figure: ${JSON.stringify(mem)}`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("--scale --smoke adds links in steps and prints the table with every step, nothing refused", async () => {
    ensureBuilt();
    const out = mkdtempSync(join(tmpdir(), "xmpp-s2s-bench-scale-"));
    try {
      const { code, output } = await runBench(["--scale", "--smoke", "--out", out]);
      // Exit 0 also means no link was refused or closed and every stanza was echoed.
      assert.equal(code, 0, `bench --scale --smoke exited with ${code}:\n${output}`);
      for (const links of [10, 20]) {
        const row = output.split("\n").find((line) => new RegExp(`^\\s+${links}\\s+\\d`).test(line));
        assert.ok(row, `no ${links}-link row in:\n${output}`);
        assert.match(row, /\s200 \/ 200\s+0 \/ 0$/, `${links} links: every stanza echoed, none refused or closed: ${row}`);
      }
      assert.match(output, /^refused or closed: 0 \(must be 0\)$/m);
      const files = readdirSync(out).filter((f) => f.startsWith("scale-smoke-") && f.endsWith(".json"));
      assert.equal(files.length, 1, `one JSON result in ${out}: ${files.join(", ")}`);
      const json = JSON.parse(readFileSync(join(out, files[0]!), "utf8")) as { steps: Array<{ links: number; refused: number; closed: number }> };
      assert.deepEqual(json.steps.map((s) => [s.links, s.refused, s.closed]), [[10, 0, 0], [20, 0, 0]]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("--metrics-cost --smoke measures metrics off and on in one run and prints the ratio line", async () => {
    ensureBuilt();
    const out = mkdtempSync(join(tmpdir(), "xmpp-s2s-bench-cost-"));
    try {
      const { code, output } = await runBench(["--metrics-cost", "--smoke", "--out", out]);
      // Exit 0 also means every "on" trial's scrape found xmpp_s2s_stanzas_total moved by exactly the stanzas sent.
      assert.equal(code, 0, `bench --metrics-cost --smoke exited with ${code}:\n${output}`);
      for (const p of [1, 2]) {
        assert.match(output, new RegExp(`metrics cost pair ${p} off: CPU/stanza A [\\d.]+ µs`), `pair ${p} off in:\n${output}`);
        assert.match(output, new RegExp(`metrics cost pair ${p} on : CPU/stanza A [\\d.]+ µs.*; \\d+ scrapes in the run; A's CPU per scrape [\\d.]+ ms`), `pair ${p} on, scraped, in:\n${output}`);
      }
      assert.match(output, /^metrics cost: CPU µs per stanza, servers A \+ B on\/off = \d+\.\d{3} \([+-]\d+\.\d %; .*; 2 pairs\): <= 3 % (met|NOT met|too noisy|too few pairs)$/m, output);
      const files = readdirSync(out).filter((f) => f.startsWith("bench-metrics-cost-smoke-") && f.endsWith(".json"));
      assert.equal(files.length, 1, `one JSON result in ${out}: ${files.join(", ")}`);
      const json = JSON.parse(readFileSync(join(out, files[0]!), "utf8")) as { trials: { metricsCost?: { pairs: number; trials: unknown[] } } };
      assert.equal(json.trials.metricsCost?.pairs, 2, "two complete pairs in the JSON");
      assert.equal(json.trials.metricsCost?.trials.length, 4);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

async function runBench(args: readonly string[]): Promise<{ code: number | string; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/run.ts", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      resolve("timeout");
    }, DEADLINE_MS);
    child.once("exit", (c, signal) => {
      clearTimeout(timer);
      resolve(c ?? signal ?? "?");
    });
  });
  return { code, output };
}
