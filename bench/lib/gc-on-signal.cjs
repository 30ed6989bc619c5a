// Preloaded (`node --expose-gc --require bench/lib/gc-on-signal.cjs`) into our server for the
// memory trials of `npm run bench`: on SIGUSR2 it runs a full garbage collection and appends one
// JSON line with process.memoryUsage() to $XMPP_S2S_BENCH_GC_FILE, so the bench measures memory
// after a forced GC instead of whatever garbage happened to be pending. With
// $XMPP_S2S_BENCH_HEAP_DIR set it also writes a heap snapshot there (`<n>.heapsnapshot`, for
// bench/link-memory.ts --heap-diff; the snapshot itself costs memory, so no RSS figure then).
// Benchmark only.
"use strict";
const { appendFileSync } = require("node:fs");
const { join } = require("node:path");
const { getHeapSpaceStatistics, writeHeapSnapshot } = require("node:v8");

const file = process.env.XMPP_S2S_BENCH_GC_FILE;
if (file && typeof globalThis.gc === "function") {
  let n = 0;
  process.on("SIGUSR2", () => {
    globalThis.gc();
    globalThis.gc();
    const m = process.memoryUsage();
    const heapDir = process.env.XMPP_S2S_BENCH_HEAP_DIR;
    if (heapDir) writeHeapSnapshot(join(heapDir, `${n + 1}.heapsnapshot`));
    appendFileSync(file, `${JSON.stringify({ n: ++n, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, spaces: Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, [s.space_size, s.space_used_size, s.physical_space_size]])) })}\n`);
  });
}
