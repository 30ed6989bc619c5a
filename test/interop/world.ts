/**
 * The interop world (docs/interop.md): who lives where, the files that describe it, and the pieces the
 * tests use to drive and observe it.
 *
 * - `planWorld` lays out domains, loopback addresses and ports (pure).
 * - `writeWorldFiles` makes the certificates, the Prosody configs, mod_rawlog and the dnsmasq
 *   config into the world's temp folder (run.ts then starts the processes inside the netns).
 * - `loadWorld`, `startOurs`, `connectUser`, `check` and the two kinds of matrix cell
 *   (`federationCell`, `refusalCell`) are for the test files, which run inside the network
 *   namespace with `XMPP_S2S_INTEROP_WORLD` naming the world's JSON file. A failing check
 *   carries both sides' XML exchange in its error.
 */
import "reflect-metadata";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Socket } from "node:net";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { client, xml as clientXml } from "@xmpp/client";
import { xml as componentXml } from "@xmpp/component";
import { createServer, configFromObject, type S2sServer, type S2sEvent } from "../../core/index.js";
import { createLogger } from "../../core/logging/logger.js";
import { makeCa, makeLeaf } from "../helpers/certs.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { dnsmasqConfig, type DnsRecord } from "./dns.js";
import { logOffset, prosodyConfig, rawlogExcerpt, RAWLOG_MODULE, readLogFrom, type ProsodyConfigInput, type ProsodyRole } from "./prosody.js";

export type { ProsodyRole } from "./prosody.js";

/** Env var naming the world's JSON file (set by run.ts for the test run inside the netns). */
export const WORLD_ENV = "XMPP_S2S_INTEROP_WORLD";
/** dnsmasq's address inside the namespace (what /etc/netns/NAME/resolv.conf names). */
export const NETNS_DNS = "127.0.0.53";

/** Our servers, one per `use_starttls` mode under test (cells of the matrix in docs/interop.md). */
export type OurKey = "opt" | "req" | "trust" | "trustneg" | "false" | "bidip" | "bidio" | "bidbp" | "bidbo";

export interface ProsodyInstance extends Pick<ProsodyConfigInput, "role" | "domain" | "ip" | "s2sPort" | "c2sPort" | "dir" | "pidFile" | "logFile"> {
  readonly configFile: string;
  /** user -> password, registered with prosodyctl. */
  readonly users: Readonly<Record<string, string>>;
}

export interface OurInstance {
  readonly key: OurKey;
  readonly domain: string;
  /** XEP-0114 component on our server: `bot.<domain>`. */
  readonly componentDomain: string;
  readonly componentPassword: string;
  readonly ip: string;
  readonly s2sPort: number;
  readonly servicePort: number;
  readonly useStarttls: "optional" | "required" | "required_trusted" | "false";
  readonly certfile?: string;
  readonly cacertfile?: string;
  /** The Prosody this server is paired with, and the user there that the cell uses. */
  readonly peer: ProsodyRole;
  readonly user: string;
}

export interface World {
  readonly netns: string;
  readonly dir: string;
  readonly dns: string;
  /** `prosodyctl about`'s first line, e.g. "Prosody 0.12.3". */
  prosodyVersion: string;
  readonly testCa: string;
  readonly otherCa: string;
  /** Signs only Prosody's c2s certificates: the test clients trust it (NODE_EXTRA_CA_CERTS), nothing else does. */
  readonly clientCa: string;
  readonly dnsmasq: { readonly configFile: string; readonly pidFile: string; readonly logFile: string };
  readonly prosody: Readonly<Record<ProsodyRole, ProsodyInstance>>;
  readonly ours: Readonly<Record<OurKey, OurInstance>>;
}

const PROSODY_PLAN: ReadonlyArray<{ role: ProsodyRole; domain: string; ip: string; users: string[] }> = [
  { role: "db", domain: "pdb.test", ip: "127.0.1.1", users: ["alice", "bob", "carol"] },
  { role: "cert", domain: "pcert.test", ip: "127.0.1.2", users: ["alice"] },
  { role: "other", domain: "pother.test", ip: "127.0.1.3", users: ["alice"] },
  { role: "bidi", domain: "pbidi.test", ip: "127.0.1.4", users: ["alice", "bob"] },
  { role: "bididb", domain: "pbididb.test", ip: "127.0.1.5", users: ["alice", "bob"] },
];

