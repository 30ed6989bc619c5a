import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/build.js";
import { DEADLINE_MS } from "../helpers/wait.js";

const BIN = join(ROOT, "dist", "bin", "xmpp-s2s.js");

/**
 * A real server process (`xmpp-s2s start`, the built CLI) for faults that need a process to die:
 * SIGKILL, SIGTERM. Stopped by its own PID only. Log lines (JSON) are kept for assertions.
 */
export class ServerProcess {
  stdout = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (this.stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stdout += d));
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  /** Write `toml` to `dir/name.toml` and start a server on it; resolves once it logged `started`. */
  static async start(dir: string, name: string, toml: string): Promise<ServerProcess> {
    const file = join(dir, `${name}.toml`);
    writeFileSync(file, toml);
    const p = new ServerProcess(spawn(process.execPath, [BIN, "start", "--config", file, "--log-level", "info"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] }));
    await p.waitForLog("started");
    return p;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once a log line with this `what` was written; rejects if the process exits first or after the deadline. */
  async waitForLog(what: string, ms = DEADLINE_MS): Promise<void> {
    const started = Date.now();
    const needle = `"what":"${what}"`;
    while (!this.stdout.includes(needle)) {
      if (!this.running) throw new Error(`process exited before logging ${what}:\n${this.stdout.slice(-2000)}`);
      if (Date.now() - started > ms) throw new Error(`no ${what} within ${ms} ms:\n${this.stdout.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A config for one host with an S2S listener, plaintext S2S, and `s2s.address` entries. */
export function processConfig(options: { host: string; ip: string; s2sPort: number; servicePort?: number; secret?: string; address: Array<{ host: string; ip: string; port: number }> }): string {
  const lines = [
    `[general]`,
    `hosts = ["${options.host}"]`,
    ``,
    `[[listen.s2s]]`,
    `port = ${options.s2sPort}`,
    `ip_address = "${options.ip}"`,
  ];
  if (options.servicePort) lines.push(``, `[[listen.service]]`, `port = ${options.servicePort}`, `ip_address = "${options.ip}"`, `password = "${options.secret}"`);
  lines.push(``, `[s2s]`, `use_starttls = "false"`, `shared = "fault-shared-${options.host}"`);
  lines.push(`address = [${options.address.map((a) => `{host = "${a.host}", ip_address = "${a.ip}", port = ${a.port}}`).join(", ")}]`);
  return `${lines.join("\n")}\n`;
}
