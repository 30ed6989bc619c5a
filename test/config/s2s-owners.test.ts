/**
 * `[s2s]` keys are owned (core/config/s2s-section.ts): the core checks those it reads, each
 * built-in plugin checks its own in its `options.ts`, and a key whose readers are all disabled is
 * a warning naming them (logged by the loader, printed by `check-config`). A key nobody owns stays
 * an unknown key with a "did you mean".
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { configFromObject, parseConfig } from "../../core/config/load.js";
import { builtinS2sOwners } from "../../core/config/s2s-owners.js";
import type { S2sConfig } from "../../core/config/types.js";
import { isConfigError } from "../../core/errors.js";
import { EventBus } from "../../core/events/events.js";
import { createLogger } from "../../core/logging/logger.js";
import { BUILTIN_PLUGINS } from "../../core/plugins/builtin.js";
import { pluginWarnings } from "../../core/plugins/loader.js";
import { compose } from "../../core/server/compose.js";
import { systemClock } from "../../core/clock/clock.js";
import { ensureBuilt } from "../helpers/build.js";
import { killChildren, run } from "../helpers/cli.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function toml(text: string, baseDir = ROOT): S2sConfig {
  return parseConfig(`[general]\nhosts = ["a.example"]\n${text}`, { baseDir });
}

function problemsOf(text: string): readonly string[] {
  try {
    toml(text);
  } catch (err) {
    if (isConfigError(err)) return err.problems;
    throw err;
  }
  return assert.fail("the file was accepted");
}

describe("[s2s] keys owned by plugins", () => {
  it("each built-in owner is a built-in plugin, and no key has two owners", () => {
    const seen = new Map<string, string>();
    for (const owner of builtinS2sOwners()) {
      assert.ok(owner.plugin in BUILTIN_PLUGINS, `${owner.plugin} is not a built-in plugin`);
      for (const key of owner.keys) {
        assert.equal(seen.get(key), undefined, `s2s.${key} is owned by ${seen.get(key)} and ${owner.plugin}`);
        seen.set(key, owner.plugin);
      }
    }
  });

  it("every owned key is a key the [s2s] section accepts (an owner cannot invent MongooseIM keys)", () => {
    for (const owner of builtinS2sOwners()) {
      for (const key of owner.keys) {
        const [head, ...rest] = key.split(".");
        // A table-valued key (outgoing.tls) is accepted as a table; any other as an unknown-shaped value.
        const value = key === "outgoing.tls" ? { mode: "starttls" } : "x";
        const raw = rest.length === 0 ? { [head!]: value } : { [head!]: { [rest.join(".")]: value } };
        let problems: readonly string[] = [];
        try {
          configFromObject({ general: { hosts: ["a.example"] }, s2s: raw }, { baseDir: ROOT });
        } catch (err) {
          if (!isConfigError(err)) throw err;
          problems = err.problems;
        }
        assert.ok(!problems.some((p) => p.includes("unknown key")), `s2s.${key}: ${problems.join("\n")}`);
      }
    }
  });

  it("a key nobody owns is an unknown key with a did-you-mean, as before", () => {
    const problems = problemsOf(`[s2s]\nshard = "secret"`);
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0]!, /^s2s\.shard: unknown key \(got "secret", expected one of .*; did you mean "shared"\?\)$/);
  });

  it("a plugin's key is checked by its owner, with the same path and facts", () => {
    assert.match(problemsOf(`[s2s]\nshared = ""`)[0]!, /^s2s\.shared: empty \(got "", expected /);
    assert.match(problemsOf(`[s2s]\nhost_policy = [{host = "b.example", policy = "maybe"}]`)[0]!, /^s2s\.host_policy\[0\]\.policy: /);
    assert.match(problemsOf(`[s2s]\noutgoing.connection_timeout = 0`)[0]!, /^s2s\.outgoing\.connection_timeout: /);
    assert.match(problemsOf(`[s2s.outgoing.dns]\nretries = 0`)[0]!, /^s2s\.outgoing\.dns\.retries: /);
  });
});

describe("[s2s] keys that no enabled plugin reads", () => {
  it("warn, naming the plugin that reads them", async () => {
    const config = toml(`[s2s]\nhost_policy = [{host = "b.example", policy = "deny"}]\n[plugins]\npolicy = []\n[plugins.host_policy]\nenabled = false`);
    assert.deepEqual(await pluginWarnings(config), [
      "s2s.host_policy: read by plugin host_policy, which is not enabled, so it has no effect (enable it in [plugins], or remove the key)",
    ]);
  });

  it("are logged when the plugins load, with a `what`", async () => {
    const config = toml(`[s2s]\nhost_policy = [{host = "b.example", policy = "deny"}]\n[plugins]\npolicy = []\n[plugins.host_policy]\nenabled = false`);
    const lines: string[] = [];
    const logger = createLogger("warn", { write: (line: string) => void lines.push(line) });
    // Composed as start() composes (core/server/compose.ts), stopping once the plugins are loaded.
    const { plugins: loaded } = await compose({ config, logger, clock: systemClock, events: new EventBus() }, "plugins");
    assert.equal(loaded.warnings.length, 1);
    const logged = lines.map((l) => JSON.parse(l) as { what?: string; warning?: string });
    assert.ok(logged.some((l) => l.what === "s2s_option_unread" && l.warning?.startsWith("s2s.host_policy: ")), lines.join("\n"));
  });

  describe("check-config", () => {
    before(() => ensureBuilt());
    after(() => killChildren());

    it("prints the warning on stderr and still exits 0 (the file is valid)", async () => {
      const dir = mkdtempSync(join(tmpdir(), "xs2s-owners-cli-"));
      dirs.push(dir);
      const file = join(dir, "s2s.toml");
      writeFileSync(file, `[general]\nhosts = ["a.example"]\n[s2s]\nhost_policy = [{host = "b.example", policy = "deny"}]\n[plugins]\npolicy = []\n[plugins.host_policy]\nenabled = false\n`);
      const result = await run(["check-config", file]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /^s2s\.host_policy: read by plugin host_policy, which is not enabled/m);
      assert.match(result.stdout, /configuration is valid \(1 warning\(s\)\)/);
    });
  });

  it("do not warn when the owner is enabled, or for keys the core reads", async () => {
    assert.deepEqual(await pluginWarnings(toml(`[s2s]\nhost_policy = [{host = "b.example", policy = "deny"}]\nshared = "s"\ndns.timeout = 3`)), []);
    // default_policy is applied by the core's policy chain, whatever the policies.
    assert.deepEqual(await pluginWarnings(toml(`[s2s]\ndefault_policy = "deny"\n[plugins]\npolicy = []\n[plugins.host_policy]\nenabled = false`)), []);
  });

  it("do not warn when an enabled third-party plugin declares the key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xs2s-owners-"));
    dirs.push(dir);
    const api = pathToFileURL(join(ROOT, "core/index.ts")).href;
    writeFileSync(
      join(dir, "lists.js"),
      `import { definePlugin, POLICY } from ${JSON.stringify(api)};\n` +
        `export default definePlugin({ name: "lists", description: "reads s2s.host_policy", provides: [POLICY], s2sOptions: ["host_policy"],\n` +
        `  register(ctx) { ctx.provide(POLICY, { useValue: { name: "lists", decide: () => undefined } }); } });\n`,
    );
    const config = toml(`[s2s]\nhost_policy = [{host = "b.example", policy = "deny"}]\n[plugins]\npolicy = ["lists"]\n[plugins.lists]\nmodule = "./lists.js"\n[plugins.host_policy]\nenabled = false`, dir);
    assert.deepEqual(await pluginWarnings(config), []);
  });
});

describe("plugins' options.ts and the public API import each other", () => {
  // core/config/s2s-owners.ts imports each owner's options.ts, which imports core/index.ts: a cycle
  // that is safe only while neither side uses the other at module evaluation. Load each module
  // first, in a fresh process, so a top-level use fails here rather than in an operator's start-up.
  const entries = [
    "core/index.ts",
    "core/config/load.ts",
    ...builtinS2sOwners().map((o) => o.plugin),
  ];
  const files: Record<string, string> = {
    node_tls: "plugins/node_tls/options.ts",
    dialback: "plugins/dialback/options.ts",
    host_policy: "plugins/host_policy/options.ts",
    tcp: "plugins/tcp/options.ts",
    dns: "plugins/dns/options.ts",
  };
  for (const entry of entries) {
    const file = files[entry] ?? entry;
    it(`${file} loads first`, async () => {
      const url = pathToFileURL(join(ROOT, file)).href;
      const script = `await import(${JSON.stringify(url)}); const { parseConfig } = await import(${JSON.stringify(pathToFileURL(join(ROOT, "core/config/load.ts")).href)}); parseConfig('[general]\\nhosts = ["a.example"]\\n[s2s]\\nshared = "s"', { baseDir: "." }); console.log("ok");`;
      const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, timeout: 60_000 });
      assert.equal(stdout.trim(), "ok");
    });
  }
});
