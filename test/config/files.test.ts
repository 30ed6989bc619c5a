/**
 * Whole configuration files: the shipped config/ files (so the examples cannot rot), the fixtures
 * under test/config/fixtures/ (each invalid one names its expected problems in `# expect:` lines),
 * and loadConfigFile's own behaviour.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { isConfigError } from "../../core/errors.js";
import { loadConfigFile, parseConfig } from "../../core/config/load.js";
import { ALL_OPTIONS } from "./options.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const FIXTURES = join(ROOT, "test/config/fixtures");

function tomlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".toml"))
    .sort()
    .map((f) => join(dir, f));
}

describe("shipped config/**/*.toml files are valid", () => {
  const files = tomlFiles(join(ROOT, "config"));
  it("finds the default and every example", () => {
    const names = files.map((f) => relative(ROOT, f));
    for (const expected of [
      "config/s2s.toml", "config/examples/plain.toml", "config/examples/starttls-optional.toml", "config/examples/starttls-required.toml",
      "config/examples/required-trusted.toml", "config/examples/domain-certfile.toml", "config/examples/components.toml",
      "config/examples/policy.toml", "config/examples/direct-tls.toml", "config/examples/operations.toml",
    ]) {
      assert.ok(names.includes(expected), `missing ${expected}`);
    }
  });
  for (const file of files) {
    it(relative(ROOT, file), () => {
      const config = loadConfigFile(file);
      assert.equal(config.file, file);
      assert.ok(config.general.hosts.length > 0);
    });
  }

  it("config/s2s.toml is the documented embedded default", () => {
    const c = loadConfigFile(join(ROOT, "config/s2s.toml"));
    assert.deepEqual(c.general.hosts, ["localhost"]);
    assert.deepEqual(c.listen.s2s.map((l) => [l.ipAddress, l.port]), [["127.0.0.1", 5269]]);
    assert.equal(c.s2s.useStarttls, "false");
    assert.deepEqual(c.plugins, {});
  });
});

describe("valid fixtures", () => {
  for (const file of tomlFiles(join(FIXTURES, "valid"))) {
    it(basename(file), () => {
      loadConfigFile(file);
    });
  }

  it("every-option.toml normalises every value", () => {
    const c = loadConfigFile(join(FIXTURES, "valid/every-option.toml"));
    const certs = join(ROOT, "config/examples/certs");
    assert.deepEqual(c.listen.s2s, [
      {
        port: 5269, ipAddress: "127.0.0.1", maxStanzaSize: 131072, directTls: false, negotiationTimeoutMs: 10000, idleTimeoutMs: Infinity,
        maxConnections: 5000, maxConnectionsPerIp: 500, shaper: { name: "fast", maxRate: 50000 },
      },
      { port: 5270, ipAddress: "::1", maxStanzaSize: 65536, directTls: true, negotiationTimeoutMs: 30000, idleTimeoutMs: 600000, maxConnections: 10000, maxConnectionsPerIp: 100 },
    ]);
    assert.deepEqual(c.listen.service, [
      {
        port: 8888, ipAddress: "127.0.0.1", maxStanzaSize: Infinity, negotiationTimeoutMs: 5000, idleTimeoutMs: 300000,
        password: "secret", conflictBehaviour: "kick_old", checkFrom: false, shaper: { name: "normal", maxRate: 1000 },
      },
    ]);
    assert.deepEqual(c.s2s, {
      defaultPolicy: "deny",
      hostPolicy: [{ host: "c.example", policy: "allow" }, { host: "d.example", policy: "deny" }],
      useStarttls: "required_trusted",
      certfile: join(certs, "a.example.pem"),
      domainCertfile: [{ domain: "b.example", certfile: join(certs, "b.example.pem") }],
      cacertfile: join(certs, "ca.pem"),
      shared: "dialback-secret",
      sharedSecrets: ["dialback-secret"],
      address: [
        { host: "c.example", ipAddress: "127.0.0.3", port: 5270, tls: true },
        { host: "e.example", ipAddress: "::1", tls: false },
      ],
      ciphers: "TLSv1.2",
      maxRetryDelayMs: 60000,
      outgoing: { port: 5299, ipVersions: [6, 4], connectionTimeoutMs: 2500, maxStanzaSize: 65536 },
      dns: { timeoutMs: 3000, retries: 4 },
    });
    assert.deepEqual(c.plugins, { echo: { enabled: true } });
  });

  it("sub-tables.toml: [s2s.outgoing] equals outgoing.* keys", () => {
    const c = loadConfigFile(join(FIXTURES, "valid/sub-tables.toml"));
    assert.deepEqual(c.s2s.outgoing, { port: 5270, ipVersions: [4, 6], connectionTimeoutMs: Infinity, maxStanzaSize: 65536 });
    assert.deepEqual(c.s2s.dns, { timeoutMs: 5000, retries: 2 });
  });
});

