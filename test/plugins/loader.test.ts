/**
 * The plugin loader reads `[plugins]`: which plugin fills each slot, which optional plugins are
 * on, their options, and third-party plugins from a file path (relative to the config file) or a
 * package name (resolved from the config file's folder). Every problem is a ConfigError line that
 * starts with the TOML path of what is wrong. Fixtures: test/plugins/fixtures/ (see its README).
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { DependencyContainer } from "tsyringe";
import { configFromObject, loadConfigFile, parseConfig } from "../../core/config/load.js";
import type { S2sConfig } from "../../core/config/types.js";
import { isConfigError } from "../../core/errors.js";
import { createLogger } from "../../core/logging/logger.js";
import type { LoadedPlugins } from "../../core/plugins/loader.js";
import { createServer, type S2sServer } from "../../core/server/server.js";
import { compose } from "../../core/server/compose.js";
import { systemClock } from "../../core/clock/clock.js";
import { EventBus } from "../../core/events/events.js";
import { LOCAL_DELIVERY, POLICY, POLICY_CHAIN, RESOLVER } from "../../core/tokens.js";
import { DnsSrvResolver } from "../../plugins/dns/dns-resolver.js";
import { freePort } from "../helpers/ports.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, "fixtures");
const ROOT = join(HERE, "../..");
const CERTS = join(ROOT, "config/examples/certs");

/** Load the plugins of `config` and build the core around them, by the composition `start()` uses (nothing started). */
async function load(config: S2sConfig): Promise<{ container: DependencyContainer; loaded: LoadedPlugins }> {
  const { container, plugins } = await compose({ config, logger: createLogger("silent"), clock: systemClock, events: new EventBus() }, "core");
  return { container, loaded: plugins };
}

/** A config from TOML text whose relative paths resolve against the fixtures folder. */
function toml(text: string, baseDir = FIXTURES): S2sConfig {
  return parseConfig(`[general]\nhosts = ["a.example"]\n${text}`, { baseDir });
}

/** The problem lines of the ConfigError that loading `config` throws (fails the test if it loads). */
async function problemsOf(config: S2sConfig): Promise<readonly string[]> {
  try {
    await load(config);
  } catch (err) {
    if (!isConfigError(err)) throw err;
    return err.problems;
  }
  assert.fail("plugins loaded without a ConfigError");
}

/** Assert that there is exactly one problem and that it starts with `path: `; return it. */
async function oneProblemAt(config: S2sConfig, path: string): Promise<string> {
  const problems = await problemsOf(config);
  assert.equal(problems.length, 1, `expected one problem, got:\n${problems.join("\n")}`);
  assert.ok(problems[0]!.startsWith(`${path}: `), `expected a problem at "${path}", got:\n${problems[0]}`);
  return problems[0]!;
}

function tomlFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".toml")).sort().map((f) => join(dir, f));
}

