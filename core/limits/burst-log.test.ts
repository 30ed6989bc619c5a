import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../logging/logger.js";
import { BurstLog } from "./burst-log.js";

test("one line at the start of a burst, one with the count after it goes quiet", () => {
  mock.timers.enable({ apis: ["setTimeout", "Date"] });
  try {
    const lines: Array<Record<string, unknown>> = [];
    const log = new BurstLog(createLogger("info", { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }), "thing_refused", 1000);
    for (let i = 0; i < 500; i++) log.hit({ n: i });
    assert.deepEqual(lines.map((l) => [l.what, l.n]), [["thing_refused", 0]]);
    mock.timers.tick(999);
    log.hit({ n: 500 }); // still the same burst: the quiet period starts again
    mock.timers.tick(999);
    assert.equal(lines.length, 1);
    mock.timers.tick(1);
    assert.deepEqual(lines.map((l) => [l.what, l.refused]), [["thing_refused", undefined], ["thing_refused_burst_end", 501]]);
    log.hit({ n: 0 });
    log.flush();
    assert.deepEqual(lines.slice(2).map((l) => [l.what, l.refused]), [["thing_refused", undefined], ["thing_refused_burst_end", 1]]);
  } finally {
    mock.timers.reset();
  }
});