describe("invalid fixtures report exactly their # expect: lines", () => {
  for (const file of tomlFiles(join(FIXTURES, "invalid"))) {
    it(basename(file), () => {
      const text = readFileSync(file, "utf8");
      const expects = [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]!.trim());
      assert.ok(expects.length > 0, "fixture has no # expect: line");
      let problems: readonly string[] = [];
      try {
        parseConfig(text, { file: basename(file), baseDir: dirname(file) });
        assert.fail("fixture parsed without error");
      } catch (err) {
        if (!isConfigError(err)) throw err;
        problems = err.problems;
      }
      for (const prefix of expects) {
        assert.ok(problems.some((p) => p.startsWith(prefix)), `no problem starting with "${prefix}" in:\n${problems.join("\n")}`);
      }
      for (const p of problems) {
        assert.ok(expects.some((prefix) => p.startsWith(prefix)), `unexpected problem: ${p}`);
      }
    });
  }
});

describe("loadConfigFile", () => {
  it("reports an unreadable file as a ConfigError naming the path", () => {
    assert.throws(
      () => loadConfigFile("test/config/fixtures/does-not-exist.toml"),
      (err: unknown) => {
        assert.ok(isConfigError(err));
        assert.match(err.problems[0]!, /^test\/config\/fixtures\/does-not-exist\.toml: cannot read file \(.*ENOENT/);
        return true;
      },
    );
  });

  it("reports a folder as unreadable", () => {
    assert.throws(() => loadConfigFile(FIXTURES), (err: unknown) => isConfigError(err) && /cannot read file \(.*EISDIR/.test(err.problems[0]!));
  });

  it("resolves relative paths in the file against the file's folder, not the working directory", () => {
    const c = loadConfigFile(relative(process.cwd(), join(ROOT, "config/examples/starttls-optional.toml")));
    assert.equal(c.baseDir, join(ROOT, "config/examples"));
    assert.equal(c.s2s.certfile, join(ROOT, "config/examples/certs/a.example.pem"));
  });
});

describe("docs/configuration.md", () => {
  const doc = readFileSync(join(ROOT, "docs/configuration.md"), "utf8");
  const headings = [...doc.matchAll(/^### (.+)$/gm)].map((m) => m[1]!.trim());

  /** `### s2s.dns.timeout`, or a grouped heading `### listen.service.shaper, num_acceptors, ...`. */
  function documented(option: string): boolean {
    if (headings.includes(option)) return true;
    const cut = option.lastIndexOf(".");
    const [prefix, leaf] = [option.slice(0, cut + 1), option.slice(cut + 1)];
    return headings.some((h) => h.startsWith(prefix) && h.slice(prefix.length).split(/,\s*/).includes(leaf));
  }

  for (const option of ALL_OPTIONS.filter((o) => o !== "plugins")) {
    it(`documents ${option}`, () => assert.ok(documented(option), `no "### ${option}" heading`));
  }

  it("keeps the [plugins] placeholder and the validation section", () => {
    assert.match(doc, /^## \[plugins\]$/m);
    assert.match(doc, /^## Validation and error format$/m);
  });
});