describe("plugin loader", () => {
  it("rejects bad options, each at plugins.<name>.<key>", async () => {
    const problems = await problemsOf(toml(`
[plugins.tcp]
queue_limit = 0

[plugins.dns]
servers = "x"

[plugins.deny_list]
module = "./deny-list.js"
domains = "bad.example"
`));
    assert.deepEqual(problems.map((p) => p.slice(0, p.indexOf(": "))).sort(), ["plugins.deny_list.domains", "plugins.dns.servers", "plugins.tcp.queue_limit"]);
    assert.match(problems.find((p) => p.startsWith("plugins.tcp.queue_limit: "))!, /\(got 0, expected /);
    assert.match(problems.find((p) => p.startsWith("plugins.dns.servers: "))!, /\(got "x", expected /);
  });

  it("rejects options given to a plugin that takes none", async () => {
    const line = await oneProblemAt(toml(`[plugins.echo]\ngreeting = "hi"`), "plugins.echo.greeting");
    assert.match(line, /unknown option \(got "hi", expected no options/);
  });

  it("rejects options of a built-in plugin that is not enabled (they would be ignored)", async () => {
    await oneProblemAt(toml(`[plugins.static_resolver]\nhosts = [{domain = "b.example", host = "127.0.0.2"}]`), "plugins.static_resolver");
    // Disabled on purpose, the options are kept without complaint.
    await load(toml(`[plugins.static_resolver]\nenabled = false\nhosts = [{domain = "b.example", host = "127.0.0.2"}]`));
  });

  it("names the slot of an unknown plugin, with a did-you-mean", async () => {
    const line = await oneProblemAt(toml(`[plugins]\nresolver = "dnss"`), "plugins.resolver");
    assert.match(line, /unknown plugin \(got "dnss",/);
    assert.match(line, /did you mean "dns"\?/);
    const inList = await oneProblemAt(toml(`[plugins]\npolicy = ["host_policy", "hots_policy"]`), "plugins.policy[1]");
    assert.match(inList, /did you mean "host_policy"\?/);
  });

  it("names an unknown [plugins.<name>] table, with a did-you-mean", async () => {
    const line = await oneProblemAt(toml(`[plugins.ecoh]\nenabled = true`), "plugins.ecoh");
    assert.match(line, /unknown plugin .*did you mean "echo"\?/);
  });

  it("rejects an unknown key in [plugins], with a did-you-mean", async () => {
    const line = await oneProblemAt(toml(`[plugins]\nresolvr = "dns"`), "plugins.resolvr");
    assert.match(line, /unknown key .*did you mean "resolver"\?/);
  });

  it("rejects a slot value of the wrong type", async () => {
    await oneProblemAt(toml(`[plugins]\nresolver = ["dns"]`), "plugins.resolver");
    await oneProblemAt(toml(`[plugins]\npolicy = "host_policy"`), "plugins.policy");
    await oneProblemAt(toml(`[plugins.echo]\nenabled = "no"`), "plugins.echo.enabled");
  });

  it("rejects two providers for a single slot", async () => {
    const line = await oneProblemAt(toml(`[plugins.static_resolver]\nenabled = true`), "plugins.resolver");
    assert.match(line, /two providers for a single slot \(got \["dns", "static_resolver"\]/);
  });

  it("accepts the other provider once the slot names it", async () => {
    const { container, loaded } = await load(toml(`[plugins]\nresolver = "static_resolver"\n[plugins.static_resolver]\nhosts = [{domain = "b.example", host = "127.0.0.2"}]`));
    assert.deepEqual(loaded.slots.resolver, ["static_resolver"]);
    assert.ok(!loaded.names.includes("dns"));
    assert.equal(container.resolveAll(RESOLVER).length, 1);
  });

  it("rejects a plugin whose requirement nobody provides", async () => {
    const line = await oneProblemAt(toml(`[plugins.needs_missing]\nmodule = "./needs-missing.js"`), "plugins.needs_missing");
    assert.match(line, /missing requirement \(got no provider for fixture\.NobodyProvidesThis/);
  });

  describe("requires is enforced, not advisory", () => {
    const undeclared = /^plugins\.resolves_undeclared: requires does not list xmpp-s2s\.Resolver, which the plugin resolves/;

    it("refuses a plugin resolving an undeclared plugin token at register time, naming its TOML path", async () => {
      const line = await oneProblemAt(toml(`[plugins.resolves_undeclared]\nmodule = "./resolves-undeclared.js"\nwhen = "register"`), "plugins.resolves_undeclared");
      assert.match(line, undeclared);
    });

    it("refuses it from a factory too: the token is not handed out", async () => {
      await assert.rejects(load(toml(`[plugins.resolves_undeclared]\nmodule = "./resolves-undeclared.js"`)), (err: unknown) => isConfigError(err) && undeclared.test(err.problems[0]!));
    });

    it("start() fails with the same ConfigError, before any listener opens", async () => {
      const port = await freePort("127.0.0.1");
      const server = createServer(toml(`[[listen.s2s]]\nport = ${port}\nip_address = "127.0.0.1"\n[plugins.resolves_undeclared]\nmodule = "./resolves-undeclared.js"`), { logLevel: "silent" });
      await assert.rejects(server.start(), (err: unknown) => isConfigError(err) && undeclared.test(err.problems[0]!));
      assert.deepEqual(server.s2sAddresses(), []);
    });

    it("accepts the same plugin once requires lists the token", async () => {
      // (Plugin tokens exist once every plugin has registered: resolved in a factory, not in register.)
      const { container } = await load(toml(`[plugins.resolves_declared]\nmodule = "./resolves-declared.js"`));
      const policy = container.resolveAll(POLICY).find((p) => p.name === "resolves_undeclared");
      assert.equal(policy?.decide({ localDomain: "a.example", remoteDomain: "b.example", direction: "inbound", via: "test" }), undefined, "it got the resolver");
    });
  });

  it("rejects a plugin that does not register what it declared", async () => {
    const line = await oneProblemAt(toml(`[plugins.declares_unregistered]\nmodule = "./declares-unregistered.js"`), "plugins.declares_unregistered");
    assert.match(line, /declares xmpp-s2s\.Policy but did not register it/);
  });

  it("rejects a plugin that registers what it did not declare", async () => {
    const line = await oneProblemAt(toml(`[plugins.registers_undeclared]\nmodule = "./registers-undeclared.js"`), "plugins.registers_undeclared");
    assert.match(line, /registered xmpp-s2s\.Resolver which its declaration does not list/);
  });

  it("rejects a module that cannot be loaded or is not a declaration, at plugins.<name>.module", async () => {
    const problems = await problemsOf(toml(`
[plugins.missing_file]
module = "./does-not-exist.js"

[plugins.no_declaration]
module = "./not-a-plugin.js"

[plugins.bad_module]
module = 42
`));
    assert.deepEqual(problems.map((p) => p.slice(0, p.indexOf(": "))), ["plugins.missing_file.module", "plugins.no_declaration.module", "plugins.bad_module.module"]);
    assert.match(problems[0]!, /cannot load plugin/);
    assert.match(problems[1]!, /not a plugin declaration/);
  });

  describe("enabled = false", () => {
    it("removes a default plugin (echo) from its slot", async () => {
      const { container, loaded } = await load(toml(`[plugins.echo]\nenabled = false`));
      assert.deepEqual(loaded.slots.local_delivery, ["components", "host_services"]);
      assert.ok(!loaded.names.includes("echo"));
      assert.equal(container.resolveAll(LOCAL_DELIVERY).length, 2);
    });

    it("contradicts a slot that names the plugin", async () => {
      const line = await oneProblemAt(toml(`[plugins]\nlocal_delivery = ["components", "echo", "host_services"]\n[plugins.echo]\nenabled = false`), "plugins.echo.enabled");
      assert.match(line, /plugin is disabled but plugins\.local_delivery names it/);
    });
  });

  describe("many-provider slots", () => {
    it("keep the explicit list order for policy (resolveAll order)", async () => {
      for (const order of [["second", "first", "host_policy"], ["first", "host_policy", "second"]]) {
        const { container, loaded } = await load(toml(`
[plugins]
policy = ${JSON.stringify(order)}

[plugins.first]
module = "./policy-first.js"

[plugins.second]
module = "./policy-second.js"
`));
        assert.deepEqual(loaded.slots.policy, order);
        assert.deepEqual(container.resolveAll(POLICY).map((p) => p.name), order);
      }
    });

    it("append an enabled third-party policy after the defaults when the list is not given", async () => {
      const { container, loaded } = await load(toml(`[plugins.deny_list]\nmodule = "./deny-list.js"\ndomains = ["bad.example"]`));
      assert.deepEqual(loaded.slots.policy, ["host_policy", "deny_list"]);
      assert.deepEqual(container.resolveAll(POLICY).map((p) => p.name), ["host_policy", "deny_list"]);
    });

    it("reject an enabled provider missing from an explicit list", async () => {
      const line = await oneProblemAt(toml(`[plugins]\npolicy = ["host_policy"]\n[plugins.first]\nmodule = "./policy-first.js"`), "plugins.policy");
      assert.match(line, /enabled plugin "first" provides xmpp-s2s\.Policy but is not listed/);
    });

    it("reject a name listed twice", async () => {
      await oneProblemAt(toml(`[plugins]\npolicy = ["host_policy", "host_policy"]`), "plugins.policy");
    });
  });

  describe("third-party plugins from a file path", () => {
    it("resolve the path against the config file's folder, not the working directory", async () => {
      const file = join(FIXTURES, "valid/deny-list.toml"); // module = "../deny-list.js"
      const config = loadConfigFile(relative(process.cwd(), file));
      const { container } = await load(config);
      const denyList = container.resolveAll(POLICY).find((p) => p.name === "deny_list");
      assert.ok(denyList, "deny_list policy not registered");
      assert.equal(await denyList.decide({ localDomain: "a.example", remoteDomain: "bad.example", direction: "inbound", via: "dialback" }), "deny");
      assert.equal(await denyList.decide({ localDomain: "a.example", remoteDomain: "good.example", direction: "inbound", via: "dialback" }), undefined);
    });

    it("resolve against baseDir for a config built from text or an object", async () => {
      const { loaded } = await load(toml(`[plugins.first]\nmodule = "./policy-first.js"`));
      assert.ok(loaded.names.includes("first"));
      const fromObject = configFromObject({ general: { hosts: ["a.example"] }, plugins: { first: { module: "./policy-first.js" } } }, { baseDir: FIXTURES });
      assert.ok((await load(fromObject)).loaded.names.includes("first"));
      // The same relative path from another folder does not find the file.
      await oneProblemAt(toml(`[plugins.first]\nmodule = "./policy-first.js"`, ROOT), "plugins.first.module");
    });

    it("accept an absolute path", async () => {
      const { loaded } = await load(toml(`[plugins.first]\nmodule = ${JSON.stringify(join(FIXTURES, "policy-first.js"))}`, ROOT));
      assert.ok(loaded.names.includes("first"));
    });
  });

  describe("third-party plugins from a package name", () => {
    // .gitignore ignores node_modules/, so the packages live in fixtures/packages/ and are
    // installed into a temporary config folder's node_modules/ here.
    let dir: string;
    let elsewhere: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-plugins-"));
      cpSync(join(FIXTURES, "packages"), join(dir, "node_modules"), { recursive: true });
      elsewhere = mkdtempSync(join(tmpdir(), "xmpp-s2s-no-plugins-"));
    });
    after(() => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(elsewhere, { recursive: true, force: true });
    });

    const PACKAGES = `
[plugins.friends]
module = "xmpp-s2s-fixture-policy"

[plugins.foes]
module = "@fixture/esm-only-policy"
`;

    it("resolve from the config file's folder (node_modules next to the config)", async () => {
      writeFileSync(join(dir, "s2s.toml"), `[general]\nhosts = ["a.example"]\n${PACKAGES}`);
      const { container, loaded } = await load(loadConfigFile(join(dir, "s2s.toml")));
      assert.deepEqual(loaded.slots.policy, ["host_policy", "friends", "foes"]);
      const policies = container.resolveAll(POLICY);
      assert.deepEqual(policies.map((p) => p.name), ["host_policy", "fixture_package_policy", "esm_only_policy"]);
      const ask = (remoteDomain: string) => Promise.all(policies.slice(1).map((p) => p.decide({ localDomain: "a.example", remoteDomain, direction: "inbound", via: "dialback" })));
      assert.deepEqual(await ask("friend.example"), ["allow", undefined]);
      assert.deepEqual(await ask("foe.example"), [undefined, "deny"]);
    });

    it("resolve from a sub-folder of the folder holding node_modules", async () => {
      mkdirSync(join(dir, "conf.d"), { recursive: true });
      writeFileSync(join(dir, "conf.d/s2s.toml"), `[general]\nhosts = ["a.example"]\n${PACKAGES}`);
      const { loaded } = await load(loadConfigFile(join(dir, "conf.d/s2s.toml")));
      assert.deepEqual(loaded.slots.policy, ["host_policy", "friends", "foes"]);
    });

    it("report a package that is not installed where the config is, at plugins.<name>.module", async () => {
      writeFileSync(join(elsewhere, "s2s.toml"), `[general]\nhosts = ["a.example"]\n${PACKAGES}`);
      const problems = await problemsOf(loadConfigFile(join(elsewhere, "s2s.toml")));
      assert.deepEqual(problems.map((p) => p.slice(0, p.indexOf(": "))), ["plugins.friends.module", "plugins.foes.module"]);
      for (const p of problems) assert.match(p, /cannot load plugin/);
    });
  });

  describe("fixture files", () => {
    for (const file of tomlFiles(join(FIXTURES, "valid"))) {
      it(`valid/${basename(file)} loads`, async () => {
        await load(loadConfigFile(file));
      });
    }
    for (const file of tomlFiles(join(FIXTURES, "invalid"))) {
      it(`invalid/${basename(file)} reports exactly its # expect: lines`, async () => {
        const expects = [...readFileSync(file, "utf8").matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]!.trim());
        assert.ok(expects.length > 0, "fixture has no # expect: line");
        const problems = await problemsOf(loadConfigFile(file));
        for (const prefix of expects) assert.ok(problems.some((p) => p.startsWith(prefix)), `no problem starting with "${prefix}" in:\n${problems.join("\n")}`);
        for (const p of problems) assert.ok(expects.some((prefix) => p.startsWith(prefix)), `unexpected problem: ${p}`);
      });
    }
  });

  describe("a MongooseIM [s2s] section with no [plugins]", () => {
    let server: S2sServer;
    before(async () => {
      const ip = "127.0.0.45";
      const port = await freePort(ip);
      const config = parseConfig(`
[general]
hosts = ["a.example"]

[[listen.s2s]]
port = ${port}
ip_address = "${ip}"

[s2s]
default_policy = "deny"
host_policy = [{host = "good.example", policy = "allow"}, {host = "bad.example", policy = "deny"}]
use_starttls = "optional"
certfile = "a.example.pem"
shared = "82gc8b23ct7824"
address = [{host = "good.example", ip_address = "192.0.2.1", port = 5271}]
max_retry_delay = 300
outgoing.port = 5270
outgoing.ip_versions = [4]
outgoing.connection_timeout = 5000
dns.timeout = 30
dns.retries = 1
`, { baseDir: CERTS });
      assert.deepEqual(config.plugins, {});
      server = createServer(config, { logger: createLogger("silent") });
      await server.start();
    });
    after(async () => {
      await server?.stop();
    });

    it("fills every slot with its default plugin", () => {
      assert.deepEqual(server.plugins?.slots, {
        stream: ["saxes"],
        resolver: ["dns"],
        connector: ["tcp"],
        tls: ["node_tls"],
        policy: ["host_policy"],
        authenticators: ["sasl_external", "dialback"],
        local_delivery: ["components", "echo", "host_services"],
        sm: ["stream_management"],
      });
      assert.ok(server.container.resolve(RESOLVER) instanceof DnsSrvResolver);
    });

    it("hands the [s2s] options to the plugins of their slots (host_policy, then default_policy)", async () => {
      const chain = server.container.resolve(POLICY_CHAIN);
      const decide = (remoteDomain: string) => chain.decide({ localDomain: "a.example", remoteDomain, direction: "inbound", via: "dialback" });
      assert.equal(await decide("good.example"), "allow");
      assert.equal(await decide("bad.example"), "deny");
      assert.equal(await decide("other.example"), "deny");
    });
  });
});

import { loadPluginsFor } from "../helpers/plugins.js";

describe("plugin loader: slots and plugins of the same name", () => {
  it("authenticators = [\"sasl_external\"] turns dialback off; dialback is an authenticator, not a slot", async () => {
    const { configFromObject } = await import("../../core/config/load.js");
    const cfg = configFromObject({ general: { hosts: ["a.example"] }, plugins: { authenticators: ["sasl_external"] } }, { baseDir: process.cwd() });
    const loaded = await loadPluginsFor(cfg);
    assert.deepEqual(loaded.slots.authenticators, ["sasl_external"]);
    assert.ok(!loaded.names.includes("dialback"));
    const slot = configFromObject({ general: { hosts: ["a.example"] }, plugins: { dialback: "dialback" } }, { baseDir: process.cwd() });
    await assert.rejects(loadPluginsFor(slot), (err: unknown) => isConfigError(err) && /^plugins\.dialback: unknown key \(got "dialback", expected a slot/.test(err.problems[0]!));
  });
});
