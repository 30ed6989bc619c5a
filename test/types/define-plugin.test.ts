/**
 * `definePlugin` typing as a plugin author meets it: `tsc --noEmit` under `strict` on fixture
 * plugins written the natural way (parseOptions returns `{ problems }` on one path and `{ options }`
 * on another), in TypeScript and in JavaScript with `checkJs`, against the types the package
 * publishes (`"xmpp-s2s"` resolves to this package's own `exports`: dist/core/index.d.ts).
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensureBuilt, ROOT } from "../helpers/build.js";

const FIXTURES = join(ROOT, "test/types/fixtures");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

/** tsc's diagnostics for a fixture project ("" when it type-checks). */
async function tsc(fixture: string): Promise<string> {
  try {
    await promisify(execFile)(process.execPath, [TSC, "-p", join(FIXTURES, fixture, "tsconfig.json")], { cwd: join(FIXTURES, fixture), timeout: 120_000 });
    return "";
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return e.stdout || e.stderr || e.message;
  }
}

describe("definePlugin types (tsc --noEmit, strict)", () => {
  before(() => ensureBuilt());

  it("TypeScript: ctx.options is the parsed options, never undefined", async () => {
    assert.equal(await tsc("natural-ts"), "");
  });

  it("JavaScript with checkJs: the same", async () => {
    assert.equal(await tsc("natural-js"), "");
  });

  it("control: an option parseOptions never returns is an error (the check is not vacuous)", async () => {
    const out = await tsc("misuse-ts");
    assert.match(out, /index\.ts\(\d+,\d+\): error TS2339: Property 'fiel' does not exist on type '\{ file: string; \}'/);
    assert.equal(out.trim().split("\n").length, 1, out);
  });
});
