/**
 * Stream parser benchmark (not a test): how fast plugins/saxes turns a realistic S2S stream
 * into element trees, against plain saxes used the naive way.
 *
 *   node --import tsx bench/parser-bench.ts            # ~20 MB corpus, median of 5 runs
 *   node --import tsx bench/parser-bench.ts --quick    # ~200 KB, for smoke tests
 *
 * Why a reference run: a measurement (docs/performance.md) found that saxes with 7+ handlers set via
 * `on()` falls into V8 dictionary mode (~7 MB/s), and that our FastSaxesParser subclass avoids it
 * (~26-29 MB/s building trees). The ratio ours/reference, measured in the same invocation on the
 * same machine, is what catches a regression; absolute MB/s depend on the machine and its load
 * (hence `os.loadavg()` in the output).
 *
 * Each contender runs in its own child process (same node flags). Both run the same saxes methods;
 * in one process, once those have seen the reference's dictionary-mode objects their inline caches
 * turn polymorphic and our parser measured afterwards drops from ~43 to ~15 MB/s here. Production
 * never meets such objects (unless something else in the process uses saxes naively), so the
 * isolated number is the honest one.
 *
 * The corpus, both contenders and the timing loop live in bench/scenarios/parser.ts, shared with
 * `npm run bench` (which compares ours with Prosody's parser on the same corpus).
 */
import { spawnSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { CHUNK, chunksOf, generateStream, measure, runOurs, runReference, type Result } from "./scenarios/parser.js";

const RUNS = 5;
/** Stop adding runs past this, so the whole bench stays well under a minute on a slow machine. */
const BUDGET_MS = 45_000;

interface ChildReport {
  readonly result: Result;
  readonly bytes: number;
  readonly stanzas: number;
}

const CONTENDERS = {
  ours: { name: "ours (saxes)", run: runOurs },
  reference: { name: "reference (saxes, on() x11)", run: runReference },
} as const;
type ContenderId = keyof typeof CONTENDERS;

/** Child process: generate the corpus, measure one contender, print a JSON report. */
function child(id: ContenderId, quick: boolean, deadline: number): void {
  const { bytes, stanzas } = generateStream(quick ? 200_000 : 20_000_000, 0x5eed);
  const contender = CONTENDERS[id];
  const result = measure(contender.name, contender.run, chunksOf(bytes), bytes.length, stanzas, deadline, RUNS);
  const report: ChildReport = { result, bytes: bytes.length, stanzas };
  process.stdout.write(JSON.stringify(report));
}

function spawnChild(id: ContenderId, quick: boolean, deadline: number): ChildReport {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), `--child=${id}`, `--deadline=${deadline}`];
  if (quick) args.push("--quick");
  const out = spawnSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: BUDGET_MS + 10_000 });
  if (out.status !== 0) throw new Error(`bench child ${id} failed (status ${out.status}, signal ${out.signal})`);
  return JSON.parse(out.stdout) as ChildReport;
}

function main(): void {
  const quick = process.argv.includes("--quick");
  const childArg = process.argv.find((a) => a.startsWith("--child="));
  if (childArg !== undefined) {
    const deadline = Number(process.argv.find((a) => a.startsWith("--deadline="))?.slice("--deadline=".length));
    child(childArg.slice("--child=".length) as ContenderId, quick, deadline);
    return;
  }
  const started = Date.now();
  // Our parser is several times faster, so it gets a third of the budget and the reference the rest.
  const ours = spawnChild("ours", quick, started + BUDGET_MS / 3);
  const reference = spawnChild("reference", quick, started + BUDGET_MS);
  const { bytes, stanzas } = ours;

  const load = os.loadavg().map((n) => n.toFixed(2)).join(" ");
  console.log(`stream parser bench: ${(bytes / 1e6).toFixed(2)} MB, ${stanzas} stanzas (avg ${Math.round(bytes / stanzas)} B), ${CHUNK / 1024} KiB Buffer chunks, median of ${RUNS} runs, one process per parser`);
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? "cpu?"} x${os.cpus().length}, loadavg ${load}`);
  console.log("");
  const rows = [
    ["parser", "MB/s", "stanzas/s", "runs"],
    ...[ours.result, reference.result].map((r) => [r.name, r.mbPerSec.toFixed(1), Math.round(r.stanzasPerSec).toString(), String(r.runs)]),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  for (const row of rows) console.log(row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join("  "));
  console.log("");
  console.log(`ratio ours/reference: ${(ours.result.mbPerSec / reference.result.mbPerSec).toFixed(2)}x   (total ${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

main();