const OURS_PLAN: ReadonlyArray<{ key: OurKey; useStarttls: OurInstance["useStarttls"]; peer: ProsodyRole; user: string; trustsCa: boolean }> = [
  { key: "opt", useStarttls: "optional", peer: "db", user: "alice", trustsCa: false },
  { key: "req", useStarttls: "required", peer: "db", user: "bob", trustsCa: false },
  { key: "trust", useStarttls: "required_trusted", peer: "cert", user: "alice", trustsCa: true },
  { key: "trustneg", useStarttls: "required_trusted", peer: "other", user: "alice", trustsCa: true },
  { key: "false", useStarttls: "false", peer: "db", user: "carol", trustsCa: false },
  // XEP-0288 cells (bidi-mode.test.ts): Prosody opens the one connection to the first, we open it to the second.
  { key: "bidip", useStarttls: "required_trusted", peer: "bidi", user: "alice", trustsCa: true },
  { key: "bidio", useStarttls: "required_trusted", peer: "bidi", user: "bob", trustsCa: true },
  { key: "bidbp", useStarttls: "required", peer: "bididb", user: "alice", trustsCa: false },
  { key: "bidbo", useStarttls: "required", peer: "bididb", user: "bob", trustsCa: false },
];

/** Domains, addresses and ports of everyone; file paths under `dir`. */
export function planWorld(netns: string, dir: string): World {
  const prosody = {} as Record<ProsodyRole, ProsodyInstance>;
  for (const p of PROSODY_PLAN) {
    const pdir = join(dir, `prosody-${p.role}`);
    prosody[p.role] = {
      role: p.role,
      domain: p.domain,
      ip: p.ip,
      s2sPort: 5269,
      c2sPort: 5222,
      dir: pdir,
      configFile: join(pdir, "prosody.cfg.lua"),
      pidFile: join(pdir, "prosody.pid"),
      logFile: join(pdir, "prosody.log"),
      users: Object.fromEntries(p.users.map((u) => [u, `pass-${u}`])),
    };
  }
  const ours = {} as Record<OurKey, OurInstance>;
  OURS_PLAN.forEach((o, i) => {
    const domain = `o-${o.key}.test`;
    ours[o.key] = {
      key: o.key,
      domain,
      componentDomain: `bot.${domain}`,
      componentPassword: `component-${o.key}`,
      ip: `127.0.2.${i + 1}`,
      // Non-standard ports, published only through SRV.
      s2sPort: 5270 + i,
      servicePort: 5347,
      useStarttls: o.useStarttls,
      certfile: o.useStarttls === "false" ? undefined : join(dir, "certs", `${domain}.pem`),
      cacertfile: o.trustsCa ? join(dir, "certs", "test-ca.pem") : undefined,
      peer: o.peer,
      user: o.user,
    };
  });
  return {
    netns,
    dir,
    dns: NETNS_DNS,
    prosodyVersion: "unknown",
    testCa: join(dir, "certs", "test-ca.pem"),
    otherCa: join(dir, "certs", "other-ca.pem"),
    clientCa: join(dir, "certs", "client-ca.pem"),
    dnsmasq: { configFile: join(dir, "dnsmasq.conf"), pidFile: join(dir, "dnsmasq.pid"), logFile: join(dir, "dnsmasq.log") },
    prosody,
    ours,
  };
}

/** Every DNS record of the world: Prosody on 5269 (SRV + A), ours on 527x through SRV only, components included. */
export function dnsRecords(world: World): DnsRecord[] {
  const records: DnsRecord[] = [];
  for (const p of Object.values(world.prosody)) records.push({ domain: p.domain, target: `xmpp.${p.domain}`, ip: p.ip, port: p.s2sPort });
  for (const o of Object.values(world.ours)) {
    records.push({ domain: o.domain, target: `xmpp.${o.domain}`, ip: o.ip, port: o.s2sPort });
    records.push({ domain: o.componentDomain, target: `xmpp.${o.domain}`, ip: o.ip, port: o.s2sPort });
  }
  return records;
}

/**
 * Certificates (test CA for everyone but P-other, whose certificate comes from another CA; a
 * third CA for Prosody's c2s certificates), Prosody configs, mod_rawlog, the dnsmasq config,
 * and the world's JSON file. Returns the JSON file's path.
 */
