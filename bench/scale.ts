/**
 * `npm run bench -- --scale` (docs/performance.md, "10,000 links"): concurrent idle authenticated
 * links in one server process, added in steps (100, 1,000, 10,000 by default), and at each step:
 * resident memory per link, what each additional link costs (memory and CPU), the server's idle
 * CPU, and the CPU cost of a stanza with that many links open. Prints one table; nothing may be
 * refused or closed.
 *
 *   npm run bench -- --scale                             # 100, 1,000, 10,000 links (several minutes)
 *   npm run bench -- --scale --counts 100,1000 --stanzas 5000
 *
 * Options: --counts N,N,... (links open at each step, increasing), --stanzas N per step and phase (20,000),
 * --rate N (stanzas/s, 5,000), --active N (the links of the "same links" phase, 100),
 * --concurrency N (links negotiating at once, 50), --plain (no
 * STARTTLS: plain TCP + dialback), --out DIR (bench/results), --smoke (10 and 20 links, 200
 * stanzas: what npm test runs), --cpu-prof (the server runs with `node --cpu-prof`; the first
 * round of each step's two stanza phases is summarised from the profile, per area and function, in
 * µs per stanza).
 *
 * Ours only, plain loopback (no root, no namespace). The server is our CLI from dist/ in its own
 * process (`--expose-gc` and bench/lib/gc-on-signal.cjs, so each RSS sample follows a forced GC,
 * as in the memory figure of `npm run bench`), with STARTTLS required, SASL EXTERNAL enabled (the
 * default authenticators: client certificates are requested), the echo service, and the per-IP
 * and per-listener connection caps lifted to the top count (every link comes from one load
 * generator address). The load generator (bench/lib/s2s-loadgen.ts, in this process) opens the
 * links from one domain: header, STARTTLS, header, `db:result`, `type='valid'`; it is also that
 * domain's authoritative server, reached through `s2s.address`, answering the server's
 * `db:verify` and receiving the echoes over the server's outbound stream.
 *
 * Up, per count: open the links (server CPU per added link), RSS before and after (forced GCs,
 * until it holds still: memory per added link, and per link), 3 s idle (server CPU per second with
 * every link open). Then down, per count from the top: close the newest links down to the count,
 * wait until the server is quiet again (its side of the closing: stream ends, close grace, GC), and
 * send `--stanzas` messages to `echo@` at `--rate` in two ways, alternating in four rounds (ABBA):
 * round robin over the same `--active` links at every count (what a stanza costs with that many
 * links open), and round robin over every open link (each stanza then lands on a link idle for
 * longer, whose state is colder in the CPU's caches): server CPU per stanza, the inbound message
 * and its echo out; every echo counted by id.
 * Before the first of these phases, `--stanzas` untimed stanzas over every link: the first stanzas
 * of a process run cold code, which would otherwise count against whichever step goes first. Stanzas run
 * after every RSS sample, so their garbage and heap growth never count as the links' memory. Both processes need a file descriptor per link: Node raises
 * its soft limit to the hard one (`ulimit -Hn`), checked before the run. Every phase has a deadline;
 * the server is stopped by its PID at the end, also on failure.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Socket } from "node:net";
import { join, resolve } from "node:path";
import { ensureBuilt } from "../test/helpers/build.js";
import { makeCa, makeLeaf } from "../test/helpers/certs.js";
import { freePort } from "../test/helpers/ports.js";
import { summarizeProfile, type ProfileSummary } from "./lib/cpu-profile.js";
import { cpuMicros, loadNumbers, machine, median } from "./lib/proc.js";
import { S2sLoadGen, type LinkTarget } from "./lib/s2s-loadgen.js";
import { startProcess, stopAll, stopProcess, waitListening, type Started } from "./lib/spawn.js";
import { rssSamples } from "./scenarios/memory.js";

const ROOT = resolve(import.meta.dirname, "..");
const SERVER_IP = "127.0.0.94";
const GEN_IP = "127.0.0.95";
const SERVER_DOMAIN = "xs.test";
const GEN_DOMAIN = "lg.test";
/** A step's figure against the first step's (or 1,000 links'): within this factor counts as flat. */
const FLAT = 1.25;
const IDLE_SECONDS = 3;
const RUN_DEADLINE_MS = 40 * 60_000;

