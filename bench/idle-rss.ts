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
 * - `Prosody`: Debian's prosody with the same duty as `STARTTLS required` (skipped when not installed);
 * - `installed command`: `bin/xmpp-s2s start` with config/s2s.toml (the shell wrapper and its flags).
 * Each config is copied with a free loopback port. Loopback only, no root; each server is stopped
 * by its PID. Prints the median (min-max) per variant and sample, and the peak.
 */
import { spawnSync } from "node:child_process";
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

/**
 * Prosody (Debian's `prosody`) with the same duty as the STARTTLS variant: one host, a certificate,
 * encryption required on S2S, dialback; c2s and HTTP off. Skipped when `prosody` is not installed.
 */
function prosody(port: number, dir: string): { cmd: string; args: string[]; listens: boolean } {
  const pem = readFileSync(join(ROOT, "config/examples/certs/a.example.pem"), "utf8");
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----\n?/.exec(pem)?.[0] ?? "";
  const at = (name: string) => join(dir, `prosody-${port}-${name}`);
  writeFileSync(at("s2s.crt"), pem.replace(key, ""));
  writeFileSync(at("s2s.key"), key);
  const lua = (v: string) => JSON.stringify(v);
  const config = [
    `run_as_root = true`,
    `pidfile = ${lua(at("prosody.pid"))}`,
    `data_path = ${lua(dir)}`,
    `log = { warn = ${lua(at("prosody.log"))} }`,
    `use_ipv6 = false`,
    `interfaces = { ${lua(HOST)} }`,
    `s2s_ports = { ${port} }`,
    `c2s_ports = { }`,
    `c2s_direct_tls_ports = { }`,
    `s2s_direct_tls_ports = { }`,
    `http_ports = { }`,
    `https_ports = { }`,
    `modules_enabled = { "tls", "dialback", "saslauth", "disco", "ping" }`,
    `authentication = "internal_plain"`,
    `storage = "internal"`,
    `s2s_require_encryption = true`,
    `s2s_secure_auth = false`,
    `ssl = { certificate = ${lua(at("s2s.crt"))}; key = ${lua(at("s2s.key"))} }`,
    `VirtualHost "a.example"`,
    ``,
  ].join("\n");
  writeFileSync(at("prosody.cfg.lua"), config);
  return { cmd: "prosody", args: ["--config", at("prosody.cfg.lua"), "-F"], listens: true };
}

const ALL_VARIANTS: readonly Variant[] = [
  { name: "bare node", command: () => ({ cmd: process.execPath, args: ["-e", "setInterval(() => {}, 1 << 30)"], listens: false }) },
  { name: "default config", command: server("config/s2s.toml") },
  { name: "STARTTLS required", command: server("config/examples/starttls-required.toml") },
  { name: "Prosody", command: prosody },
  {
    name: "installed command",
    command: (port, dir) => ({ cmd: join(ROOT, "bin/xmpp-s2s"), args: ["start", "--config", configCopy("config/s2s.toml", port, dir), "--log-level", "warn"], listens: true }),
  },
];

const ONLY = arg("--variants")?.split(",");
const hasProsody = spawnSync("prosody", ["--help"], { stdio: "ignore" }).error === undefined;
const VARIANTS = (ONLY ? ALL_VARIANTS.filter((v) => ONLY.some((o) => v.name.toLowerCase().startsWith(o.toLowerCase()))) : ALL_VARIANTS).filter((v) => hasProsody || v.name !== "Prosody");
if (VARIANTS.length === 0) throw new Error(`--variants: none of ${ONLY?.join(", ")} (expected a prefix of ${ALL_VARIANTS.map((v) => v.name).join(", ")})`);

/** VmRSS = RssAnon (private memory: heaps, stacks) + RssFile (pages of the node binary and libraries, shared by every process that maps them) + RssShmem. */
function status(pid: number): { rss: number; anon: number; file: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile"), hwm: kb("VmHWM") };
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

/** One fresh process: RSS at each of SECONDS after spawn, and the peak at the last sample. */
async function trial(v: Variant, dir: string): Promise<{ rss: number[]; anon: number; file: number; hwm: number }> {
  const port = await freePort(HOST);
  const { cmd, args, listens } = v.command(port, dir);
  const spawned = Date.now();
  const log = join(dir, `${v.name.replace(/\W+/g, "-")}-${port}.log`);
  const p: Started = startProcess(v.name, cmd, args, log);
  try {
    if (listens) await waitListening(p, [[HOST, port]], 30_000, () => readFileSync(log, "utf8").slice(-2000));
    const rss: number[] = [];
    let last = { rss: 0, anon: 0, file: 0, hwm: 0 };
    for (const s of SECONDS) {
      await sleepUntil(spawned + s * 1000);
      last = status(p.pid);
      rss.push(last.rss);
    }
    return { rss, anon: last.anon, file: last.file, hwm: last.hwm };
  } finally {
    await stopProcess(p);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (b: number) => (b / MIB).toFixed(1);
const cell = (xs: number[]) => (xs.length > 1 ? `${mib(median(xs))} (${mib(Math.min(...xs))}-${mib(Math.max(...xs))})` : mib(xs[0]!));

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-idle-rss-"));
  const results = new Map<string, { rss: number[][]; anon: number[]; file: number[]; hwm: number[] }>(VARIANTS.map((v) => [v.name, { rss: SECONDS.map(() => []), anon: [], file: [], hwm: [] }]));
  const loadBefore = load();
  const { cpuModel, nproc } = machine();
  try {
    for (let t = 0; t < TRIALS; t++) {
      for (const v of VARIANTS) {
        const r = await trial(v, dir);
        const into = results.get(v.name)!;
        r.rss.forEach((x, i) => into.rss[i]!.push(x));
        into.anon.push(r.anon);
        into.file.push(r.file);
        into.hwm.push(r.hwm);
      }
    }
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`idle RSS, MiB: median (min-max) of ${TRIALS} fresh process(es); Node ${process.version}, ${cpuModel}, nproc ${nproc}; load ${loadBefore} -> ${load()}${NODE_FLAGS.length ? `; our servers with ${NODE_FLAGS.join(" ")}` : ""}\n`);
  const at = SECONDS[SECONDS.length - 1];
  process.stdout.write(`| variant | ${SECONDS.map((s) => `RSS at ${s} s`).join(" | ")} | of which private (RssAnon) at ${at} s | file-backed (RssFile) at ${at} s | peak (VmHWM) |\n|---|${SECONDS.map(() => "---:").join("|")}|---:|---:|---:|\n`);
  for (const [name, r] of results) process.stdout.write(`| ${name} | ${r.rss.map(cell).join(" | ")} | ${cell(r.anon)} | ${cell(r.file)} | ${cell(r.hwm)} |\n`);
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
