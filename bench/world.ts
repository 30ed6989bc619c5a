/**
 * The bench world (docs/performance.md): who runs where, their configuration files, and starting/stopping the
 * server processes (always fresh processes, each stopped by its PID).
 *
 * Two modes:
 * - `netns` (`npm run bench`): runs inside the network namespace that bench/run.ts created. A
 *   dnsmasq (config from test/interop/dns.ts) answers SRV and A records for every domain; every
 *   server is published on a non-standard port that only its `_xmpp-server._tcp` SRV record
 *   names, so every link proves SRV resolution. Ours resolves with the dns plugin
 *   (`[plugins.dns] servers = ["127.0.0.53"]`), Prosody with libunbound (`/etc/resolv.conf`,
 *   which `ip netns exec` bind-mounts).
 * - `loopback` (`--smoke`, in `npm test`): no namespace, no root, no Prosody, no DNS: our servers
 *   on 127.0.0.1 with free ports, finding each other through `s2s.address`.
 *
 * | who | domain (component) | netns address | S2S port | component port |
 * |---|---|---|---|---|
 * | ours A | `oa.test` (`bench.oa.test`) | 127.0.3.1 | 5281 | 5347 |
 * | ours B | `ob.test` (`bench.ob.test`) | 127.0.3.2 | 5282 | 5347 |
 * | Prosody A | `pa.test` (`bench.pa.test`) | 127.0.4.1 | 5291 | 5347 |
 * | Prosody B | `pb.test` (`bench.pb.test`) | 127.0.4.2 | 5292 | 5347 |
 * | ejabberd A | `ea.test` (`bench.ea.test`) | 127.0.6.1 | 5301 | 5347 |
 * | ejabberd B | `eb.test` (`bench.eb.test`) | 127.0.6.2 | 5302 | 5347 |
 * | load generator (memory) | `lg.test` | 127.0.5.1 | 5299 | |
 *
 * Certificates: one test CA (test/helpers/certs.ts), one leaf per domain with `DNS:D, DNS:*.D`,
 * so the component domains are covered. Ours: `use_starttls = "required"`, a shared dialback
 * secret. Prosody: dialback mode (`s2s_require_encryption = true`, `s2s_secure_auth = false`,
 * no `cafile`), as the P-db instance of the interop suite. ejabberd: bench/ejabberd.ts (dialback
 * over required STARTTLS too).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Resolver } from "node:dns/promises";
import { join } from "node:path";
import { makeCa, makeLeaf, type Leaf } from "../test/helpers/certs.js";
import { freePort } from "../test/helpers/ports.js";
import { dnsmasqConfig, type DnsRecord } from "../test/interop/dns.js";
import { ejabberdCommand, writeEjabberdConfig, type EjabberdInstall } from "./ejabberd.js";
import { startProcess, stopProcess, waitListening, type Started } from "./lib/spawn.js";

export type Mode = "netns" | "loopback";
export type System = "ours" | "prosody" | "ejabberd";
export const SYSTEM_LABEL: Readonly<Record<System, string>> = { ours: "ours", prosody: "Prosody", ejabberd: "ejabberd" };
export type Role = "a" | "b";

/** dnsmasq's address inside the namespace (what bench/run.ts writes into /etc/netns/NAME/resolv.conf; same as test/interop/world.ts NETNS_DNS). */
export const NETNS_DNS = "127.0.0.53";
const START_DEADLINE_MS = 20_000;
/** ejabberd's Erlang VM takes seconds to start (4-5 s on a quiet 2-core machine): a generous deadline, polled, never a sleep. */
const EJABBERD_START_DEADLINE_MS = 120_000;

export interface ServerSpec {
  readonly system: System;
  readonly role: Role;
  readonly name: string;
  readonly domain: string;
  /** XEP-0114 component domain on this server: `bench.<domain>`. */
  readonly componentDomain: string;
  readonly componentSecret: string;
  readonly ip: string;
  readonly s2sPort: number;
  readonly servicePort: number;
  /** Ours with metrics on: the `[[listen.http]]` port that serves `/metrics` on `ip`. */
  readonly metricsPort: number;
  readonly dir: string;
  readonly configFile: string;
  /** Ours: the same configuration plus `[instrumentation.prometheus]` and a `[[listen.http]]` on `metricsPort`. */
  readonly metricsConfigFile: string;
  readonly logFile: string;
}

