/**
 * Pure logic of the queue of forwards to one node (send-queue.ts): batches bounded in size, sealed
 * and expired from the head. Over real sockets and a real redis-server: test/cluster/held-forwards.test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { el } from "../../core/xml/element.js";
import { MAX_BATCH_CHARS, SendQueue, stanzaChars } from "./send-queue.js";

const route = (id: string, body = "") => ({ kind: "route" as const, stanza: el("message", { to: "x@c.a.example", id }, "jabber:server", el("body", {}, undefined, body)) });
const clock = (t: number) => () => t;

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

  it("expires from the head only the batches sealed at least the given time ago", () => {
    const q = new SendQueue("n1");
    q.add(route("a"), 10, undefined, clock(0));
    q.seal(100);
    q.add(route("b"), 10, 5000, clock(150)); // a new batch after the seal; it carries a held deadline
    assert.deepEqual(q.expired(1099, 1000), [], "sealed 999 ms ago");
    const first = q.expired(1100, 1000);
    assert.deepEqual(first.map((b) => b.count), [1]);
    assert.equal(q.expired(60_000, 1000).length, 0, "the open batch never expires: it is sealed first");
    q.seal(2000);
    const second = q.expired(3000, 1000);
    assert.equal(second[0]?.deadlines?.get(0), 5000, "the held deadline travels with the forward");
    assert.equal(q.count, 0);
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
