/**
 * One TLS link between two NodeTlsProviders through a record-reading relay (record-proxy.ts),
 * with the XMPP order of things after the handshake (RFC 6120 §5.4.3.3): the initiator sends its
 * new stream header, the receiver answers with its own. Reports what the receiving server sent
 * between the end of the handshake and that stream header.
 *
 * Imported by handshake-hygiene.test.ts, and run as a script in a child Node started with another
 * OpenSSL configuration: `node --import tsx test/tls/ticket-probe.ts A.pem B.pem CA.pem` prints
 * the report as JSON; without arguments it makes its own certificates and prints a summary.
 */
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { NodeTlsProvider, type NodeTlsSettings } from "../../plugins/node_tls/node-tls-provider.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir } from "../helpers/certs.js";
import { APPLICATION_DATA, relayedListener, type TlsRecord } from "./record-proxy.js";

export interface ProbeReport {
  readonly protocol: string | null;
  /** The server's first flight (ServerHello ... Finished), as records. */
  readonly serverFlight: TlsRecord[];
  /** Server records after the client's Finished flight and before the record carrying the server's stream header. */
  readonly beforeStreamHeader: TlsRecord[];
  /** `session` events on the initiator's socket: one per NewSessionTicket it received. */
  readonly sessions: number;
}

export async function probeLink(files: { a: string; b: string; ca: string }): Promise<ProbeReport> {
  const settings = (certfile: string): NodeTlsSettings => ({ mode: "optional", certfile, cacertfile: files.ca, domainCertfile: [], ciphers: "TLSv1.2:TLSv1.3", clientCertificates: () => true });
  const initiator = new NodeTlsProvider(settings(files.a));
  const receiver = new NodeTlsProvider(settings(files.b));
  const relay = await relayedListener();
  const { proxy } = relay;
  const raw = connect(proxy.port, "127.0.0.1");
  await new Promise((resolve) => raw.once("connect", resolve));
  const inbound = relay.inbound.then((socket) => receiver.acceptInbound(socket, "b.example"));
  const out = await initiator.connectOutbound(raw, "a.example", "b.example");
  let sessions = 0;
  // Attached before the next read: tickets come one round trip after the client's Finished.
  out.socket.on("session", () => sessions++);
  const inb = await inbound;
  try {
    const header = new Promise<void>((resolve) => inb.socket.once("data", () => resolve()));
    out.socket.write("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='a.example' to='b.example' version='1.0'>");
    await header;
    const answer = new Promise<void>((resolve) => out.socket.once("data", () => resolve()));
    inb.socket.write("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='b.example' to='a.example' id='probe' version='1.0'>");
    await answer;
    const records = proxy.records;
    const hello = records.find((r) => r.dir === "c2s")!;
    // The client's second flight (Certificate ... Finished) can only leave after the server's
    // whole first flight arrived: the relay sees them in that order.
    const clientFlight = records.find((r) => r.dir === "c2s" && r.seq > hello.seq)!;
    const serverFlight = records.filter((r) => r.dir === "s2c" && r.seq > hello.seq && r.seq < clientFlight.seq);
    const after = records.filter((r) => r.dir === "s2c" && r.seq > clientFlight.seq);
    if (after.at(-1)?.type !== APPLICATION_DATA) throw new Error("the server's stream header was not the last record");
    return { protocol: out.socket.getProtocol(), serverFlight, beforeStreamHeader: after.slice(0, -1), sessions };
  } finally {
    out.socket.destroy();
    inb.socket.destroy();
    relay.close();
  }
}

/** Record lengths, for people: what the server sent in its first flight, then before its stream header. */
export function summary(report: ProbeReport): string {
  const lengths = (records: readonly TlsRecord[]) => records.map((r) => r.length).join(", ") || "none";
  const bytes = (records: readonly TlsRecord[]) => records.reduce((sum, r) => sum + 5 + r.length, 0);
  return [
    `protocol ${report.protocol}`,
    `server first flight: ${bytes(report.serverFlight)} bytes on the wire, records of ${lengths(report.serverFlight)} bytes`,
    `between the handshake and the server's stream header: ${report.beforeStreamHeader.length} records${report.beforeStreamHeader.length > 0 ? ` (${lengths(report.beforeStreamHeader)} bytes)` : ""}; NewSessionTickets received: ${report.sessions}`,
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [a, b, ca] = process.argv.slice(2);
  if (a && b && ca) {
    // For a test in a child process: the whole report.
    probeLink({ a, b, ca }).then(
      (report) => process.stdout.write(JSON.stringify(report) + "\n"),
      (err: unknown) => {
        process.stderr.write(`${String(err)}\n`);
        process.exitCode = 1;
      },
    );
  } else {
    // By hand (docs/performance.md): fresh test certificates, a readable summary.
    const dir = makeCertDir();
    const authority = makeCa(dir, "Probe CA");
    probeLink({ a: makeLeaf(authority, { domains: ["a.example"] }).certfile, b: makeLeaf(authority, { domains: ["b.example"] }).certfile, ca: authority.cafile })
      .then((report) => process.stdout.write(summary(report) + "\n"))
      .finally(() => removeCertDir(dir));
  }
}