export interface RunningServer {
  readonly spec: ServerSpec;
  readonly proc: Started;
  readonly pid: number;
  /** Ours in a memory trial: the file gc-on-signal.cjs appends to after a forced GC (SIGUSR2). */
  readonly gcFile?: string;
  /** Ours started with its metrics configuration: `http://ip:metricsPort/metrics` answers. */
  readonly metrics: boolean;
  stop(): Promise<void>;
  /** Last lines of the server's log (for error messages). */
  tail(): string;
}

export interface Pair {
  readonly system: System;
  /** Ours under XMPP_S2S_BENCH_ALTERNATE_ROOT: the checkout whose dist/ this pair runs. */
  readonly root?: string;
  readonly a: RunningServer;
  readonly b: RunningServer;
  stop(): Promise<void>;
}

export interface LoadGenSpec {
  readonly domain: string;
  readonly ip: string;
  readonly port: number;
  readonly secret: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface WorldOptions {
  readonly mode: Mode;
  /** Temp folder for configs, certificates, logs. */
  readonly dir: string;
  /** Repository root (for dist/bin/xmpp-s2s.js). */
  readonly root: string;
  /** When set, our servers run with `node --cpu-prof` and write their profiles here. */
  readonly cpuProfDir?: string;
  /** ejabberd's package (bench/ejabberd.ts findEjabberd): needed to start ejabberd, when it is measured. */
  readonly ejabberd?: EjabberdInstall;
  /**
   * Default for `startServer`: our servers run with `[instrumentation.prometheus]` and a
   * `[[listen.http]]` serving `/metrics` on their address, port `metricsPort` (whoever starts
   * them decides whether to scrape it). `--metrics`; the metrics cost section chooses per start.
   */
  readonly metrics?: boolean;
}

function lua(value: string): string {
  return JSON.stringify(value);
}

function toml(value: string): string {
  return JSON.stringify(value);
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return `(no log at ${file})`;
  }
}

export class BenchWorld {
  readonly servers: Readonly<Record<System, Readonly<Record<Role, ServerSpec>>>>;
  readonly loadgen: LoadGenSpec;
  #dnsmasq?: Started;
  #starts = 0;
  /** Pairs of ours started so far (XMPP_S2S_BENCH_ALTERNATE_ROOT alternates on it). */
  #oursPairs = 0;

  private constructor(readonly options: WorldOptions, servers: Record<System, Record<Role, ServerSpec>>, loadgen: LoadGenSpec) {
    this.servers = servers;
    this.loadgen = loadgen;
  }

