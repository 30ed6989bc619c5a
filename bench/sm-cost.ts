/**
 * `npm run bench -- --sm` (docs/performance.md, "Stream management"): what XEP-0198 acks cost on
 * one S2S link, ours -> ours on plain loopback (no root, no namespace, no Prosody).
 *
 *   npm run bench -- --sm [--trials N] [--messages N] [--warmup N] [--batch N] [--tls] [--cpu-prof] [--trace-gc]
 *
 * Each trial is a pair of runs, one with stream management on both servers and one with it off
 * (`[plugins.stream_management] enabled = false`), the order alternating between trials so a load
 * change on this shared machine hits both; each run uses fresh server processes with the same
 * workload: component X -> server A -> one S2S link (dialback; plaintext unless --tls, so that no
 * TLS cost hides the acks') -> server B -> component Y, one warm-up message, `warmup` untimed
 * messages, then `messages` timed ones (bench/scenarios/throughput.ts). Reported: messages/s and
 * CPU µs per message (A + B) with SM on and off, medians of the trials, and the per-trial ratio
 * on/off (median, range, 95 % interval when there are enough trials: bench/lib/paired.ts). A run
 * with SM on checks that both servers logged `sm_enabled`, and one with SM off that neither did.
 * `--cpu-prof`: the servers run with `node --cpu-prof`; the hot spots of A and B over each timed run
 * are printed and the profiles kept (their folder is printed). `--trace-gc`: the servers run with
 * `node --trace-gc`; each run prints, per server, its collections over its whole life (start-up,
 * warm-up and timed burst): count and main-thread pause of scavenges and mark-compacts, and the
 * largest heap left after one (bench/lib/trace-gc.ts). The CPU figures then include the tracing.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../test/helpers/build.js";
import { formatProfile, summarizeProfile } from "./lib/cpu-profile.js";
import { formatGc, summarizeTraceGc } from "./lib/trace-gc.js";
import { makeCa, makeLeaf } from "../test/helpers/certs.js";
import { freePort } from "../test/helpers/ports.js";
import { pairedRatio, type PairedRatio } from "./lib/paired.js";
import { load, median } from "./lib/proc.js";
import { RawComponent } from "./lib/raw-component.js";
import { startProcess, stopAll, stopProcess, waitListening, type Started } from "./lib/spawn.js";
import { firstMessageLatency } from "./scenarios/latency.js";
import { throughput } from "./scenarios/throughput.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUN_DEADLINE_MS = 540_000;
const SECRET = "sm-bench";

interface Options {
  readonly trials: number;
  readonly messages: number;
  readonly warmup: number;
  readonly batch: number;
  readonly tls: boolean;
  /** Where the servers' CPU profiles go (`--cpu-prof`). */
  readonly profDir?: string;
  /** Servers run with `--trace-gc`, summarised per run. */
  readonly traceGc: boolean;
}

interface Run {
  readonly sm: boolean;
  readonly msgsPerSec: number;
  readonly cpuUsPerMsgAB: number;
}

