/**
 * `npm run bench` (docs/performance.md): xmpp-s2s against Prosody 0.12 and ejabberd 23.01, in the same
 * invocation, with the same client code for all three, on this machine.
 *
 *   node --import tsx bench/run.ts            # full: 3 trials, 20,000 messages, 1,000 links (5-15 min)
 *   node --import tsx bench/run.ts --quick    # 1 trial, 5,000 messages, 200 links, smaller parser corpus
 *   node --import tsx bench/run.ts --smoke    # ours -> ours only, plain loopback, no root/netns/Prosody/ejabberd (npm test)
 *   node --import tsx bench/run.ts --scale    # only the 10,000-link ladder (bench/scale.ts), ours, plain loopback
 *   node --import tsx bench/run.ts --first-message --no-ejabberd   # only the first message on a fresh link (10 trials), ours and Prosody
 *
 * Options: --trials N, --messages N, --links N, --batch N (messages per client write, default 1),
 * --warmup N (untimed messages over the link before the timed run, default 0: steady state), --cpu-prof (our servers run with `node --cpu-prof`;
 * the hot spots are printed and the profiles kept next to the results), --out DIR (results folder,
 * default bench/results), --keep (keep the temp folder: configs, server logs, dnsmasq log),
 * --metrics (our servers run with [instrumentation.prometheus] on in every section), --no-ejabberd
 * (Prosody as the only reference: the ejabberd targets then show no figure), --no-metrics-cost
 * (skip section 6).
 *
 *   node --import tsx bench/run.ts --metrics-cost # only the cost of the metrics, ours on plain loopback, no root
 *
 * Metrics cost (section 6 of the full run; alone with --metrics-cost): --pairs N (default 10),
 * --scrape-ms N (default 1000), --cost-mode concurrent|sequential (default concurrent: the off and
 * on links of a pair run at the same time; sequential: one after the other); with --metrics-cost,
 * --messages (default 200,000), --warmup (default 100,000) and --batch apply to it. Never profiled
 * (--cpu-prof). --cost-control: a control run, metrics off on both sides of every pair (what the
 * method reports when nothing differs). --metrics-cost --smoke: 2 tiny pairs (npm test).
 *
 * What it measures (topology per system: component X -> server A -> one S2S link, STARTTLS +
 * dialback -> server B -> component Y; servers found through DNS SRV on non-standard ports):
 * 1. messages/s over one link (20,000 messages of ~200 bytes, after one warm-up message);
 * 2. CPU µs per message per server (/proc utime+stime of A and B over that run / messages);
 * 3. first-message latency on a fresh link (fresh processes each trial: SRV + TCP + STARTTLS +
 *    dialback, including B's verification connection back to A's domain);
 * 4. resident memory per idle authenticated TLS link (1,000 inbound links from a Node load
 *    generator to a fresh B; (RSS after - RSS before) / links), and the RSS of that B idle, before
 *    any link;
 * 5. parser throughput (MB/s, stanzas/s) on one corpus: plugins/saxes vs Prosody's
 *    util.xmppstream (lua5.4).
 * 6. what the Prometheus metrics cost (ours only): pairs of link runs with metrics off and on,
 *    interleaved, /metrics scraped during the "on" runs; CPU per stanza on/off with its interval
 *    (bench/scenarios/metrics-cost.ts). Not in --smoke.
 * Medians of the trials; the order of the systems rotates between trials so a load change on this
 * shared machine hits all of them. Two tables go to stdout (every figure with the ratios; every
 * target with its reference, ratio and verdict), the JSON to bench/results/.
 *
 * Needs root (network namespace, dnsmasq on port 53, Prosody, ejabberd) and Prosody 0.12, Debian's
 * ejabberd (bench/ejabberd.ts), dnsmasq, iproute2, openssl, lua5.4: otherwise prints why and exits 2. Like test/interop/run.ts (whose helpers are
 * not exported, hence the copy of its namespace handling below): a namespace of its own, the
 * measuring process re-executed inside it (`ip netns exec NS node ... --inside`, its own process
 * group), every process stopped by PID, the namespace and /etc/netns/NS deleted at the end, also
 * on failure and on SIGINT/SIGTERM. The whole run is bounded (15 min).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../test/helpers/build.js";
import { formatProfile, summarizeProfile } from "./lib/cpu-profile.js";
import { cpuMicros, loadNumbers, machine, median } from "./lib/proc.js";
import { RawComponent } from "./lib/raw-component.js";
import { S2sLoadGen } from "./lib/s2s-loadgen.js";
import { stopAll, within } from "./lib/spawn.js";
import { firstMessage } from "./scenarios/latency.js";
import { formatMetricsCost, metricsCost, type CostMode, type MetricsCostResult } from "./scenarios/metrics-cost.js";
import { memoryPerLink, settledRss, type MemoryResult } from "./scenarios/memory.js";
import { parserScenario, type ParserScenarioResult } from "./scenarios/parser.js";
import { DEFAULT_BATCH, throughput, type ThroughputResult } from "./scenarios/throughput.js";
import { findEjabberd } from "./ejabberd.js";
import { evaluate, figuresTable, ratio, targetsTable, type FigureRow, type Target } from "./lib/report.js";
import { BenchWorld, SYSTEM_LABEL, type Mode, type System } from "./world.js";

// `npm run bench -- --sm`: XEP-0198 on/off throughput, ours -> ours on loopback (bench/sm-cost.ts), nothing else.
if (process.argv.includes("--sm")) {
  const { runSmCostBench } = await import("./sm-cost.js");
  await runSmCostBench();
  process.exit(0);
}

// `npm run bench -- --cluster`: the cluster hop benchmark (bench/cluster.ts, docs/performance.md), nothing else.
if (process.argv.includes("--cluster")) {
  const { runClusterBench } = await import("./cluster.js");
  await runClusterBench();
  process.exit(0);
}
// `npm run bench -- --scale`: the 10,000-link ladder (bench/scale.ts, docs/performance.md), nothing else.
if (process.argv.includes("--scale")) {
  const { runScaleBench } = await import("./scale.js");
  process.exit(await runScaleBench(process.argv.slice(2).filter((a) => a !== "--scale")));
}

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");
const SELF = fileURLToPath(import.meta.url);
/**
 * The whole measuring run (15 min): three systems with fresh starts per trial, ejabberd's taking
 * seconds each; the metrics cost section, last, stops starting pairs a minute before it.
 */