export function writeWorldFiles(world: World): string {
  const certDir = join(world.dir, "certs");
  mkdirSync(certDir, { recursive: true });
  const testCa = makeCa(certDir, "xmpp-s2s interop test CA");
  const otherCa = makeCa(certDir, "xmpp-s2s interop OTHER CA");
  const clientCa = makeCa(certDir, "xmpp-s2s interop c2s CA");
  writeFileSync(world.testCa, testCa.certPem);
  writeFileSync(world.otherCa, otherCa.certPem);
  writeFileSync(world.clientCa, clientCa.certPem);

  for (const o of Object.values(world.ours)) {
    if (!o.certfile) continue;
    // DNS:o-x.test and DNS:*.o-x.test: covers the component domain bot.o-x.test too.
    const leaf = makeLeaf(testCa, { domains: [o.domain] });
    writeFileSync(o.certfile, readFileSync(leaf.certfile));
  }

  const pluginDir = join(world.dir, "prosody-plugins");
  mkdirSync(pluginDir, { recursive: true });
  writeFileSync(join(pluginDir, "mod_rawlog.lua"), RAWLOG_MODULE);

  for (const p of Object.values(world.prosody)) {
    mkdirSync(join(p.dir, "data"), { recursive: true });
    mkdirSync(join(p.dir, "certs"), { recursive: true });
    const leaf = makeLeaf(p.role === "other" ? otherCa : testCa, { domains: [p.domain] });
    const c2s = makeLeaf(clientCa, { domains: [p.domain] });
    const files = {
      certFile: join(p.dir, "s2s.crt"),
      keyFile: join(p.dir, "s2s.key"),
      c2sCertFile: join(p.dir, "c2s.crt"),
      c2sKeyFile: join(p.dir, "c2s.key"),
    };
    writeFileSync(files.certFile, leaf.certPem + leaf.chainPem);
    writeFileSync(files.keyFile, leaf.keyPem, { mode: 0o600 });
    writeFileSync(files.c2sCertFile, c2s.certPem + c2s.chainPem);
    writeFileSync(files.c2sKeyFile, c2s.keyPem, { mode: 0o600 });
    writeFileSync(
      p.configFile,
      prosodyConfig({
        role: p.role,
        domain: p.domain,
        ip: p.ip,
        s2sPort: p.s2sPort,
        c2sPort: p.c2sPort,
        dir: p.dir,
        certDir: join(p.dir, "certs"),
        pidFile: p.pidFile,
        dataDir: join(p.dir, "data"),
        logFile: p.logFile,
        pluginDir,
        ...files,
        cafile: p.role === "cert" || p.role === "bidi" ? world.testCa : undefined,
      }),
    );
  }

  writeFileSync(world.dnsmasq.configFile, dnsmasqConfig({ listenAddress: world.dns, pidFile: world.dnsmasq.pidFile, logFile: world.dnsmasq.logFile, records: dnsRecords(world) }));
  const worldFile = join(world.dir, "world.json");
  writeFileSync(worldFile, JSON.stringify(world, null, 2));
  return worldFile;
}

// ---------------------------------------------------------------------------------------------
// Test side (inside the netns)
// ---------------------------------------------------------------------------------------------

/** Generous deadline for anything that should work; negative cells wait this long for a bounce. */
export const CELL_DEADLINE_MS = 30_000;
/** For what the earlier checks of a cell already made happen (events recorded on the way). */
const SETTLE_MS = 3_000;

/** The world, or why the interop tests cannot run here. */
export function loadWorld(): { world: World; skip?: undefined } | { world?: undefined; skip: string } {
  const file = process.env[WORLD_ENV];
  if (!file) return { skip: `${WORLD_ENV} is not set: run the suite with \`node --import tsx test/interop/run.ts\` (it sets up Prosody, DNS and a network namespace)` };
  try {
    return { world: JSON.parse(readFileSync(file, "utf8")) as World };
  } catch (err) {
    return { skip: `cannot read ${file}: ${(err as Error).message}` };
  }
}

// --- Our side's trace: events, debug log, and the XML on our sockets -------------------------

