/**
 * What our TLS handshakes put on the wire (issue 18), read by a relay that parses TLS record
 * headers (record-proxy.ts): no session state after the handshake, and a CertificateRequest that
 * does not list every system root.
 *
 * How tickets are recognised. TLS 1.2: NewSessionTicket is a plaintext handshake message (type 4)
 * before the server's ChangeCipherSpec. TLS 1.3: it is encrypted, so it is placed by order (a
 * server record after the client's Finished flight and before the record that carries the
 * server's stream header, ticket-probe.ts) and cross-checked by Node's `session` event on the
 * client, which fires once per NewSessionTicket received.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, type AddressInfo } from "node:net";
import * as tls from "node:tls";
import { fileURLToPath } from "node:url";
import { NodeTlsProvider, type NodeTlsSettings } from "../../plugins/tls-node/node-tls-provider.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority, type Leaf } from "../helpers/certs.js";
import { APPLICATION_DATA, CERTIFICATE_REQUEST, HANDSHAKE, NEW_SESSION_TICKET, recordProxy, type TlsRecord } from "./record-proxy.js";
import { probeLink, type ProbeReport } from "./ticket-probe.js";
import { tls12Inbound } from "./tls12-inbound.js";

const CHANGE_CIPHER_SPEC = 20;
/** A stateful TLS 1.3 ticket (a 32-byte session id) is a 74-byte record; a ticket carrying the session is 700-1,200. */
const STATEFUL_TICKET_MAX = 100;
const NO_TICKETS_CNF = fileURLToPath(new URL("../../plugins/tls-node/openssl-no-tickets.cnf", import.meta.url));
const PROBE = fileURLToPath(new URL("./ticket-probe.ts", import.meta.url));

