/**
 * The package as a user gets it: `npm pack` of this repository, `npm install ./xmpp-s2s-<v>.tgz`
 * into an empty folder, then, from that folder only: the README embedding snippet (compiled with
 * `strict` and run), a third-party TypeScript plugin importing "xmpp-s2s" (compiled with `strict`,
 * loaded through TOML by that snippet and by the installed CLI), and the test kit
 * `xmpp-s2s/testing`. The dependencies come from the npm cache (`--prefer-offline`) or the registry.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensureBuilt, ROOT } from "../helpers/build.js";
import { freePort } from "../helpers/ports.js";

const IP = "127.0.0.49";
/** npm install of ~20 packages from the cache takes seconds; a cold cache over a slow network, longer. */
const INSTALL_MS = 300_000;
const RUN_MS = 60_000;

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function exec(file: string, args: readonly string[], cwd: string, timeout = RUN_MS): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: `${e.stderr ?? ""}\n${e.message}` };
  }
}

function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The ```ts block after `<!-- embedding snippet -->` in README.md. */
function readmeSnippet(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf("<!-- embedding snippet -->");
  assert.notEqual(at, -1, "README.md has no <!-- embedding snippet --> marker");
  const block = /^```ts\n([\s\S]*?)^```$/m.exec(readme.slice(at));
  assert.ok(block, "no ```ts block after the marker");
  return block[1]!;
}

