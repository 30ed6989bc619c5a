import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";

/** Clock ticks per second of /proc/PID/stat times (Linux USER_HZ: 100 on every mainstream kernel). */
const USER_HZ = 100;

/** CPU time (user + system) a process has used, in microseconds, from /proc/PID/stat (10 ms ticks; not wall time). */
export function cpuMicrosTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / USER_HZ;
}

/**
 * CPU time a process has used, in microseconds (not wall time): the sum of the nanosecond run
 * times of its threads (`/proc/PID/task/TID/schedstat`, first field), so a run of a few hundred
 * milliseconds is not rounded to 10 ms ticks (a 2 % figure needs better than 1 % resolution).
 * Threads that ended are not in the sum: Node's threads (libuv pool, V8 platform) live as long as
 * the process. Falls back to the ticks of /proc/PID/stat where the kernel keeps no schedstat.
 */
export function cpuMicros(pid: number): number {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        /* the thread ended between the listing and the read */
      }
    }
  } catch {
    return cpuMicrosTicks(pid);
  }
  return ns > 0 && Number.isFinite(ns) ? ns / 1000 : cpuMicrosTicks(pid);
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
