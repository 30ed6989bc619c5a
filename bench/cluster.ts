/**
 * `npm run bench -- --cluster` (docs/cluster.md): what a cross-node hop costs in cluster mode, against
 * same-node delivery, on this machine. A real redis-server (test/helpers/redis-server.ts) on
 * loopback, two cluster nodes of a.example (in this process, like the test suite), raw XEP-0114
 * components (bench/lib/raw-component.ts):
 *
 *   same-node:  component X on node 1 -> node 1 -> component Y on node 1
 *   cross-node: component X on node 1 -> node 1 -> Redis pub/sub -> node 2 -> component Z on node 2
 *
 * 1. latency: one message at a time (send, wait for it), median over --pings (default 1,000);
 *    "added" = cross median - same median;
 * 2. throughput: --messages (default 20,000) written at once, messages/s until the last arrives;
 *    ratio = cross / same. Also per CPU-second: the messages divided by the CPU time (user + system,
 *    from /proc) the round cost this process (both nodes and the components) plus, cross node,
 *    redis-server: the capacity ratio, which other load on a shared machine disturbs far less
 *    than wall-clock throughput.
 * Rounds alternate same/cross (--trials, default 11: many short trials, so that the median is not
 * one noisy run) and report medians with the spread (min-max) of the trials, and each trial's
 * ratio (cross / same of the same round, so load changes during the run affect both sides alike);
 * the verdict is the median of those ratios, with how many trials met the target.
 * `--cpu-prof`: then one more same-node and cross-node throughput round each under the V8
 * profiler (in this process: both nodes), saved to bench/results/cluster-<time>/ and summarised
 * (self time by area and function): where a hop's CPU goes.
 * Needs redis-server only.
 */
import "reflect-metadata";
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startRedis } from "../test/helpers/redis-server.js";
import { PASSWORD, startClusterNode, type ClusterNode } from "../test/cluster/cluster-nodes.js";
import { eventually } from "../test/helpers/wait.js";
import { formatProfile, summarizeProfile } from "./lib/cpu-profile.js";
import { cpuMicros, load, median, machine } from "./lib/proc.js";
import { benchMessage, RawComponent } from "./lib/raw-component.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const PINGS = arg("pings", 1000);
const MESSAGES = arg("messages", 20_000);
const TRIALS = arg("trials", 11);
const DEADLINE_MS = 120_000;
const PROFILE = process.argv.includes("--cpu-prof");

async function latencyMs(from: RawComponent, to: RawComponent, n: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const arrival = to.nextArrival(DEADLINE_MS);
    const t0 = performance.now();
    from.write(benchMessage(from.domain, to.domain, i));
    samples.push((await arrival) - t0);
  }
  return median(samples);
}

/** Messages per second of wall time, per second of CPU time of `pids`, and CPU µs per message of the last pid. */
async function throughput(from: RawComponent, to: RawComponent, n: number, pids: readonly number[]): Promise<{ wall: number; cpu: number; lastUs: number }> {
  const target = to.received + n;
  const cpu0 = pids.reduce((t, pid) => t + cpuMicros(pid), 0);
  const last0 = cpuMicros(pids.at(-1)!);
  let batch = "";
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    batch += benchMessage(from.domain, to.domain, i);
    if (batch.length > 64 * 1024) {
      from.write(batch);
      batch = "";
    }
  }
  if (batch) from.write(batch);
  await to.waitFor(target, DEADLINE_MS);
  const wall = n / ((performance.now() - t0) / 1000);
  const cpu = pids.reduce((t, pid) => t + cpuMicros(pid), 0) - cpu0;
  return { wall, cpu: n / (cpu / 1e6), lastUs: (cpuMicros(pids.at(-1)!) - last0) / n };
}

/** Runs `round` under the V8 profiler (100 µs sampling) of this process and saves the profile to `file`. */
async function profiled(file: string, round: () => Promise<unknown>): Promise<void> {
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 100 });
    await session.post("Profiler.start");
    await round();
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(file, JSON.stringify(profile));
  } finally {
    session.disconnect();
  }
}

/** Stanzas per second one Redis core carries at `us` µs each, rounded. */
function perCore(us: readonly number[]): string {
  return (Math.round(1e6 / median(us) / 10_000) * 10_000).toLocaleString("en-US");
}

/** "median (min-max)". */
function spread(values: readonly number[], digits: number): string {
  const f = (v: number) => v.toFixed(digits);
  return `${f(median(values))} (${f(Math.min(...values))}-${f(Math.max(...values))})`;
}