const RUN_DEADLINE_MS = 900_000;
const EXIT_CANNOT_RUN = 2;

function say(line: string): void {
  process.stdout.write(`[bench] ${line}\n`);
}

// --- Options ---------------------------------------------------------------------------------

interface Options {
  readonly smoke: boolean;
  readonly quick: boolean;
  readonly inside: boolean;
  readonly keep: boolean;
  readonly cpuProf: boolean;
  /** Our servers collect Prometheus metrics (`[instrumentation.prometheus]`). */
  readonly metrics: boolean;
  /** Only the metrics cost section (on plain loopback, ours only). */
  readonly metricsCostOnly: boolean;
  /** Only the first message on a fresh link (no throughput run, memory, parser or metrics cost). */
  readonly firstMessageOnly: boolean;
  /** The metrics cost section: pairs (0 = not run), workload and scrape interval. */
  readonly cost: { readonly pairs: number; readonly messages: number; readonly warmup: number; readonly batch: number; readonly scrapeMs: number; readonly idleSeconds: number; readonly mode: CostMode; readonly control: boolean };
  readonly trials: number;
  readonly messages: number;
  readonly links: number;
  readonly batch: number;
  /** Messages sent (and awaited) over the link before the timed run, untimed: V8 warm-up. */
  readonly warmup: number;
  readonly parserBytes: number;
  readonly parserRuns: number;
  readonly outDir: string;
  readonly systems: readonly System[];
  /** The command line as typed (without --inside), for the JSON and the inner process. */
  readonly args: readonly string[];
}

