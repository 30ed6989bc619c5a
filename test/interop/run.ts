/**
 * The interop suite (docs/interop.md): a real Prosody next to xmpp-s2s, every mode, both directions.
 *
 *   node --import tsx test/interop/run.ts
 *
 * Needs root (network namespace, Prosody, dnsmasq on port 53 inside the namespace) and Debian's
 * packages; installs the missing ones with apt-get when it can. Without them it prints
 * "interop suite SKIPPED: <why>" and exits 0, or 1 when XMPP_S2S_REQUIRE_INTEROP=1 (CI).
 *
 * Otherwise: a network namespace of its own with its own DNS (dnsmasq: SRV + A for every test
 * domain), a test CA and certificates, three Prosody instances, then
 * `ip netns exec NS node --test test/interop/*.test.ts` (our servers run inside those test
 * processes), and finally everything it started is stopped by PID, the namespace deleted and the
 * temp folder removed, also on failure and on SIGINT/SIGTERM. Exit code: the test run's.
 *
 * XMPP_S2S_INTEROP_KEEP=1 keeps the temp folder (configs, Prosody and dnsmasq logs) for reading.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { planWorld, writeWorldFiles, WORLD_ENV, type World } from "./world.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
// prosody-modules: the XEP-0288 cell loads mod_s2s_bidi (in Prosody 0.12 it ships with prosody itself; both are installed).
const PACKAGES = ["prosody", "prosody-modules", "lua-unbound", "lua-sec", "lua-event", "dnsmasq-base", "iproute2", "openssl"];
const COMMANDS = ["prosody", "prosodyctl", "dnsmasq", "ip", "openssl"];
/** The test run's own bound; with set-up and teardown the suite stays under 3 minutes. */
const TEST_RUN_DEADLINE_MS = 150_000;
const READY_DEADLINE_MS = 30_000;

function say(line: string): void {
  process.stdout.write(`[interop] ${line}\n`);
}

class Skip extends Error {}

// --- Prerequisites -----------------------------------------------------------------------------

function hasCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function missingPackages(): string[] {
  if (!hasCommand("dpkg-query")) return COMMANDS.every(hasCommand) ? [] : PACKAGES;
  return PACKAGES.filter((pkg) => {
    const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
    return r.status !== 0 || !r.stdout.includes("install ok installed");
  });
}

/** Installs Debian's packages when missing (root only). Packaged services are kept from starting. */
function ensurePackages(): void {
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (!hasCommand("apt-get")) throw new Skip(`missing ${missing.join(", ")} and no apt-get to install them`);
  say(`installing ${missing.join(" ")} (apt-get)`);
  // Without a policy-rc.d, installing prosody would start the packaged server on 0.0.0.0:5269.
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const update = spawnSync("apt-get", ["update"], { stdio: "inherit", env, timeout: 300_000 });
    if (update.status !== 0) throw new Skip(`apt-get update failed (exit ${update.status ?? update.signal})`);
    const install = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...PACKAGES], { stdio: "inherit", env, timeout: 600_000 });
    if (install.status !== 0) throw new Skip(`apt-get install ${PACKAGES.join(" ")} failed (exit ${install.status ?? install.signal})`);
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  const still = COMMANDS.filter((c) => !hasCommand(c));
  if (still.length > 0) throw new Skip(`still missing after apt-get: ${still.join(", ")}`);
}

