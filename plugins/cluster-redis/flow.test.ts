/**
 * Pure logic of the cluster's flow control (flow.ts) and command deadline (redis-deadline.ts);
 * the behaviour over real sockets and a real redis-server is in test/cluster/backpressure.test.ts
 * and test/cluster/stall.test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ACK_EVERY, AckTracker, parseControl, SendWindow, WINDOW } from "./flow.js";
import { commandTimeoutMs, RedisDeadline, RedisTimeoutError } from "./redis-deadline.js";

const turn = () => new Promise((r) => setImmediate(r));

describe("cluster flow control: the sender's window", () => {
  it("fills at WINDOW unacknowledged batches and frees them cumulatively", () => {
    const w = new SendWindow();
    for (let i = 0; i < WINDOW; i++) w.sent(w.next(), 10, 0);
    assert.equal(w.full, true);
    assert.equal(w.pending, WINDOW * 10);
    assert.equal(w.ack(2, 2, undefined, 1), 20, "batches 1 and 2");
    assert.equal(w.full, false);
    assert.equal(w.ack(2, 4, undefined, 1), 0, "received is no acknowledgement");
    assert.equal(w.pending, (WINDOW - 2) * 10);
  });

  it("frees the batches an answer to an ask says never arrived, not those sent after the ask", () => {
    const w = new SendWindow();
    for (let i = 0; i < 3; i++) w.sent(w.next(), 1, 0);
    const upto = w.last; // the ask covers 1-3
    w.sent(w.next(), 1, 0); // 4 leaves after the ask
    assert.equal(w.ack(1, 1, upto, 5), 3, "1 handled, 2-3 lost");
    assert.equal(w.pending, 1, "4 still on its way");
  });

  it("is stuck when nothing moved for the given time, and releases everything when the receiver is gone", () => {
    const w = new SendWindow();
    assert.equal(w.stuck(1000, 100), false, "empty");
    w.sent(w.next(), 5, 0);
    assert.equal(w.stuck(50, 100), false);
    assert.equal(w.stuck(100, 100), true);
    w.sent(w.next(), 5, 120);
    assert.equal(w.ack(1, 1, undefined, 150), 5);
    assert.equal(w.stuck(200, 100), false, "an acknowledgement moves it");
    assert.equal(w.releaseAll(300), 5);
    assert.equal(w.pending, 0);
  });
});

describe("cluster flow control: the receiver's acknowledgements", () => {
  it("acknowledges every ACK_EVERY batches (one message per turn) when no sink asks to pause", async () => {
    const sent: Array<[string, string]> = [];
    const acks = new AckTracker("n2", (node, text) => sent.push([node, text]));
    for (let seq = 1; seq < ACK_EVERY; seq++) acks.received("n1", seq, []);
    await turn();
    assert.deepEqual(sent, [], "fewer than ACK_EVERY: the sender asks if it needs to");
    acks.received("n1", ACK_EVERY, []);
    acks.received("n1", ACK_EVERY + 1, []);
    assert.deepEqual(sent, [], "not before the end of the turn");
    await turn();
    assert.deepEqual(sent, [["n1", `a n2 ${ACK_EVERY + 1} ${ACK_EVERY + 1}`]]);
    acks.ask("n1", ACK_EVERY + 1);
    assert.equal(sent.length, 2, "an ask is always answered");
  });

  it("withholds the acknowledgement until the sinks' promises settle, in order", async () => {
    const sent: string[] = [];
    const acks = new AckTracker("n2", (_node, text) => sent.push(text));
    let release!: () => void;
    acks.received("n1", 1, [new Promise<void>((r) => (release = r))]);
    acks.received("n1", 2, []); // behind batch 1: not handled before it
    await turn();
    assert.deepEqual(sent, []);
    acks.ask("n1", 2);
    assert.deepEqual(sent, ["a n2 0 2 2"], "asked: received 2, handled none");
    release();
    await turn();
    await turn();
    assert.equal(sent.at(-1), "a n2 2 2");
  });

  it("starts again when a sender restarts (its numbers start again)", async () => {
    const sent: string[] = [];
    const acks = new AckTracker("n2", (_node, text) => sent.push(text));
    acks.received("n1", 7, [new Promise<void>(() => {})]); // never settles: the old instance
    for (let seq = 1; seq <= ACK_EVERY; seq++) acks.received("n1", seq, []);
    await turn();
    assert.deepEqual(sent, [`a n2 ${ACK_EVERY} ${ACK_EVERY}`]);
  });

  it("parses its control messages and nothing else", () => {
    assert.deepEqual(parseControl("a n2 3 5"), { kind: "ack", node: "n2", handled: 3, received: 5, upto: undefined });
    assert.deepEqual(parseControl("a n2 3 5 9"), { kind: "ack", node: "n2", handled: 3, received: 5, upto: 9 });
    assert.deepEqual(parseControl("q n1 9"), { kind: "ask", node: "n1", upto: 9 });
    for (const bad of ["", "a", "a n2", "a n2 x 5", "q n1", "q n1 x", "z n1 1", '[4,"n1",1]']) assert.equal(parseControl(bad), undefined, bad);
  });
});

describe("cluster command deadline", () => {
  it("derives the timeout from the lease within 2-5 s", () => {
    assert.equal(commandTimeoutMs(2000), 2000);
    assert.equal(commandTimeoutMs(10_000), 2500);
    assert.equal(commandTimeoutMs(3_600_000), 5000);
  });

  it("rejects a command that gets no answer, reports the stall once, and its late answer ends it", async () => {
    const seen: string[] = [];
    const d = new RedisDeadline(20, { timedOut: () => seen.push("timed out"), answered: () => seen.push("answered") });
    let answer!: (v: string) => void;
    const first = d.within(new Promise<string>((r) => (answer = r)));
    await assert.rejects(first, RedisTimeoutError);
    await assert.rejects(d.within(new Promise(() => {})), RedisTimeoutError);
    assert.deepEqual(seen, ["timed out"], "once per stall");
    assert.equal(d.stalled, true);
    answer("late");
    await turn();
    assert.deepEqual(seen, ["timed out", "answered"]);
    assert.equal(d.stalled, false);
    assert.equal(await d.within(Promise.resolve(7)), 7);
  });

  it("asks once per stall, after the given time, for the connection to be replaced; then only a new connection ends the stall", async () => {
    const seen: string[] = [];
    const d = new RedisDeadline(20, { timedOut: () => seen.push("timed out"), answered: () => seen.push("answered") });
    assert.equal(d.replaceAfter(0, Date.now()), false, "not stalled");
    let answer!: (v: string) => void;
    await assert.rejects(d.within(new Promise<string>((r) => (answer = r))), RedisTimeoutError);
    assert.equal(d.replaceAfter(60_000, Date.now()), false, "not for long enough");
    assert.equal(d.replaceAfter(60_000, Date.now() + 60_000), true);
    assert.equal(d.replaceAfter(60_000, Date.now() + 120_000), false, "once per stall");
    answer("late, on the connection being closed");
    await turn();
    assert.deepEqual(seen, ["timed out"]);
    assert.equal(d.stalled, true);
    d.reset(); // the new connection is ready
    assert.equal(d.stalled, false);
  });

  it("sets publish deadlines on Redis's clock, from a TIME answer with a short round trip only", () => {
    const d = new RedisDeadline(2000, { timedOut: () => {}, answered: () => {} });
    const now = Date.now();
    d.noteTime([String(Math.floor((now + 60_000) / 1000)), "0"], now, now + 2);
    const ahead = d.publishDeadline() - Date.now();
    assert.ok(ahead > 55_000 && ahead < 62_000, `Redis a minute ahead: ${ahead}`);
    d.noteTime([String(Math.floor(now / 1000)), "0"], now, now + 500); // too slow to trust
    assert.ok(d.publishDeadline() - Date.now() > 55_000, "kept the better sample");
  });
});