interface RawEntry {
  readonly at: number;
  readonly dir: "in" | "out";
  readonly local: string;
  readonly remote: string;
  readonly text: string;
}

const rawTrace: RawEntry[] = [];
const tracedIps = new Set<string>();
const tracedPeers = new Set<string>();
let traceInstalled = false;

function endpoint(address: string | undefined, port: number | undefined): string {
  return `${address ?? "?"}:${port ?? "?"}`;
}

function record(socket: Socket, dir: "in" | "out", chunk: unknown): void {
  const local = socket.localAddress;
  const remote = socket.remoteAddress;
  // Our listeners and components (our addresses), and our outbound streams (to a Prosody's S2S port; their source is 127.0.0.1).
  if (!(local && tracedIps.has(local)) && !(remote && tracedIps.has(remote)) && !tracedPeers.has(endpoint(remote, socket.remotePort))) return;
  let text: string;
  if (typeof chunk === "string") text = chunk;
  else if (Buffer.isBuffer(chunk) || chunk instanceof Uint8Array) text = Buffer.from(chunk).toString("utf8");
  else return;
  // TLS records on the raw socket below a TLS socket: not readable, say so briefly.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0e-\x1f]/.test(text)) text = `(${Buffer.byteLength(text)} bytes of binary: TLS records)`;
  rawTrace.push({ at: Date.now(), dir, local: endpoint(local, socket.localPort), remote: endpoint(remote, socket.remotePort), text });
  if (rawTrace.length > 5000) rawTrace.splice(0, rawTrace.length - 5000);
}

/**
 * Records the XML written and read on every socket of our servers (matched by their loopback
 * addresses), after TLS decryption (TLS sockets are sockets too). Test-only: the core is not
 * touched; net.Socket's `write` and `emit("data")` are wrapped in this process.
 */
function installSocketTrace(): void {
  if (traceInstalled) return;
  traceInstalled = true;
  const proto = Socket.prototype as unknown as { write: (...args: unknown[]) => boolean; emit: (event: string | symbol, ...args: unknown[]) => boolean };
  const write = proto.write;
  const emit = proto.emit;
  proto.write = function (this: Socket, ...args: unknown[]) {
    try {
      record(this, "out", args[0]);
    } catch {
      /* tracing must never break the stream */
    }
    return write.apply(this, args);
  };
  proto.emit = function (this: Socket, event: string | symbol, ...args: unknown[]) {
    if (event === "data") {
      try {
        record(this, "in", args[0]);
      } catch {
        /* tracing must never break the stream */
      }
    }
    return emit.call(this, event, ...args);
  };
}

export interface OurServer {
  readonly info: OurInstance;
  readonly server: S2sServer;
  readonly events: ReadonlyArray<{ readonly at: number; readonly event: S2sEvent }>;
  readonly logLines: readonly string[];
  /** Resolves with the first event (already seen or to come) matching `match`. */
  waitEvent(match: (e: S2sEvent) => boolean, what: string, ms?: number): Promise<S2sEvent>;
  component(): Promise<TestComponent>;
  stop(): Promise<void>;
}

