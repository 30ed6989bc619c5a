/**
 * Issue 19/17: one run of `check-config` (the embedding API's `checkConfigFile`, which the CLI
 * calls) lists every problem of a file: TOML values, certificates and `[plugins]` together, not one
 * stage per run. And a table for a plugin that exists nowhere (`[plugins.ech] enabled = false`,
 * meant for `echo`) is an error with a "did you mean" over built-in and configured names.
 */
import "reflect-metadata";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkConfigFile } from "../../core/index.js";
import { isConfigError } from "../../core/errors.js";

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "xs2s-all-at-once-"));
  dirs.push(dir);
  const path = join(dir, "s2s.toml");
  writeFileSync(path, text);
  return path;
}

async function problemsOf(path: string): Promise<readonly string[]> {
  try {
    await checkConfigFile(path);
  } catch (err) {
    if (isConfigError(err)) return err.problems;
    throw err;
  }
  return assert.fail("checkConfigFile accepted the file");
}

describe("check-config reports every problem of a file in one run", () => {
  it("lists value, certificate, plugin-name, plugin-table and plugin-option problems together", async () => {
    const problems = await problemsOf(file(`
[general]
hosts = ["a.example"]

[[listen.s2s]]
port = 70000

[s2s]
use_starttls = "required"
certfile = "missing.pem"

[plugins]
resolver = "dnss"

[plugins.ech]
enabled = false

[plugins.echo]
colour = "blue"
`));
    const at = (path: string) => problems.some((p) => p.startsWith(`${path}: `));
    assert.ok(at("listen.s2s[0].port"), problems.join("\n"));
    assert.ok(at("s2s.certfile"), problems.join("\n"));
    assert.ok(at("plugins.resolver"), problems.join("\n"));
    assert.ok(at("plugins.ech"), problems.join("\n"));
    assert.ok(at("plugins.echo.colour"), problems.join("\n"));
  });

  it("lists every plugin problem at once even when the rest of the file is valid", async () => {
    const problems = await problemsOf(file(`
[general]
hosts = ["a.example"]

[plugins]
resolver = "dnss"

[plugins.echo]
colour = "blue"
`));
    assert.ok(problems.some((p) => p.startsWith("plugins.resolver: unknown plugin")), problems.join("\n"));
    assert.ok(problems.some((p) => p.startsWith("plugins.echo.colour: ")), problems.join("\n"));
    // The unknown resolver is reported once, not again as "no plugin provides RESOLVER".
    assert.equal(problems.filter((p) => p.startsWith("plugins.resolver")).length, 1, problems.join("\n"));
  });
});

describe("a table for a plugin that exists nowhere is an error", () => {
  it("[plugins.ech] enabled = false: unknown plugin, did you mean echo", async () => {
    const problems = await problemsOf(file(`[general]\nhosts = ["a.example"]\n\n[plugins.ech]\nenabled = false\n`));
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0]!, /^plugins\.ech: unknown plugin .*did you mean "echo"\?/);
  });

  it("suggests a configured third-party plugin for a misspelled table", async () => {
    const problems = await problemsOf(file(`[general]\nhosts = ["a.example"]\n\n[plugins]\npolicy = ["host_policy", "deny_list"]\n\n[plugins.deny_list]\nmodule = "./nowhere.js"\n\n[plugins.deny_lst]\nenabled = false\n`));
    assert.ok(problems.some((p) => /^plugins\.deny_lst: unknown plugin .*did you mean "deny_list"\?/.test(p)), problems.join("\n"));
  });

  it("an unknown name in a slot also gets suggestions from the [plugins.<name>] tables present", async () => {
    const problems = await problemsOf(file(`[general]\nhosts = ["a.example"]\n\n[plugins]\npolicy = ["host_policy", "my_polcy"]\n\n[plugins.my_policy]\nmodule = "./nowhere.js"\n`));
    assert.ok(problems.some((p) => /^plugins\.policy\[1\]: unknown plugin .*did you mean "my_policy"\?/.test(p)), problems.join("\n"));
  });
});
