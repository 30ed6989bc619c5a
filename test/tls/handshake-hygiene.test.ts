/**
 * What our TLS handshakes put on the wire (plugins/node_tls/README.md), read by a relay that parses TLS record
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
import { execFile, execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, type AddressInfo } from "node:net";
import { join } from "node:path";
import * as tls from "node:tls";
import { fileURLToPath } from "node:url";
import { NodeTlsProvider, type NodeTlsSettings } from "../../plugins/node_tls/node-tls-provider.js";
import type { SecureChannel } from "../../core/tls/tls.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority, type Leaf } from "../helpers/certs.js";
import { APPLICATION_DATA, CERTIFICATE_REQUEST, HANDSHAKE, NEW_SESSION_TICKET, recordProxy, type TlsRecord } from "./record-proxy.js";
import { probeLink, type ProbeReport } from "./ticket-probe.js";
import { tls12Inbound } from "./tls12-inbound.js";

const CHANGE_CIPHER_SPEC = 20;
/** A stateful TLS 1.3 ticket (a 32-byte session id) is a 74-byte record; a ticket carrying the session is 700-1,200. */
const STATEFUL_TICKET_MAX = 100;
const NO_TICKETS_CNF = fileURLToPath(new URL("../../plugins/node_tls/openssl-no-tickets.cnf", import.meta.url));
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

  it("TLS 1.3 under plugins/node_tls/openssl-no-tickets.cnf: nothing at all between the handshake and the stream header", async () => {
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

  it("the same when SNI switches the connection to a domain_certfile context", async () => {
    // The listener's default is a.example's; SNI asks for b.example, whose own context takes over.
    const B = provider({ certfile: a.certfile, domainCertfile: [{ domain: "b.example", certfile: b.certfile }], cacertfile: ca.cafile });
    const seen = await tls12Inbound(B, { cert: a.certfile, servername: "b.example" }, "a.example");
    assert.ok(seen.presented?.subjectAltName?.includes("DNS:b.example"), "b.example's certificate was presented");
    const serverMessages = plaintextMessages(seen.records, "s2c");
    assert.equal(serverMessages.some((m) => m.type === NEW_SESSION_TICKET), false, `server sent ${JSON.stringify(serverMessages)}`);
    const request = serverMessages.find((m) => m.type === CERTIFICATE_REQUEST);
    assert.ok(request && request.length < 1024, `CertificateRequest ${JSON.stringify(request)}`);
    assert.equal(seen.channel.chainTrusted, true, `the switched context trusts cacertfile: ${seen.channel.chainError}`);
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

  describe("the system roots are still in OpenSSL's store (only the CA list shrank)", () => {
    // A leaf whose issuer name is a real root's, signed by another key of the same type and
    // without an authority key identifier: OpenSSL finds the real root by name, then fails on the
    // signature (CERT_SIGNATURE_FAILURE). A store without that root says
    // UNABLE_TO_VERIFY_LEAF_SIGNATURE. The side presenting the leaf has an empty store (`ca: []`):
    // with the roots it would send the real root along (OpenSSL's automatic chain building).
    let impostor: string;
    before(() => {
      impostor = impostorLeaf(dir);
    });

    for (const cacertfile of [true, false]) {
      it(`inbound and outbound, ${cacertfile ? "with" : "without"} cacertfile`, async () => {
        const extra = cacertfile ? { cacertfile: ca.cafile } : {};
        const inbound = await tls12Inbound(provider({ certfile: b.certfile, ...extra }), { cert: impostor });
        assert.equal(inbound.channel.chainError, "CERT_SIGNATURE_FAILURE");
        const out = await outboundTo(provider({ certfile: a.certfile, ...extra }), impostor);
        assert.equal(out.chainError, "CERT_SIGNATURE_FAILURE");
      });
    }

    it("(control: a store without the system roots does not find that issuer)", async () => {
      const settings = { cacertfile: ca.cafile, systemRoots: false };
      const inbound = await tls12Inbound(provider({ certfile: b.certfile, ...settings }), { cert: impostor });
      assert.equal(inbound.channel.chainError, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      const out = await outboundTo(provider({ certfile: a.certfile, ...settings }), impostor);
      assert.equal(out.chainError, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    });
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

/** Our connectOutbound against a node:tls server presenting `certfile` (and nothing it could chain to it). */
async function outboundTo(client: NodeTlsProvider, certfile: string): Promise<SecureChannel> {
  const pem = readFileSync(certfile, "utf8");
  const server = tls.createServer({ cert: pem, key: pem, ca: [] }, (s) => s.on("error", () => {}));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const raw = connect((server.address() as AddressInfo).port, "127.0.0.1");
    await new Promise((resolve) => raw.once("connect", resolve));
    const channel = await client.connectOutbound(raw, "a.example", "b.example");
    channel.socket.destroy();
    return channel;
  } finally {
    server.close();
  }
}

/** Certificate + key (PEM file) of a leaf for b.example "issued" by a system root's name, signed by a key of ours. */
function impostorLeaf(dir: string): string {
  const root = tls.rootCertificates.map((p) => new X509Certificate(p)).find((c) => /^[A-Za-z0-9 .=\n-]+$/.test(c.subject) && c.subject.includes("CN="));
  assert.ok(root, "a system root with a plain subject name");
  const subject = "/" + root.subject.split("\n").join("/");
  const file = (name: string) => join(dir, `impostor-${name}`);
  const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  // OpenSSL only considers an issuer whose key type matches the signature's.
  const details = root.publicKey.asymmetricKeyDetails;
  const caKey = root.publicKey.asymmetricKeyType === "rsa" ? ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] : ["-algorithm", "EC", "-pkeyopt", `ec_paramgen_curve:${details?.namedCurve ?? "P-256"}`];
  openssl(["genpkey", ...caKey, "-out", file("ca.key")]);
  openssl(["req", "-x509", "-new", "-key", file("ca.key"), "-subj", subject, "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", "-out", file("ca.pem")]);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file("leaf.key")]);
  openssl(["req", "-new", "-key", file("leaf.key"), "-subj", "/CN=b.example", "-out", file("leaf.csr")]);
  writeFileSync(file("leaf.ext"), "subjectAltName=DNS:b.example\nextendedKeyUsage=serverAuth,clientAuth\nauthorityKeyIdentifier=none\nsubjectKeyIdentifier=none\n");
  openssl(["x509", "-req", "-in", file("leaf.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", file("leaf.ext"), "-out", file("leaf.pem")]);
  writeFileSync(file("leaf-with-key.pem"), readFileSync(file("leaf.pem"), "utf8") + readFileSync(file("leaf.key"), "utf8"));
  return file("leaf-with-key.pem");
}
