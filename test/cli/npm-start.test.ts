import "reflect-metadata";
import { afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { ensureBuilt } from "../helpers/build.js";
import { createConnection } from "node:net";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { el } from "../../core/xml/element.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { eventually, waitFor, DEADLINE_MS } from "../helpers/wait.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });
}

/**
 * `npm start`, run the way a supervisor or a terminal runs it: npm in its own session and process
 * group (`setsid npm start &`), the server below it. `--ignore-scripts` skips only `prestart` (the
 * build, done once by `ensureBuilt`/`npm test`: rebuilding dist/ here would rewrite it under the
 * tests running in parallel); `start` itself runs exactly as in package.json.
 */
class NpmStart {
  output = "";
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor() {
    this.child = spawn("npm", ["start", "--ignore-scripts"], { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout!.on("data", (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on("data", (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  async started(): Promise<void> {
    await eventually(() => /"what":"started"/.test(this.output) || this.child.exitCode !== null, DEADLINE_MS, "npm start to log started");
    assert.match(this.output, /"what":"started"/, `server did not start: ${this.output}`);
  }

  /** The `what` of every JSON log line of the server (npm's own banner lines are not JSON). */
  whats(): string[] {
    return this.output.split("\n").filter((l) => l.startsWith("{")).map((l) => (JSON.parse(l) as { what: string }).what);
  }

  async exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`npm start did not exit within ${DEADLINE_MS} ms:\n${this.output}`)), DEADLINE_MS)));
    try {
      return await Promise.race([this.exited, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Last resort: SIGKILL to the process group npm leads (npm, and the server if it survived npm). */
  killGroup(): void {
    try {
      process.kill(-this.child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * `npm start` (= `exec node dist/bin/xmpp-s2s.js start --config config/s2s.toml` after the build)
 * on the embedded default config serves echo@localhost to a peer that connects. The peer's domain
 * is an IP literal (RFC 7622 §3.2 allows one), so the default server can dial it back for dialback
 * without any DNS or config change.
 */
describe("npm start on the default config", () => {
  let npm: NpmStart | undefined;
  let peer: TestNode | undefined;

  before(() => ensureBuilt());

  afterEach(async () => {
    await peer?.stop();
    peer = undefined;
    const running = npm;
    npm = undefined;
    if (!running) return;
    if (running.child.exitCode === null && running.child.signalCode === null) {
      process.kill(running.child.pid!, "SIGTERM");
      await running.exit().catch(() => {});
    }
    // A server that outlived npm (the defect this file tests) is still in npm's process group:
    // end it, so that it frees 127.0.0.1:5269 and the pipes this process reads.
    running.killGroup();
    await running.exited;
  });

  async function startDefault(): Promise<NpmStart> {
    assert.equal(await portFree("127.0.0.1", 5269), true, "127.0.0.1:5269 must be free for the default config");
    npm = new NpmStart();
    await npm.started();
    return npm;
  }

  it("answers echo@localhost over S2S with dialback", async () => {
    const running = await startDefault();
    peer = await startNode({ hosts: ["127.0.0.2"], ip: "127.0.0.2", listener: {}, s2s: { address: [{ host: "localhost", ip_address: "127.0.0.1", port: 5269 }] } }, { s2sPort: 5269, servicePort: 0 });
    const echo = waitFor(peer.server.stanzas$, (s) => s.attr("id") === "start1");
    peer.server.send(el("message", { from: "tester@127.0.0.2", to: "echo@localhost", id: "start1", type: "chat" }, "jabber:server", el("body", {}, "jabber:server", "hello default config")));
    const reply = await echo;
    assert.equal(reply.attr("from"), "echo@localhost");
    assert.equal(reply.getChildText("body"), "hello default config");
    assert.match(running.output, /"what":"authenticated"/);
  });

  it("SIGTERM to the npm process shuts the server down gracefully (setsid npm start &; kill -TERM <npm>)", async () => {
    const running = await startDefault();
    process.kill(running.child.pid!, "SIGTERM");
    assert.deepEqual(await running.exit(), { code: 0, signal: null });
    const whats = running.whats();
    assert.deepEqual(whats.slice(-2), ["shutdown", "stopped"], running.output);
    // Before the fix npm exited at once and the server kept 127.0.0.1:5269.
    assert.equal(await portFree("127.0.0.1", 5269), true, "the server is still listening after npm exited");
  });

  it("Ctrl-C (SIGINT to the whole process group) shuts down gracefully once, not a forced exit", async () => {
    const running = await startDefault();
    // The terminal signals npm and the server; npm forwards its copy too: the server gets SIGINT twice.
    process.kill(-running.child.pid!, "SIGINT");
    assert.deepEqual(await running.exit(), { code: 0, signal: null });
    const whats = running.whats();
    assert.deepEqual(whats.filter((w) => w === "shutdown" || w === "stopped" || w === "shutdown_forced"), ["shutdown", "stopped"], running.output);
    assert.equal(await portFree("127.0.0.1", 5269), true);
  });
});