function parseOptions(argv: readonly string[]): Options {
  const has = (flag: string) => argv.includes(flag);
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (flag: string, fallback: number): number => {
    const v = value(flag);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: expected a positive integer (got ${JSON.stringify(v)})`);
    return n;
  };
  const withValue = ["--trials", "--messages", "--links", "--batch", "--warmup", "--out", "--pairs", "--scrape-ms", "--cost-mode"];
  const known = new Set(["--smoke", "--quick", "--first-message", "--inside", "--keep", "--cpu-prof", "--metrics", "--metrics-cost", "--cost-control", "--no-ejabberd", "--no-metrics-cost", ...withValue]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!known.has(a)) throw new Error(`unknown option ${a} (expected ${[...known].filter((k) => k !== "--inside").join(", ")})`);
    if (withValue.includes(a)) i++;
  }
  const smoke = has("--smoke");
  const quick = has("--quick");
  const firstMessageOnly = has("--first-message");
  if (firstMessageOnly && (has("--metrics-cost") || smoke)) throw new Error("--first-message is a run of its own (not with --metrics-cost or --smoke)");
  const preset = smoke
    ? { trials: 1, messages: 300, links: 100, parserBytes: 200_000, parserRuns: 1 }
    : firstMessageOnly
      ? { trials: 10, messages: 0, links: 0, parserBytes: 0, parserRuns: 0 }
      : quick
      ? { trials: 1, messages: 5_000, links: 200, parserBytes: 2_000_000, parserRuns: 3 }
      : { trials: 3, messages: 20_000, links: 1_000, parserBytes: 8_000_000, parserRuns: 5 };
  const metricsCostOnly = has("--metrics-cost");
  if (has("--cost-control") && value("--cost-mode") === "sequential") throw new Error("--cost-control needs --cost-mode concurrent");
  if (metricsCostOnly && has("--metrics")) throw new Error("--metrics-cost compares metrics off and on itself: drop --metrics");
  const costPreset = smoke ? { pairs: 2, messages: 2_000, warmup: 500, scrapeMs: 200 } : quick ? { pairs: 6, messages: 100_000, warmup: 50_000, scrapeMs: 1_000 } : { pairs: 10, messages: 200_000, warmup: 100_000, scrapeMs: 1_000 };
  // The full run's sections keep --messages/--warmup/--batch; the cost section has its own workload unless it runs alone.
  const costInt = (flag: string, fallback: number) => (metricsCostOnly ? int(flag, fallback) : fallback);
  return {
    smoke,
    quick,
    metricsCostOnly,
    firstMessageOnly,
    cost: {
      pairs: (smoke || firstMessageOnly || has("--no-metrics-cost")) && !metricsCostOnly ? 0 : int("--pairs", costPreset.pairs),
      messages: costInt("--messages", costPreset.messages),
      warmup: metricsCostOnly && value("--warmup") === "0" ? 0 : costInt("--warmup", costPreset.warmup),
      batch: costInt("--batch", DEFAULT_BATCH),
      scrapeMs: int("--scrape-ms", costPreset.scrapeMs),
      idleSeconds: smoke ? 1 : 5,
      mode: costMode(value("--cost-mode")),
      control: has("--cost-control"),
    },
    inside: has("--inside"),
    keep: has("--keep") || process.env.XMPP_S2S_BENCH_KEEP === "1",
    cpuProf: has("--cpu-prof"),
    metrics: has("--metrics"),
    trials: int("--trials", preset.trials),
    messages: int("--messages", preset.messages),
    links: int("--links", preset.links),
    batch: int("--batch", DEFAULT_BATCH),
    warmup: value("--warmup") === "0" ? 0 : int("--warmup", 0),
    parserBytes: preset.parserBytes,
    parserRuns: preset.parserRuns,
    outDir: resolve(value("--out") ?? join(ROOT, "bench", "results")),
    systems: smoke || metricsCostOnly ? ["ours"] : has("--no-ejabberd") ? ["ours", "prosody"] : ["ours", "prosody", "ejabberd"],
    // --out made absolute: the measuring process runs from the repository root.
    args: argv.filter((a) => a !== "--inside").map((a, i, all) => (all[i - 1] === "--out" ? resolve(a) : a)),
  };
}

function costMode(v: string | undefined): CostMode {
  if (v === undefined || v === "concurrent" || v === "sequential") return v ?? "concurrent";
  throw new Error(`--cost-mode: expected concurrent or sequential (got ${JSON.stringify(v)})`);
}

class CannotRun extends Error {}

// --- Outside the namespace: checks, build, namespace, re-exec inside, teardown ------------------

const REQUIRED_COMMANDS = ["ip", "dnsmasq", "prosody", "prosodyctl", "openssl", "lua5.4"];

function hasCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function preflight(options: Options): void {
  if (process.platform !== "linux") throw new CannotRun(`needs Linux network namespaces (this is ${process.platform})`);
  if (process.getuid?.() !== 0) throw new CannotRun("not root: the network namespace, dnsmasq on port 53 and Prosody need root (run it with sudo, or use --smoke for ours -> ours on plain loopback)");
  const missing = REQUIRED_COMMANDS.filter((c) => !hasCommand(c));
  if (missing.length > 0) {
    throw new CannotRun(`missing ${missing.join(", ")}: install Prosody 0.12 and the tools, e.g. apt-get install --no-install-recommends prosody lua-unbound lua-sec lua-event dnsmasq-base iproute2 openssl lua5.4 (with a policy-rc.d that keeps the packaged Prosody from starting; see docs/interop.md)`);
  }
  const lua = spawnSync("lua5.4", ["-e", 'package.path="/usr/lib/prosody/?.lua;"..package.path; package.cpath="/usr/lib/prosody/?.so;"..package.cpath; require "util.xmppstream"; require "util.time"'], { encoding: "utf8", timeout: 10_000 });
  if (lua.status !== 0) throw new CannotRun(`Prosody's util.xmppstream does not load in lua5.4 (is Prosody 0.12 installed under /usr/lib/prosody, with lua-expat?): ${(lua.stderr || "").trim()}`);
  if (options.systems.includes("ejabberd")) {
    const ejabberd = findEjabberd();
    if ("missing" in ejabberd || !hasCommand("erl")) {
      throw new CannotRun(`ejabberd (the second reference) is not installed (${"missing" in ejabberd ? ejabberd.missing : "no erl"}): apt-get install ejabberd, with a policy-rc.d that keeps the packaged service from starting (the bench starts its own instances; docs/performance.md), or run with --no-ejabberd`);
    }
  }
}

let netns: string | undefined;
let inner: ChildProcess | undefined;
let innerExited: Promise<void> | undefined;
let outerTornDown: Promise<void> | undefined;

function innerAlive(): boolean {
  return inner !== undefined && inner.exitCode === null && inner.signalCode === null;
}

/** Stops the measuring process's group (it and the servers it started), by its PID. */
async function stopInner(): Promise<void> {
  if (!inner?.pid || !innerAlive()) return;
  try {
    process.kill(-inner.pid, "SIGTERM");
  } catch {
    /* gone */
  }
  if (await within(innerExited!, 15_000)) return;
  say(`measuring process (pid ${inner.pid}) ignored SIGTERM: SIGKILL to its group`);
  try {
    process.kill(-inner.pid, "SIGKILL");
  } catch {
    /* gone */
  }
  await within(innerExited!, 3_000);
}

function outerTeardown(): Promise<void> {
  outerTornDown ??= (async () => {
    await stopInner();
    if (netns) {
      spawnSync("ip", ["netns", "delete", netns], { stdio: "ignore", timeout: 10_000 });
      rmSync(join("/etc/netns", netns), { recursive: true, force: true });
      say(`deleted network namespace ${netns}`);
    }
  })();
  return outerTornDown;
}

async function outer(options: Options): Promise<number> {
  preflight(options);
  ensureBuilt();
  netns = `xs2s-bench-${process.pid}-${randomBytes(3).toString("hex")}`;
  const add = spawnSync("ip", ["netns", "add", netns], { encoding: "utf8", timeout: 10_000 });
  if (add.status !== 0) {
    const why = (add.stderr || add.error?.message || "").trim();
    netns = undefined;
    throw new CannotRun(`cannot create a network namespace (ip netns add: ${why})`);
  }
  const up = spawnSync("ip", ["-n", netns, "link", "set", "lo", "up"], { encoding: "utf8", timeout: 10_000 });
  if (up.status !== 0) throw new Error(`ip -n ${netns} link set lo up: ${up.stderr}`);
  const etc = join("/etc/netns", netns);
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, "resolv.conf"), "nameserver 127.0.0.53\noptions timeout:1 attempts:2\n");
  writeFileSync(join(etc, "hosts"), "127.0.0.1 localhost\n");
  say(`network namespace ${netns}`);

  inner = spawn("ip", ["netns", "exec", netns, process.execPath, ...process.execArgv, SELF, "--inside", ...options.args], { cwd: ROOT, stdio: "inherit", detached: true, env: { ...process.env, XMPP_S2S_BUILT: "1" } });
  innerExited = new Promise<void>((resolve) => inner!.once("exit", () => resolve()));
  inner.once("error", (err) => say(`measuring process: ${err.message}`));
  if (!(await within(innerExited, RUN_DEADLINE_MS))) {
    say(`the run took longer than ${RUN_DEADLINE_MS / 1000} s: stopping it`);
    await stopInner();
    return 1;
  }
  return inner.exitCode ?? 1;
}