function run(cmd: string, args: string[], what: string, timeout = 20_000): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout });
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} ${args.join(" ")}: exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout || r.error?.message || "").trim()}`);
  return r.stdout;
}

// --- What we start, and stopping it by PID --------------------------------------------------------

interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Kill the whole process group (the test runner and its test processes). */
  readonly group: boolean;
}

const started: Started[] = [];
let netns: string | undefined;
let workDir: string | undefined;
let tornDown: Promise<void> | undefined;

function start(name: string, args: string[], options: { log?: string; env?: NodeJS.ProcessEnv; group?: boolean; inherit?: boolean } = {}): Started {
  const child = spawn("ip", ["netns", "exec", netns!, ...args], {
    cwd: ROOT,
    env: options.env ?? process.env,
    stdio: options.inherit ? "inherit" : ["ignore", "pipe", "pipe"],
    detached: options.group ?? false,
  });
  if (!options.inherit && options.log) {
    const out = createWriteStream(options.log);
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", (err) => say(`${name}: ${err.message}`));
  const s = { name, child, exited, group: options.group ?? false };
  started.push(s);
  say(`started ${name} (pid ${child.pid})`);
  return s;
}

function alive(s: Started): boolean {
  return s.child.exitCode === null && s.child.signalCode === null;
}

function signal(s: Started, sig: NodeJS.Signals): void {
  const pid = s.child.pid;
  if (pid === undefined || !alive(s)) return;
  try {
    process.kill(s.group ? -pid : pid, sig);
  } catch {
    /* already gone */
  }
}

function within(p: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function stop(s: Started): Promise<void> {
  if (!alive(s)) return;
  signal(s, "SIGTERM");
  if (await within(s.exited, 8_000)) return;
  say(`${s.name} (pid ${s.child.pid}) ignored SIGTERM: SIGKILL`);
  signal(s, "SIGKILL");
  await within(s.exited, 3_000);
}

function teardown(): Promise<void> {
  tornDown ??= (async () => {
    for (const s of [...started].reverse()) await stop(s);
    if (netns) {
      spawnSync("ip", ["netns", "delete", netns], { stdio: "ignore", timeout: 10_000 });
      rmSync(join("/etc/netns", netns), { recursive: true, force: true });
      say(`deleted network namespace ${netns}`);
    }
    if (workDir) {
      if (process.env.XMPP_S2S_INTEROP_KEEP === "1") say(`kept ${workDir}`);
      else rmSync(workDir, { recursive: true, force: true });
    }
  })();
  return tornDown;
}

// --- Readiness (from inside the namespace) ----------------------------------------------------

/** Waits, from inside the namespace, for dnsmasq to answer every SRV record and for every Prosody port to accept. */
async function waitReady(world: World): Promise<void> {
  const srv = Object.values(world.ours).map((o) => `_xmpp-server._tcp.${o.domain}`).concat(Object.values(world.prosody).map((p) => `_xmpp-server._tcp.${p.domain}`));
  const ports = Object.values(world.prosody).flatMap((p) => [[p.ip, p.s2sPort], [p.ip, p.c2sPort]]);
  const script = `