export async function runClusterBench(): Promise<void> {
  const redis = await startRedis();
  const nodes: ClusterNode[] = [];
  const components: RawComponent[] = [];
  try {
    nodes.push(await startClusterNode({ name: "bench1", ip: "127.0.0.241", redisUrl: redis.url, leaseSeconds: 10 }));
    nodes.push(await startClusterNode({ name: "bench2", ip: "127.0.0.242", redisUrl: redis.url, leaseSeconds: 10 }));
    const [n1, n2] = nodes as [ClusterNode, ClusterNode];
    const x = await RawComponent.connect(n1.ip, n1.servicePort, "x.a.example", PASSWORD);
    const y = await RawComponent.connect(n1.ip, n1.servicePort, "y.a.example", PASSWORD);
    const z = await RawComponent.connect(n2.ip, n2.servicePort, "z.a.example", PASSWORD);
    components.push(x, y, z);
    await eventually(() => n1.cluster().snapshot().routes["z.a.example"] === "bench2", DEADLINE_MS, "route to z on node 1");
    // Warm-up (JIT, buffers): untimed.
    await latencyMs(x, y, 200);
    await latencyMs(x, z, 200);
    const samePids = [process.pid];
    const crossPids = [process.pid, redis.pid!];
    await throughput(x, y, 2000, samePids);
    await throughput(x, z, 2000, crossPids);

    const same = { lat: [] as number[], tput: [] as number[], cpu: [] as number[], pids: samePids };
    const cross = { lat: [] as number[], tput: [] as number[], cpu: [] as number[], pids: crossPids };
    /** redis-server's CPU µs per message of the cross-node rounds: what one Redis core carries. */
    const redisUs: number[] = [];
    /** The same, one message at a time (a PUBLISH per stanza: light traffic). */
    const redisPingUs: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const order: Array<[RawComponent, typeof same]> = t % 2 === 0 ? [[y, same], [z, cross]] : [[z, cross], [y, same]];
      // redis-server's CPU per ping: the cross-node round's, less the same-node round's (its idle work).
      const redisCpu: number[] = [];
      for (const [to, acc] of order) {
        const redis0 = cpuMicros(redis.pid!);
        acc.lat.push(await latencyMs(x, to, PINGS));
        redisCpu[acc === cross ? 0 : 1] = (cpuMicros(redis.pid!) - redis0) / PINGS;
      }
      redisPingUs.push(Math.max(0, redisCpu[0]! - redisCpu[1]!));
      for (const [to, acc] of order) {
        const r = await throughput(x, to, MESSAGES, acc.pids);
        acc.tput.push(r.wall);
        acc.cpu.push(r.cpu);
        if (acc === cross) redisUs.push(r.lastUs);
      }
    }
    const added = same.lat.map((l, i) => cross.lat[i]! - l);
    const ratios = same.tput.map((t, i) => (cross.tput[i]! / t) * 100);
    const cpuRatios = same.cpu.map((t, i) => (cross.cpu[i]! / t) * 100);
    const m = machine();
    const lines = [
      `cluster bench: ${TRIALS} trials, ${PINGS} pings, ${MESSAGES} messages; ${m.cpuModel} x${m.nproc}; load ${load()}`,
      `| median of ${TRIALS} trials (min-max) | same node | cross node | cross-node hop |`,
      `|---|---|---|---|`,
      `| latency, median of each trial (ms) | ${spread(same.lat, 3)} | ${spread(cross.lat, 3)} | added ${spread(added, 3)} ms (target <= 1) |`,
      `| throughput (msg/s) | ${spread(same.tput, 0)} | ${spread(cross.tput, 0)} | ratio ${spread(ratios, 0)} % (target >= 50 %) |`,
      `| messages per CPU-second (+ redis-server cross node) | ${spread(same.cpu, 0)} | ${spread(cross.cpu, 0)} | ratio ${spread(cpuRatios, 0)} % |`,
      `redis-server CPU per cross-node message: ${spread(redisUs, 2)} µs in the throughput rounds (one Redis core: about ${perCore(redisUs)} forwarded stanzas/s in batches), ${spread(redisPingUs, 1)} µs one at a time (about ${perCore(redisPingUs)}/s unbatched)`,
      `verdict: added latency ${median(added) <= 1 ? "met" : "NOT met"} (${added.filter((a) => a <= 1).length} of ${TRIALS} trials <= 1 ms); throughput ratio ${median(ratios) >= 50 ? "met" : "NOT met"} (${ratios.filter((r) => r >= 50).length} of ${TRIALS} trials >= 50 %)`,
      `per trial: throughput ratio ${ratios.map((r) => r.toFixed(0)).join(", ")} %; CPU ratio ${cpuRatios.map((r) => r.toFixed(0)).join(", ")} %; added latency ${added.map((a) => a.toFixed(3)).join(", ")} ms`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    if (PROFILE) {
      const dir = join("bench", "results", `cluster-${new Date().toISOString().replace(/[:.]/g, "-")}`);
      mkdirSync(dir, { recursive: true });
      for (const [name, to, pids] of [["same", y, samePids], ["cross", z, crossPids]] as const) {
        const file = join(dir, `${name}.cpuprofile`);
        await profiled(file, () => throughput(x, to, MESSAGES, pids));
        process.stdout.write(`${formatProfile(summarizeProfile(file, process.cwd(), 20), `${name}-node round, ${MESSAGES} messages`)}\n`);
      }
    }
  } finally {
    for (const c of components) c.close();
    for (const n of nodes) await n.server.stop();
    await redis.stop();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) await runClusterBench();
