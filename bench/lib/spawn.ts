import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { connect } from "node:net";

/**
 * Processes the bench starts (servers, dnsmasq), each stopped by its own PID: SIGTERM, then
 * SIGKILL after a grace period. Every process started here is remembered in `running` so that a
 * signal or a failure stops exactly those and nothing else (same approach as test/interop/run.ts,
 * whose helpers are not exported).
 */
export interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<void>;
  readonly logFile: string;
}

const running = new Set<Started>();
/** Set by stopAll: a run being torn down starts nothing more. */
let stopping = false;

export function startProcess(name: string, cmd: string, args: readonly string[], logFile: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Started {
  if (stopping) throw new Error(`${name}: not started, the bench is stopping`);
  const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const out = createWriteStream(logFile);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  child.once("error", () => {});
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const s: Started = { name, child, pid: child.pid, exited, logFile };
  running.add(s);
  void exited.then(() => running.delete(s));
  return s;
}

export function alive(s: Started): boolean {
  return s.child.exitCode === null && s.child.signalCode === null;
}

export function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; by PID only. */
export async function stopProcess(s: Started, graceMs = 8_000): Promise<void> {
  if (!alive(s)) return;
  try {
    process.kill(s.pid, "SIGTERM");
  } catch {
    return;
  }
  if (await within(s.exited, graceMs)) return;
  try {
    process.kill(s.pid, "SIGKILL");
  } catch {
    /* gone */
  }
  await within(s.exited, 3_000);
}

/** Stops every process this module started and that still runs (newest first). */
export async function stopAll(): Promise<void> {
  stopping = true;
  for (const s of [...running].reverse()) await stopProcess(s);
}

/** True once `host:port` accepts a TCP connection. */
export function accepts(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Waits until every `host:port` accepts, or throws (with the process's log tail) when `s` dies or the deadline passes. */
export async function waitListening(s: Started, endpoints: ReadonlyArray<readonly [string, number]>, deadlineMs: number, tail: () => string): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  const pending = new Set(endpoints.map(([h, p]) => `${h}:${p}`));
  while (Date.now() < deadline) {
    if (!alive(s)) throw new Error(`${s.name} (pid ${s.pid}) exited during start-up (code ${s.child.exitCode ?? s.child.signalCode}):\n${tail()}`);
    for (const [h, p] of endpoints) if (pending.has(`${h}:${p}`) && (await accepts(h, p))) pending.delete(`${h}:${p}`);
    if (pending.size === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${s.name} (pid ${s.pid}) not listening on ${[...pending].join(", ")} within ${deadlineMs} ms:\n${tail()}`);
}
