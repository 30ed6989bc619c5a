/**
 * Loopback test doubles for "finding and reaching peers" (docs/resolution.md): a DNS server with a zone you
 * edit from the test, and a TCP address that never completes a connection.
 *
 * ```ts
 * const dns = await startDnsServer({
 *   "_xmpp-server._tcp.b.example": { srv: [{ priority: 10, weight: 0, port: 5269, target: "xmpp.b.example" }] },
 *   "xmpp.b.example": { a: ["127.0.0.12"] },
 *   "gone.example": {},                                 // exists, no records: NODATA
 *   "silent.example": { behaviour: "silent" },          // never answered
 * });
 * // [plugins.dns] servers = [dns.address]
 * dns.count("_xmpp-server._tcp.b.example", "SRV");     // queries received so far
 * await dns.close();
 * ```
 *
 * A name missing from the zone is answered NXDOMAIN. Never sends anything outside loopback.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from "node:dgram";
import { createRequire } from "node:module";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { connect as netConnect, isIPv6, type Socket } from "node:net";
import { Worker } from "node:worker_threads";
import { DEADLINE_MS, eventually } from "./wait.js";

/** The part of dns-packet we use (the package ships no types). */
interface DnsPacketApi {
  decode(buf: Buffer): { id: number; flags?: number; questions?: Array<{ name: string; type: string; class?: string }> };
  encode(packet: Record<string, unknown>): Buffer;
  readonly RECURSION_DESIRED: number;
  readonly RECURSION_AVAILABLE: number;
}
const dnsPacket = createRequire(import.meta.url)("dns-packet") as DnsPacketApi;

export interface SrvData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** "." means "no service here" (RFC 2782, RFC 6120 §3.2.1). */
  readonly target: string;
}

export interface ZoneEntry {
  readonly srv?: readonly SrvData[];
  readonly a?: readonly string[];
  readonly aaaa?: readonly string[];
  /** TTL of every record of this name, seconds (default 300). */
  readonly ttl?: number;
  /** "silent": never answered; "servfail"/"refused": answered with that rcode. Default: answer. */
  readonly behaviour?: "silent" | "servfail" | "refused";
}

export type Zone = Record<string, ZoneEntry>;

export interface ReceivedQuery {
  readonly name: string;
  readonly type: string;
}

export interface TestDnsServer {
  /** "127.0.0.1:PORT", ready for `[plugins.dns] servers`. */
  readonly address: string;
  readonly port: number;
  /** Edit freely between queries; names are matched case-insensitively. */
  zone: Zone;
  /** When true, no query at all is answered (a DNS server that never answers). */
  silent: boolean;
  /** Every query received, in order. */
  readonly queries: readonly ReceivedQuery[];
  /** Queries received, optionally only for `name` (case-insensitive) and `type`. */
  count(name?: string, type?: string): number;
  close(): Promise<void>;
}

const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const RCODE_REFUSED = 5;

