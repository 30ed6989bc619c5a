import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { el, NS } from "../xml/element.js";
import { domainOf, fromDomainOf, internalized, toDomainOf } from "./stanza.js";

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

describe("toDomainOf / fromDomainOf (one remembered address per role)", () => {
  const fresh = (s: string | undefined) => (s === undefined ? undefined : [...s].join(""));
  const stanza = (from: string | undefined, to: string | undefined) => el("message", { from: fresh(from), to: fresh(to) }, NS.SERVER);

  it("answer as domainOf does, whatever the order of addresses and readers", () => {
    const addresses = ["juliet@b.example/balcony", "romeo@A.Example", "b.example", "x@bad domain", "", undefined, "a@bücher.example/r", "node@c.example."];
    for (let round = 0; round < 3; round++) {
      for (const from of addresses) {
        for (const to of addresses) {
          const s = stanza(from, to);
          // Read several times, in both orders, as the stream, the router and the delivery do.
          for (let read = 0; read < 2; read++) {
            assert.equal(toDomainOf(s), domainOf(to), `to ${to} (from ${from})`);
            assert.equal(fromDomainOf(s), domainOf(from), `from ${from} (to ${to})`);
          }
        }
      }
    }
  });

  it("follow a change of the stanza's address between two reads", () => {
    const s = stanza("a@a.example", "b@b.example");
    assert.equal(toDomainOf(s), "b.example");
    s.attrs.to = "c@c.example";
    assert.equal(toDomainOf(s), "c.example");
    delete s.attrs.from;
    assert.equal(fromDomainOf(s), undefined);
  });
});

describe("internalized", () => {
  it("gives back the same characters, whatever they are", () => {
    for (const s of ["b.example", "__proto__", "constructor", "123", "", "xn--bcher-kva.example", "0"]) {
      const i = internalized([...s].join(""));
      assert.equal(typeof i, "string");
      assert.equal(i, s);
    }
  });
});