// --- Inside (or on plain loopback with --smoke): the measurements ------------------------------

/** A memory trial, with the target's RSS idle: started, listening, settled, before any link. */
type MemoryTrial = MemoryResult & { readonly idleRss: number };

interface LinkTrial {
  readonly trial: number;
  /** Under XMPP_S2S_BENCH_ALTERNATE_ROOT: the checkout this trial's pair ran (bench/world.ts startPair). */
  readonly root?: string;
  readonly latencyMs: number;
  /** CPU time of A and B together (every thread) while the first message crossed the fresh link, ms: less sensitive to the machine's load than the latency. */
  readonly firstMessageCpuMs: number;
  /** The first message's window on CLOCK_MONOTONIC, µs (the profiles' clock: --first-message --cpu-prof cuts them to it). */
  readonly firstMessageWindowUs: { readonly start: number; readonly end: number };
  /** Absent with --first-message (no throughput run on the link). */
  readonly throughput?: ThroughputResult;
}

interface Collected {
  link: Record<System, LinkTrial[]>;
  memory: Record<System, MemoryTrial[]>;
  parser?: ParserScenarioResult;
  metricsCost?: MetricsCostResult;
  errors: string[];
}

function prosodyVersion(world: BenchWorld): string {
  const r = spawnSync("prosodyctl", ["--config", world.servers.prosody.a.configFile, "about"], { encoding: "utf8", timeout: 20_000 });
  // Never `prosody --version`: 0.12 has no such flag and starts a server from the system config.
  return /^Prosody \S+/m.exec(r.stdout ?? "")?.[0] ?? "Prosody (unknown version)";
}

function ourVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout?.trim();
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, encoding: "utf8" }).stdout?.trim();
  return `xmpp-s2s ${pkg.version}${head ? ` (${head}${dirty ? ", modified" : ""})` : ""}`;
}

async function linkTrial(world: BenchWorld, system: System, trial: number, options: Options): Promise<LinkTrial> {
  const pair = await world.startPair(system);
  let x: RawComponent | undefined;
  let y: RawComponent | undefined;
  try {
    const { a, b } = pair;
    y = await RawComponent.connect(b.spec.ip, b.spec.servicePort, b.spec.componentDomain, b.spec.componentSecret);
    x = await RawComponent.connect(a.spec.ip, a.spec.servicePort, a.spec.componentDomain, a.spec.componentSecret);
    const cpu0 = cpuMicros(a.pid) + cpuMicros(b.pid);
    const { latencyMs, windowUs: firstMessageWindowUs } = await firstMessage(x, y, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n--- ${a.spec.name} log:\n${a.tail()}\n--- ${b.spec.name} log:\n${b.tail()}`);
    });
    const firstMessageCpuMs = (cpuMicros(a.pid) + cpuMicros(b.pid) - cpu0) / 1000;
    const first = { trial, ...(pair.root ? { root: pair.root } : {}), latencyMs, firstMessageCpuMs, firstMessageWindowUs };
    if (options.firstMessageOnly) return first;
    if (options.warmup > 0) {
      // Untimed: lets V8 optimise the hot path first (steady state); the issue's figure is without it.
      await throughput(x, y, { a: a.pid, b: b.pid }, options.warmup, 120_000, options.batch);
    }
    const tp = await throughput(x, y, { a: a.pid, b: b.pid }, options.messages, 120_000, options.batch).catch((err: Error) => {
      throw new Error(`${err.message}\n--- ${a.spec.name} log:\n${a.tail()}\n--- ${b.spec.name} log:\n${b.tail()}`);
    });
    return { ...first, throughput: tp };
  } finally {
    x?.close();
    y?.close();
    await pair.stop();
  }
}

async function memoryTrial(world: BenchWorld, system: System, options: Options): Promise<MemoryTrial> {
  const target = await world.startServer(system, "b", "memory");
  const spec = world.loadgen;
  let gen: S2sLoadGen | undefined;
  try {
    // What an operator sees of an idle server: no forced GC, RSS settled (stable within 0.5 %).
    const idleRss = await settledRss(target.pid, 1_000, 8_000);
    gen = await S2sLoadGen.start({ domain: spec.domain, secret: spec.secret, listenHost: spec.ip, listenPort: spec.port, certPem: spec.certPem, keyPem: spec.keyPem });
    const links = await memoryPerLink(gen, { host: target.spec.ip, port: target.spec.s2sPort, domain: target.spec.domain, pid: target.pid, gcFile: target.gcFile }, options.links, {
      concurrency: 25,
      linkTimeoutMs: 20_000,
      deadlineMs: 120_000,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- ${target.spec.name} log:\n${target.tail()}`);
    });
    return { ...links, idleRss };
  } finally {
    await gen?.close();
    await target.stop();
  }
}