  /** Lays out the world, writes certificates and configs, and (netns) starts dnsmasq. */
  static async create(options: WorldOptions): Promise<BenchWorld> {
    const { mode, dir } = options;
    const loop = mode === "loopback";
    const ip = (netnsIp: string) => (loop ? "127.0.0.1" : netnsIp);
    const port = async (netnsPort: number) => (loop ? freePort("127.0.0.1") : netnsPort);
    const spec = async (system: System, role: Role, domain: string, netnsIp: string, s2sPort: number): Promise<ServerSpec> => {
      const sdir = join(dir, `${system}-${role}`);
      mkdirSync(sdir, { recursive: true });
      return {
        system,
        role,
        name: `${SYSTEM_LABEL[system]} ${role.toUpperCase()} (${domain})`,
        domain,
        componentDomain: `bench.${domain}`,
        componentSecret: `bench-component-${system}-${role}`,
        ip: ip(netnsIp),
        s2sPort: await port(s2sPort),
        servicePort: await port(5347),
        metricsPort: await port(9091),
        dir: sdir,
        configFile: join(sdir, { ours: "s2s.toml", prosody: "prosody.cfg.lua", ejabberd: "ejabberd.yml" }[system]),
        metricsConfigFile: join(sdir, "s2s-metrics.toml"),
        logFile: join(sdir, { ours: "server.log", prosody: "prosody.log", ejabberd: join("log", "ejabberd.log") }[system]),
      };
    };
    const servers = {
      ours: { a: await spec("ours", "a", "oa.test", "127.0.3.1", 5281), b: await spec("ours", "b", "ob.test", "127.0.3.2", 5282) },
      prosody: { a: await spec("prosody", "a", "pa.test", "127.0.4.1", 5291), b: await spec("prosody", "b", "pb.test", "127.0.4.2", 5292) },
      ejabberd: { a: await spec("ejabberd", "a", "ea.test", "127.0.6.1", 5301), b: await spec("ejabberd", "b", "eb.test", "127.0.6.2", 5302) },
    };

    const certDir = join(dir, "certs");
    mkdirSync(certDir, { recursive: true });
    const ca = makeCa(certDir, "xmpp-s2s bench test CA");
    const leaves = new Map<string, Leaf>();
    for (const d of ["oa.test", "ob.test", "lg.test", ...(loop ? [] : ["pa.test", "pb.test", "ea.test", "eb.test"])]) leaves.set(d, makeLeaf(ca, { domains: [d] }));
    const lg = leaves.get("lg.test")!;
    const loadgen: LoadGenSpec = { domain: "lg.test", ip: ip("127.0.5.1"), port: await port(5299), secret: "bench-loadgen-dialback-secret", certPem: lg.certPem + lg.chainPem, keyPem: lg.keyPem };
    const world = new BenchWorld(options, servers, loadgen);

    for (const s of Object.values(servers.ours)) {
      writeFileSync(s.configFile, world.#oursConfig(s, leaves.get(s.domain)!, false));
      writeFileSync(s.metricsConfigFile, world.#oursConfig(s, leaves.get(s.domain)!, true));
    }
    if (!loop) {
      for (const s of Object.values(servers.prosody)) {
        const leaf = leaves.get(s.domain)!;
        mkdirSync(join(s.dir, "data"), { recursive: true });
        mkdirSync(join(s.dir, "certs"), { recursive: true });
        writeFileSync(join(s.dir, "s2s.crt"), leaf.certPem + leaf.chainPem);
        writeFileSync(join(s.dir, "s2s.key"), leaf.keyPem, { mode: 0o600 });
        writeFileSync(s.configFile, prosodyBenchConfig(s));
      }
      for (const s of Object.values(servers.ejabberd)) {
        const leaf = leaves.get(s.domain)!;
        writeEjabberdConfig(s, leaf.certPem + leaf.chainPem, leaf.keyPem);
      }
      await world.#startDns();
    }
    return world;
  }

  /** Everything our server B needs to know to reach the load generator, and A and B each other. */
  #oursConfig(s: ServerSpec, leaf: Leaf, metrics: boolean): string {
    const certfile = join(s.dir, `${s.domain}.pem`);
    writeFileSync(certfile, readFileSync(leaf.certfile));
    const lines = [
      `# Generated by bench/world.ts for ${s.name}.`,
      `[general]`,
      `hosts = [${toml(s.domain)}]`,
      ``,
      `[[listen.s2s]]`,
      `port = ${s.s2sPort}`,
      `ip_address = ${toml(s.ip)}`,
      // The memory figure opens its links from one load generator address: lift the per-IP
      // and total caps (docs/configuration.md, abuse limits) so that none is refused.
      `max_connections = 100000`,
      `max_connections_per_ip = 100000`,
      ``,
      `[[listen.service]]`,
      `port = ${s.servicePort}`,
      `ip_address = ${toml(s.ip)}`,
      `password = ${toml(s.componentSecret)}`,
      ``,
      `[s2s]`,
      `use_starttls = "required"`,
      `certfile = ${toml(certfile)}`,
      `shared = ${toml(`bench-dialback-secret-${s.domain}`)}`,
    ];
    if (this.options.mode === "loopback") {
      // No DNS on plain loopback: fixed addresses for the peer, its component and the load generator.
      const entries: string[] = [];
      for (const o of Object.values(this.servers.ours)) {
        if (o === s) continue;
        for (const host of [o.domain, o.componentDomain]) entries.push(`{host = ${toml(host)}, ip_address = ${toml(o.ip)}, port = ${o.s2sPort}}`);
      }
      entries.push(`{host = ${toml(this.loadgen.domain)}, ip_address = ${toml(this.loadgen.ip)}, port = ${this.loadgen.port}}`);
      lines.push(`address = [`, ...entries.map((e) => `  ${e},`), `]`);
    } else {
      lines.push(``, `[plugins.dns]`, `servers = [${toml(NETNS_DNS)}]`);
    }
    if (metrics) {
      lines.push(
        ``,
        `[[listen.http]]`,
        `port = ${s.metricsPort}`,
        `ip_address = ${toml(s.ip)}`,
        `[[listen.http.handlers.mongoose_prometheus_handler]]`,
        `host = "_"`,
        `path = "/metrics"`,
        ``,
        `[instrumentation.prometheus]`,
      );
    }
    lines.push(``);
    return lines.join("\n");
  }

  async #startDns(): Promise<void> {
    const dir = this.options.dir;
    const records: DnsRecord[] = [];
    for (const system of Object.values(this.servers)) {
      for (const s of Object.values(system)) {
        records.push({ domain: s.domain, target: `xmpp.${s.domain}`, ip: s.ip, port: s.s2sPort });
        records.push({ domain: s.componentDomain, target: `xmpp.${s.domain}`, ip: s.ip, port: s.s2sPort });
      }
    }
    records.push({ domain: this.loadgen.domain, target: `xmpp.${this.loadgen.domain}`, ip: this.loadgen.ip, port: this.loadgen.port });
    const configFile = join(dir, "dnsmasq.conf");
    writeFileSync(configFile, dnsmasqConfig({ listenAddress: NETNS_DNS, pidFile: join(dir, "dnsmasq.pid"), logFile: join(dir, "dnsmasq.log"), records }));
    this.#dnsmasq = startProcess("dnsmasq", "dnsmasq", ["--keep-in-foreground", `--conf-file=${configFile}`], join(dir, "dnsmasq.out"));
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([NETNS_DNS]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const names = records.map((r) => `_xmpp-server._tcp.${r.domain}`);
      const answers = await Promise.all(names.map((n) => resolver.resolveSrv(n).then((a) => a.length > 0, () => false)));
      if (answers.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`dnsmasq did not answer every SRV record within 10 s:\n${tail(join(dir, "dnsmasq.out"))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * A fresh server process; resolves once its S2S and component ports accept connections.
   * `purpose` names its CPU profile (`ours-link-a-001.cpuprofile`) under --cpu-prof; `metrics`
   * (ours only) picks the configuration with `[instrumentation.prometheus]` and `/metrics`. Ours
   * also takes XMPP_S2S_BENCH_LOG_LEVEL (default warn) and XMPP_S2S_BENCH_NODE_FLAGS (extra Node
   * flags, space-separated) from the environment, for investigations (docs/performance.md).
   */
  async startServer(system: System, role: Role, purpose: "link" | "memory", metrics = this.options.metrics ?? false, root = this.options.root): Promise<RunningServer> {
    const spec = this.servers[system][role];
    const n = ++this.#starts;
    let proc: Started;
    let gcFile: string | undefined;
    if (system === "ours") {
      const extra = process.env.XMPP_S2S_BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? [];
      const flags = extra.concat(this.options.cpuProfDir ? ["--cpu-prof", "--cpu-prof-interval=100", `--cpu-prof-dir=${this.options.cpuProfDir}`, `--cpu-prof-name=ours-${purpose}-${role}-${String(n).padStart(3, "0")}.cpuprofile`] : []);
      // Memory trials sample after a forced GC (a figure from pending garbage can even go negative).
      if (purpose === "memory") {
        gcFile = join(spec.dir, `gc-${String(n).padStart(3, "0")}.jsonl`);
        flags.push("--expose-gc", "--require", join(this.options.root, "bench", "lib", "gc-on-signal.cjs"));
      }
      const env = gcFile ? { ...process.env, XMPP_S2S_BENCH_GC_FILE: gcFile } : process.env;
      proc = startProcess(spec.name, process.execPath, [...flags, join(root, "dist", "bin", "xmpp-s2s.js"), "start", "--config", metrics ? spec.metricsConfigFile : spec.configFile, "--log-level", process.env.XMPP_S2S_BENCH_LOG_LEVEL ?? "warn"], spec.logFile, { cwd: this.options.root, env });
    } else if (system === "prosody") {
      proc = startProcess(spec.name, "prosody", ["--config", spec.configFile, "-F"], join(spec.dir, "console.log"));
    } else {
      if (!this.options.ejabberd) throw new Error(`${spec.name}: ejabberd is not installed (bench/ejabberd.ts findEjabberd)`);
      const { cmd, args, env } = ejabberdCommand(this.options.ejabberd, spec, n);
      proc = startProcess(spec.name, cmd, args, join(spec.dir, "console.log"), { cwd: spec.dir, env });
    }
    const logTail = () => `${tail(spec.logFile)}${system === "ours" ? "" : `\n${tail(join(spec.dir, "console.log"))}`}`;
    const running: RunningServer = { spec, proc, pid: proc.pid, gcFile, metrics: system === "ours" && metrics, stop: () => stopProcess(proc), tail: logTail };
    try {
      const ports: Array<[string, number]> = [[spec.ip, spec.s2sPort], [spec.ip, spec.servicePort]];
      if (running.metrics) ports.push([spec.ip, spec.metricsPort]);
      await waitListening(proc, ports, system === "ejabberd" ? EJABBERD_START_DEADLINE_MS : START_DEADLINE_MS, logTail);
    } catch (err) {
      await running.stop();
      throw err;
    }
    return running;
  }

  /**
   * Fresh A and B of one system (fresh processes: no DNS cache, no link). With
   * XMPP_S2S_BENCH_ALTERNATE_ROOT set to another built checkout, every second pair of ours runs
   * that checkout's dist/ (both servers): two builds compared trial by trial in one invocation,
   * under the same load (docs/performance.md, "First message on a fresh link").
   */
  async startPair(system: System, metrics = this.options.metrics ?? false): Promise<Pair> {
    const alternate = process.env.XMPP_S2S_BENCH_ALTERNATE_ROOT;
    const root = system === "ours" && alternate && this.#oursPairs++ % 2 === 1 ? alternate : this.options.root;
    const [a, b] = await Promise.all([this.startServer(system, "a", "link", metrics, root), this.startServer(system, "b", "link", metrics, root)]);
    return {
      system,
      ...(system === "ours" && alternate ? { root } : {}),
      a,
      b,
      async stop() {
        await Promise.all([a.stop(), b.stop()]);
      },
    };
  }

  async close(): Promise<void> {
    if (this.#dnsmasq) await stopProcess(this.#dnsmasq);
  }
}

/**
 * Prosody 0.12 in dialback mode for the bench. Same facts as test/interop/prosody.ts's
 * prosodyConfig (role "db"), which is not reused as is because it logs at debug level and loads
 * mod_rawlog (every byte of every session into the log): fine for interop dumps, but it would
 * dominate the CPU figures here. Differences: log at warn level, no rawlog, no c2s, a
 * `Component` with `component_secret`, `ssl` set globally so the component host presents the
 * (wildcard) certificate too.
 */
export function prosodyBenchConfig(s: ServerSpec): string {
  return [
    `-- Generated by bench/world.ts for ${s.name}.`,
    `run_as_root = true`,
    `pidfile = ${lua(join(s.dir, "prosody.pid"))}`,
    `data_path = ${lua(join(s.dir, "data"))}`,
    `certificates = ${lua(join(s.dir, "certs"))}`,
    `log = { warn = ${lua(s.logFile)} }`,
    `use_ipv6 = false`,
    `interfaces = { ${lua(s.ip)} }`,
    `s2s_ports = { ${s.s2sPort} }`,
    `c2s_ports = { }`,
    `c2s_direct_tls_ports = { }`,
    `s2s_direct_tls_ports = { }`,
    `component_ports = { ${s.servicePort} }`,
    `component_interfaces = { ${lua(s.ip)} }`,
    `http_ports = { }`,
    `https_ports = { }`,
    `modules_enabled = { "tls", "dialback", "saslauth", "disco", "ping" }`,
    `authentication = "internal_plain"`,
    `storage = "internal"`,
    `s2s_require_encryption = true`,
    `s2s_secure_auth = false`,
    `s2s_timeout = 30`,
    // libunbound: let `.test` names reach our dnsmasq (its built-in RFC 6761 zone answers NXDOMAIN).
    `unbound = { options = { ["local-zone"] = "test. transparent" } }`,
    `ssl = { certificate = ${lua(join(s.dir, "s2s.crt"))}; key = ${lua(join(s.dir, "s2s.key"))} }`,
    ``,
    `VirtualHost ${lua(s.domain)}`,
    ``,
    `Component ${lua(s.componentDomain)}`,
    `  component_secret = ${lua(s.componentSecret)}`,
    ``,
  ].join("\n");
}