describe("TLS handshake hygiene: no session tickets, a compact CertificateRequest", () => {
  let dir: string;
  let ca: CertAuthority;
  let a: Leaf;
  let b: Leaf;

  before(() => {
    dir = makeCertDir();
    ca = makeCa(dir, "Hygiene CA");
    a = makeLeaf(ca, { domains: ["a.example"] });
    b = makeLeaf(ca, { domains: ["b.example"] });
  });
  after(() => removeCertDir(dir));

  const provider = (settings: Partial<NodeTlsSettings>) =>
    new NodeTlsProvider({ mode: "optional", domainCertfile: [], ciphers: "TLSv1.2:TLSv1.3", clientCertificates: () => true, ...settings });

  it("TLS 1.3 between two of ours: at most two stateful tickets (no session inside), a CertificateRequest under 1 KB", async () => {
    const report = await probeLink({ a: a.certfile, b: b.certfile, ca: ca.cafile });
    assert.equal(report.protocol, "TLSv1.3");
    // Node 20 cannot set OpenSSL's per-context ticket count: SSL_OP_NO_TICKET turns TLS 1.3
    // tickets into stateful ones. Without it this was 2 records of ~700 bytes (1,173 with RSA keys).
    assert.ok(report.beforeStreamHeader.length <= 2, JSON.stringify(report.beforeStreamHeader));
    for (const r of report.beforeStreamHeader) assert.ok(r.length <= STATEFUL_TICKET_MAX, `a ${r.length}-byte record before the stream header`);
    assert.equal(report.sessions, report.beforeStreamHeader.length, "each of those records is a NewSessionTicket");
    assertCompactFlight(report);
  });

  it("TLS 1.3 under plugins/tls-node/openssl-no-tickets.cnf: nothing at all between the handshake and the stream header", async () => {
    const report = await new Promise<ProbeReport>((resolve, reject) => {
      execFile(process.execPath, [`--openssl-config=${NO_TICKETS_CNF}`, "--import", "tsx", PROBE, a.certfile, b.certfile, ca.cafile], { timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as ProbeReport);
      });
    });
    assert.equal(report.protocol, "TLSv1.3");
    assert.deepEqual(report.beforeStreamHeader, [], "no NewSessionTicket");
    assert.equal(report.sessions, 0);
    assertCompactFlight(report);
  });

  it("TLS 1.2 inbound: a client that asks for a ticket gets none; the CertificateRequest lists only cacertfile's CA", async () => {
    const B = provider({ certfile: b.certfile, cacertfile: ca.cafile });
    const seen = await tls12Inbound(B, { cert: a.certfile });
    const serverMessages = plaintextMessages(seen.records, "s2c");
    assert.equal(serverMessages.some((m) => m.type === NEW_SESSION_TICKET), false, `server sent ${JSON.stringify(serverMessages)}`);
    const request = serverMessages.find((m) => m.type === CERTIFICATE_REQUEST);
    assert.ok(request, "a client certificate was requested");
    assert.ok(request.length < 1024, `CertificateRequest of ${request.length} bytes`);
    assert.equal(seen.channel.chainTrusted, true, seen.channel.chainError);
  });

  it("TLS 1.2 inbound without cacertfile: the CertificateRequest names no CA at all (and our test CA is not trusted)", async () => {
    const B = provider({ certfile: b.certfile });
    const seen = await tls12Inbound(B, { cert: a.certfile });
    const request = plaintextMessages(seen.records, "s2c").find((m) => m.type === CERTIFICATE_REQUEST);
    assert.ok(request, "a client certificate was requested");
    // certificate_types, signature_algorithms and an empty certificate_authorities<0..2^16-1>.
    assert.ok(request.length < 100, `CertificateRequest of ${request.length} bytes`);
    assert.equal(seen.channel.chainTrusted, false);
    assert.equal(seen.channel.chainError, "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "our test CA is not a system root");
  });

  it("TLS 1.2 outbound: we do not ask for a ticket, so a server that would issue one sends none", async () => {
    const A = provider({ certfile: a.certfile, cacertfile: ca.cafile });
    const pem = readFileSync(b.certfile, "utf8");
    // node:tls's defaults: it issues TLS 1.2 tickets to clients that offer the extension.
    const server = tls.createServer({ cert: pem, key: pem, maxVersion: "TLSv1.2" }, (s) => s.on("error", () => {}));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const proxy = await recordProxy("127.0.0.1", { host: "127.0.0.1", port: (server.address() as AddressInfo).port });
    try {
      const raw = connect(proxy.port, "127.0.0.1");
      await new Promise((resolve) => raw.once("connect", resolve));
      const out = await A.connectOutbound(raw, "a.example", "b.example");
      assert.equal(out.socket.getProtocol(), "TLSv1.2");
      assert.equal(out.chainTrusted, true, out.chainError);
      const serverMessages = plaintextMessages(proxy.records, "s2c");
      assert.ok(serverMessages.some((m) => m.type === 2), "the ServerHello was read");
      assert.equal(serverMessages.some((m) => m.type === NEW_SESSION_TICKET), false, `server sent ${JSON.stringify(serverMessages)}`);
      out.socket.destroy();
    } finally {
      proxy.close();
      server.close();
    }
  });
});

/** The CertificateRequest is the second encrypted record of a TLS 1.3 server flight (after EncryptedExtensions). */
function assertCompactFlight(report: ProbeReport): void {
  const encrypted = report.serverFlight.filter((r) => r.type === APPLICATION_DATA);
  assert.equal(encrypted.length, 5, "EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify, Finished");
  assert.ok(encrypted[1]!.length < 1024, `CertificateRequest record of ${encrypted[1]!.length} bytes`);
  const total = report.serverFlight.reduce((sum, r) => sum + 5 + r.length, 0);
  assert.ok(total < 4096, `server flight of ${total} bytes (it was ~15.5 KB with every system root listed)`);
}

/** Plaintext handshake messages of one direction: everything before its ChangeCipherSpec. */
function plaintextMessages(records: readonly TlsRecord[], dir: "c2s" | "s2c"): Array<{ type: number; length: number }> {
  const mine = records.filter((r) => r.dir === dir);
  const ccs = mine.findIndex((r) => r.type === CHANGE_CIPHER_SPEC);
  return mine.slice(0, ccs < 0 ? undefined : ccs).filter((r) => r.type === HANDSHAKE).flatMap((r) => r.messages ?? []);
}
