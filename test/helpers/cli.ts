/**
 * The built `xmpp-s2s` command in child processes, as operators run it: one-shot commands (`run`)
 * and long-running servers (`RunningServer`) whose JSON log lines a test can wait on. Every child
 * is tracked so that `killChildren()` (in `after`) ends the survivors by PID.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./build.js";
import { DEADLINE_MS } from "./wait.js";

export const BIN = join(ROOT, "dist/bin/xmpp-s2s.js");

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Every child process this file starts, so `after` can kill the survivors by PID. */
const children = new Set<ChildProcess>();

/** Run the CLI to completion (killed after the deadline). */
export function run(args: readonly string[], { cwd = ROOT, env }: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`xmpp-s2s ${args.join(" ")} did not exit within ${DEADLINE_MS} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, DEADLINE_MS);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Run many commands, a few at a time (each is a Node start-up). */
export async function runAll(jobs: ReadonlyArray<{ args: string[]; cwd?: string }>, parallel = 4): Promise<RunResult[]> {
  const results: RunResult[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await run(jobs[i]!.args, { cwd: jobs[i]!.cwd });
    }
  }));
  return results;
}

/** A long-running `xmpp-s2s start`, with its JSON log lines. */
export class RunningServer {
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    children.add(child);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.stdout += d;
      this.#wake();
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      child.once("close", (code, signal) => {
        children.delete(child);
        this.#wake();
        resolve({ code, signal });
      });
    });
  }

  static start(args: readonly string[], env?: NodeJS.ProcessEnv): RunningServer {
    return new RunningServer(spawn(process.execPath, [BIN, "start", ...args], { cwd: ROOT, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] }));
  }

  /** Every complete stdout line, parsed as JSON (a line that is not JSON fails the test). */
  logs(): Array<Record<string, unknown>> {
    return this.stdout.split("\n").slice(0, -1).filter((l) => l.trim()).map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        assert.fail(`stdout line is not JSON: ${line}`);
      }
    });
  }

  /** Resolve with the first log entry whose `what` is `what`; reject if the process exits first. */
  waitForLog(what: string, ms = DEADLINE_MS): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const entry = this.logs().find((l) => l.what === what);
        if (entry) return done(() => resolve(entry));
        if (this.child.exitCode !== null || this.child.signalCode !== null) done(() => reject(new Error(`exited before logging "${what}"\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no "${what}" log within ${ms} ms\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`))), ms);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolve with the exit status (rejects after `ms`). */
  exit(ms = DEADLINE_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return Promise.race([
      this.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`did not exit within ${ms} ms\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`)), ms).unref()),
    ]);
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** SIGKILL every child still running (for `after`). */
export function killChildren(): void {
  for (const child of children) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
}
