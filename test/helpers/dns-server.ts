/**
 * Loopback test doubles for "finding and reaching peers" (issue 5): a DNS server with a zone you
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
import { connect as netConnect, type Socket } from "node:net";
import { Worker } from "node:worker_threads";

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

export async function startUnansweringAddress(host = "127.0.0.1"): Promise<UnansweringAddress> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `
    const { workerData, parentPort } = require("node:worker_threads");
    const net = require("node:net");
    const server = net.createServer();
    server.listen({ host: workerData.host, port: 0, backlog: 1 }, () => {
      parentPort.postMessage(server.address().port);
      // Block this thread's event loop: the kernel keeps the socket listening, nobody accepts.
      Atomics.wait(workerData.flag, 0, 0);
      server.close();
    });
    `,
    { eval: true, workerData: { host, flag } },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  // Fill the accept queue: connect until one connection stays pending (bounded loop).
  const fillers: Socket[] = [];
  let full = false;
  for (let i = 0; i < 32 && !full; i++) {
    const filler = netConnect({ host, port });
    filler.on("error", () => {});
    fillers.push(filler);
    full = !(await new Promise<boolean>((resolve) => {
      // On loopback a free queue completes the handshake in well under a millisecond, but a busy
      // machine may not run this callback for a while: wait long. A SYN dropped because the queue
      // is full is retransmitted after ~1 s and ~3 s, and dropped again (the queue stays full).
      const timer = setTimeout(() => resolve(false), 3_000);
      filler.once("connect", () => {
        clearTimeout(timer);
        resolve(true);
      });
    }));
  }
  if (!full) throw new Error("startUnansweringAddress: the accept queue never filled");
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
