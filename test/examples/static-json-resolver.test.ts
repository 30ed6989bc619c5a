/**
 * examples/static-json-resolver loaded exactly as a user would: `[plugins] resolver = "static_json"`
 * and a `[plugins.static_json]` table naming the package (installed in the app's node_modules) or
 * a path (vendored next to the config). Two real servers on 127.0.0.44-45.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkConfigFile, el, isConfigError, RESOLVER, type S2sEvent, type S2sServer } from "../../core/index.js";
import { connectComponent, freePort, loopbackToml, reservePorts, stanzaErrorCondition, startServer, waitFor, type TestComponent, type TestServer } from "../../testing/index.js";
import { UserApp } from "./user-app.js";

const PLUGIN_TOML = (module: string, file = "hosts.json") => `
[plugins]
resolver = "static_json"

[plugins.static_json]
module = ${JSON.stringify(module)}
file = ${JSON.stringify(file)}
`;

describe("example plugin: static JSON resolver", () => {
  describe("rejects bad options", () => {
    let app: UserApp;
    let pkg: string;
    const base = loopbackToml({ hosts: ["a.example"], ip: "127.0.0.44", s2sPort: 5269 });

    before(() => {
      app = new UserApp();
      pkg = app.install("static-json-resolver");
    });
    after(() => app?.remove());

    async function problemsOf(name: string, toml: string): Promise<readonly string[]> {
      const file = app.write(`${name}/s2s.toml`, toml);
      const err = await checkConfigFile(file).then(() => undefined, (e: unknown) => e);
      assert.ok(isConfigError(err), `expected a ConfigError, got ${String(err)}`);
      return err.problems;
    }

    it("a file that is not a string and an unknown key, with their TOML paths", async () => {
      const problems = await problemsOf("types", `${base}\n[plugins]\nresolver = "static_json"\n\n[plugins.static_json]\nmodule = "${pkg}"\nfile = 1\nfiles = "x.json"\n`);
      assert.deepEqual(problems, [
        `plugins.static_json.files: unknown option (got "x.json", expected file; did you mean "file"?)`,
        `plugins.static_json.file: expected a path (got 1, expected a string)`,
      ]);
    });

    it("a missing file option, and a file that does not exist", async () => {
      assert.deepEqual(await problemsOf("no-option", `${base}\n[plugins]\nresolver = "static_json"\n\n[plugins.static_json]\nmodule = "${pkg}"\n`), [
        `plugins.static_json.file: expected a path (got nothing, expected a string)`,
      ]);
      const [missing, ...rest] = await problemsOf("no-file", base + PLUGIN_TOML(pkg));
      assert.deepEqual(rest, []);
      assert.match(missing!, /^plugins\.static_json\.file: cannot read the file \(got "hosts\.json", expected a readable JSON file: ENOENT/);
    });

    it("JSON that does not parse", async () => {
      app.write("syntax/hosts.json", `{ "b.example": [ { "host": "127.0.0.2", } ] }`);
      const [problem, ...rest] = await problemsOf("syntax", base + PLUGIN_TOML(pkg));
      assert.deepEqual(rest, []);
      assert.match(problem!, /^plugins\.static_json\.file: not valid JSON \(got "hosts\.json", expected a readable JSON file: /);
    });

    it("every bad entry, with its place in the file", async () => {
      app.write("entries/hosts.json", JSON.stringify({ "b.example": [{ host: "127.0.0.2", port: 0 }, { hots: "127.0.0.3", tls: "yes" }], "c.example": { host: "127.0.0.4" }, "not a domain": [] }));
      const problems = await problemsOf("entries", base + PLUGIN_TOML(pkg));
      assert.deepEqual(problems, [
        `plugins.static_json.file: "b.example"[0].port in hosts.json: expected a port number (got 0, expected an integer 1-65535)`,
        `plugins.static_json.file: "b.example"[1].hots in hosts.json: unknown key (got "127.0.0.3", expected host, port, tls; did you mean "host"?)`,
        `plugins.static_json.file: "b.example"[1].host in hosts.json: expected an IP address or host name (got nothing, expected a string such as "127.0.0.2")`,
        `plugins.static_json.file: "b.example"[1].tls in hosts.json: expected a boolean (got "yes", expected true (XEP-0368 direct TLS) or false)`,
        `plugins.static_json.file: "c.example" in hosts.json: expected a list of targets (got {"host":"127.0.0.4"}, expected [{ "host": "127.0.0.2", "port": 5269 }])`,
        `plugins.static_json.file: "not a domain" in hosts.json: not a domain name (got "not a domain", expected a domain such as "b.example")`,
      ]);
    });

    it("type-checks against the types xmpp-s2s publishes (JSDoc, tsc --checkJs)", async () => {
      app.vendor("static-json-resolver", "typecheck/static-json-resolver");
      await app.typecheck("typecheck/static-json-resolver");
    });

    it("its own tests (npm test, written with xmpp-s2s/testing) pass", async () => {
      app.vendor("static-json-resolver", "own-tests/static-json-resolver");
      assert.match(await app.test("own-tests/static-json-resolver"), /^# pass 2$/m);
    });

    it("a second resolver for the single slot is refused by the loader", async () => {
      app.write("two/hosts.json", "{}");
      const problems = await problemsOf("two", `${base}\n[plugins]\nresolver = "static_json"\n\n[plugins.static_json]\nmodule = "${pkg}"\nfile = "hosts.json"\n\n[plugins.dns]\nenabled = true\n`);
      assert.ok(problems.some((p) => p.startsWith("plugins.resolver: two providers for a single slot")), problems.join("\n"));
    });
  });

  describe("A resolves through a JSON file (loaded by path), B is a plain peer", () => {
    let app: UserApp;
    let a: S2sServer;
    let b: S2sServer;
    let bot: TestComponent;
    let deadPort: number;
    let testA: TestServer;

    before(async () => {
      app = new UserApp();
      app.vendor("static-json-resolver", "plugins/static-json-resolver");
      const pa = await reservePorts("127.0.0.44");
      const pb = await reservePorts("127.0.0.45");
      deadPort = await freePort("127.0.0.46");
      const atA = (host: string) => ({ host, ip: pa.ip, port: pa.s2sPort });
      app.write(
        "a/hosts.json",
        JSON.stringify(
          {
            // Tried in order: nobody listens on the first, B on the second.
            "B.Example": [{ host: "127.0.0.46", port: deadPort }, { host: pb.ip, port: pb.s2sPort }],
            // s2s.address wins over the file: this entry leads nowhere.
            "override.example": [{ host: "127.0.0.46", port: deadPort }],
          },
          null,
          2,
        ),
      );
      // No s2s.address for b.example: only the JSON file can say where it is.
      app.write("a/s2s.toml", loopbackToml({ hosts: ["a.example"], ip: pa.ip, s2sPort: pa.s2sPort, servicePort: pa.servicePort, address: [{ host: "override.example", ip: pb.ip, port: pb.s2sPort }] }) + PLUGIN_TOML("../plugins/static-json-resolver/index.js"));
      app.write("b/s2s.toml", loopbackToml({ hosts: ["b.example", "override.example"], ip: pb.ip, s2sPort: pb.s2sPort, address: [atA("a.example"), atA("bot.a.example")] }));
      b = (await startServer(app.path("b/s2s.toml"))).server;
      testA = await startServer(app.path("a/s2s.toml"));
      a = testA.server;
      bot = await connectComponent({ host: pa.ip, port: pa.servicePort, domain: "bot.a.example", password: "secret" });
    });

    after(async () => {
      await bot?.stop();
      await a?.stop();
      await b?.stop();
      app?.remove();
    });

    it("fills the resolver slot instead of DNS", async () => {
      assert.deepEqual(a.plugins?.slots.resolver, ["static_json"]);
      assert.ok(!a.plugins?.names.includes("dns"));
      const loaded = await waitFor(testA.logs$, (l) => l.what === "static_json_loaded", undefined, "static_json_loaded");
      assert.equal(loaded.domains, 2);
    });

    it("the component on A gets the echo from echo@b.example, past a dead first target", async () => {
      const seen: S2sEvent[] = [];
      const recording = a.events$.subscribe((e) => seen.push(e));
      await bot.send(el("message", { from: "alice@bot.a.example/r", to: "echo@b.example", type: "chat", id: "m1" }, undefined, el("body", {}, undefined, "via JSON ✓")));
      const echo = await bot.next((s) => s.attrs.id === "m1");
      assert.equal(echo.attrs.from, "echo@b.example");
      assert.equal(echo.getChildText("body"), "via JSON ✓");
      recording.unsubscribe();
      const attempts = seen.filter((e) => (e.type === "connect_failed" || e.type === "connected") && e.remote === "b.example").map((e) => `${e.type} ${(e as { target?: string }).target}`);
      assert.deepEqual(attempts, [`connect_failed 127.0.0.46:${deadPort}`, `connected 127.0.0.45:${b.s2sAddresses()[0]!.port}`]);
    });

    it("s2s.address comes first (the core applies it before the resolver); unknown domains have no targets", async () => {
      const resolver = a.container.resolve(RESOLVER);
      // The plugin itself answers from its file (a dead port); the message below still reaches B,
      // because the core applied s2s.address before asking it.
      assert.deepEqual((await resolver.resolve("override.example")).map((t) => t.host), ["127.0.0.46"], "the plugin itself knows only its file");
      assert.deepEqual(await resolver.resolve("unknown.example"), []);
      await bot.send(el("message", { from: "alice@bot.a.example", to: "echo@override.example", id: "o1" }, undefined, el("body", {}, undefined, "override")));
      assert.equal((await bot.next((s) => s.attrs.id === "o1")).getChildText("body"), "override");
    });

    it("a domain the file does not list bounces remote-server-not-found at once", async () => {
      await bot.send(el("message", { from: "alice@bot.a.example", to: "x@unknown.example", id: "u1" }, undefined, el("body", {}, undefined, "anyone?")));
      const bounce = await bot.next((s) => s.attrs.id === "u1");
      assert.equal(bounce.attrs.type, "error");
      assert.equal(stanzaErrorCondition(bounce), "remote-server-not-found");
    });
  });
});
