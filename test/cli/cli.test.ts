/**
 * The `xmpp-s2s` command as operators run it (README "CLI"): the built
 * dist/bin/xmpp-s2s.js in a child process. `check-config` exit codes and problem lines on every
 * shipped and fixture config; `start` refusing bad input before opening a socket; a running
 * server answering a stream header, logging JSON lines with `what`, and shutting down on SIGTERM
 * with `system-shutdown` to open streams.
 */
import { ensureBuilt } from "../helpers/build.js";
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../helpers/ports.js";
import { parseStream, RawPeer, streamHeader } from "../helpers/raw-peer.js";
import { BIN, killChildren, run, runAll, RunningServer, type RunResult } from "../helpers/cli.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const IP = "127.0.0.42";
const PLUGIN_FIXTURES = join(ROOT, "test/plugins/fixtures");

function tomlFiles(dir: string, recursive = false): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive, encoding: "utf8" }).filter((f) => f.endsWith(".toml")).sort().map((f) => join(dir, f));
}

/** `# expect: <start of a problem line>` comments of an invalid fixture. */
function expectations(file: string): string[] {
  return [...readFileSync(file, "utf8").matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]!.trim());
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createTcpServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

/** A minimal valid config for one S2S listener on `port`. */
function configText(port: number, extra = ""): string {
  return `[general]\nhosts = ["localhost"]\n\n[[listen.s2s]]\nport = ${port}\nip_address = "${IP}"\n\n[s2s]\nuse_starttls = "false"\nshared = "cli-test"\n${extra}`;
}

