/**
 * The `[shaper]` section (MongooseIM syntax: `[shaper.fast] max_rate = 50_000`, bytes per second)
 * and the listener keys that name a shaper: `listen.s2s.shaper`, `listen.service.shaper_rule` and
 * `listen.service.shaper`. Each names a shaper of this section directly, or "none" (MongooseIM
 * 6.4 semantics; before 6.4, `listen.s2s.shaper` named an `[access]` rule returning a shaper name:
 * xmpp-s2s has no `[access]`, so it takes the direct form only). A name that is not defined is an
 * error, as in MongooseIM 6.4 (`undefined_shapers`).
 */
import { child, integer, isTable, problem, string, table, type CheckContext, type Table } from "../config/checks.js";
import type { ShaperSpec } from "../config/types.js";

const SHAPER_SHAPE = { keys: ["max_rate"] };
const MAX_RATE_EXPECTED = "a positive integer number of bytes per second, e.g. max_rate = 50_000";
const maxRate = integer(1, Number.MAX_SAFE_INTEGER, MAX_RATE_EXPECTED, "a positive integer");

/** Every `[shaper.<name>]`, by name. */
export function checkShaperSection(ctx: CheckContext, raw: unknown): ReadonlyMap<string, ShaperSpec> {
  const out = new Map<string, ShaperSpec>();
  if (raw === undefined) return out;
  if (!isTable(raw)) {
    problem(ctx, "shaper", "not a table", raw, "tables written [shaper.NAME] with max_rate = BYTES_PER_SECOND");
    return out;
  }
  for (const [name, value] of Object.entries(raw)) {
    const p = child("shaper", name);
    const t = table(ctx, p, value, SHAPER_SHAPE, "a table with max_rate, e.g. [shaper.fast] max_rate = 50_000");
    if (t === undefined) continue;
    if (t["max_rate"] === undefined) {
      ctx.problems.push(`${child(p, "max_rate")}: missing (expected ${MAX_RATE_EXPECTED})`);
      continue;
    }
    const rate = maxRate(ctx, child(p, "max_rate"), t["max_rate"]);
    if (rate !== undefined) out.set(name, { name, maxRate: rate });
  }
  return out;
}

/** `listen.*.shaper = "NAME"`: the named shaper, undefined for "none" or absent (problems recorded). */
export function shaperOf(ctx: CheckContext, t: Table, p: string, key: string, shapers: ReadonlyMap<string, ShaperSpec>): ShaperSpec | undefined {
  const path = child(p, key);
  const name = t[key] === undefined ? undefined : string(ctx, path, t[key]);
  if (name === undefined || name === "none") return undefined;
  const spec = shapers.get(name);
  if (spec) return spec;
  const defined = [...shapers.keys()].map((n) => JSON.stringify(n));
  return problem(ctx, path, "undefined shaper", name, `"none" or the name of a [shaper.NAME] table${defined.length ? ` (defined: ${defined.join(", ")})` : " (none is defined)"}`);
}