/** Under XMPP_S2S_BENCH_ALTERNATE_ROOT: the first message's medians per checkout (alternating pairs, one invocation). */
function sayPerRoot(trials: readonly LinkTrial[]): void {
  const roots = [...new Set(trials.map((r) => r.root).filter((r): r is string => r !== undefined))];
  for (const root of roots) {
    const mine = trials.filter((r) => r.root === root);
    const runs = mine.flatMap((r) => (r.throughput ? [r.throughput] : []));
    const steady = runs.length === 0 ? "" : `; messages/s median ${fmt.int(median(runs.map((t) => t.msgsPerSec)))}, CPU µs per message A / B median ${median(runs.map((t) => t.cpuUsPerMsgA)).toFixed(1)} / ${median(runs.map((t) => t.cpuUsPerMsgB)).toFixed(1)}`;
    say(`${root}: ${mine.length} trials, first message median ${median(mine.map((r) => r.latencyMs)).toFixed(1)} ms, CPU of A + B median ${median(mine.map((r) => r.firstMessageCpuMs)).toFixed(1)} ms${steady}`);
  }
}

const fmt = {
  int: (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "-" : Math.round(n).toLocaleString("en-US")),
};

/**
 * Issue 15's targets, each against a reference measured in this same invocation (or a fixed
 * limit). The 10,000-link ladder is a separate command (`--scale`, bench/scale.ts).
 */
const TARGETS: readonly Target[] = [
  { label: "throughput, cold 20,000 run, >= 4x ejabberd", figure: "messages/s over one link", against: "ejabberd", op: ">=", limit: 4, limitLabel: ">= 4x" },
  { label: "throughput, cold 20,000 run, >= 5x Prosody", figure: "messages/s over one link", against: "prosody", op: ">=", limit: 5, limitLabel: ">= 5x" },
  { label: "CPU per stanza, server A, <= 1/4 ejabberd", figure: "CPU µs per message, server A", against: "ejabberd", op: "<=", limit: 0.25, limitLabel: "<= 0.25x" },
  { label: "CPU per stanza, server B, <= 1/4 ejabberd", figure: "CPU µs per message, server B", against: "ejabberd", op: "<=", limit: 0.25, limitLabel: "<= 0.25x" },
  { label: "peak RSS in that run, server A, <= 2x Prosody", figure: "peak RSS after the run, MiB, server A", against: "prosody", op: "<=", limit: 2, limitLabel: "<= 2x" },
  { label: "peak RSS in that run, server B, <= 2x Prosody", figure: "peak RSS after the run, MiB, server B", against: "prosody", op: "<=", limit: 2, limitLabel: "<= 2x" },
  { label: "RSS of an idle server, MiB", figure: "RSS of an idle server, MiB", against: "absolute", op: "<=", limit: 48, limitLabel: "<= 48 MiB" },
  { label: "memory per idle authenticated STARTTLS link (SASL EXTERNAL on) <= Prosody", figure: "memory per idle TLS link, KiB", against: "prosody", op: "<=", limit: 1, limitLabel: "<= 1x" },
  { label: "first message on a fresh link <= 1/3 Prosody", figure: "first message on a fresh link, ms", against: "prosody", op: "<=", limit: 1 / 3, limitLabel: "<= 0.33x" },
];

/**
 * The memory figure over trials: the median of the trials that gave one, with their spread
 * ("(40.1-44.0)"), or no value and "too noisy" when none did. Never a figure from a noisy trial.
 */
function memoryFigure(trials: readonly MemoryTrial[]): { value?: number; note?: string } {
  if (trials.length === 0) return {};
  const figures = trials.map((m) => m.kibPerLink).filter((k): k is number => k !== undefined);
  if (figures.length === 0) return { note: "too noisy" };
  const spread = figures.length > 1 ? `(${Math.min(...figures).toFixed(1)}-${Math.max(...figures).toFixed(1)})` : `(±${(trials.find((m) => m.kibPerLink !== undefined)!.noiseKib / 2).toFixed(1)})`;
  const dropped = trials.length - figures.length;
  return { value: median(figures), note: dropped > 0 ? `${spread}, ${dropped} noisy` : spread };
}

function med(values: readonly number[]): number | undefined {
  return values.length > 0 ? median(values) : undefined;
}

/** Trial t's order of the systems: rotated by one each trial, so each goes first, middle and last in turn. */
function rotation(systems: readonly System[], t: number): System[] {
  const k = (t - 1) % systems.length;
  return [...systems.slice(k), ...systems.slice(0, k)];
}

