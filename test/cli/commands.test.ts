/**
 * `xmpp-s2s --version`, an unknown command, and `reload --pid` confirming (or not) that the server
 * took the new configuration, through the status file the server keeps (bin/reload-status.ts). Each
 * test's servers and CLI share a private XMPP_S2S_RUNTIME_DIR.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt, ROOT } from "../helpers/build.js";
import { killChildren, run, RunningServer } from "../helpers/cli.js";
import { freePort } from "../helpers/ports.js";
import { DEADLINE_MS, eventually } from "../helpers/wait.js";

const IP = "127.0.0.47";

function configText(port: number, s2sExtra = ""): string {
  return `[general]\nhosts = ["localhost"]\n\n[[listen.s2s]]\nport = ${port}\nip_address = "${IP}"\n\n[s2s]\nuse_starttls = "false"\nshared = "cli-test"\n${s2sExtra}`;
}

describe("xmpp-s2s commands", () => {
  let tmp: string;
  let env: NodeJS.ProcessEnv;

  before(() => {
    ensureBuilt();
    tmp = mkdtempSync(join(tmpdir(), "xmpp-s2s-commands-"));
    env = { ...process.env, XMPP_S2S_RUNTIME_DIR: tmp };
  });

  after(() => {
    killChildren();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("--version prints the package version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = await run(["--version"]);
    assert.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code: 0, stdout: `${version}\n`, stderr: "" });
  });

  it("an unknown command exits 2 and names it", async () => {
    const r = await run(["strat", "--config", "x.toml"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^unknown command "strat" \(expected start, check-config, reload, sessions, close, retry, status, probe, --version, --help\)\n/);
    assert.equal(r.stdout, "");
  });

  describe("reload --pid", () => {
    let server: RunningServer;
    let file: string;
    let port: number;

    before(async () => {
      port = await freePort(IP);
      file = join(tmp, "s2s.toml");
      writeFileSync(file, configText(port));
      server = RunningServer.start(["--config", file], env);
      await server.waitForLog("started");
      // Written just after `started` is logged, once start() has returned.
      await eventually(() => existsSync(statusFile()), DEADLINE_MS, "the status file");
    });

    const statusFile = () => join(tmp, `xmpp-s2s-${server.child.pid}.json`);

    after(async () => {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        process.kill(server.child.pid!, "SIGTERM");
        await server.exit();
      }
    });

    it("the running server has a status file naming its config file", () => {
      const status = JSON.parse(readFileSync(statusFile(), "utf8")) as Record<string, unknown>;
      assert.equal(status.pid, server.child.pid);
      assert.equal(status.file, file);
      assert.equal(status.reloads, 0);
    });

    it("confirms that the server took the new configuration", async () => {
      writeFileSync(file, configText(port, `host_policy = [{ host = "denied.example", policy = "deny" }]\n`));
      const r = await run(["reload", "--pid", String(server.child.pid), "--config", file], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`process ${server.child.pid} took the new configuration from ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(`));
      assert.equal(r.stderr, "");
      await server.waitForLog("config_reloaded");
    });

    it("says which changes need a restart", async () => {
      writeFileSync(file, configText(port, `max_retry_delay = 60\n`));
      const r = await run(["reload", "--pid", String(server.child.pid)], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^changed, but applied only after a restart: .*s2s\./m);
    });

    it("reports the server's refusal with its problem lines (exit 2); the server keeps running", async () => {
      // Without --config the CLI validates nothing itself: the answer is the server's own.
      writeFileSync(file, configText(port, `default_policy = "ask"\n`));
      const r = await run(["reload", "--pid", String(server.child.pid)], { env });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      const [head, ...problems] = r.stderr.trimEnd().split("\n");
      assert.equal(head, `process ${server.child.pid} refused the configuration in ${file} and keeps the one it had:`);
      assert.ok(problems.length > 0 && problems.every((p) => p.startsWith("s2s.default_policy: ")), r.stderr);
      await server.waitForLog("reload_failed");
      assert.equal(server.child.exitCode, null);
    });

    it("never signals a process that is not an xmpp-s2s server (SIGHUP would end it)", async () => {
      const bystander = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
      try {
        const r = await run(["reload", "--pid", String(bystander.pid)], { env });
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`^process ${bystander.pid} is not a running xmpp-s2s server: no status file `));
        assert.equal(bystander.exitCode, null);
        assert.equal(bystander.signalCode, null);
      } finally {
        bystander.kill("SIGKILL");
      }
    });

    it("the status file is gone after a graceful shutdown", async () => {
      const path = statusFile();
      assert.ok(existsSync(path));
      process.kill(server.child.pid!, "SIGTERM");
      assert.deepEqual(await server.exit(), { code: 0, signal: null });
      assert.equal(existsSync(path), false);
    });
  });
});