/** Starts our server `key` in this process, with SRV resolution through the netns dnsmasq and a debug log kept in memory. */
export async function startOurs(world: World, key: OurKey): Promise<OurServer> {
  const info = world.ours[key];
  tracedIps.add(info.ip);
  for (const p of Object.values(world.prosody)) tracedPeers.add(endpoint(p.ip, p.s2sPort));
  installSocketTrace();
  const raw = {
    general: { hosts: [info.domain] },
    listen: {
      s2s: [{ port: info.s2sPort, ip_address: info.ip }],
      service: [{ port: info.servicePort, ip_address: info.ip, password: info.componentPassword }],
    },
    s2s: {
      use_starttls: info.useStarttls,
      certfile: info.certfile,
      cacertfile: info.cacertfile,
      shared: `interop-dialback-secret-${key}`,
    },
    plugins: {
      // SRV + A through the namespace's dnsmasq: real resolution, no `address` overrides.
      dns: { servers: [world.dns] },
      // Bounded, so a negative cell fails in seconds, not minutes.
      tcp: { negotiation_timeout: 20 },
    },
  };
  const config = configFromObject(raw, { baseDir: world.dir });
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line) logLines.push(line);
      if (logLines.length > 5000) logLines.splice(0, logLines.length - 5000);
      done();
    },
  });
  const server = createServer(config, { logger: createLogger("debug", sink) });
  const events: Array<{ at: number; event: S2sEvent }> = [];
  const waiters = new Set<{ match: (e: S2sEvent) => boolean; resolve: (e: S2sEvent) => void }>();
  server.events$.subscribe((event) => {
    events.push({ at: Date.now(), event });
    for (const w of [...waiters]) {
      if (w.match(event)) {
        waiters.delete(w);
        w.resolve(event);
      }
    }
  });
  await server.start();
  const components: TestComponent[] = [];
  return {
    info,
    server,
    events,
    logLines,
    waitEvent(match, what, ms = CELL_DEADLINE_MS) {
      const seen = events.find((e) => match(e.event));
      if (seen) return Promise.resolve(seen.event);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (e: S2sEvent) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${info.domain}: no event "${what}" within ${ms} ms`));
        }, ms);
        waiters.add(waiter);
      });
    },
    async component() {
      const c = await connectComponent(info.ip, info.servicePort, info.componentDomain, info.componentPassword);
      components.push(c);
      return c;
    },
    async stop() {
      for (const c of components) await c.stop();
      await server.stop();
    },
  };
}

// --- Prosody users (@xmpp/client) -------------------------------------------------------------

export interface TestUser {
  /** Full JID after resource binding. */
  readonly jid: string;
  readonly bare: string;
  readonly received: any[];
  send(stanza: any): Promise<void>;
  next(match: (stanza: any) => boolean, ms?: number): Promise<any>;
  /** Calls `listener` with every stanza from now on, until the returned function is called. */
  watch(listener: (stanza: any) => void): () => void;
  stop(): Promise<void>;
}

/** Logs `user` in on Prosody `role` (c2s on its own address, STARTTLS with the clients' CA), available presence sent. */
export async function connectUser(world: World, role: ProsodyRole, user: string): Promise<TestUser> {
  const p = world.prosody[role];
  const password = p.users[user];
  if (!password) throw new Error(`no user ${user} on ${p.domain}`);
  const xmpp = client({ service: `xmpp://${p.ip}:${p.c2sPort}`, domain: p.domain, username: user, password, resource: `interop-${process.pid}` });
  xmpp.reconnect.stop();
  const received: any[] = [];
  const listeners = new Set<(s: any) => void>();
  xmpp.on("error", () => {});
  xmpp.on("stanza", (stanza: any) => {
    received.push(stanza);
    for (const l of [...listeners]) l(stanza);
  });
  let timer: NodeJS.Timeout | undefined;
  let address: any;
  try {
    address = await Promise.race([
      xmpp.start(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${user}@${p.domain} did not log in within ${CELL_DEADLINE_MS} ms`)), CELL_DEADLINE_MS))),
    ]);
  } finally {
    clearTimeout(timer);
  }
  await xmpp.send(clientXml("presence"));
  const jid = String(address);
  return {
    jid,
    bare: `${user}@${p.domain}`,
    received,
    send: (stanza) => xmpp.send(stanza),
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    next(match, ms = CELL_DEADLINE_MS) {
      const found = received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const listener = (s: any) => {
          if (!match(s)) return;
          clearTimeout(t);
          listeners.delete(listener);
          resolve(s);
        };
        const t = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`${jid}: no matching stanza within ${ms} ms (got ${received.length}: ${received.slice(-3).map(String).join(" ")})`));
        }, ms);
        listeners.add(listener);
      });
    },
    async stop() {
      await xmpp.stop().catch(() => {});
    },
  };
}

// --- Failure dumps ---------------------------------------------------------------------------

interface Mark {
  readonly events: number;
  readonly logs: number;
  readonly raw: number;
  readonly prosodyLog: number;
  readonly dnsLog: number;
}

/** What one cell watches: our server, the Prosody it federates with, and where each log stood when the cell began. */
export interface Observed {
  readonly world: World;
  readonly ours: OurServer;
  readonly prosody: ProsodyInstance;
  readonly start: Mark;
}

function markNow(world: World, ours: OurServer, prosody: ProsodyInstance): Mark {
  return { events: ours.events.length, logs: ours.logLines.length, raw: rawTrace.length, prosodyLog: logOffset(prosody.logFile), dnsLog: logOffset(world.dnsmasq.logFile) };
}

export function observe(world: World, ours: OurServer, prosody: ProsodyInstance): Observed {
  return { world, ours, prosody, start: markNow(world, ours, prosody) };
}

function time(at: number): string {
  return new Date(at).toISOString().slice(11, 23);
}

/** Both sides' view since `m`: our events, our XML, our debug log, Prosody's raw XML and log, the DNS queries. */
export function dump(o: Observed, m: Mark, title: string): string {
  const parts: string[] = [];
  parts.push(`======== interop failure: ${title}`);
  parts.push(`-------- ours (${o.ours.info.domain}, use_starttls = ${o.ours.info.useStarttls}): events$`);
  for (const e of o.ours.events.slice(m.events)) parts.push(`${time(e.at)} ${JSON.stringify(e.event)}`);
  parts.push(`-------- ours: XML on our sockets (after TLS decryption)`);
  for (const r of rawTrace.slice(m.raw)) parts.push(`${time(r.at)} ${r.dir === "in" ? "RECV" : "SEND"} ${r.local} ${r.dir === "in" ? "<-" : "->"} ${r.remote}: ${r.text}`);
  parts.push(`-------- ours: debug log`);
  for (const l of o.ours.logLines.slice(m.logs)) parts.push(l);
  parts.push(`-------- Prosody ${o.prosody.domain} (${o.prosody.role}): mod_rawlog and log lines at info and above (${o.prosody.logFile})`);
  parts.push(rawlogExcerpt(readLogFrom(o.prosody.logFile, m.prosodyLog)));
  parts.push(`-------- dnsmasq queries`);
  parts.push(readLogFrom(o.world.dnsmasq.logFile, m.dnsLog, 20_000).trim());
  parts.push(`======== end of dump: ${title}`);
  return parts.join("\n");
}

/** The error with the dump appended where the runner's report shows it (the stack, which reporters print). */
function withDump(err: unknown, text: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  e.message = `${e.message}\n${text}`;
  e.stack = `${e.stack ?? e.message}\n${text}`;
  return e;
}

/**
 * Runs one check; when it fails, appends both sides' XML exchange (from the cell's start with
 * `whole`, else from this check's start) to the error, so the runner's report carries it.
 */
export async function check(o: Observed, title: string, body: () => Promise<void>, options: { whole?: boolean } = {}): Promise<void> {
  const m = options.whole ? o.start : markNow(o.world, o.ours, o.prosody);
  try {
    await body();
  } catch (err) {
    throw withDump(err, dump(o, m, title));
  }
}

/** Calls `listener` with every stanza that arrives from now on, until the returned function is called. */
type Watch = (listener: (stanza: any) => void) => () => void;

function watchComponent(c: TestComponent): Watch {
  return (listener) => {
    c.events.on("stanza", listener);
    return () => c.events.off("stanza", listener);
  };
}

/**
 * Waits for `wanted`, but fails at once when an error stanza matching `isBounce` arrives on
 * `watch` first (a bounce instead of a delivery): a broken cell fails in milliseconds, with the
 * stanza that explains it, and leaves no timer behind.
 */
async function deliveredOrBounced(wanted: Promise<any>, watch: Watch, isBounce: (s: any) => boolean, what: string): Promise<any> {
  wanted.catch(() => {}); // the race below reports it; this only keeps a late rejection handled
  let stop = () => {};
  const bounced = new Promise<never>((_, reject) => {
    stop = watch((s) => {
      if (isBounce(s)) reject(new Error(`${what}: got an error instead: ${s}`));
    });
  });
  try {
    return await Promise.race([wanted, bounced]);
  } finally {
    stop();
  }
}

// --- The matrix cells ------------------------------------------------------------------------

let ids = 0;
function nextId(prefix: string): string {
  return `${prefix}-${process.pid}-${++ids}`;
}

export interface CellState {
  ours: OurServer;
  bot: TestComponent;
  user: TestUser;
  observed: Observed;
}

export function cellHooks(world: World | undefined, key: OurKey, title: string): () => CellState {
  let state: CellState | undefined;
  let ours: OurServer | undefined;
  let bot: TestComponent | undefined;
  let user: TestUser | undefined;
  before(async () => {
    const w = world!;
    const info = w.ours[key];
    const prosody = w.prosody[info.peer];
    const logStart = logOffset(prosody.logFile);
    try {
      ours = await startOurs(w, key);
      bot = await ours.component();
      user = await connectUser(w, info.peer, info.user);
      state = { ours, bot, user, observed: observe(w, ours, prosody) };
    } catch (err) {
      const text = [
        `======== interop set-up failed: ${title}`,
        `-------- Prosody ${prosody.domain}: mod_rawlog and log lines at info and above`,
        rawlogExcerpt(readLogFrom(prosody.logFile, logStart)),
        ...(ours ? [`-------- ours: debug log`, ...ours.logLines] : []),
        `======== end of set-up dump`,
      ].join("\n");
      throw withDump(err, text);
    }
  });
  after(async () => {
    await user?.stop();
    await ours?.stop();
  });
  return () => {
    if (!state) throw new Error("cell set-up did not complete");
    return state;
  };
}

const isMessage = (id: string) => (s: any) => s.is("message") && s.attrs.id === id;
const isError = (id: string) => (s: any) => s.is("message") && s.attrs.id === id && s.attrs.type === "error";

/**
 * A cell where federation must work, both ways: the Prosody user gets echo@ours' echo (Prosody
 * opens to us, we answer on our own outbound stream), and the component on ours reaches the
 * user and gets the reply (we open to Prosody, Prosody opens to the component's domain). Then
 * the authentication method and TLS of every stream are checked on our events$.
 */
export function federationCell(key: OurKey, method: "dialback" | "sasl_external"): void {
  const loaded = loadWorld();
  const world = loaded.world;
  const info = world?.ours[key];
  const peer = world && info ? world.prosody[info.peer] : undefined;
  const title = world && info && peer
    ? `Prosody ${peer.domain} (${peer.role}) × ours ${info.domain} use_starttls = ${info.useStarttls}`
    : `interop cell ${key}`;
  describe(title, { skip: loaded.skip ?? false }, () => {
    const state = cellHooks(world, key, title);

    it(`${info?.user}@${peer?.domain} -> echo@${info?.domain}: the echo comes back`, async () => {
      const { ours, user, observed } = state();
      await check(observed, `${title}: echo`, async () => {
        const id = nextId("echo");
        await user.send(clientXml("message", { to: `echo@${ours.info.domain}`, type: "chat", id }, clientXml("body", {}, `hello from ${user.bare} ✓`)));
        const echo = await user.next(isMessage(id));
        assert.equal(echo.attrs.type, "chat", `expected the echo, got ${echo}`);
        assert.equal(echo.attrs.from, `echo@${ours.info.domain}`);
        assert.equal(echo.getChildText("body"), `hello from ${user.bare} ✓`);
      });
    });

    it(`bot.${info?.domain} -> ${info?.user}@${peer?.domain} delivered, and the reply reaches the component`, async () => {
      const { ours, bot, user, observed } = state();
      await check(observed, `${title}: component`, async () => {
        const id = nextId("bot");
        const from = `hal@${ours.info.componentDomain}/desk`;
        await bot.send(componentXml("message", { from, to: user.jid, type: "chat", id }, componentXml("body", {}, "ping from the component")));
        const got = await deliveredOrBounced(user.next(isMessage(id)), watchComponent(bot), isError(id), "the component's message to the user");
        assert.equal(got.attrs.type, "chat", `expected the component's message, got ${got}`);
        assert.equal(got.attrs.from, from);
        assert.equal(got.getChildText("body"), "ping from the component");
        const replyId = `${id}-reply`;
        await user.send(clientXml("message", { to: from, type: "chat", id: replyId }, clientXml("body", {}, "pong from Prosody")));
        const reply = await deliveredOrBounced(bot.next(isMessage(replyId)), user.watch, isError(replyId), "the user's reply to the component");
        assert.equal(reply.attrs.type, "chat", `expected the reply, got ${reply}`);
        assert.equal(reply.attrs.from, user.jid);
        assert.equal(reply.getChildText("body"), "pong from Prosody");
      });
    });

    it(`every stream is TLS and authenticated with ${method}, inbound and outbound`, async (t) => {
      const { ours, observed } = state();
      const remote = observed.prosody.domain;
      await check(observed, `${title}: authentication`, async () => {
        for (const local of [ours.info.domain, ours.info.componentDomain]) {
          for (const direction of ["inbound", "outbound"] as const) {
            const e = await ours.waitEvent((e) => e.type === "authenticated" && e.direction === direction && e.local === local && e.remote === remote, `authenticated ${direction} ${local} <-> ${remote}`, SETTLE_MS);
            assert.equal((e as { method: string }).method, method, `${direction} ${local} <-> ${remote}: ${JSON.stringify(e)}`);
          }
        }
        for (const { event } of ours.events) if (event.type === "authenticated" || event.type === "tls_up") t.diagnostic(JSON.stringify(event));
        const others = ours.events.filter((e) => e.event.type === "authenticated" && e.event.remote === remote && e.event.method !== method);
        assert.deepEqual(others.map((e) => e.event), [], "no stream authenticated another way");
        for (const local of [ours.info.domain, ours.info.componentDomain]) {
          for (const direction of ["inbound", "outbound"] as const) {
            await ours.waitEvent((e) => e.type === "tls_up" && e.direction === direction && e.local === local && e.remote === remote, `tls_up ${direction} ${local} <-> ${remote}`, SETTLE_MS);
          }
        }
      }, { whole: true });
    });
  });
}