/** Every figure, medians over the trials, per system measured (a system not measured has no value). */
function figureRows(collected: Collected, systems: readonly System[]): FigureRow[] {
  const per = (f: (system: System) => number | undefined): Partial<Record<System, number>> => Object.fromEntries(systems.map((s) => [s, f(s)]));
  const link = (f: (r: LinkTrial) => number) => per((s) => med(collected.link[s].map(f)));
  const run = (f: (r: ThroughputResult) => number) => per((s) => med(collected.link[s].flatMap((r) => (r.throughput ? [f(r.throughput)] : []))));
  const mib = 2 ** 20;
  const parser = collected.parser;
  return [
    { figure: "messages/s over one link", values: run((t) => t.msgsPerSec), digits: 0, better: "higher" },
    { figure: "CPU µs per message, server A", values: run((t) => t.cpuUsPerMsgA), digits: 1, better: "lower" },
    { figure: "CPU µs per message, server B", values: run((t) => t.cpuUsPerMsgB), digits: 1, better: "lower" },
    { figure: "CPU µs per message, bench client (info)", values: run((t) => t.cpuUsPerMsgClient), digits: 1, better: "lower" },
    { figure: "first message on a fresh link, ms", values: link((r) => r.latencyMs), digits: 1, better: "lower" },
    { figure: "CPU of A + B during that first message, ms", values: link((r) => r.firstMessageCpuMs), digits: 1, better: "lower" },
    { figure: "memory per idle TLS link, KiB", values: per((s) => memoryFigure(collected.memory[s]).value), notes: Object.fromEntries(systems.map((s) => [s, memoryFigure(collected.memory[s]).note])), digits: 1, better: "lower" },
    { figure: "RSS of an idle server, MiB", values: per((s) => med(collected.memory[s].map((m) => m.idleRss / mib))), digits: 1, better: "lower" },
    { figure: "peak RSS after the run, MiB, server A", values: run((t) => t.peakRssA / mib), digits: 1, better: "lower" },
    { figure: "peak RSS after the run, MiB, server B", values: run((t) => t.peakRssB / mib), digits: 1, better: "lower" },
    { figure: "parser MB/s", values: { ours: parser?.ours.mbPerSec, prosody: parser?.prosody?.mbPerSec }, digits: 1, better: "higher" },
    { figure: "parser stanzas/s", values: { ours: parser?.ours.stanzasPerSec, prosody: parser?.prosody?.stanzasPerSec }, digits: 0, better: "higher" },
  ];
}

/** The measuring run's temp folder, removed on a signal too (unless --keep). */
let workDir: string | undefined;

