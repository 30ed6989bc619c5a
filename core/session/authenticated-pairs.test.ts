import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AuthenticatedPairs } from "./authenticated-pairs.js";

describe("AuthenticatedPairs", () => {
  it("starts empty", () => {
    const p = new AuthenticatedPairs();
    assert.equal(p.empty, true);
    assert.equal(p.remoteCount, 0);
    assert.equal(p.has("b.example", "a.example"), false);
    assert.equal(p.hasRemote("b.example"), false);
    assert.deepEqual([...p.pairs()], []);
  });

  it("holds one pair, and re-recording it replaces how and when", () => {
    const p = new AuthenticatedPairs();
    p.set("b.example", "a.example", { method: "dialback", at: 1 });
    p.set("b.example", "a.example", { method: "sasl_external", at: 2 });
    assert.equal(p.empty, false);
    assert.equal(p.remoteCount, 1);
    assert.deepEqual(p.get("b.example", "a.example"), { remote: "b.example", local: "a.example", method: "sasl_external", at: 2 });
    assert.equal(p.has("a.example", "b.example"), false, "a pair has a direction");
    assert.deepEqual([...p.pairs()], [{ remote: "b.example", local: "a.example" }]);
  });

  it("answers by content, not by which string object asks (get keeps the caller's equal strings)", () => {
    const p = new AuthenticatedPairs();
    const copy = (s: string) => [...s].join("");
    p.set(copy("b.example"), copy("a.example"), { method: "dialback", at: 1 });
    for (let i = 0; i < 3; i++) {
      assert.equal(p.has(copy("b.example"), copy("a.example")), true);
      assert.equal(p.has(copy("b.example"), copy("a2.example")), false);
      assert.equal(p.has(copy("c.example"), copy("a.example")), false);
    }
    assert.deepEqual(p.get("b.example", "a.example"), { remote: "b.example", local: "a.example", method: "dialback", at: 1 });
    assert.deepEqual([...p.pairs()], [{ remote: "b.example", local: "a.example" }]);
  });

  it("multiplexes further pairs (XEP-0220 §2.1.3): counts distinct remotes, lists every pair once", () => {
    const p = new AuthenticatedPairs();
    p.set("b.example", "a.example", { method: "dialback", at: 1 });
    p.set("b.example", "a2.example", { method: "dialback", at: 2 });
    p.set("c.example", "a.example", { method: "dialback", at: 3 });
    p.set("c.example", "a.example", { method: "dialback", at: 4 });
    assert.equal(p.remoteCount, 2);
    assert.equal(p.hasRemote("c.example"), true);
    assert.equal(p.has("b.example", "a2.example"), true);
    assert.equal(p.get("c.example", "a.example")?.at, 4);
    assert.equal(p.has("c.example", "a2.example"), false);
    assert.deepEqual([...p.pairs()], [
      { remote: "b.example", local: "a.example" },
      { remote: "b.example", local: "a2.example" },
      { remote: "c.example", local: "a.example" },
    ]);
  });
});
