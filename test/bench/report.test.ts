import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { evaluate, figuresTable, targetsTable, type FigureRow, type Target } from "../../bench/lib/report.js";

const rows: FigureRow[] = [
  { figure: "messages/s over one link", values: { ours: 60_000, prosody: 15_000, ejabberd: 20_000 }, digits: 0, better: "higher" },
  { figure: "RSS of an idle server, MiB", values: { ours: 50, prosody: 16 }, digits: 1, better: "lower" },
  { figure: "first message on a fresh link, ms", values: { ours: 40 }, digits: 1, better: "lower" },
];

const target = (t: Partial<Target> & Pick<Target, "figure" | "against" | "op" | "limit">): Target => ({ label: t.figure, limitLabel: String(t.limit), ...t });

/** The rule that turns the bench's figures into the issue-15 verdicts (bench/lib/report.ts). */
describe("bench targets (bench/lib/report.ts)", () => {
  it("compares ours/reference with the limit, each reference separately", () => {
    const vsEjabberd = evaluate(target({ figure: "messages/s over one link", against: "ejabberd", op: ">=", limit: 4 }), rows);
    assert.equal(vsEjabberd.ratio, 3);
    assert.equal(vsEjabberd.reference, 20_000);
    assert.equal(vsEjabberd.met, "NO");
    const vsProsody = evaluate(target({ figure: "messages/s over one link", against: "prosody", op: ">=", limit: 4 }), rows);
    assert.equal(vsProsody.ratio, 4);
    assert.equal(vsProsody.met, "yes", "a ratio exactly at the limit meets it");
  });

  it("checks an absolute limit against ours alone", () => {
    const idle = evaluate(target({ figure: "RSS of an idle server, MiB", against: "absolute", op: "<=", limit: 48 }), rows);
    assert.equal(idle.ours, 50);
    assert.equal(idle.ratio, undefined);
    assert.equal(idle.met, "NO");
  });

  it("gives no verdict when the reference was not measured (never a pass or a fail on a missing figure)", () => {
    const r = evaluate(target({ figure: "first message on a fresh link, ms", against: "prosody", op: "<=", limit: 1 / 3, limitLabel: "<= 0.33x" }), rows);
    assert.equal(r.met, "");
    assert.match(targetsTable([r], rows), /first message on a fresh link, ms\s+40\.0\s+- Prosody\s+-\s+<= 0\.33x\s+-$/m);
  });

  it("prints a column per system measured and a ratio per reference", () => {
    const text = figuresTable(rows, ["ours", "prosody", "ejabberd"]);
    const [head, throughput] = text.split("\n");
    assert.match(head!, /^figure\s+ours\s+Prosody\s+ejabberd\s+ours\/Prosody\s+ours\/ejabberd\s+better$/);
    assert.match(throughput!, /^messages\/s over one link\s+60,000\s+15,000\s+20,000\s+4\.00x\s+3\.00x\s+higher$/);
    assert.doesNotMatch(figuresTable(rows, ["ours"]), /Prosody|ejabberd/);
  });
});