async function measure(options: Options, mode: Mode): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-bench-"));
  workDir = dir;
  const started = Date.now();
  const loadBefore = loadNumbers();
  const { cpuModel, nproc } = machine();
  const cpuProfDir = options.cpuProf ? join(dir, "profiles") : undefined;
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
  const collected: Collected = { link: { ours: [], prosody: [], ejabberd: [] }, memory: { ours: [], prosody: [], ejabberd: [] }, errors: [] };
  let world: BenchWorld | undefined;
  let prosody = "";
  const ejabberdFound = options.systems.includes("ejabberd") ? findEjabberd() : undefined;
  const ejabberd = ejabberdFound && !("missing" in ejabberdFound) ? ejabberdFound.version : "";
  const ours = ourVersion();
  try {
    world = await BenchWorld.create({ mode, dir, root: ROOT, cpuProfDir, metrics: options.metrics, ejabberd: ejabberdFound && !("missing" in ejabberdFound) ? ejabberdFound : undefined });
    if (options.systems.includes("prosody")) prosody = prosodyVersion(world);
    say(`${ours} vs ${prosody || "(Prosody not measured)"} vs ${ejabberd || "(ejabberd not measured)"}; node ${process.version}; ${cpuModel}, nproc ${nproc}; load ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
    if (options.metricsCostOnly) say(`metrics cost only: ${options.cost.pairs} pairs of trials (off/on); temp folder ${dir}`);
    else if (options.firstMessageOnly) say(`first message only: ${options.trials} trial(s), fresh processes each; temp folder ${dir}`);
    else say(`${options.trials} trial(s); ${options.messages} messages per link run; ${options.links} links for memory; parser corpus ${(options.parserBytes / 1e6).toFixed(1)} MB x ${options.parserRuns} runs; temp folder ${dir}`);
    const trials = options.metricsCostOnly ? 0 : options.trials;
    // On a machine so loaded that the trials would run past the whole run's bound (and lose every
    // figure), stop starting trials of a section once its share of the bound is used; noted in the errors.
    const outOfTime = (section: string, t: number, share: number): boolean => {
      if (t === 1 || Date.now() - started < share * RUN_DEADLINE_MS) return false;
      const text = `${section} trials: time bound reached after ${t - 1} of ${trials} (${Math.round((share * RUN_DEADLINE_MS) / 1000)} s for this section)`;
      collected.errors.push(text);
      say(text);
      return true;
    };

    // 1-3: fresh pair per trial and system: first message (latency), then the throughput run on that link.
    for (let t = 1; t <= trials; t++) {
      if (outOfTime("link", t, 0.4)) break;
      const order = rotation(options.systems, t);
      for (const system of order) {
        try {
          const r = await linkTrial(world, system, t, options);
          collected.link[system].push(r);
          const tp = r.throughput;
          if (!tp) {
            say(`link trial ${t} ${system}${r.root ? ` (${r.root})` : ""}: first message ${r.latencyMs.toFixed(1)} ms (CPU of A + B ${r.firstMessageCpuMs.toFixed(1)} ms)`);
            continue;
          }
          say(`link trial ${t} ${system}: first message ${r.latencyMs.toFixed(1)} ms; ${fmt.int(tp.msgsPerSec)} msgs/s (${tp.messages} in ${tp.seconds.toFixed(2)} s); CPU/msg A ${tp.cpuUsPerMsgA.toFixed(1)} µs, B ${tp.cpuUsPerMsgB.toFixed(1)} µs, client ${tp.cpuUsPerMsgClient.toFixed(1)} µs; peak RSS A ${(tp.peakRssA / 2 ** 20).toFixed(1)} MiB, B ${(tp.peakRssB / 2 ** 20).toFixed(1)} MiB`);
        } catch (err) {
          const text = `link trial ${t} ${system} failed: ${(err as Error).message}`;
          collected.errors.push(text);
          say(text);
        }
      }
    }

    sayPerRoot(collected.link.ours);

    // 4: memory per idle authenticated TLS link, fresh target per trial.
    for (let t = 1; t <= (options.firstMessageOnly ? 0 : trials); t++) {
      if (outOfTime("memory", t, 0.8)) break;
      const order = rotation(options.systems, t);
      for (const system of order) {
        try {
          const m = await memoryTrial(world, system, options);
          collected.memory[system].push(m);
          const mib = (values: readonly number[]) => values.map((v) => (v / 2 ** 20).toFixed(1)).join("/");
          say(`memory trial ${t} ${system}: ${m.links} links in ${(m.openMs / 1000).toFixed(1)} s (${m.verifications} db:verify); RSS${m.forcedGc ? " after forced GC" : ""} ${mib(m.rssBefore)} -> ${mib(m.rssAfter)} MiB = ${m.kibPerLink === undefined ? m.noisy : `${m.kibPerLink.toFixed(1)} KiB/link (samples wander ${m.noiseKib.toFixed(1)} KiB/link)`}; idle RSS before any link ${(m.idleRss / 2 ** 20).toFixed(1)} MiB`);
        } catch (err) {
          const text = `memory trial ${t} ${system} failed: ${(err as Error).message}`;
          collected.errors.push(text);
          say(text);
        }
      }
    }

    // 5: parsers on one corpus.
    try {
      if (!options.metricsCostOnly && !options.firstMessageOnly) collected.parser = parserScenario({ dir, bytes: options.parserBytes, runs: options.parserRuns, prosody: options.systems.includes("prosody"), timeoutMs: 120_000 });
      const p = collected.parser;
      if (p) say(`parser: ${(p.bytes / 1e6).toFixed(2)} MB, ${p.stanzas} stanzas: ours ${p.ours.mbPerSec.toFixed(1)} MB/s${p.prosody ? `, Prosody ${p.prosody.mbPerSec.toFixed(1)} MB/s` : ""}`);
    } catch (err) {
      const text = `parser scenario failed: ${(err as Error).message}`;
      collected.errors.push(text);
      say(text);
    }

    // 6: the cost of the Prometheus metrics, ours only, off/on pairs in this invocation.
    if (options.cost.pairs > 0) {
      // Its own worlds on plain loopback (also inside the namespace): one per side, so that the
      // off and on pairs can run at the same time without sharing a port.
      const worlds = {
        off: await BenchWorld.create({ mode: "loopback", dir: join(dir, "cost-off"), root: ROOT }),
        on: await BenchWorld.create({ mode: "loopback", dir: join(dir, "cost-on"), root: ROOT }),
      };
      collected.metricsCost = await metricsCost(worlds, { ...options.cost, deadlineAt: started + RUN_DEADLINE_MS - 60_000, say });
      collected.errors.push(...collected.metricsCost.errors);
    }
  } finally {
    await world?.close();
    await stopAll();
  }

  const loadAfter = loadNumbers();
  const rows = figureRows(collected, options.systems);
  const targets = TARGETS.map((t) => evaluate(t, rows));
  const elapsed = (Date.now() - started) / 1000;
  const where = options.smoke || options.metricsCostOnly ? "ours -> ours on plain loopback, s2s.address" : `${options.systems.map((s) => `${SYSTEM_LABEL[s]} -> ${SYSTEM_LABEL[s]}`).join(" vs ")}, network namespace, DNS SRV`;
  const lines = [
    "",
    options.metricsCostOnly ? `xmpp-s2s bench, metrics cost only (${where})` : `xmpp-s2s bench (${options.smoke ? `smoke: ${where}` : where}): medians of ${options.trials} trial(s)${options.metrics ? "; metrics ON ([instrumentation.prometheus])" : ""}`,
    `${ours}; ${prosody || "Prosody not measured"}; ${ejabberd || "ejabberd not measured"}; node ${process.version}; ${cpuModel}, nproc ${nproc}`,
    `load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}; ${elapsed.toFixed(0)} s`,
  ];
  if (!options.metricsCostOnly) {
    lines.push(
      options.firstMessageOnly ? "first message on a fresh link only (component -> A -> S2S (SRV, STARTTLS + dialback) -> B -> component), fresh processes per trial" : `link: ${options.messages} messages of ~200 B${options.batch > 1 ? ` (${options.batch} per write)` : ", one write each"}${options.warmup > 0 ? ` after ${options.warmup} untimed warm-up messages` : ""}, component -> A -> S2S (STARTTLS + dialback) -> B -> component; memory: ${options.links} inbound links to B (ours with SASL EXTERNAL enabled, the default: client certificates requested); parser: ${collected.parser ? `${(collected.parser.bytes / 1e6).toFixed(1)} MB, ${collected.parser.stanzas} stanzas, ${collected.parser.chunk / 1024} KiB chunks` : "-"}`,
      "",
      figuresTable(options.firstMessageOnly ? rows.filter((r) => Object.values(r.values).some((v) => v !== undefined)) : rows, options.systems),
      "",
      "targets (issue 15; ratios ours/reference from this run; 10,000 links: `npm run bench -- --scale`):",
      targetsTable(options.firstMessageOnly ? targets.filter((t) => t.ours !== undefined) : targets, rows),
    );
  }
  if (collected.metricsCost) {
    const c = options.cost;
    const how = c.mode === "concurrent" ? "each pair's off and on links running at the same time over the same window" : "off and on one after the other, in alternating order";
    const describe = `${c.control ? "CONTROL RUN (metrics off on both sides; 'on' is only the second link): " : ""}metrics cost ([instrumentation.prometheus] + [[listen.http]] /metrics scraped every ${c.scrapeMs} ms on both servers, vs neither): ${collected.metricsCost.pairs} pairs of trials (${c.mode}: ${how}), fresh servers per trial, ours on plain loopback; ${c.messages} messages of ~200 B${c.batch > 1 ? ` (${c.batch} per write)` : ", one write each"} after ${c.warmup} untimed warm-up messages, component -> A -> S2S -> B -> component${collected.metricsCost.cutShort ? `; ${collected.metricsCost.cutShort}` : ""}`;
    lines.push("", formatMetricsCost(collected.metricsCost, describe));
  }
  lines.push("");
  process.stdout.write(`${lines.join("\n")}\n`);

  // Hot spots (--cpu-prof): our servers' profiles, from the last link trial's pair.
  const profiles: Array<{ title: string; summary: ReturnType<typeof summarizeProfile> }> = [];
  if (cpuProfDir) {
    const files = readdirSync(cpuProfDir).filter((f) => f.endsWith(".cpuprofile")).sort();
    const lastA = files.filter((f) => f.startsWith("ours-link-a-")).pop();
    const lastB = files.filter((f) => f.startsWith("ours-link-b-")).pop();
    // With --first-message: the first message's window (no throughput run).
    const last = collected.link.ours[collected.link.ours.length - 1];
    const window = options.firstMessageOnly ? last?.firstMessageWindowUs : last?.throughput?.windowUs;
    const what = options.firstMessageOnly ? "first message only" : "throughput run only";
    for (const [title, f] of [[`ours A (sender side), ${what}`, lastA], [`ours B (receiver side), ${what}`, lastB]] as const) {
      if (!f) continue;
      try {
        const summary = summarizeProfile(join(cpuProfDir, f), ROOT, 20, window);
        profiles.push({ title, summary });
        process.stdout.write(`${formatProfile(summary, title)}\n\n`);
      } catch (err) {
        say(`cannot read profile ${f}: ${(err as Error).message}`);
      }
    }
  }

  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  mkdirSync(options.outDir, { recursive: true });
  const outFile = join(options.outDir, `bench-${options.metricsCostOnly ? "metrics-cost-" : options.firstMessageOnly ? "first-message-" : ""}${options.smoke ? "smoke-" : options.quick ? "quick-" : ""}${stamp}.json`);
  if (cpuProfDir) {
    const kept = join(options.outDir, `profiles-${stamp}`);
    cpSync(cpuProfDir, kept, { recursive: true });
    say(`CPU profiles kept in ${relative(process.cwd(), kept) || kept}`);
  }
  const json = {
    date: new Date().toISOString(),
    command: `node --import tsx bench/run.ts ${options.args.join(" ")}`.trim(),
    ours,
    prosody: prosody || undefined,
    ejabberd: ejabberd || undefined,
    machine: { cpuModel, nproc, node: process.version, loadBefore, loadAfter },
    seconds: elapsed,
    settings: { mode, trials: options.trials, messages: options.messages, batch: options.batch, warmup: options.warmup, links: options.links, parserBytes: options.parserBytes, parserRuns: options.parserRuns, metricsCost: options.cost },
    figures: options.metricsCostOnly ? [] : rows.map((r) => ({ figure: r.figure, ...r.values, notes: r.notes, ratioProsody: ratio(r, "prosody"), ratioEjabberd: ratio(r, "ejabberd"), better: r.better })),
    targets: options.metricsCostOnly ? [] : targets.map((t) => ({ target: t.target.label, ours: t.ours, against: t.target.against, reference: t.reference, ratio: t.ratio, limit: t.target.limitLabel, met: t.met || undefined })),
    trials: collected,
    hotSpots: profiles.map((p) => ({ title: p.title, ...p.summary })),
  };
  writeFileSync(outFile, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`results: ${outFile}\n`);
  if (options.keep) say(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });

  if (collected.errors.length > 0) {
    process.stdout.write(`\n${collected.errors.length} measurement(s) FAILED (see above); the table lacks them.\n`);
    return 1;
  }
  const missed = options.metricsCostOnly ? [] : targets.filter((t) => t.met === "NO").map((t) => t.target.label);
  if (collected.metricsCost?.verdict === "NOT met") missed.push("metrics cost");
  if (missed.length > 0) process.stdout.write(`targets missed: ${missed.join("; ")}${options.cpuProf ? "" : " (profile our servers with --cpu-prof)"}\n`);
  return 0;
}

// --- Entry ----------------------------------------------------------------------------------

let options: Options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(EXIT_CANNOT_RUN);
}

let exiting = false;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    if (exiting) return;
    exiting = true;
    say(`${sig}: stopping`);
    const done = options.inside || options.smoke || options.metricsCostOnly
      ? stopAll().then(() => {
          if (workDir && !options.keep) rmSync(workDir, { recursive: true, force: true });
        })
      : outerTeardown();
    void done.finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  });
}

let code: number;
try {
  if (options.smoke || options.metricsCostOnly) {
    ensureBuilt();
    code = await measure(options, "loopback");
  } else if (options.inside) {
    code = await measure(options, "netns");
  } else {
    code = await outer(options);
  }
} catch (err) {
  if (err instanceof CannotRun) {
    process.stdout.write(`bench: cannot run: ${err.message}\n`);
    code = EXIT_CANNOT_RUN;
  } else {
    process.stdout.write(`bench FAILED: ${(err as Error).stack ?? err}\n`);
    code = 1;
  }
}
if (!exiting) {
  if (options.inside || options.smoke || options.metricsCostOnly) await stopAll();
  else await outerTeardown();
  process.exit(code);
}