const STRICT = { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", skipLibCheck: true, types: ["node"] };

describe("the packed package, installed into an empty project", () => {
  let work: string;
  let app: string;
  let port: number;
  const tsc = (project: string) => exec(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", project], app, RUN_MS * 2);

  before(async () => {
    ensureBuilt();
    work = mkdtempSync(join(tmpdir(), "xmpp-s2s-package-"));
    app = join(work, "app");
    mkdirSync(app);
    // --ignore-scripts: `prepare` would rebuild dist/ (ensureBuilt/npm test did) under tests running in parallel.
    ok(await exec("npm", ["pack", "--ignore-scripts", "--pack-destination", work], ROOT, RUN_MS * 2), "npm pack");
    const tarball = readdirSync(work).find((f) => /^xmpp-s2s-.*\.tgz$/.test(f));
    assert.ok(tarball, "npm pack wrote no tarball");
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "my-xmpp-app", version: "1.0.0", private: true, type: "module" }, null, 2));
    ok(await exec("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(work, tarball)], app, INSTALL_MS), "npm install of the tarball");
    // The user's own dev tools: this repository's TypeScript compiler and @types/node.
    symlinkSync(join(ROOT, "node_modules/@types"), join(app, "node_modules/@types"), "dir");

    port = await freePort(IP);
    // The third-party plugin, in TypeScript, in its own folder of the project.
    const plugin = join(app, "plugins/deny-listed");
    mkdirSync(plugin, { recursive: true });
    cpSync(join(ROOT, "test/types/fixtures/natural-ts/index.ts"), join(plugin, "index.ts"));
    writeFileSync(join(plugin, "package.json"), JSON.stringify({ name: "deny-listed", version: "1.0.0", private: true, type: "module" }));
    writeFileSync(join(plugin, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...STRICT, outDir: "dist", rootDir: "." }, files: ["index.ts"] }));
    writeFileSync(
      join(app, "s2s.toml"),
      `[general]\nhosts = ["a.example"]\n\n[[listen.s2s]]\nport = ${port}\nip_address = "${IP}"\n\n[s2s]\nuse_starttls = "false"\nshared = "package-test"\n\n` +
        `[plugins]\npolicy = ["host_policy", "deny_listed"]\n\n[plugins.deny_listed]\nmodule = "./plugins/deny-listed/dist/index.js"\ndeny = ["b.example"]\n`,
    );
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("ships the built code, docs and examples, not the tests, benches or sources", () => {
    const pkg = join(app, "node_modules/xmpp-s2s");
    for (const file of ["package.json", "README.md", "dist/core/index.js", "dist/core/index.d.ts", "dist/testing/index.js", "dist/bin/xmpp-s2s.js", "docs/writing-a-plugin.md", "examples/denylist-policy/index.js"]) {
      assert.ok(existsSync(join(pkg, file)), `${file} missing from the package`);
    }
    for (const absent of ["test", "bench", "core", "tsconfig.json", "dist/core/index.js.map", "config/examples/certs/a.example.pem"]) {
      assert.ok(!existsSync(join(pkg, absent)), `${absent} should not be in the package`);
    }
  });

  it("the installed CLI: --version, and check-config loads the TypeScript plugin through TOML", async () => {
    ok(await tsc("plugins/deny-listed/tsconfig.json"), "tsc (strict) of the plugin");
    const bin = join(app, "node_modules/.bin/xmpp-s2s");
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    assert.equal(ok(await exec(bin, ["--version"], app), "xmpp-s2s --version").stdout, `${version}\n`);
    assert.match(ok(await exec(bin, ["check-config", "s2s.toml"], app), "xmpp-s2s check-config").stdout, /s2s\.toml: configuration is valid/);
    // The plugin's own option check runs too: a bad value is reported with its TOML path.
    writeFileSync(join(app, "bad.toml"), readFileSync(join(app, "s2s.toml"), "utf8").replace('deny = ["b.example"]', "deny = 1"));
    const bad = await exec(bin, ["check-config", "bad.toml"], app);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^plugins\.deny_listed\.deny: expected a list of domains \(got 1\)$/m);
  });

  it("the README embedding snippet compiles under strict and runs as shown, with the plugin deciding", async () => {
    if (!existsSync(join(app, "plugins/deny-listed/dist/index.js"))) ok(await tsc("plugins/deny-listed/tsconfig.json"), "tsc (strict) of the plugin");
    writeFileSync(join(app, "main.ts"), readmeSnippet());
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...STRICT, outDir: "out", rootDir: "." }, files: ["main.ts"] }));
    ok(await tsc("tsconfig.json"), "tsc (strict) of the README snippet");
    const run = ok(await exec(process.execPath, ["out/main.js"], app), "node out/main.js");
    // The snippet prints each event's type; its message to echo@b.example is refused by the plugin.
    const lines = run.stdout.split("\n");
    assert.ok(lines.includes("policy_decision"), run.stdout);
    const log = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { what?: string; plugin?: string; domains?: number });
    assert.ok(log.some((l) => l.what === "deny_listed_loaded" && l.plugin === "deny_listed" && l.domains === 1), run.stdout);
    assert.ok(log.some((l) => l.what === "stopped"), run.stdout);
  });

  it("xmpp-s2s/testing: a server from TOML, a component, the echo, waitFor by what", async () => {
    const [s2sPort, servicePort] = [await freePort(IP), await freePort(IP)];
    writeFileSync(
      join(app, "kit.mjs"),
      `import { el } from "xmpp-s2s";
import { connectComponent, loopbackToml, startServer } from "xmpp-s2s/testing";
import { writeFileSync } from "node:fs";

writeFileSync("kit.toml", loopbackToml({ hosts: ["a.example"], ip: ${JSON.stringify(IP)}, s2sPort: ${s2sPort}, servicePort: ${servicePort} }));
const a = await startServer("kit.toml");
await a.waitFor("started");
const bot = await connectComponent({ host: ${JSON.stringify(IP)}, port: ${servicePort}, domain: "bot.a.example", password: "secret" });
bot.send(el("message", { from: "u@bot.a.example", to: "echo@a.example", id: "k1" }, undefined, el("body", {}, undefined, "kit")));
const echo = await bot.next((s) => s.attr("id") === "k1");
console.log(echo.attr("from"), echo.getChildText("body"));
await bot.stop();
await a.stop();
`,
    );
    const run = ok(await exec(process.execPath, ["kit.mjs"], app), "node kit.mjs");
    assert.equal(run.stdout, "echo@a.example kit\n");
  });
});
