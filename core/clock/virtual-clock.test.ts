import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { timer } from "rxjs";
import { VirtualClock } from "./virtual-clock.js";
import { systemClock } from "./clock.js";

describe("VirtualClock", () => {
  it("runs timers in due order, only when advanced, at their virtual time", () => {
    const clock = new VirtualClock(1000);
    const ran: Array<[string, number]> = [];
    clock.timer(300, () => ran.push(["b", clock.now()]));
    clock.timer(100, () => ran.push(["a", clock.now()]));
    clock.advance(99);
    assert.deepEqual(ran, []);
    clock.advance(150);
    assert.deepEqual(ran, [["a", 1100]]);
    assert.equal(clock.now(), 1249);
    clock.advance(51);
    assert.deepEqual(ran, [["a", 1100], ["b", 1300]]);
    assert.equal(clock.pending, 0);
  });

  it("cancel() stops a timer; restart() starts its delay over from now, even after it fired", () => {
    const clock = new VirtualClock();
    let fired = 0;
    const t = clock.timer(100, () => fired++);
    clock.advance(90);
    t.restart();
    clock.advance(90);
    assert.equal(fired, 0, "restarted at 90: due at 190");
    clock.advance(10);
    assert.equal(fired, 1);
    t.restart();
    clock.advance(100);
    assert.equal(fired, 2, "a fired timer restarts like Node's refresh()");
    t.restart();
    t.cancel();
    t.restart();
    clock.advance(1000);
    assert.equal(fired, 2, "cancelled for good");
    assert.equal(clock.pending, 0);
  });

  it("a timer set by a timer that falls due within the same advance runs in it", () => {
    const clock = new VirtualClock();
    const at: number[] = [];
    clock.timer(10, () => clock.timer(10, () => at.push(clock.now())));
    clock.advance(25);
    assert.deepEqual(at, [20]);
  });

  it("drives RxJS pipelines on its scheduler", () => {
    const clock = new VirtualClock();
    const at: number[] = [];
    timer(500, clock.scheduler).subscribe(() => at.push(clock.now()));
    clock.advance(499);
    assert.deepEqual(at, []);
    clock.advance(1);
    assert.deepEqual(at, [500]);
  });
});

describe("systemClock timers", () => {
  it("fire once, and not after cancel()", async () => {
    const fired: string[] = [];
    const cancelled = systemClock.timer(1, () => fired.push("cancelled"));
    cancelled.cancel();
    await new Promise<void>((resolve) => systemClock.timer(5, () => resolve()));
    await new Promise<void>((resolve) => systemClock.timer(1, () => (fired.push("kept"), resolve())));
    assert.deepEqual(fired, ["kept"]);
  });
});