interface Node {
  readonly name: "a" | "b";
  readonly domain: string;
  readonly component: string;
  readonly ip: string;
  s2sPort: number;
  servicePort: number;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer (got ${process.argv[i + 1]})`);
  return n;
}

function config(self: Node, peer: Node, sm: boolean, tls?: { certfile: string; cafile: string }): string {
  const address = [peer.domain, peer.component].map((host) => `{host = "${host}", ip_address = "${peer.ip}", port = ${peer.s2sPort}}`);
  return [
    `[general]`,
    `hosts = ["${self.domain}"]`,
    `[[listen.s2s]]`,
    `port = ${self.s2sPort}`,
    `ip_address = "${self.ip}"`,
    `[[listen.service]]`,
    `port = ${self.servicePort}`,
    `ip_address = "${self.ip}"`,
    `password = "${SECRET}"`,
    `[s2s]`,
    tls ? `use_starttls = "required"\ncertfile = "${tls.certfile}"\ncacertfile = "${tls.cafile}"` : `use_starttls = "false"`,
    `shared = "sm-bench-dialback"`,
    `address = [${address.join(", ")}]`,
    `[plugins.stream_management]`,
    `enabled = ${sm}`,
    ``,
  ].join("\n");
}

/** One run on fresh processes: warm link, untimed warm-up, timed burst. */
async function oneRun(dir: string, nodes: readonly [Node, Node], sm: boolean, o: Options, tls: { a: string; b: string; ca: string } | undefined, n: number): Promise<Run> {
  const started: Started[] = [];
  const components: RawComponent[] = [];
  try {
    for (const node of nodes) {
      node.s2sPort = await freePort(node.ip);
      node.servicePort = await freePort(node.ip);
    }
    for (const [self, peer] of [nodes, [nodes[1], nodes[0]]] as const) {
      const file = join(dir, `${self.name}-${n}.toml`);
      writeFileSync(file, config(self, peer, sm, tls && { certfile: self.name === "a" ? tls.a : tls.b, cafile: tls.ca }));
      const log = join(dir, `${self.name}-${n}.log`);
      const prof = o.profDir ? ["--cpu-prof", "--cpu-prof-interval=100", `--cpu-prof-dir=${o.profDir}`, `--cpu-prof-name=${sm ? "on" : "off"}-${n}-${self.name}.cpuprofile`] : [];
      const proc = startProcess(`${self.name}-${n}`, process.execPath, [...prof, ...(o.traceGc ? ["--trace-gc"] : []), join(ROOT, "dist", "bin", "xmpp-s2s.js"), "start", "--config", file, "--log-level", "info"], log, { cwd: ROOT });
      started.push(proc);
      await waitListening(proc, [[self.ip, self.s2sPort], [self.ip, self.servicePort]], 20_000, () => readFileSync(log, "utf8").slice(-2000));
    }
    const [a, b] = nodes;
    const y = await RawComponent.connect(b.ip, b.servicePort, b.component, SECRET);
    const x = await RawComponent.connect(a.ip, a.servicePort, a.component, SECRET);
    components.push(x, y);
    await firstMessageLatency(x, y, 30_000);
    const pids = { a: started[0]!.pid, b: started[1]!.pid };
    if (o.warmup > 0) await throughput(x, y, pids, o.warmup, 120_000, o.batch);
    const tp = await throughput(x, y, pids, o.messages, 120_000, o.batch);
    // The figure must be of what it claims: SM negotiated on the link, or not at all.
    for (const p of started) {
      const enabled = readFileSync(p.logFile, "utf8").includes(`"what":"sm_enabled"`);
      if (enabled !== sm) throw new Error(`${p.name}: SM ${sm ? "on" : "off"}, but sm_enabled was ${enabled ? "" : "not "}logged`);
    }
    const run = { sm, msgsPerSec: tp.msgsPerSec, cpuUsPerMsgAB: tp.cpuUsPerMsgA + tp.cpuUsPerMsgB };
    for (const c of components.splice(0)) c.close();
    const logs = started.map((p) => p.logFile);
    for (const p of started.splice(0).reverse()) await stopProcess(p);
    if (o.traceGc) for (const [i, file] of logs.entries()) console.log(`SM ${sm ? "on " : "off"}, run ${n}, server ${i === 0 ? "A" : "B"} GC: ${formatGc(summarizeTraceGc(readFileSync(file, "utf8")))}`);
    if (o.profDir) {
      // A profile is written when its process exits: now.
      for (const name of ["a", "b"]) console.log(formatProfile(summarizeProfile(join(o.profDir, `${sm ? "on" : "off"}-${n}-${name}.cpuprofile`), ROOT, 12, tp.windowUs), `SM ${sm ? "on" : "off"}, run ${n}, server ${name.toUpperCase()}`));
    }
    return run;
  } finally {
    for (const c of components) c.close();
    for (const p of started.reverse()) await stopProcess(p);
  }
}

function ratioLine(name: string, r: PairedRatio, unit: string): string {
  const ci = r.ci ? `, ${Math.round(r.ci.confidence * 100)} % interval ${r.ci.low.toFixed(3)}-${r.ci.high.toFixed(3)}` : "";
  return `${name}: on/off ${r.median.toFixed(3)} (median of ${r.pairs} trials, range ${r.min.toFixed(3)}-${r.max.toFixed(3)}${ci})${unit}`;
}

export async function runSmCostBench(): Promise<void> {
  const o: Options = { trials: option("trials", 5), messages: option("messages", 20_000), warmup: option("warmup", 2_000), batch: option("batch", 1), tls: process.argv.includes("--tls"), profDir: process.argv.includes("--cpu-prof") ? join(ROOT, "bench", "results", `sm-cpu-prof-${Date.now()}`) : undefined, traceGc: process.argv.includes("--trace-gc") };
  if (o.profDir) mkdirSync(o.profDir, { recursive: true });
  const deadline = Date.now() + RUN_DEADLINE_MS;
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-sm-bench-"));
  const stop = () => void stopAll().finally(() => process.exit(130));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const nodes: [Node, Node] = [
      { name: "a", domain: "sa.test", component: "bench.sa.test", ip: "127.0.0.1", s2sPort: 0, servicePort: 0 },
      { name: "b", domain: "sb.test", component: "bench.sb.test", ip: "127.0.0.1", s2sPort: 0, servicePort: 0 },
    ];
    let tls: { a: string; b: string; ca: string } | undefined;
    if (o.tls) {
      const ca = makeCa(dir, "xmpp-s2s SM bench CA");
      tls = { a: makeLeaf(ca, { domains: ["sa.test"] }).certfile, b: makeLeaf(ca, { domains: ["sb.test"] }).certfile, ca: ca.certPath };
    }
    console.log(`XEP-0198 cost, ours -> ours on loopback (${o.tls ? "STARTTLS" : "plaintext"} + dialback): ${o.trials} trials x (SM on, SM off), ${o.messages} timed messages after ${o.warmup} untimed, batch ${o.batch}; load ${load()}`);
    const on: Run[] = [];
    const off: Run[] = [];
    for (let t = 0; t < o.trials && Date.now() < deadline; t++) {
      // Alternate who goes first: a drift in the machine's load weighs on both sides.
      const order = t % 2 === 0 ? [true, false] : [false, true];
      const pair: Run[] = [];
      for (const sm of order) pair.push(await oneRun(dir, nodes, sm, o, tls, t * 2 + pair.length));
      for (const r of pair) (r.sm ? on : off).push(r);
      console.log(`trial ${t + 1}: ${pair.map((r) => `SM ${r.sm ? "on " : "off"} ${Math.round(r.msgsPerSec)} msgs/s, ${r.cpuUsPerMsgAB.toFixed(1)} µs CPU/msg (A+B)`).join("; ")}`);
    }
    if (on.length < o.trials) console.log(`cut short by the ${RUN_DEADLINE_MS / 1000} s bound after ${on.length} trials`);
    const tput = pairedRatio(off.map((r) => r.msgsPerSec), on.map((r) => r.msgsPerSec));
    const cpu = pairedRatio(off.map((r) => r.cpuUsPerMsgAB), on.map((r) => r.cpuUsPerMsgAB));
    console.log("");
    console.log(`| figure (median of ${on.length} trials) | SM off | SM on | on/off |`);
    console.log(`|---|---:|---:|---:|`);
    console.log(`| messages/s over one link | ${Math.round(median(off.map((r) => r.msgsPerSec)))} | ${Math.round(median(on.map((r) => r.msgsPerSec)))} | ${tput.median.toFixed(3)} |`);
    console.log(`| CPU µs per message, A + B | ${median(off.map((r) => r.cpuUsPerMsgAB)).toFixed(1)} | ${median(on.map((r) => r.cpuUsPerMsgAB)).toFixed(1)} | ${cpu.median.toFixed(3)} |`);
    console.log("");
    console.log(ratioLine("throughput", tput, " (below 1: SM slower)"));
    console.log(ratioLine("CPU per message", cpu, " (above 1: SM costs more)"));
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
    if (o.profDir) console.log(`CPU profiles kept in ${o.profDir}`);
  }
}
