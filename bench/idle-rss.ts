/**
 * Resident memory of an idle server (docs/performance.md, "Memory"): fresh processes, no link, no
 * traffic; VmRSS sampled at fixed times after the process was spawned, and its peak (VmHWM).
 *
 *   npm run build && node --import tsx bench/idle-rss.ts                # 3 trials, samples at 5 s and 30 s
 *   node --import tsx bench/idle-rss.ts --trials 5 --seconds 5,20,60
 *   node --import tsx bench/idle-rss.ts --node-flags "--max-semi-space-size=2"   # try V8/Node flags
 *   node --import tsx bench/idle-rss.ts --variants default,starttls --seconds 5 # some variants (name prefixes)
 *
 * Variants, in the same invocation (trials interleave them, so a change of load hits all):
 * - `bare node`: `node -e` with one timer, the floor any Node server starts from;
 * - `default config`: `node dist/bin/xmpp-s2s.js start` with config/s2s.toml (what `npm start` runs);
 * - `STARTTLS required`: the same with config/examples/starttls-required.toml (a certificate and its
 *   TLS contexts, SASL EXTERNAL and dialback: the defaults of a federating server);
 * - `installed command`: `bin/xmpp-s2s start` with config/s2s.toml (the shell wrapper and its flags).
 * Each config is copied with a free loopback port. Loopback only, no root; each server is stopped
 * by its PID. Prints the median (min-max) per variant and sample, and the peak.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../test/helpers/ports.js";
import { load, machine } from "./lib/proc.js";
import { startProcess, stopAll, stopProcess, waitListening, type Started } from "./lib/spawn.js";

const ROOT = resolve(import.meta.dirname, "..");
const HOST = "127.0.0.1";
const MIB = 1024 * 1024;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}
const TRIALS = Number(arg("--trials") ?? 3);
const SECONDS = (arg("--seconds") ?? "5,30").split(",").map(Number);
const NODE_FLAGS = (arg("--node-flags") ?? "").split(" ").filter(Boolean);
if (!Number.isInteger(TRIALS) || TRIALS < 1 || SECONDS.some((s) => !(s > 0))) throw new Error("--trials N (>= 1), --seconds a,b,... (> 0)");

interface Variant {
  readonly name: string;
  /** Command and arguments for a server listening on `port`, with its config in `dir`. */
  readonly command: (port: number, dir: string) => { cmd: string; args: string[]; listens: boolean };
}

/** `file` (relative paths resolved against its folder) with the first listener moved to `port`. */
function configCopy(file: string, port: number, dir: string): string {
  const from = resolve(ROOT, file);
  const text = readFileSync(from, "utf8")
    .replace(/^port = \d+/m, `port = ${port}`)
    .replace(/"certs\//g, `"${resolve(from, "..", "certs")}/`);
  const out = join(dir, `idle-${port}.toml`);
  writeFileSync(out, text);
  return out;
}

const server = (config: string) => (port: number, dir: string) => ({ cmd: process.execPath, args: [...NODE_FLAGS, join(ROOT, "dist/bin/xmpp-s2s.js"), "start", "--config", configCopy(config, port, dir), "--log-level", "warn"], listens: true });

const ALL_VARIANTS: readonly Variant[] = [
  { name: "bare node", command: () => ({ cmd: process.execPath, args: ["-e", "setInterval(() => {}, 1 << 30)"], listens: false }) },
  { name: "default config", command: server("config/s2s.toml") },
  { name: "STARTTLS required", command: server("config/examples/starttls-required.toml") },
  {
    name: "installed command",
    command: (port, dir) => ({ cmd: join(ROOT, "bin/xmpp-s2s"), args: ["start", "--config", configCopy("config/s2s.toml", port, dir), "--log-level", "warn"], listens: true }),
  },
];

const ONLY = arg("--variants")?.split(",");
const VARIANTS = ONLY ? ALL_VARIANTS.filter((v) => ONLY.some((o) => v.name.toLowerCase().startsWith(o.toLowerCase()))) : ALL_VARIANTS;
if (VARIANTS.length === 0) throw new Error(`--variants: none of ${ONLY?.join(", ")} (expected a prefix of ${ALL_VARIANTS.map((v) => v.name).join(", ")})`);

function status(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

/** One fresh process: RSS at each of SECONDS after spawn, and the peak at the last sample. */
async function trial(v: Variant, dir: string): Promise<{ rss: number[]; hwm: number }> {
  const port = await freePort(HOST);
  const { cmd, args, listens } = v.command(port, dir);
  const spawned = Date.now();
  const log = join(dir, `${v.name.replace(/\W+/g, "-")}-${port}.log`);
  const p: Started = startProcess(v.name, cmd, args, log);
  try {
    if (listens) await waitListening(p, [[HOST, port]], 30_000, () => readFileSync(log, "utf8").slice(-2000));
    const rss: number[] = [];
    let hwm = 0;
    for (const s of SECONDS) {
      await sleepUntil(spawned + s * 1000);
      const st = status(p.pid);
      rss.push(st.rss);
      hwm = st.hwm;
    }
    return { rss, hwm };
  } finally {
    await stopProcess(p);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (b: number) => (b / MIB).toFixed(1);
const cell = (xs: number[]) => (xs.length > 1 ? `${mib(median(xs))} (${mib(Math.min(...xs))}-${mib(Math.max(...xs))})` : mib(xs[0]!));

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-idle-rss-"));
  const results = new Map<string, { rss: number[][]; hwm: number[] }>(VARIANTS.map((v) => [v.name, { rss: SECONDS.map(() => []), hwm: [] }]));
  const loadBefore = load();
  const { cpuModel, nproc } = machine();
  try {
    for (let t = 0; t < TRIALS; t++) {
      for (const v of VARIANTS) {
        const r = await trial(v, dir);
        const into = results.get(v.name)!;
        r.rss.forEach((x, i) => into.rss[i]!.push(x));
        into.hwm.push(r.hwm);
      }
    }
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`idle RSS, MiB: median (min-max) of ${TRIALS} fresh process(es); Node ${process.version}, ${cpuModel}, nproc ${nproc}; load ${loadBefore} -> ${load()}${NODE_FLAGS.length ? `; our servers with ${NODE_FLAGS.join(" ")}` : ""}\n`);
  process.stdout.write(`| variant | ${SECONDS.map((s) => `RSS at ${s} s`).join(" | ")} | peak (VmHWM) |\n|---|${SECONDS.map(() => "---:").join("|")}|---:|\n`);
  for (const [name, r] of results) process.stdout.write(`| ${name} | ${r.rss.map(cell).join(" | ")} | ${cell(r.hwm)} |\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    await stopAll();
    process.stderr.write(`idle-rss: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