interface ScaleOptions {
  readonly counts: readonly number[];
  readonly stanzas: number;
  readonly rate: number;
  /** Links used by the "same links" stanza phase at every count. */
  readonly active: number;
  readonly concurrency: number;
  readonly tls: boolean;
  readonly outDir: string;
  readonly smoke: boolean;
  readonly cpuProf: boolean;
}

function parse(argv: readonly string[]): ScaleOptions {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (flag: string, fallback: number) => {
    const v = value(flag);
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: expected a positive integer (got ${JSON.stringify(v)})`);
    return n;
  };
  const withValue = ["--counts", "--stanzas", "--rate", "--active", "--concurrency", "--out"];
  const known = new Set(["--plain", "--smoke", "--cpu-prof", ...withValue]);
  for (let i = 0; i < argv.length; i++) {
    if (!known.has(argv[i]!)) throw new Error(`--scale: unknown option ${argv[i]} (expected ${[...known].join(", ")})`);
    if (withValue.includes(argv[i]!)) i++;
  }
  const smoke = argv.includes("--smoke");
  const counts = (value("--counts") ?? (smoke ? "10,20" : "100,1000,10000")).split(",").map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n <= 0) || counts.some((n, i) => i > 0 && n <= counts[i - 1]!)) throw new Error(`--counts: expected increasing positive integers (got ${value("--counts")})`);
  return {
    counts,
    stanzas: int("--stanzas", smoke ? 200 : 20_000),
    rate: int("--rate", smoke ? 1_000 : 5_000),
    active: int("--active", smoke ? 5 : 100),
    concurrency: int("--concurrency", 50),
    tls: !argv.includes("--plain"),
    outDir: resolve(value("--out") ?? join(ROOT, "bench", "results")),
    smoke,
    cpuProf: argv.includes("--cpu-prof"),
  };
}

export interface ScaleStep {
  readonly links: number;
  readonly added: number;
  readonly openSeconds: number;
  /** Server CPU while the step's links were opened, per added link, ms. */
  readonly cpuMsPerAddedLink: number;
  /** RSS (median of three samples, each after a forced GC) before and after opening the step's links, bytes. */
  readonly rssBefore: number;
  readonly rssAfter: number;
  /**
   * The RSS increments of this and the earlier steps (after - before, each) / links, KiB: not
   * against a baseline taken at start-up, since V8 keeps returning start-up memory for a while.
   */
  readonly kibPerLink: number;
  /** RSS before this step minus RSS after the previous one (the baseline for the first), MiB: GC, V8 returning memory. */
  readonly driftMiB: number;
  /** (RSS after - RSS before) / added, KiB: what each link of this step cost. */
  readonly kibPerAddedLink: number;
  /** Server CPU per second with every link open and idle, ms. */
  readonly idleCpuMsPerSecond: number;
  readonly stanzasSent: number;
  readonly stanzasEchoed: number;
  /** Server CPU per stanza over the stanza phase spread over every open link (inbound message + echo out), µs. */
  readonly cpuUsPerStanza: number;
  /** The same over the same `active` links at every count, µs. */
  readonly cpuUsPerStanzaActive: number;
  readonly activeLinks: number;
  readonly stanzaSeconds: number;
  /** The stanza phase on the monotonic clock (µs, as V8 profiles), for --cpu-prof. */
  readonly stanzaWindowUs: { readonly start: number; readonly end: number };
  /** The same for the "same links" phase. */
  readonly activeWindowUs: { readonly start: number; readonly end: number };
  /** Links refused during the step, and links open before it that the server closed. */
  readonly refused: number;
  readonly closed: number;
  /** Links the server closed while the stanzas ran (must be 0). */
  readonly closedDuringStanzas: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * RSS once it holds still: rounds of three forced-GC samples until two rounds' medians agree
 * within 1 % (at most 5 rounds). V8 gives memory back in stages for seconds after a burst of work
 * (start-up, opening links), which one round alone would count as the links' memory.
 */
async function steadyRss(target: { pid: number; gcFile: string }): Promise<number> {
  let last = median((await rssSamples(target)).values);
  for (let round = 1; round < 5; round++) {
    const next = median((await rssSamples(target)).values);
    if (Math.abs(next - last) <= 0.01 * last) return next;
    last = next;
  }
  return last;
}

function fdLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
  return Number(line?.split(/\s+/)[3] ?? NaN);
}

function serverConfig(o: ScaleOptions, port: number, genPort: number, certfile: string): string {
  const cap = o.counts[o.counts.length - 1]! + 100;
  return [
    `# Generated by bench/scale.ts.`,
    `[general]`,
    `hosts = ["${SERVER_DOMAIN}"]`,
    `[[listen.s2s]]`,
    `port = ${port}`,
    `ip_address = "${SERVER_IP}"`,
    `# Every link comes from the one load generator address: lift the per-IP cap (100) and the listener's (10,000).`,
    `max_connections = ${cap}`,
    `max_connections_per_ip = ${cap}`,
    `# The first links idle while later steps open theirs (minutes under load): longer than the default 600 s.`,
    `idle_timeout = 3600`,
    `[s2s]`,
    `use_starttls = ${o.tls ? `"required"` : `"false"`}`,
    ...(o.tls ? [`certfile = "${certfile}"`] : []),
    `shared = "scale-server-secret"`,
    `address = [{host = "${GEN_DOMAIN}", ip_address = "${GEN_IP}", port = ${genPort}}]`,
    ``,
  ].join("\n");
}

