import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";

/** Clock ticks per second of /proc/PID/stat times (Linux USER_HZ: 100 on every mainstream kernel). */
const USER_HZ = 100;

/** CPU time (user + system) a process has used, in microseconds, read from /proc (not wall time). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / USER_HZ;
}

/** Resident set size in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

export function load(): string {
  return loadavg().map((v) => v.toFixed(2)).join(" ");
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Peak resident set size in bytes (VmHWM of /proc/PID/status). */
export function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

/** os.loadavg() as numbers (1, 5, 15 minutes). */
export function loadNumbers(): [number, number, number] {
  const [a, b, c] = loadavg();
  return [a ?? 0, b ?? 0, c ?? 0];
}

/** CPU model (first "model name" of /proc/cpuinfo) and the number of CPUs this process may use. */
export function machine(): { cpuModel: string; nproc: number } {
  let cpuModel = "unknown";
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? cpuModel;
  } catch {
    /* not Linux */
  }
  return { cpuModel, nproc: availableParallelism() };
}
