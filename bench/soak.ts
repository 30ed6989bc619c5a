/**
 * Soak (docs/performance.md): 1,000 inbound S2S links from distinct remote domains, each authenticated with
 * Server Dialback, then sustained traffic for 60 s to `echo@soak.example`, whose replies come back
 * over our outbound streams (the ones dialback verification opened). Reports links established,
 * stanzas sent / echoed, RSS at 10 s and 60 s of traffic, and CPU per stanza of our process.
 *
 *   npm run soak                                  # = npm run build && node --import tsx bench/soak.ts
 *   npm run soak -- --links 200 --seconds 20      # smaller
 *
 * Options: --links N (1000), --seconds N (60), --rate N (stanzas/s in total, 2000), --out DIR
 * (bench/results). Loopback only, plain TCP (no root); one load generator (bench/lib/s2s-loadgen.ts)
 * originates every link and is the authoritative server for every domain (answers db:verify).
 * The server is a separate process started from dist/ (stopped by its PID); every phase has a
 * deadline. Exit code 0 when every target is met, 3 when one is missed, 1 when the run failed.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../test/helpers/ports.js";
import { S2sLoadGen } from "./lib/s2s-loadgen.js";
import { cpuMicros, load, machine, rssBytes } from "./lib/proc.js";
import { startProcess, stopAll, stopProcess, waitListening } from "./lib/spawn.js";

const ROOT = resolve(import.meta.dirname, "..");
const SERVER_IP = "127.0.0.90";
const GEN_IP = "127.0.0.91";
const LOCAL = "soak.example";

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}: expected a positive integer, got ${process.argv[i + 1]}`);
  return v;
}

const LINKS = option("--links", 1000);
const SECONDS = option("--seconds", 60);
const RATE = option("--rate", 2000);
const outIndex = process.argv.indexOf("--out");
const OUT = resolve(outIndex >= 0 ? process.argv[outIndex + 1]! : join(ROOT, "bench", "results"));

const domainOf = (i: number) => `r${String(i).padStart(4, "0")}.soak.test`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-soak-"));
  const domains = Array.from({ length: LINKS }, (_, i) => domainOf(i));
  const serverPort = await freePort(SERVER_IP);
  const genPort = await freePort(GEN_IP);
  const secret = "soak-dialback-secret";
  // The generator's XEP-0185 keys use this secret; our server has its own (s2s.shared).
  const gen = await S2sLoadGen.start({ domain: domains[0]!, secret, listenHost: GEN_IP, listenPort: genPort, certPem: "", keyPem: "", starttls: false });
  const toml = [
    `[general]`,
    `hosts = ["${LOCAL}"]`,
    `[[listen.s2s]]`,
    `port = ${serverPort}`,
    `ip_address = "${SERVER_IP}"`,
    `# All ${LINKS} links come from one loopback address: the per-IP default (100) would refuse them.`,
    `max_connections = ${LINKS + 100}`,
    `max_connections_per_ip = ${LINKS + 100}`,
    `[s2s]`,
    `use_starttls = "false"`,
    `shared = "soak-server-secret"`,
    `address = [`,
    ...domains.map((d) => `  {host = "${d}", ip_address = "${GEN_IP}", port = ${genPort}},`),
    `]`,
    `[plugins.dialback]`,
    `# Every link asks for a verification within seconds: raise the in-flight cap (default 200).`,
    `max_pending = ${LINKS}`,
    `[plugins.echo]`,
    `enabled = true`,
  ].join("\n");
  const configFile = join(dir, "soak.toml");
  writeFileSync(configFile, toml);
  const logFile = join(dir, "server.log");
  const server = startProcess("xmpp-s2s", process.execPath, [join(ROOT, "dist", "bin", "xmpp-s2s.js"), "start", "--config", configFile, "--log-level", "warn"], logFile, { cwd: ROOT });
  const report: Record<string, unknown> = { links: LINKS, seconds: SECONDS, rate: RATE, machine: machine(), loadBefore: load(), started: new Date().toISOString() };
  try {
    await waitListening(server, [[SERVER_IP, serverPort]], 30_000, () => logFile);
    const opened = await gen.openLinksFrom({ host: SERVER_IP, port: serverPort, domain: LOCAL }, domains, 100, 60_000, 180_000);
    report.linksEstablished = opened.result.valid;
    report.linkErrors = opened.result.errors;
    report.linksSeconds = +(opened.result.ms / 1000).toFixed(1);
    console.log(`links: ${opened.result.valid}/${LINKS} valid in ${report.linksSeconds} s${opened.result.errors.length ? ` (${opened.result.errors.join("; ")})` : ""}; traffic for ${SECONDS} s at ${RATE} stanzas/s`);

    report.rssLinksUpMiB = +(rssBytes(server.pid) / 2 ** 20).toFixed(1);
    // Sustained traffic: RATE stanzas/s spread over every link, in 100 ms ticks.
    const links = [...opened.byOrigin.entries()];
    let sent = 0;
    let cursor = 0;
    const perTick = Math.max(1, Math.round(RATE / 10));
    const cpu0 = cpuMicros(server.pid);
    const t0 = performance.now();
    let rss10: number | undefined;
    let rss60 = 0;
    /** RSS every 10 s of traffic, MiB (in the JSON report): shows whether memory levels off. */
    const samples: number[] = [];
    while (performance.now() - t0 < SECONDS * 1000 && links.length > 0) {
      const tickStart = performance.now();
      for (let k = 0; k < perTick; k++) {
        const [origin, socket] = links[cursor++ % links.length]!;
        if (socket.destroyed) continue;
        socket.write(`<message from='u@${origin}' to='echo@${LOCAL}' id='m${sent}' type='chat'><body>soak ${sent}</body></message>`);
        sent++;
      }
      if (rss10 === undefined && performance.now() - t0 >= 10_000) rss10 = rssBytes(server.pid);
      if (performance.now() - t0 >= (samples.length + 1) * 10_000) samples.push(+(rssBytes(server.pid) / 2 ** 20).toFixed(1));
      await sleep(Math.max(0, 100 - (performance.now() - tickStart)));
    }
    rss60 = rssBytes(server.pid);
    // Let the echoes drain (bounded).
    const drainDeadline = Date.now() + 20_000;
    while (gen.echoed.size < sent && Date.now() < drainDeadline) await sleep(100);
    const cpu = cpuMicros(server.pid) - cpu0;
    const echoed = gen.echoed.size;
    Object.assign(report, {
      sent,
      echoed,
      duplicates: gen.duplicates,
      echoedPercent: sent ? +((echoed / sent) * 100).toFixed(3) : 0,
      rss10MiB: rss10 === undefined ? undefined : +(rss10 / 2 ** 20).toFixed(1),
      rss60MiB: +(rss60 / 2 ** 20).toFixed(1),
      rssRatio: rss10 ? +(rss60 / rss10).toFixed(3) : undefined,
      rssEvery10sMiB: samples,
      cpuMicrosPerStanza: sent ? +(cpu / sent).toFixed(1) : undefined,
      linksOpenAtEnd: gen.links.size,
      loadAfter: load(),
    });
  } finally {
    await gen.close();
    await stopProcess(server);
    await stopAll();
  }
  const targets = {
    allLinksUp: report.linksEstablished === LINKS,
    echoed999: (report.echoedPercent as number) >= 99.9,
    rssWithin110: (report.rssRatio as number | undefined) !== undefined && (report.rssRatio as number) <= 1.1,
  };
  report.targets = targets;
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, `soak-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2));
  console.log(
    [
      `| figure | value | target | met |`,
      `|---|---:|---|---|`,
      `| links established | ${report.linksEstablished} / ${LINKS} | all | ${targets.allLinksUp ? "yes" : "**no**"} |`,
      `| stanzas sent / echoed | ${report.sent} / ${report.echoed} (${report.echoedPercent} %, ${report.duplicates} duplicates) | >= 99.9 % | ${targets.echoed999 ? "yes" : "**no**"} |`,
      `| RSS with every link up, before traffic, MiB | ${report.rssLinksUpMiB} | | |`,
      `| RSS at 10 s / ${SECONDS} s, MiB | ${report.rss10MiB} / ${report.rss60MiB} (x${report.rssRatio}) | <= 1.10x | ${targets.rssWithin110 ? "yes" : "**no**"} |`,
      `| RSS every 10 s, MiB | ${(report.rssEvery10sMiB as number[] | undefined)?.join(", ")} | | |`,
      `| CPU µs per stanza (in + echo out), server | ${report.cpuMicrosPerStanza} | | |`,
      `| load average before / after | ${report.loadBefore} / ${report.loadAfter} | | |`,
    ].join("\n"),
  );
  console.log(`report: ${file}`);
  return Object.values(targets).every(Boolean) ? 0 : 3;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error(`soak: failed: ${(err as Error).stack ?? String(err)}`);
    await stopAll();
    process.exit(1);
  },
);