export async function startDnsServer(zone: Zone = {}, ip = "127.0.0.1"): Promise<TestDnsServer> {
  const socket: UdpSocket = createSocket("udp4");
  const queries: ReceivedQuery[] = [];
  const server: TestDnsServer = {
    address: "",
    port: 0,
    zone,
    silent: false,
    queries,
    count(name?: string, type?: string) {
      return queries.filter((q) => (name === undefined || q.name === name.toLowerCase()) && (type === undefined || q.type === type)).length;
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };

  socket.on("message", (message: Buffer, peer: RemoteInfo) => {
    let query: ReturnType<DnsPacketApi["decode"]>;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase().replace(/\.$/, "");
    queries.push({ name, type: question.type });
    if (server.silent) return;
    const entry = lookup(server.zone, name);
    if (entry?.behaviour === "silent") return;
    const rcode = !entry ? RCODE_NXDOMAIN : entry.behaviour === "servfail" ? RCODE_SERVFAIL : entry.behaviour === "refused" ? RCODE_REFUSED : 0;
    const answers = rcode === 0 && entry ? answersFor(name, question.type, entry) : [];
    const reply = dnsPacket.encode({
      type: "response",
      id: query.id,
      // QR is implied by type; RD copied, RA set, AA set (we are the authority for the whole zone).
      flags: ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | 0x400 | rcode,
      questions: [question],
      answers,
    });
    socket.send(reply, peer.port, peer.address);
  });

  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, ip, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  const port = socket.address().port;
  return Object.assign(server, { port, address: `${ip}:${port}` });
}

function lookup(zone: Zone, name: string): ZoneEntry | undefined {
  for (const [key, entry] of Object.entries(zone)) if (key.toLowerCase().replace(/\.$/, "") === name) return entry;
  return undefined;
}

function answersFor(name: string, type: string, entry: ZoneEntry): Array<Record<string, unknown>> {
  const ttl = entry.ttl ?? 300;
  if (type === "SRV") return (entry.srv ?? []).map((data) => ({ type: "SRV", class: "IN", name, ttl, data: { ...data } }));
  if (type === "A") return (entry.a ?? []).map((data) => ({ type: "A", class: "IN", name, ttl, data }));
  if (type === "AAAA") return (entry.aaaa ?? []).map((data) => ({ type: "AAAA", class: "IN", name, ttl, data }));
  return [];
}

/**
 * A loopback TCP address whose connections never complete: a listener with `backlog: 1` in a
 * worker thread that blocks in `Atomics.wait` right after `listen()`, so nothing ever accepts;
 * filler connections fill the kernel's accept queue, after which Linux drops every new SYN and a
 * client's connect stays pending (the client retransmits SYNs, all on loopback). Used to test
 * `outgoing.connection_timeout` without any traffic leaving the machine.
 */
export interface UnansweringAddress {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

const LISTEN_BACKLOG = 1;

/**
 * Connections waiting in the accept queue of the socket listening on host:port, as the kernel
 * counts them: `rx_queue` of a LISTEN entry in /proc/net/tcp(6) (Linux).
 */
function acceptQueueLength(host: string, port: number): number {
  const v6 = isIPv6(host);
  const address = `${v6 ? procIpv6(host) : procIpv4(host)}:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const [, local, , state, queues] = line.trim().split(/\s+/);
    if (local === address && state === "0A") return parseInt(queues!.split(":")[1]!, 16);
  }
  throw new Error(`no listening socket on ${host}:${port} in /proc/net`);
}

/** /proc/net/tcp writes an IPv4 address as one 32-bit word in host (little-endian) byte order. */
function procIpv4(host: string): string {
  return host.split(".").reverse().map((o) => Number(o).toString(16).toUpperCase().padStart(2, "0")).join("");
}

/** /proc/net/tcp6: four 32-bit words, each in host (little-endian) byte order. */
function procIpv6(host: string): string {
  const [head = "", tail = ""] = host.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = host.includes("::") ? [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t] : h;
  const hex = groups.map((g) => g.padStart(4, "0")).join("");
  let out = "";
  for (let w = 0; w < 32; w += 8) out += (hex.slice(w, w + 8).match(/../g) ?? []).reverse().join("");
  return out.toUpperCase();
}

export async function startUnansweringAddress(host = "127.0.0.1"): Promise<UnansweringAddress> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `
    const { workerData, parentPort } = require("node:worker_threads");
    const net = require("node:net");
    const server = net.createServer();
    server.listen({ host: workerData.host, port: 0, backlog: workerData.backlog }, () => {
      parentPort.postMessage(server.address().port);
      // Block this thread's event loop: the kernel keeps the socket listening, nobody accepts.
      Atomics.wait(workerData.flag, 0, 0);
      server.close();
    });
    `,
    { eval: true, workerData: { host, flag, backlog: LISTEN_BACKLOG } },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  // Fill the accept queue with connections that complete (a queue with room always completes the
  // handshake, however slow the machine), reading the queue's length from the kernel after each
  // one: no timer decides that a connect "stays pending". Linux refuses new connections once the
  // queue holds more than `backlog` (sk_acceptq_is_full), here 2.
  const fillers: Socket[] = [];
  for (let i = 0; i < 32 && acceptQueueLength(host, port) <= LISTEN_BACKLOG; i++) {
    const filler = netConnect({ host, port });
    filler.on("error", () => {});
    fillers.push(filler);
    await Promise.race([once(filler, "connect"), new Promise((_, reject) => setTimeout(() => reject(new Error(`startUnansweringAddress: filler ${i} never connected`)), DEADLINE_MS).unref())]);
    await eventually(() => acceptQueueLength(host, port) === fillers.length, undefined, `accept queue of ${host}:${port} at ${fillers.length}`);
  }
  if (acceptQueueLength(host, port) <= LISTEN_BACKLOG) throw new Error("startUnansweringAddress: the accept queue never filled");
  return {
    host,
    port,
    async close() {
      for (const f of fillers) f.destroy();
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      await worker.terminate();
    },
  };
}