export async function runScaleBench(argv: readonly string[]): Promise<number> {
  let o: ScaleOptions;
  try {
    o = parse(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    return 2;
  }
  const top = o.counts[o.counts.length - 1]!;
  const limit = fdLimit();
  // This process holds one socket per link; the server one per link plus its own.
  if (!(limit > top + 200)) {
    process.stdout.write(`bench --scale: cannot run: ${top} links need more than ${top + 200} file descriptors per process; this one may open ${limit} (raise it: ulimit -n ${top + 1000}, or the hard limit)\n`);
    return 2;
  }
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-scale-"));
  // Interrupted: stop the server by its PID and remove the temp folder, then leave.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      void stopAll().finally(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(sig === "SIGINT" ? 130 : 143);
      });
    });
  }
  const started = Date.now();
  const loadBefore = loadNumbers();
  const say = (line: string) => process.stdout.write(`[scale] ${line}\n`);
  const steps: ScaleStep[] = [];
  let gen: S2sLoadGen | undefined;
  let server: Started | undefined;
  let failure: string | undefined;
  try {
    const ca = makeCa(dir, "xmpp-s2s scale test CA");
    const serverLeaf = makeLeaf(ca, { domains: [SERVER_DOMAIN] });
    const genLeaf = makeLeaf(ca, { domains: [GEN_DOMAIN] });
    const port = await freePort(SERVER_IP);
    const genPort = await freePort(GEN_IP);
    gen = await S2sLoadGen.start({ domain: GEN_DOMAIN, secret: "scale-generator-secret", listenHost: GEN_IP, listenPort: genPort, certPem: genLeaf.certPem + genLeaf.chainPem, keyPem: genLeaf.keyPem, starttls: o.tls });
    const configFile = join(dir, "server.toml");
    writeFileSync(configFile, serverConfig(o, port, genPort, serverLeaf.certfile));
    const gcFile = join(dir, "gc.jsonl");
    const logFile = join(dir, "server.log");
    const profFlags = o.cpuProf ? ["--cpu-prof", "--cpu-prof-interval=100", `--cpu-prof-dir=${join(dir, "profiles")}`, "--cpu-prof-name=scale-server.cpuprofile"] : [];
    server = startProcess("xmpp-s2s (scale)", process.execPath, [...profFlags, "--expose-gc", "--require", join(ROOT, "bench", "lib", "gc-on-signal.cjs"), join(ROOT, "dist", "bin", "xmpp-s2s.js"), "start", "--config", configFile, "--log-level", "warn"], logFile, { cwd: ROOT, env: { ...process.env, XMPP_S2S_BENCH_GC_FILE: gcFile } });
    const tail = () => readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n");
    await waitListening(server, [[SERVER_IP, port]], 30_000, tail);
    const target: LinkTarget & { pid: number; gcFile: string } = { host: SERVER_IP, port, domain: SERVER_DOMAIN, pid: server.pid, gcFile };
    say(`${o.tls ? "STARTTLS + dialback (SASL EXTERNAL enabled)" : "plain TCP + dialback"}; steps ${o.counts.join(", ")} links; ${o.stanzas} stanzas per step at ${o.rate}/s; fd limit ${limit}; load ${loadBefore.map((l) => l.toFixed(2)).join(" ")}; temp folder ${dir}`);
    const warm = await gen.openLinks(target, 1, 1, 30_000, 30_000);
    if (warm.valid !== 1) throw new Error(`warm-up link failed: ${warm.errors.join("; ")}\n${tail()}`);
    const baseline = await steadyRss(target);
    say(`baseline (one link, and the server's verification link back): RSS ${(baseline / 2 ** 20).toFixed(1)} MiB`);
    // Up: links only (memory, CPU per added link, idle CPU), so no stanza garbage sits in the RSS samples.
    const up: OpenedStep[] = [];
    for (const count of o.counts) {
      if (Date.now() - started > RUN_DEADLINE_MS) throw new Error(`time bound (${RUN_DEADLINE_MS / 60_000} min) reached before opening ${count} links`);
      const step = await openStep(gen, target, o, count, up, up[up.length - 1]?.rssAfter ?? baseline);
      up.push(step);
      say(`${count} links: opened ${step.added} in ${step.openSeconds.toFixed(1)} s (${step.cpuMsPerAddedLink.toFixed(2)} ms server CPU each); RSS ${(step.rssAfter / 2 ** 20).toFixed(1)} MiB, ${step.kibPerAddedLink.toFixed(1)} KiB per added link, ${step.kibPerLink.toFixed(1)} KiB per link; idle ${step.idleCpuMsPerSecond.toFixed(2)} ms CPU/s; refused ${step.refused}, closed ${step.closed}`);
      if (step.refused > 0 || step.closed > 0) throw new Error(`at ${count} links: ${step.refused} refused, ${step.closed} closed\n${tail()}`);
    }
    // Untimed: the process's first stanzas run cold code (V8 compiles the path as it goes).
    const warmUp = await sendStanzas(gen, o, "warm-up", target.pid, [...gen.links]);
    say(`warm-up: ${warmUp.stanzasEchoed}/${warmUp.stanzasSent} stanzas echoed over ${gen.links.size} links, ${warmUp.cpuUsPerStanza.toFixed(1)} µs server CPU each (not in the table)`);
    if (warmUp.stanzasEchoed < warmUp.stanzasSent) throw new Error(`warm-up: ${warmUp.stanzasSent - warmUp.stanzasEchoed} stanzas not echoed\n${tail()}`);
    // Down: the stanza cost at each count, closing the newest links between counts.
    for (const step of [...up].reverse()) {
      if (Date.now() - started > RUN_DEADLINE_MS) throw new Error(`time bound (${RUN_DEADLINE_MS / 60_000} min) reached before the stanzas at ${step.links} links`);
      const closedOk = await closeDownTo(gen, step.links + 1);
      if (!closedOk) throw new Error(`could not close links down to ${step.links + 1} within 60 s (${gen.links.size} open)`);
      // The server's side of the closed links (stream close, close grace, GC) must not count
      // against the stanzas measured next (it did: the first phase after closing 9,000 links).
      await quiet(target.pid);
      const all = [...gen.links];
      // The two ways alternate in rounds, so a change of load on the machine hits both alike.
      const [same, stanzas] = await alternate(gen, o, `${step.links}`, target.pid, [all.slice(0, o.active), all]);
      say(`${step.links} links: ${same.cpuUsPerStanza.toFixed(1)} µs server CPU per stanza over the same ${Math.min(o.active, all.length)} links, ${stanzas.cpuUsPerStanza.toFixed(1)} over all; ${stanzas.stanzasEchoed + same.stanzasEchoed}/${stanzas.stanzasSent + same.stanzasSent} stanzas echoed in ${(stanzas.stanzaSeconds + same.stanzaSeconds).toFixed(1)} s; ${gen.links.size - 1} links open`);
      steps.unshift({ ...step, ...stanzas, cpuUsPerStanzaActive: same.cpuUsPerStanza, activeWindowUs: same.stanzaWindowUs, activeLinks: Math.min(o.active, all.length), closedDuringStanzas: step.links + 1 - gen.links.size });
      const lost = stanzas.stanzasSent - stanzas.stanzasEchoed + same.stanzasSent - same.stanzasEchoed;
      if (lost > 0 || gen.links.size !== step.links + 1) throw new Error(`at ${step.links} links: ${lost} stanzas not echoed, ${step.links + 1 - gen.links.size} links closed\n${tail()}`);
    }
  } catch (err) {
    failure = (err as Error).message;
    say(`FAILED: ${failure}`);
  } finally {
    await gen?.close();
    if (server) await stopProcess(server);
    await stopAll();
  }
  const loadAfter = loadNumbers();
  const { cpuModel, nproc } = machine();
  const lines = [
    "",
    `xmpp-s2s --scale: idle authenticated links in one process (${o.tls ? "STARTTLS + dialback, SASL EXTERNAL enabled" : "plain TCP + dialback"}), ours on plain loopback`,
    `node ${process.version}; ${cpuModel}, nproc ${nproc}; load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}; ${((Date.now() - started) / 1000).toFixed(0)} s`,
    "",
    scaleTable(steps),
    ...flatness(steps),
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  mkdirSync(o.outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const hotSpots = o.cpuProf ? stanzaProfiles(join(dir, "profiles", "scale-server.cpuprofile"), steps, join(o.outDir, `profiles-scale-${stamp}`), o.smoke ? 1 : ROUNDS) : [];
  const outFile = join(o.outDir, `scale-${o.smoke ? "smoke-" : ""}${stamp}.json`);
  writeFileSync(outFile, `${JSON.stringify({ date: new Date().toISOString(), command: `node --import tsx bench/run.ts --scale ${argv.join(" ")}`.trim(), machine: { cpuModel, nproc, node: process.version, loadBefore, loadAfter }, options: o, steps, failure, hotSpots }, null, 2)}\n`);
  process.stdout.write(`results: ${outFile}\n`);
  rmSync(dir, { recursive: true, force: true });
  return failure ? 1 : 0;
}

type StanzaFigures = Pick<ScaleStep, "stanzasSent" | "stanzasEchoed" | "cpuUsPerStanza" | "cpuUsPerStanzaActive" | "activeLinks" | "stanzaSeconds" | "stanzaWindowUs" | "activeWindowUs" | "closedDuringStanzas">;
type OpenedStep = Omit<ScaleStep, keyof StanzaFigures>;

async function openStep(gen: S2sLoadGen, target: LinkTarget & { pid: number; gcFile: string }, o: ScaleOptions, count: number, earlier: readonly OpenedStep[], previousRss: number): Promise<OpenedStep> {
  const open = earlier[earlier.length - 1]?.links ?? 0;
  const added = count - open;
  const rssBefore = await steadyRss(target);
  const cpu0 = cpuMicros(target.pid);
  // Bounded: 50 ms per link on top of a minute (minutes for 9,000 TLS links on a loaded 2-core machine).
  const opened = await gen.openLinks(target, added, o.concurrency, 60_000, 60_000 + added * 50);
  const cpuOpen = cpuMicros(target.pid) - cpu0;
  const rssAfter = await steadyRss(target);
  const idle0 = cpuMicros(target.pid);
  const idleSeconds = o.smoke ? 1 : IDLE_SECONDS;
  await sleep(idleSeconds * 1000);
  const idleCpu = cpuMicros(target.pid) - idle0;
  const increments = earlier.reduce((sum, s) => sum + (s.rssAfter - s.rssBefore), rssAfter - rssBefore);
  return {
    links: count,
    added,
    openSeconds: opened.ms / 1000,
    cpuMsPerAddedLink: cpuOpen / 1000 / added,
    rssBefore,
    rssAfter,
    kibPerLink: increments / count / 1024,
    driftMiB: (rssBefore - previousRss) / 2 ** 20,
    kibPerAddedLink: (rssAfter - rssBefore) / added / 1024,
    idleCpuMsPerSecond: idleCpu / 1000 / idleSeconds,
    refused: added - opened.valid,
    // The warm-up link and every link of the earlier steps should still be open.
    closed: open + 1 + opened.valid - gen.links.size,
  };
}

/** Waits (at most 30 s) until the server has used under 2 % of a core over two 250 ms windows in a row. */
async function quiet(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  let calm = 0;
  while (calm < 2 && Date.now() < deadline) {
    const c0 = cpuMicros(pid);
    await sleep(250);
    calm = cpuMicros(pid) - c0 < 5_000 ? calm + 1 : 0;
  }
}

/** Closes the newest links (our side ends the stream) until `keep` remain; false when they did not close within 60 s. */
async function closeDownTo(gen: S2sLoadGen, keep: number): Promise<boolean> {
  const extra = [...gen.links].slice(keep);
  for (const socket of extra) socket.end("</stream:stream>");
  const deadline = Date.now() + 60_000;
  while (gen.links.size > keep && Date.now() < deadline) await sleep(50);
  if (gen.links.size > keep) for (const socket of extra) socket.destroy();
  return gen.links.size <= keep;
}

type PhaseFigures = Pick<StanzaFigures, "stanzasSent" | "stanzasEchoed" | "cpuUsPerStanza" | "stanzaSeconds" | "stanzaWindowUs">;
/** Rounds of alternating phases per step (each `stanzas / ROUNDS` stanzas per way). */
const ROUNDS = 4;

/**
 * `o.stanzas` stanzas over each of two sets of links, in ROUNDS alternating rounds; CPU per stanza
 * over all the rounds of each. The profile window (--cpu-prof) of each is its first round.
 */
async function alternate(gen: S2sLoadGen, o: ScaleOptions, tag: string, pid: number, sets: readonly [readonly Socket[], readonly Socket[]]): Promise<[PhaseFigures, PhaseFigures]> {
  const rounds = o.smoke ? 1 : ROUNDS;
  const each = { ...o, stanzas: Math.max(1, Math.round(o.stanzas / rounds)) };
  const runs: [PhaseFigures[], PhaseFigures[]] = [[], []];
  for (let r = 0; r < rounds; r++) {
    // ABBA: each way goes first in half of the rounds.
    for (const k of r % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) runs[k].push(await sendStanzas(gen, each, `${tag}-${k ? "all" : "same"}-${r}`, pid, sets[k]));
  }
  const sum = (list: PhaseFigures[]): PhaseFigures => {
    const sent = list.reduce((n, p) => n + p.stanzasSent, 0);
    return {
      stanzasSent: sent,
      stanzasEchoed: list.reduce((n, p) => n + p.stanzasEchoed, 0),
      cpuUsPerStanza: list.reduce((n, p) => n + p.cpuUsPerStanza * p.stanzasSent, 0) / sent,
      stanzaSeconds: list.reduce((n, p) => n + p.stanzaSeconds, 0),
      stanzaWindowUs: list[0]!.stanzaWindowUs,
    };
  };
  return [sum(runs[0]), sum(runs[1])];
}

/** `o.stanzas` messages to echo@, round robin over `links`, paced at `o.rate`; waits for every echo (bounded). */
async function sendStanzas(gen: S2sLoadGen, o: ScaleOptions, tag: string, pid: number, links: readonly Socket[]): Promise<PhaseFigures> {
  const echoedBefore = gen.echoed.size;
  const tickMs = 20;
  const perTick = Math.max(1, Math.round((o.rate * tickMs) / 1000));
  const body = "x".repeat(120);
  const cpu0 = cpuMicros(pid);
  const t0 = performance.now();
  const mono0 = Number(process.hrtime.bigint() / 1000n);
  let sent = 0;
  while (sent < o.stanzas) {
    const tick = performance.now();
    for (let k = 0; k < perTick && sent < o.stanzas; k++, sent++) {
      links[sent % links.length]!.write(`<message from='u@${GEN_DOMAIN}' to='echo@${SERVER_DOMAIN}' id='s${tag}-${sent}' type='chat'><body>${body}</body></message>`);
    }
    await sleep(Math.max(0, tickMs - (performance.now() - tick)));
  }
  const deadline = Date.now() + 60_000;
  while (gen.echoed.size - echoedBefore < sent && Date.now() < deadline) await sleep(20);
  const seconds = (performance.now() - t0) / 1000;
  const stanzaWindowUs = { start: mono0, end: Number(process.hrtime.bigint() / 1000n) };
  return { stanzasSent: sent, stanzasEchoed: gen.echoed.size - echoedBefore, cpuUsPerStanza: (cpuMicros(pid) - cpu0) / sent, stanzaSeconds: seconds, stanzaWindowUs };
}

/**
 * --cpu-prof: the server's profile cut to each step's stanza phase, printed per area and top
 * functions in µs per stanza (so steps compare directly); the profile is kept in `keepDir`.
 */
function stanzaProfiles(file: string, steps: readonly ScaleStep[], keepDir: string, rounds: number): Array<{ links: number; phase: string } & ProfileSummary> {
  if (!existsSync(file)) {
    process.stdout.write(`no CPU profile at ${file} (the server did not exit cleanly?)\n`);
    return [];
  }
  mkdirSync(keepDir, { recursive: true });
  cpSync(file, join(keepDir, "scale-server.cpuprofile"));
  const out: Array<{ links: number; phase: string } & ProfileSummary> = [];
  for (const [step, phase, windowUs] of steps.flatMap((st) => [[st, `same ${st.activeLinks} links`, st.activeWindowUs], [st, "all links", st.stanzaWindowUs]] as const)) {
    const summary = summarizeProfile(file, ROOT, 25, windowUs);
    out.push({ links: step.links, phase, ...summary });
    // The window is the first of the step's rounds.
    const perStanza = (ms: number) => ((ms * 1000 * rounds) / step.stanzasSent).toFixed(2).padStart(7);
    const lines = [`${step.links.toLocaleString("en-US")} links open, stanzas over ${phase}: ${summary.busyMs.toFixed(0)} ms busy (${perStanza(summary.busyMs).trim()} µs per stanza); self time per stanza, µs:`];
    for (const a of summary.areas) lines.push(`  ${perStanza(a.selfMs)}  ${a.area}`);
    lines.push(`  top functions:`);
    for (const f of summary.functions) lines.push(`  ${perStanza(f.selfMs)}  ${f.name}  ${f.where}`);
    process.stdout.write(`${lines.join("\n")}\n\n`);
  }
  process.stdout.write(`CPU profile kept in ${keepDir}\n`);
  return out;
}

export function scaleTable(steps: readonly ScaleStep[]): string {
  const head = ["links", "RSS, MiB", "RSS moved before the step, MiB", "KiB per added link", "KiB per link", "server CPU ms per added link", "idle server CPU ms/s", "CPU µs per stanza, same links", "CPU µs per stanza, all links", "stanzas echoed (all links)", "refused / closed"];
  const body = steps.map((s) => [s.links.toLocaleString("en-US"), (s.rssAfter / 2 ** 20).toFixed(1), `${s.driftMiB >= 0 ? "+" : ""}${s.driftMiB.toFixed(1)}`, s.kibPerAddedLink.toFixed(1), s.kibPerLink.toFixed(1), s.cpuMsPerAddedLink.toFixed(2), s.idleCpuMsPerSecond.toFixed(2), `${s.cpuUsPerStanzaActive.toFixed(1)} (${s.activeLinks})`, s.cpuUsPerStanza.toFixed(1), `${s.stanzasEchoed.toLocaleString("en-US")} / ${s.stanzasSent.toLocaleString("en-US")}`, `${s.refused} / ${s.closed + s.closedDuringStanzas}`]);
  const all = [head, ...body];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  return all.map((r) => r.map((cell, c) => cell.padStart(widths[c]!)).join("  ")).join("\n");
}

/**
 * Whether each cost stays flat as links are added: the last step against the first (per added
 * link: against the step before the last too, since the first step's 100 links move RSS by only
 * a few MiB), within FLAT.
 */
function flatness(steps: readonly ScaleStep[]): string[] {
  if (steps.length < 2) return [];
  const first = steps[0]!;
  const last = steps[steps.length - 1]!;
  const prev = steps[steps.length - 2]!;
  const verdict = (r: number) => (r <= FLAT ? `flat (<= ${FLAT}x)` : `GROWS (> ${FLAT}x)`);
  const line = (what: string, a: ScaleStep, b: ScaleStep, f: (s: ScaleStep) => number) => {
    if (!(f(a) > 0 && f(b) > 0)) return `${what}: ${f(b).toFixed(2)} at ${b.links.toLocaleString("en-US")} links vs ${f(a).toFixed(2)} at ${a.links.toLocaleString("en-US")}: too noisy to compare (RSS moved less than the links' own memory)`;
    const r = f(b) / f(a);
    return `${what}: ${f(b).toFixed(2)} at ${b.links.toLocaleString("en-US")} links vs ${f(a).toFixed(2)} at ${a.links.toLocaleString("en-US")}: ${r.toFixed(2)}x, ${verdict(r)}`;
  };
  return [
    "",
    line("KiB per added link", prev, last, (s) => s.kibPerAddedLink),
    line("KiB per link", first, last, (s) => s.kibPerLink),
    line("server CPU ms per added link", first, last, (s) => s.cpuMsPerAddedLink),
    line(`CPU µs per stanza over the same ${first.activeLinks} links`, first, last, (s) => s.cpuUsPerStanzaActive),
    line("CPU µs per stanza over every open link", first, last, (s) => s.cpuUsPerStanza),
    `refused or closed: ${steps.reduce((n, s) => n + s.refused + s.closed + s.closedDuringStanzas, 0)} (must be 0)`,
  ];
}