/**
 * A cell where federation must fail, both ways: the component's message is not delivered and the
 * component gets a bounce; the Prosody user's message is not delivered and the user gets an error.
 */
export function refusalCell(key: OurKey, why: string): void {
  const loaded = loadWorld();
  const world = loaded.world;
  const info = world?.ours[key];
  const peer = world && info ? world.prosody[info.peer] : undefined;
  const title = world && info && peer
    ? `ours ${info.domain} use_starttls = ${info.useStarttls} × Prosody ${peer.domain} (${peer.role}): ${why}`
    : `interop cell ${key}`;
  describe(title, { skip: loaded.skip ?? false }, () => {
    const state = cellHooks(world, key, title);

    it(`bot.${info?.domain} -> ${info?.user}@${peer?.domain}: not delivered, the component gets a bounce`, async (t) => {
      const { ours, bot, user, observed } = state();
      await check(observed, `${title}: component bounce`, async () => {
        const id = nextId("neg-bot");
        const from = `hal@${ours.info.componentDomain}/desk`;
        await bot.send(componentXml("message", { from, to: user.jid, type: "chat", id }, componentXml("body", {}, "must not arrive")));
        const bounce = await bot.next(isMessage(id), CELL_DEADLINE_MS + 10_000);
        assert.equal(bounce.attrs.type, "error", `expected a bounce, got ${bounce}`);
        assert.ok(bounce.getChild("error"), `the bounce carries a stanza error: ${bounce}`);
        t.diagnostic(`the component got: ${bounce.getChild("error")}`);
        assert.equal(user.received.filter(isMessage(id)).length, 0, "the user got nothing");
        const authed = ours.events.filter((e) => e.event.type === "authenticated" && e.event.remote === observed.prosody.domain);
        assert.deepEqual(authed.map((e) => e.event), [], "no stream with the peer was authenticated");
      });
    });

    it(`${info?.user}@${peer?.domain} -> echo@${info?.domain}: not delivered, the user gets an error back`, async (t) => {
      const { ours, user, observed } = state();
      await check(observed, `${title}: user bounce`, async () => {
        const id = nextId("neg-echo");
        await user.send(clientXml("message", { to: `echo@${ours.info.domain}`, type: "chat", id }, clientXml("body", {}, "must not arrive")));
        const bounce = await user.next(isMessage(id), CELL_DEADLINE_MS + 10_000);
        assert.equal(bounce.attrs.type, "error", `expected an error, got ${bounce}`);
        assert.ok(bounce.getChild("error"), `the error carries a stanza error: ${bounce}`);
        t.diagnostic(`the user got: ${bounce.getChild("error")}`);
        assert.equal(user.received.filter((s) => isMessage(id)(s) && s.attrs.type !== "error").length, 0, "no echo came back");
        const authed = ours.events.filter((e) => e.event.type === "authenticated" && e.event.remote === observed.prosody.domain);
        assert.deepEqual(authed.map((e) => e.event), [], "no stream with the peer was authenticated");
      });
    });
  });
}
