import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { domainOf } from "./stanza.js";

describe("domainOf", () => {
  it("answers each address right whatever came before (the last two answers are remembered)", () => {
    const cases: [string | undefined, string | undefined][] = [
      ["juliet@b.example/balcony", "b.example"],
      ["romeo@A.Example", "a.example"],
      ["juliet@b.example/balcony", "b.example"],
      ["romeo@A.Example", "a.example"],
      ["b.example", "b.example"],
      ["x@bad domain", undefined],
      ["x@bad domain", undefined],
      ["romeo@A.Example", "a.example"],
      ["", undefined],
      [undefined, undefined],
      ["a@bücher.example/r", "xn--bcher-kva.example"],
      ["node@c.example.", "c.example"],
      ["a@bücher.example/r", "xn--bcher-kva.example"],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [jid, domain] of cases) {
        // A new string object each time, as each stanza's attributes are.
        const fresh = jid === undefined ? undefined : [...jid].join("");
        assert.equal(domainOf(fresh), domain, String(jid));
      }
    }
  });
});
