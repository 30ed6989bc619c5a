/**
 * Memory per idle authenticated STARTTLS link of our server alone, on plain loopback, no root
 * (docs/performance.md, "Memory"): the method of `npm run bench`'s memory figure (bench/scenarios/memory.ts:
 * samples after a forced GC, (median after - median before) / links, "too noisy" rule) without the
 * network namespace, DNS and Prosody, so that a change to the per-link state can be measured
 * before/after in a minute.
 *
 *   npm run build && node --import tsx bench/link-memory.ts                 # 3 trials of 1,000 links
 *   node --import tsx bench/link-memory.ts --links 500 --trials 5
 *   node --import tsx bench/link-memory.ts --authenticators dialback        # no SASL EXTERNAL (client certificates not requested)
 *   node --import tsx bench/link-memory.ts --node-flags "--max-semi-space-size=1"
 *   node --import tsx bench/link-memory.ts --links 300 --trials 1 --heap-diff      # what each link holds in the JS heap
 *
 * Our server: `node dist/bin/xmpp-s2s.js start` for `a.example` with `use_starttls = "required"`,
 * config/examples/certs/a.example.pem, the default authenticators (SASL EXTERNAL and dialback:
 * client certificates are requested) unless --authenticators. The load generator
 * (bench/lib/s2s-loadgen.ts) is `b.example` with b.example.pem (presented as a client certificate
 * on every link): STARTTLS, dialback, `type='valid'`, then idle. A fresh server per trial.
 *
 * --heap-diff: the server also writes a heap snapshot at each forced GC; the last one before the
 * links and the last one after are compared by constructor (bench/lib/heap-diff.ts) and the
 * growth per link printed. The snapshots cost memory themselves: the RSS figure of such a trial
 * is not comparable with the others.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../test/helpers/ports.js";
import { heapDiff } from "./lib/heap-diff.js";
import { load, machine, median } from "./lib/proc.js";
import { S2sLoadGen } from "./lib/s2s-loadgen.js";
import { startProcess, stopAll, stopProcess, waitListening } from "./lib/spawn.js";
import { memoryPerLink, type MemoryResult } from "./scenarios/memory.js";

const ROOT = resolve(import.meta.dirname, "..");
const HOST = "127.0.0.1";
const CERTS = join(ROOT, "config", "examples", "certs");

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}
const LINKS = Number(arg("--links") ?? 1000);
const TRIALS = Number(arg("--trials") ?? 3);
const NODE_FLAGS = (arg("--node-flags") ?? "").split(" ").filter(Boolean);
const AUTHENTICATORS = arg("--authenticators")?.split(",");
const HEAP_DIFF = process.argv.includes("--heap-diff");
if (!Number.isInteger(LINKS) || LINKS < 1 || !Number.isInteger(TRIALS) || TRIALS < 1) throw new Error("--links N, --trials N: positive integers");

/** A combined PEM file (certificate(s), then the key) split the way the load generator takes it. */
function splitPem(file: string): { certPem: string; keyPem: string } {
  const text = readFileSync(file, "utf8");
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----\n?/.exec(text)?.[0];
  if (!key) throw new Error(`${file}: no private key`);
  return { certPem: text.replace(key, ""), keyPem: key };
}

