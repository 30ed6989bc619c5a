/**
 * Issue 19: `xmpp-s2s reload --pid P --config FILE` refuses a FILE that is not the file process P
 * re-reads on SIGHUP (it used to validate FILE and signal, and the server re-read its own file),
 * accepts the server's own file under another spelling (relative, through a symlink), and the
 * server's reload log names changed options by their TOML names (`s2s.max_retry_delay`).
 * Runs the built CLI (dist/) in child processes.
 */
import { ensureBuilt } from "../helpers/build.js";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../helpers/ports.js";
import { DEADLINE_MS } from "../helpers/wait.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "dist/bin/xmpp-s2s.js");
const IP = "127.0.0.43";

let dir: string;
let server: ChildProcess | undefined;
let lines: Array<Record<string, unknown>> = [];
let port: number;

const config = (maxRetryDelay: number) =>
  `[general]\nhosts = ["a.example"]\n\n[[listen.s2s]]\nport = ${port}\nip_address = "${IP}"\n\n[s2s]\nmax_retry_delay = ${maxRetryDelay}\n`;

/** Resolves with the first log line matching, or rejects at the deadline. */
function logLine(match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      const found = lines.find(match);
      if (found) return resolve(found);
      if (Date.now() - started > DEADLINE_MS) return reject(new Error(`no such log line within ${DEADLINE_MS} ms:\n${lines.map((l) => JSON.stringify(l)).join("\n")}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

function cli(args: string[]): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: "utf8", timeout: DEADLINE_MS });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

before(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "xs2s-reload-"));
  port = await freePort(IP);
  writeFileSync(join(dir, "s2s.toml"), config(300));
  writeFileSync(join(dir, "other.toml"), config(300));
  symlinkSync(join(dir, "s2s.toml"), join(dir, "link.toml"));
  // Started with a relative path from its own working folder, as `npm start` does.
  server = spawn(process.execPath, [BIN, "start", "--config", "s2s.toml"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let buffer = "";
  server.stdout!.setEncoding("utf8").on("data", (d: string) => {
    buffer += d;
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  await logLine((l) => l.what === "started");
});

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("xmpp-s2s reload --pid P --config FILE", () => {
  it("refuses a file that is not the one the server re-reads, and does not signal the server", () => {
    const r = cli(["reload", "--pid", String(server!.pid), "--config", "other.toml"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^--config: not the file the server re-reads \(got ".*other\.toml", expected ".*s2s\.toml"/);
    assert.equal(lines.some((l) => l.what === "reload_requested"), false, "the server was not asked to reload");
  });

  it("accepts the server's own file through a symlink, and the reload log uses TOML names", async () => {
    lines = [];
    writeFileSync(join(dir, "s2s.toml"), config(60));
    const r = cli(["reload", "--pid", String(server!.pid), "--config", join(dir, "link.toml")]);
    assert.equal(r.code, 0, r.stderr);
    const restart = await logLine((l) => l.what === "reload_needs_restart");
    assert.deepEqual(restart.keys, ["s2s.max_retry_delay"]);
    await logLine((l) => l.what === "config_reloaded");
  });
});
