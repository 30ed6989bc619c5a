// Preloaded (`node --expose-gc --require bench/lib/gc-on-signal.cjs`) into our server for the
// memory trials of `npm run bench`: on SIGUSR2 it runs a full garbage collection and appends one
// JSON line with process.memoryUsage() to $XMPP_S2S_BENCH_GC_FILE, so the bench measures memory
// after a forced GC instead of whatever garbage happened to be pending. Benchmark only.
"use strict";
const { appendFileSync } = require("node:fs");

const file = process.env.XMPP_S2S_BENCH_GC_FILE;
if (file && typeof globalThis.gc === "function") {
  let n = 0;
  process.on("SIGUSR2", () => {
    globalThis.gc();
    globalThis.gc();
    const m = process.memoryUsage();
    appendFileSync(file, `${JSON.stringify({ n: ++n, rss: m.rss, heapUsed: m.heapUsed, external: m.external })}\n`);
  });
}