const dns = require("node:dns"); const net = require("node:net");
const r = new dns.promises.Resolver({ timeout: 1000, tries: 1 }); r.setServers([${JSON.stringify(world.dns)}]);
const srv = ${JSON.stringify(srv)}; const ports = ${JSON.stringify(ports)};
const deadline = Date.now() + ${READY_DEADLINE_MS};
const tcp = (host, port) => new Promise((ok) => { const s = net.connect({ host, port }); s.once("connect", () => { s.destroy(); ok(true); }); s.once("error", () => ok(false)); });
(async () => {
  const pending = new Set([...srv.map((n) => "srv " + n), ...ports.map(([h, p]) => "tcp " + h + ":" + p)]);
  while (Date.now() < deadline) {
    for (const n of srv) if (pending.has("srv " + n) && (await r.resolveSrv(n).then((a) => a.length > 0, () => false))) pending.delete("srv " + n);
    for (const [h, p] of ports) if (pending.has("tcp " + h + ":" + p) && (await tcp(h, p))) pending.delete("tcp " + h + ":" + p);
    if (pending.size === 0) process.exit(0);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  console.error("not ready: " + [...pending].join(", ")); process.exit(1);
})();`;
  const waiter = start("readiness probe", [process.execPath, "-e", script], { log: join(world.dir, "ready.log") });
  await within(waiter.exited, READY_DEADLINE_MS + 5_000);
  if (waiter.child.exitCode !== 0) {
    const log = readText(join(world.dir, "ready.log"));
    throw new Error(`the world did not come up within ${READY_DEADLINE_MS} ms: ${log.trim()}\n${diagnostics(world)}`);
  }
}

function readText(file: string): string {
  try {
    return spawnSync("tail", ["-n", "60", file], { encoding: "utf8" }).stdout ?? "";
  } catch {
    return "";
  }
}

function diagnostics(world: World): string {
  const parts = [`--- dnsmasq (${world.dnsmasq.logFile})`, readText(world.dnsmasq.logFile), readText(join(world.dir, "dnsmasq.out"))];
  for (const p of Object.values(world.prosody)) parts.push(`--- prosody ${p.domain} (${p.logFile})`, readText(p.logFile), readText(join(p.dir, "console.log")));
  return parts.join("\n");
}

// --- The run ---------------------------------------------------------------------------------

async function main(): Promise<number> {
  if (process.platform !== "linux") throw new Skip(`needs Linux network namespaces (this is ${process.platform})`);
  if (process.getuid?.() !== 0) throw new Skip("not root: the network namespace, dnsmasq on port 53 and Prosody need root");
  ensurePackages();

  // Unique per run (a namespace left by a run killed with SIGKILL never collides).
  netns = `xs2s-${process.pid}-${randomBytes(3).toString("hex")}`;
  const add = spawnSync("ip", ["netns", "add", netns], { encoding: "utf8", timeout: 10_000 });
  if (add.status !== 0) {
    const why = (add.stderr || add.error?.message || "").trim();
    netns = undefined;
    throw new Skip(`cannot create a network namespace (ip netns add: ${why})`);
  }
  run("ip", ["-n", netns, "link", "set", "lo", "up"], "bringing lo up in the namespace");
  const etc = join("/etc/netns", netns);
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, "resolv.conf"), "nameserver 127.0.0.53\noptions timeout:1 attempts:2\n");
  writeFileSync(join(etc, "hosts"), "127.0.0.1 localhost\n");
  say(`network namespace ${netns}`);

  workDir = mkdtempSync(join(tmpdir(), "xmpp-s2s-interop-"));
  const world = planWorld(netns, workDir);
  const worldFile = writeWorldFiles(world);
  // Never `prosody --version`: 0.12 has no such flag and starts a server from the system config.
  const about = run("prosodyctl", ["--config", world.prosody.db.configFile, "about"], "prosodyctl about");
  world.prosodyVersion = /^Prosody \S+/m.exec(about)?.[0] ?? "Prosody (unknown version)";
  writeFileSync(worldFile, JSON.stringify(world, null, 2));
  say(`${world.prosodyVersion}; world in ${workDir}`);

  start("dnsmasq", ["dnsmasq", "--keep-in-foreground", `--conf-file=${world.dnsmasq.configFile}`], { log: join(workDir, "dnsmasq.out") });
  for (const p of Object.values(world.prosody)) {
    for (const [user, password] of Object.entries(p.users)) run("prosodyctl", ["--config", p.configFile, "register", user, p.domain, password], `registering ${user}@${p.domain}`);
    start(`prosody ${p.domain}`, ["prosody", "--config", p.configFile, "-F"], { log: join(p.dir, "console.log") });
  }
  await waitReady(world);
  say("DNS and Prosody ready");

  const files = readdirSync(HERE).filter((f) => f.endsWith(".test.ts")).sort().map((f) => relative(ROOT, join(HERE, f)));
  const runner = start("test run", [process.execPath, "--import", "tsx", "--test", "--test-concurrency=1", "--test-reporter=spec", ...files], {
    env: { ...process.env, [WORLD_ENV]: worldFile, NODE_EXTRA_CA_CERTS: world.clientCa },
    group: true,
    inherit: true,
  });
  if (!(await within(runner.exited, TEST_RUN_DEADLINE_MS))) {
    say(`the test run took longer than ${TEST_RUN_DEADLINE_MS} ms: stopping it`);
    await stop(runner);
    return 1;
  }
  const code = runner.child.exitCode ?? 1;
  say(code === 0 ? "interop suite passed" : `interop suite failed (exit ${code})`);
  return code;
}

let exiting = false;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    if (exiting) return;
    exiting = true;
    say(`${sig}: tearing down`);
    void teardown().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  });
}

let code: number;
try {
  code = await main();
} catch (err) {
  if (err instanceof Skip) {
    process.stdout.write(`interop suite SKIPPED: ${err.message}\n`);
    code = process.env.XMPP_S2S_REQUIRE_INTEROP === "1" ? 1 : 0;
    if (code) process.stdout.write("XMPP_S2S_REQUIRE_INTEROP=1: a skip is a failure\n");
  } else {
    process.stdout.write(`interop suite FAILED during set-up: ${(err as Error).stack ?? err}\n`);
    code = 1;
  }
}
if (!exiting) {
  await teardown();
  process.exit(code);
}