describe("xmpp-s2s CLI (dist/bin/xmpp-s2s.js)", () => {
  let tmp: string;

  before(() => {
    // The test must run the current sources, not a stale dist/ (npm test builds once up front).
    ensureBuilt();
    assert.ok(existsSync(BIN), `${BIN} missing after the build`);
    tmp = mkdtempSync(join(tmpdir(), "xmpp-s2s-cli-"));
  });

  after(() => {
    killChildren();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  describe("check-config", () => {
    const valid = [...tomlFiles(join(ROOT, "config"), true), ...tomlFiles(join(PLUGIN_FIXTURES, "valid"))];
    const invalid = [...tomlFiles(join(ROOT, "test/config/fixtures/invalid")), ...tomlFiles(join(PLUGIN_FIXTURES, "invalid"))];
    let validResults: RunResult[];
    let invalidResults: RunResult[];

    before(async () => {
      validResults = await runAll(valid.map((file) => ({ args: ["check-config", file] })));
      // Run in the file's folder with its bare name, so a problem about the file itself is
      // named the way its `# expect:` line names it (e.g. "syntax-error.toml: TOML syntax error").
      invalidResults = await runAll(invalid.map((file) => ({ args: ["check-config", basename(file)], cwd: dirname(file) })));
    });

    it("finds config/s2s.toml and the examples", () => {
      const names = valid.map((f) => relative(ROOT, f));
      assert.ok(names.includes("config/s2s.toml"));
      assert.ok(names.filter((n) => n.startsWith("config/examples/")).length >= 5, names.join(", "));
      assert.ok(invalid.length >= 10, invalid.join(", "));
    });

    valid.forEach((file, i) => {
      it(`exits 0 with nothing on stderr: ${relative(ROOT, file)}`, () => {
        const r = validResults[i]!;
        assert.equal(r.stderr, "");
        assert.equal(r.code, 0, r.stdout);
        assert.match(r.stdout, /configuration is valid/);
      });
    });

    invalid.forEach((file, i) => {
      it(`exits 2 naming each dotted path on stderr: ${relative(ROOT, file)}`, () => {
        const r = invalidResults[i]!;
        const expects = expectations(file);
        assert.ok(expects.length > 0, "fixture has no # expect: line");
        assert.equal(r.code, 2, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        const lines = r.stderr.split("\n").filter(Boolean);
        assert.ok(lines.length > 0, "nothing on stderr");
        for (const prefix of expects) assert.ok(lines.some((l) => l.startsWith(prefix)), `no stderr line starting with "${prefix}":\n${r.stderr}`);
        for (const line of lines) {
          assert.ok(expects.some((prefix) => line.startsWith(prefix)), `unexpected stderr line: ${line}`);
          assert.match(line, /^[\w.[\]\-]+: /, `not "dotted.path: ...": ${line}`);
        }
        assert.doesNotMatch(r.stdout, /valid/);
      });
    });

    it("exits 2 for a file that does not exist, naming it", async () => {
      const r = await run(["check-config", "no-such-dir/s2s.toml"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^no-such-dir\/s2s\.toml: cannot read file/);
    });

    it("exits 2 without a file, with the usage", async () => {
      const r = await run(["check-config"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /usage:/);
    });

    it("loads a plugin package installed next to the config file (node_modules of its folder)", async () => {
      const dir = join(tmp, "with-packages");
      cpSync(join(PLUGIN_FIXTURES, "packages"), join(dir, "node_modules"), { recursive: true });
      writeFileSync(join(dir, "s2s.toml"), `[general]\nhosts = ["a.example"]\n\n[plugins.friends]\nmodule = "xmpp-s2s-fixture-policy"\n\n[plugins.foes]\nmodule = "@fixture/esm-only-policy"\n`);
      const r = await run(["check-config", join(dir, "s2s.toml")]);
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
    });
  });

  describe("start refuses bad input", () => {
    it("exits 2 on an invalid config before opening any socket", async () => {
      const port = await freePort(IP);
      const file = join(tmp, "invalid-plugin-option.toml");
      writeFileSync(file, configText(port, "\n[plugins.tcp]\nqueue_limit = 0\n"));
      const r = await run(["start", "--config", file]);
      assert.equal(r.code, 2, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.deepEqual(r.stderr.split("\n").filter(Boolean).map((l) => l.slice(0, l.indexOf(": "))), ["plugins.tcp.queue_limit"]);
      assert.doesNotMatch(r.stdout, /"what":"(listening|started)"/);
      assert.equal(await canListen(IP, port), true, "the configured port is not free");
    });

    it("validates plugins before listening: an invalid config on a busy port is a config error (2), not a bind failure", async () => {
      const port = await freePort(IP);
      const busy: Server = createTcpServer();
      await new Promise<void>((resolve) => busy.listen(port, IP, resolve));
      try {
        const file = join(tmp, "invalid-on-busy-port.toml");
        writeFileSync(file, configText(port, "\n[plugins]\nresolver = \"dnss\"\n"));
        const r = await run(["start", "--config", file]);
        assert.equal(r.code, 2, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        assert.match(r.stderr, /^plugins\.resolver: unknown plugin .*did you mean "dns"\?/);
        assert.doesNotMatch(r.stdout, /EADDRINUSE|start_failed/);
      } finally {
        await new Promise<void>((resolve) => busy.close(() => resolve()));
      }
    });

    it("exits 2 on a TOML error, naming the file", async () => {
      const file = join(tmp, "broken.toml");
      writeFileSync(file, "[general\nhosts = 1\n");
      const r = await run(["start", "--config", file]);
      assert.equal(r.code, 2);
      assert.ok(r.stderr.startsWith(`${file}: TOML syntax error`), r.stderr);
    });

    it("exits 2 on --log-level nope", async () => {
      const port = await freePort(IP);
      const file = join(tmp, "valid-for-log-level.toml");
      writeFileSync(file, configText(port));
      const r = await run(["start", "--config", file, "--log-level", "nope"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^--log-level: unknown level \(got "nope"/);
      assert.equal(r.stdout, "");
      assert.equal(await canListen(IP, port), true);
    });

    it("exits 2 without --config, and on an unknown option", async () => {
      assert.equal((await run(["start"])).code, 2);
      assert.equal((await run(["start", "--config", "x.toml", "--verbose"])).code, 2);
    });
  });

  describe("start with a valid config", () => {
    let server: RunningServer;
    let port: number;
    const peers: RawPeer[] = [];

    before(async () => {
      port = await freePort(IP);
      const file = join(tmp, "valid.toml");
      writeFileSync(file, configText(port));
      server = RunningServer.start(["--config", file]);
      await server.waitForLog("started");
    });

    after(async () => {
      for (const p of peers) p.destroy();
      if (server?.child.pid !== undefined && server.child.exitCode === null && server.child.signalCode === null) process.kill(server.child.pid, "SIGKILL");
    });

    it("logs JSON lines with a `what`, including listening (with the port) and started", () => {
      const logs = server.logs();
      assert.ok(logs.length >= 2);
      for (const entry of logs) assert.equal(typeof entry.what, "string", `log entry without what: ${JSON.stringify(entry)}`);
      const listening = logs.find((l) => l.what === "listening");
      assert.ok(listening, server.stdout);
      assert.equal(listening.port, port);
      assert.equal(listening.address, IP);
      assert.ok(logs.findIndex((l) => l.what === "listening") < logs.findIndex((l) => l.what === "started"));
      assert.equal(server.stderr, "");
    });

    it("answers a stream header with a response header and <stream:features>", async () => {
      const peer = await RawPeer.connect(IP, port);
      peers.push(peer);
      peer.write(streamHeader({ to: "localhost", from: "remote.example" }));
      await peer.waitFor(/<\/stream:features>/);
      const { root, error } = parseStream(peer.text);
      assert.equal(error, undefined);
      assert.equal(root?.attrs.from, "localhost");
      assert.equal(root?.attrs.version, "1.0");
      assert.ok(root?.attrs.id);
      assert.equal(root?.children[0]?.name, "features");
      assert.equal(root?.children[0]?.ns, "http://etherx.jabber.org/streams");
    });

    it("on SIGTERM sends system-shutdown to open streams, logs stopped and exits 0", async () => {
      const peer = await RawPeer.connect(IP, port);
      peers.push(peer);
      peer.write(streamHeader({ to: "localhost", from: "remote.example" }));
      await peer.waitFor(/<\/stream:features>/);

      process.kill(server.child.pid!, "SIGTERM");
      await peer.waitFor(/<\/stream:error>/);
      const { root } = parseStream(peer.text);
      const streamError = root?.children.find((c) => c.name === "error" && c.ns === "http://etherx.jabber.org/streams");
      assert.ok(streamError, peer.text);
      assert.deepEqual(streamError.children.filter((c) => c.ns === "urn:ietf:params:xml:ns:xmpp-streams" && c.name !== "text").map((c) => c.name), ["system-shutdown"]);

      const status = await server.exit();
      assert.deepEqual(status, { code: 0, signal: null }, `stdout:\n${server.stdout}\nstderr:\n${server.stderr}`);
      const whats = server.logs().map((l) => l.what);
      assert.ok(whats.includes("shutdown"), whats.join(", "));
      assert.equal(whats.at(-1), "stopped", whats.join(", "));
      await peer.closed();
      assert.equal(await canListen(IP, port), true, "the port is free again after the exit");
    });
  });

  describe("SIGINT", () => {
    it("also shuts down gracefully and exits 0", async () => {
      const port = await freePort(IP);
      const file = join(tmp, "sigint.toml");
      writeFileSync(file, configText(port));
      const server = RunningServer.start(["--config", file, "--log-level", "info"]);
      try {
        await server.waitForLog("started");
        process.kill(server.child.pid!, "SIGINT");
        assert.deepEqual(await server.exit(), { code: 0, signal: null });
        assert.equal(server.logs().at(-1)?.what, "stopped");
      } finally {
        if (server.child.exitCode === null && server.child.signalCode === null) process.kill(server.child.pid!, "SIGKILL");
      }
    });
  });
});
