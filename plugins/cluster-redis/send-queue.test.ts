/**
 * Pure logic of the queue of forwards to one node (send-queue.ts): batches bounded in size, sealed
 * and expired from the head. Over real sockets and a real redis-server: test/cluster/held-forwards.test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { el } from "../../core/xml/element.js";
import { MAX_BATCH_CHARS, type QueuedBatch, SendQueue, stanzaChars } from "./send-queue.js";
import { encodeBatch } from "./wire.js";

const route = (id: string, body = "") => ({ kind: "route" as const, stanza: el("message", { to: "x@c.a.example", id }, "jabber:server", el("body", {}, undefined, body)) });
const clock = (t: number) => () => t;
const idsOf = (q: QueuedBatch) => [...encodeBatch(q.batch).matchAll(/"id":"([^"]+)"/g)].map((m) => m[1]!);

describe("cluster send queue", () => {
  it("cuts batches at MAX_BATCH_CHARS; a bigger stanza goes alone; order kept", () => {
    const q = new SendQueue("n1");
    const quarter = Math.floor(MAX_BATCH_CHARS / 4);
    for (let i = 0; i < 9; i++) q.add(route(`m${i}`), quarter, undefined, clock(0));
    q.add(route("huge"), 3 * MAX_BATCH_CHARS, undefined, clock(0));
    q.add(route("after"), 10, undefined, clock(0));
    assert.equal(q.count, 11);
    const sizes: number[] = [];
    for (let b = q.take(); b; b = q.take()) sizes.push(b.count);
    assert.deepEqual(sizes, [4, 4, 1, 1, 1], "4 quarters fit, the fifth opens a new batch; the huge one alone");
    assert.equal(q.count, 0);
  });

  it("expires the batches sealed at least the given time ago, never the open one", () => {
    const q = new SendQueue("n1");
    q.add(route("a"), 10, undefined, clock(0));
    q.seal(100);
    q.add(route("b"), 10, undefined, clock(150)); // a new batch after the seal
    assert.deepEqual(q.expired(1099, 1000), [], "sealed 999 ms ago");
    const first = q.expired(1100, 1000);
    assert.deepEqual(first.map((b) => b.count), [1]);
    assert.equal(q.expired(60_000, 1000).length, 0, "the open batch never expires: it is sealed first");
    q.seal(2000);
    assert.deepEqual(q.expired(3000, 1000).map((b) => b.count), [1]);
    assert.equal(q.count, 0);
  });

  it("expires forwards held before at the deadline of when they were first held, not a whole bound after they were queued", () => {
    const BOUND = 7000;
    const q = new SendQueue("n1");
    // Held for a dead node from t=0 (deadline 7000), queued for its successor at t=6000.
    q.add(route("h1"), 10, 7000, clock(6000));
    q.add(route("h2"), 10, 7000, clock(6000));
    q.add(route("fresh"), 10, undefined, clock(6000)); // never held: a batch of its own
    q.seal(6100);
    assert.deepEqual(q.expired(6999, BOUND), [], "before the first-held deadline");
    const held = q.expired(7000, BOUND);
    assert.deepEqual(held.flatMap(idsOf), ["h1", "h2"], "at the first-held deadline, not at 6100 + 7000");
    assert.equal(held[0]?.deadlines?.get(1), 7000, "the held deadline travels with the forward (kept if held again)");
    assert.deepEqual(q.expired(13_099, BOUND), [], "the fresh one waits its own whole bound");
    assert.deepEqual(q.expired(13_100, BOUND).map((b) => b.count), [1]);
    assert.equal(q.count, 0);
  });

  it("a held batch bounces no earlier than the latest deadline in it", () => {
    const q = new SendQueue("n1");
    q.add(route("r1"), 10, 5000, clock(0));
    q.add(route("r2"), 10, 8000, clock(0)); // held later than r1: same batch, later deadline
    assert.deepEqual(q.expired(7999, 1000), []);
    assert.deepEqual(q.expired(8000, 1000).map((b) => b.count), [2]);
  });

  it("takes out a held batch past its deadline from behind fresh batches that wait less, keeping their order", () => {
    const q = new SendQueue("n1");
    q.add(route("f1"), 10, undefined, clock(0));
    q.seal(5000); // stuck since 5000
    q.add(route("h"), 10, 3000, clock(5500)); // first held long ago
    q.add(route("f2"), 10, undefined, clock(5600));
    q.seal(5700);
    assert.deepEqual(q.expired(5800, 7000).map((b) => b.count), [1], "the held one only");
    assert.equal(q.count, 2);
    q.add(route("f3"), 10, undefined, clock(5900)); // after the sealed f2 batch: a new open batch
    const rest: string[] = [];
    for (let b = q.take(); b; b = q.take()) rest.push(...idsOf(b));
    assert.deepEqual(rest, ["f1", "f2", "f3"], "in order");
  });

  it("hands everything back in order", () => {
    const q = new SendQueue("n1");
    for (let i = 0; i < 3; i++) q.add(route(`m${i}`), MAX_BATCH_CHARS, undefined, clock(0));
    assert.deepEqual(q.takeAll().map((b) => b.count), [1, 1, 1]);
    assert.equal(q.take(), undefined);
  });

  it("sizes a stanza by its received text, else by its tree", () => {
    const small = el("message", { to: "x@c.a.example" }, "jabber:server", el("body", {}, undefined, "hi"));
    const big = el("message", { to: "x@c.a.example" }, "jabber:server", el("body", {}, undefined, "y".repeat(100_000)));
    assert.ok(stanzaChars(small) < 100);
    assert.ok(stanzaChars(big) > 100_000 && stanzaChars(big) < 100_100, String(stanzaChars(big)));
  });
});