async function trial(dir: string, n: number): Promise<MemoryResult> {
  const [serverPort, genPort] = [await freePort(HOST), await freePort(HOST)];
  const gen = await S2sLoadGen.start({ domain: "b.example", secret: "link-memory-loadgen-secret", listenHost: HOST, listenPort: genPort, ...splitPem(join(CERTS, "b.example.pem")) });
  const config = join(dir, `server-${n}.toml`);
  writeFileSync(
    config,
    [
      `[general]`,
      `hosts = ["a.example"]`,
      `[[listen.s2s]]`,
      `port = ${serverPort}`,
      `ip_address = "${HOST}"`,
      `max_connections_per_ip = ${LINKS + 100}`,
      `[s2s]`,
      `use_starttls = "required"`,
      `certfile = "${join(CERTS, "a.example.pem")}"`,
      `shared = "link-memory-server-secret"`,
      `address = [{host = "b.example", ip_address = "${HOST}", port = ${genPort}}]`,
      `[plugins]`,
      ...(AUTHENTICATORS ? [`authenticators = [${AUTHENTICATORS.map((a) => `"${a}"`).join(", ")}]`] : []),
      `[plugins.dialback]`,
      `max_pending = ${LINKS + 100}`,
      ``,
    ].join("\n"),
  );
  const gcFile = join(dir, `gc-${n}.jsonl`);
  const log = join(dir, `server-${n}.log`);
  const heapDir = join(dir, `heap-${n}`);
  if (HEAP_DIFF) mkdirSync(heapDir);
  const env = { ...process.env, XMPP_S2S_BENCH_GC_FILE: gcFile, ...(HEAP_DIFF ? { XMPP_S2S_BENCH_HEAP_DIR: heapDir } : {}) };
  const server = startProcess("xmpp-s2s", process.execPath, [...NODE_FLAGS, "--expose-gc", "--require", join(ROOT, "bench", "lib", "gc-on-signal.cjs"), join(ROOT, "dist", "bin", "xmpp-s2s.js"), "start", "--config", config, "--log-level", "warn"], log, { env });
  try {
    await waitListening(server, [[HOST, serverPort]], 30_000, () => readFileSync(log, "utf8").slice(-2000));
    const result = await memoryPerLink(gen, { host: HOST, port: serverPort, domain: "a.example", pid: server.pid, gcFile }, LINKS, { concurrency: 25, linkTimeoutMs: 20_000, deadlineMs: 180_000 });
    if (HEAP_DIFF) printHeapDiff(join(heapDir, `${result.rssBefore.length}.heapsnapshot`), join(heapDir, `${result.rssBefore.length + result.rssAfter.length}.heapsnapshot`));
    return result;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- server log:\n${readFileSync(log, "utf8").slice(-2000)}`);
  } finally {
    await gen.close();
    await stopProcess(server);
  }
}

/** The JS heap growth per link between two snapshots, by constructor, largest first. */
function printHeapDiff(before: string, after: string): void {
  const { rows, bytes } = heapDiff(before, after);
  const perLink = (b: number) => (b / LINKS).toFixed(0).padStart(7);
  process.stdout.write(`JS heap per link: ${(bytes / LINKS / 1024).toFixed(2)} KiB (bytes per link, objects per link, constructor)\n`);
  for (const r of rows.filter((r) => Math.abs(r.bytes) >= LINKS * 16).slice(0, 40)) process.stdout.write(`${perLink(r.bytes)} ${(r.count / LINKS).toFixed(2).padStart(6)}  ${r.name}\n`);
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-link-memory-"));
  const loadBefore = load();
  const figures: number[] = [];
  try {
    for (let t = 1; t <= TRIALS; t++) {
      const r = await trial(dir, t);
      const before = median([...r.rssBefore]) / 1048576;
      process.stdout.write(`trial ${t}: ${r.kibPerLink !== undefined ? `${r.kibPerLink.toFixed(1)} KiB/link` : r.noisy} (RSS ${before.toFixed(1)} -> ${(median([...r.rssAfter]) / 1048576).toFixed(1)} MiB, noise ${r.noiseKib.toFixed(1)} KiB/link, ${r.links} links in ${(r.openMs / 1000).toFixed(1)} s)\n`);
      if (r.kibPerLink !== undefined) figures.push(r.kibPerLink);
    }
  } finally {
    await stopAll();
    if (process.env.KEEP_DIR) process.stdout.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
  const { cpuModel, nproc } = machine();
  const sorted = [...figures].sort((a, b) => a - b);
  const spread = sorted.length > 1 ? ` (${sorted[0]!.toFixed(1)}-${sorted[sorted.length - 1]!.toFixed(1)})` : "";
  process.stdout.write(
    `memory per idle STARTTLS link, KiB: ${figures.length ? `${median(figures).toFixed(1)}${spread}, median of ${figures.length} usable trial(s) of ${TRIALS}` : "too noisy in every trial"}; ${LINKS} links; authenticators ${AUTHENTICATORS?.join(",") ?? "default (sasl_external, dialback)"}${NODE_FLAGS.length ? `; node ${NODE_FLAGS.join(" ")}` : ""}; Node ${process.version}, ${cpuModel}, nproc ${nproc}; load ${loadBefore} -> ${load()}\n`,
  );
  return figures.length ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    await stopAll();
    process.stderr.write(`link-memory: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
