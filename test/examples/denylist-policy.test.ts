/**
 * examples/denylist-policy loaded exactly as a user would: installed as a package in the app's
 * node_modules (by package name) or vendored next to the config (by path), named in `[plugins]`
 * of a TOML file, with two (three) real servers federating over 127.0.0.41-43.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkConfigFile, el, isConfigError, POLICY_CHAIN, type S2sEvent, type S2sServer } from "../../core/index.js";
import { connectComponent, loopbackToml, reservePorts, stanzaErrorCondition, startServer, waitFor, type TestComponent, type TestServer } from "../../testing/index.js";
import { UserApp } from "./user-app.js";

const PLUGIN_TOML = (module: string, extra = "") => `
[plugins]
policy = ["host_policy", "denylist"]

[plugins.denylist]
module = ${JSON.stringify(module)}
file = "denied.txt"
${extra}`;

describe("example plugin: denylist policy", () => {
  describe("rejects bad options", () => {
    let app: UserApp;
    let pkg: string;
    const base = loopbackToml({ hosts: ["a.example"], ip: "127.0.0.41", s2sPort: 5269 });

    before(() => {
      app = new UserApp();
      pkg = app.install("denylist-policy");
    });
    after(() => app?.remove());

    async function problemsOf(name: string, toml: string): Promise<readonly string[]> {
      const file = app.write(`${name}/s2s.toml`, toml);
      const err = await checkConfigFile(file).then(() => undefined, (e: unknown) => e);
      assert.ok(isConfigError(err), `expected a ConfigError, got ${String(err)}`);
      return err.problems;
    }

    it("a file that is not a string, a bad watch and an unknown key, each with its TOML path", async () => {
      const problems = await problemsOf("types", `${base}
[plugins]
policy = ["host_policy", "denylist"]

[plugins.denylist]
module = "${pkg}"
file = 1
watch = "yes"
wacth = false
`);
      assert.deepEqual([...problems].sort(), [
        `plugins.denylist.file: expected a path (got 1, expected a string)`,
        `plugins.denylist.wacth: unknown option (got false, expected file or watch; did you mean "watch"?)`,
        `plugins.denylist.watch: expected a boolean (got "yes", expected true or false)`,
      ]);
    });

    it("a missing file option", async () => {
      const problems = await problemsOf("missing-option", `${base}\n[plugins]\npolicy = ["host_policy", "denylist"]\n\n[plugins.denylist]\nmodule = "${pkg}"\n`);
      assert.deepEqual(problems, [`plugins.denylist.file: expected a path (got nothing, expected a string)`]);
    });

    it("a list that does not exist, relative to the config file's folder", async () => {
      const problems = await problemsOf("no-list", base + PLUGIN_TOML(pkg));
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /^plugins\.denylist\.file: cannot read the list \(got "denied\.txt", expected a readable file: ENOENT.*no-list\/denied\.txt/);
    });

    it("bad lines in the list, with their line numbers", async () => {
      app.write("bad-lines/denied.txt", "# spammers\ngood.example\nnot a domain\n*.wild.example  # no wildcards\n");
      const problems = await problemsOf("bad-lines", base + PLUGIN_TOML(pkg));
      assert.deepEqual(problems, [
        `plugins.denylist.file: denied.txt line 3: not a domain name (got "not a domain", expected one domain per line, # for comments)`,
        `plugins.denylist.file: denied.txt line 4: wildcards are not supported, domains match exactly (got "*.wild.example", expected one domain per line, # for comments)`,
      ]);
    });

    it("type-checks against the types xmpp-s2s publishes (JSDoc, tsc --checkJs)", async () => {
      app.vendor("denylist-policy", "typecheck/denylist-policy");
      await app.typecheck("typecheck/denylist-policy");
    });

    it("its own tests (npm test, written with xmpp-s2s/testing) pass", async () => {
      app.vendor("denylist-policy", "own-tests/denylist-policy");
      assert.match(await app.test("own-tests/denylist-policy"), /^# pass 3$/m);
    });

    it("start() refuses the same config (the running server and check-config agree)", async () => {
      const file = app.write("start/s2s.toml", `${base}\n[plugins.denylist]\nmodule = "${pkg}"\nfile = 1\n`);
      await assert.rejects(startServer(file), (err: unknown) => isConfigError(err) && err.problems.some((p) => p.startsWith("plugins.denylist.file: expected a path (got 1")));
    });
  });

  describe("two servers, denylist on A (by package name) and on C (by path)", () => {
    let app: UserApp;
    let a: S2sServer;
    let b: S2sServer;
    let c: S2sServer;
    let bot: TestComponent;
    let testA: TestServer;

    before(async () => {
      app = new UserApp();
      const pkg = app.install("denylist-policy");
      app.vendor("denylist-policy", "plugins/denylist-policy");
      const pa = await reservePorts("127.0.0.41");
      const pb = await reservePorts("127.0.0.42");
      const pc = await reservePorts("127.0.0.43");
      const atA = (host: string) => ({ host, ip: pa.ip, port: pa.s2sPort });
      const atB = (host: string) => ({ host, ip: pb.ip, port: pb.s2sPort });

      // A: the component's server. Every remote has an address, so a denied one could be reached: only policy stops it.
      app.write("a/denied.txt", "# remote domains A never federates with\nDENIED.example\nbücher.example   # IDNA: same as xn--bcher-kva.example\nfriend.example\n");
      app.write(
        "a/s2s.toml",
        loopbackToml({
          hosts: ["a.example"],
          ip: pa.ip,
          s2sPort: pa.s2sPort,
          servicePort: pa.servicePort,
          address: [atB("b.example"), atB("later.example"), atB("denied.example"), atB("xn--bcher-kva.example"), atB("friend.example"), { host: "c.example", ip: pc.ip, port: pc.s2sPort }],
        }) + `host_policy = [{ host = "friend.example", policy = "allow" }]\n` + PLUGIN_TOML(pkg),
      );
      // B: a plain peer hosting the domains A talks to.
      app.write("b/s2s.toml", loopbackToml({ hosts: ["b.example", "later.example", "denied.example", "friend.example"], ip: pb.ip, s2sPort: pb.s2sPort, address: [atA("a.example"), atA("bot.a.example")] }));
      // C: refuses A's component domain on the inbound side, with the plugin vendored next to its config.
      app.write("c/denied.txt", "Bot.A.Example\n");
      app.write("c/s2s.toml", loopbackToml({ hosts: ["c.example"], ip: pc.ip, s2sPort: pc.s2sPort, address: [atA("a.example"), atA("bot.a.example")] }) + PLUGIN_TOML("../plugins/denylist-policy/index.js"));

      b = (await startServer(app.path("b/s2s.toml"))).server;
      c = (await startServer(app.path("c/s2s.toml"))).server;
      testA = await startServer(app.path("a/s2s.toml"));
      a = testA.server;
      bot = await connectComponent({ host: pa.ip, port: pa.servicePort, domain: "bot.a.example", password: "secret" });
    });

    after(async () => {
      await bot?.stop();
      await a?.stop();
      await b?.stop();
      await c?.stop();
      app?.remove();
    });

    const decide = (remote: string) => a.container.resolve(POLICY_CHAIN).decide({ localDomain: "bot.a.example", remoteDomain: remote, direction: "outbound", via: "test" });

    it("loads under the names [plugins] gives it, in TOML order after host_policy", () => {
      assert.deepEqual(a.plugins?.slots.policy, ["host_policy", "denylist"]);
      assert.deepEqual(c.plugins?.slots.policy, ["host_policy", "denylist"]);
    });

    it("no opinion on an unlisted domain: the echo from echo@b.example comes back", async () => {
      await bot.send(el("message", { from: "u@bot.a.example", to: "echo@b.example", type: "chat", id: "ok1" }, undefined, el("body", {}, undefined, "hello")));
      const echo = await bot.next((s) => s.attrs.id === "ok1");
      assert.equal(echo.attrs.from, "echo@b.example");
      assert.equal(echo.getChildText("body"), "hello");
    });

    it("a listed domain (any case) gets service-unavailable without any connection", async () => {
      const seen: S2sEvent[] = [];
      const recording = a.events$.subscribe((e) => seen.push(e));
      const decision = waitFor(a.events$, (e) => e.type === "policy_decision" && e.remote === "denied.example");
      await bot.send(el("message", { from: "u@bot.a.example", to: "x@Denied.Example", id: "deny1" }, undefined, el("body", {}, undefined, "no")));
      const bounce = await bot.next((s) => s.attrs.id === "deny1");
      assert.equal(bounce.attrs.type, "error");
      assert.equal(stanzaErrorCondition(bounce), "service-unavailable");
      assert.deepEqual(await decision, { type: "policy_decision", local: "bot.a.example", remote: "denied.example", direction: "outbound", verdict: "deny", decidedBy: "denylist" });
      // The verdict comes before any lookup or connect, and the bounce after it: nothing reached the network.
      recording.unsubscribe();
      const attempts = seen.filter((e) => (e.type === "connected" || e.type === "connect_failed") && e.remote === "denied.example");
      assert.deepEqual(attempts, []);
    });

    it("matches after IDNA: bücher.example in the file denies xn--bcher-kva.example", async () => {
      await bot.send(el("message", { from: "u@bot.a.example", to: "x@xn--bcher-kva.example", id: "idna1" }, undefined, el("body", {}, undefined, "no")));
      const bounce = await bot.next((s) => s.attrs.id === "idna1");
      assert.equal(stanzaErrorCondition(bounce), "service-unavailable");
    });

    it("host_policy comes first: a domain it allows is not denied by the list", async () => {
      assert.equal(await decide("friend.example"), "allow");
      const decision = waitFor(a.events$, (e) => e.type === "policy_decision" && e.remote === "friend.example");
      await bot.send(el("message", { from: "u@bot.a.example", to: "echo@friend.example", id: "friend1" }, undefined, el("body", {}, undefined, "hi")));
      assert.equal((await bot.next((s) => s.attrs.id === "friend1")).getChildText("body"), "hi");
      assert.equal(((await decision) as { decidedBy: string }).decidedBy, "host_policy");
    });

    it("a domain appended to the file is denied from the next stanza on", async () => {
      assert.equal(await decide("later.example"), "allow");
      const reloaded = waitFor(testA.logs$, (l) => l.what === "denylist_loaded" && Array.isArray(l.added) && l.added.includes("later.example"), undefined, "denylist_loaded with later.example");
      app.append("a/denied.txt", "later.example\n");
      await reloaded;
      assert.equal(await decide("later.example"), "deny");
      await bot.send(el("message", { from: "u@bot.a.example", to: "echo@later.example", id: "later1" }, undefined, el("body", {}, undefined, "now?")));
      const bounce = await bot.next((s) => s.attrs.id === "later1");
      assert.equal(stanzaErrorCondition(bounce), "service-unavailable");
    });

    it("a broken file keeps the last good list; a fixed one applies", async () => {
      // Replaced by rename, as deployment tools and many editors do: the watch is on the folder, so it still sees the file.
      const failed = waitFor(testA.logs$, (l) => l.what === "denylist_reload_failed", undefined, "denylist_reload_failed");
      app.replace("a/denied.txt", "later.example\nnot a domain\n");
      const entry = await failed;
      assert.deepEqual(entry.problems, [`line 2: not a domain name (got "not a domain")`]);
      assert.equal(entry.kept, 4);
      assert.equal(await decide("denied.example"), "deny", "the last good list stays");

      const fixed = waitFor(testA.logs$, (l) => l.what === "denylist_loaded" && Array.isArray(l.removed) && l.removed.includes("denied.example"), undefined, "denylist_loaded without denied.example");
      app.replace("a/denied.txt", "later.example\n");
      await fixed;
      assert.equal(await decide("denied.example"), "allow");
      assert.equal(await decide("later.example"), "deny");
    });

    it("inbound: C refuses A's dialback for a listed domain; A's sender gets a bounce", async () => {
      const decision = waitFor(c.events$, (e) => e.type === "policy_decision" && e.direction === "inbound");
      await bot.send(el("message", { from: "u@bot.a.example", to: "echo@c.example", id: "in1" }, undefined, el("body", {}, undefined, "let me in")));
      const bounce = await bot.next((s) => s.attrs.id === "in1");
      assert.equal(bounce.attrs.type, "error");
      assert.equal(bounce.attrs.from, "echo@c.example");
      // A cannot tell a refusal from a broken peer beyond the stream error C sent; the text says which.
      assert.ok(stanzaErrorCondition(bounce), "a defined stanza error condition");
      assert.match(bounce.getChild("error")?.getChildText("text") ?? "", /invalid-from/);
      assert.deepEqual(await decision, { type: "policy_decision", local: "c.example", remote: "bot.a.example", direction: "inbound", verdict: "deny", decidedBy: "denylist" });
      assert.ok(!bot.received.some((s) => s.attrs.id === "in1" && s.attrs.type !== "error"), "nothing was delivered");
    });
  });
});
