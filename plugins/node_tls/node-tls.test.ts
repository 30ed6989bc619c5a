/**
 * The node:tls provider over real sockets on 127.0.0.1: provider A's connectOutbound against
 * provider B's acceptInbound, with certificates made by openssl (test/helpers/certs.ts).
 */
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as net from "node:net";
import * as tls from "node:tls";
import type { InjectionToken } from "tsyringe";
import { createLogger, isConfigError, type PluginContext, type S2sConfig, type SecureChannel, systemClock, TLS_PROVIDER, type TlsProvider } from "../../core/index.js";
import { DEADLINE_MS, eventually } from "../../test/helpers/wait.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority, type Leaf } from "../../test/helpers/certs.js";
import plugin from "./index.js";
import { NodeTlsProvider, type NodeTlsSettings } from "./node-tls-provider.js";
import { NodeSecureChannel } from "./secure-channel.js";

describe("node_tls plugin", () => {
  it("rejects bad options: it has none (no parseOptions), and provides the TLS slot from [s2s]", () => {
    assert.equal(plugin.name, "node_tls");
    assert.equal(plugin.parseOptions, undefined);
    assert.deepEqual(plugin.provides, [TLS_PROVIDER]);
    assert.deepEqual(plugin.s2sOptions, ["use_starttls", "certfile", "domain_certfile", "cacertfile", "ciphers"]);
    const provided: Array<[InjectionToken<unknown>, unknown]> = [];
    const config = { s2s: { useStarttls: "optional", domainCertfile: [], ciphers: "TLSv1.2:TLSv1.3" } } as unknown as S2sConfig;
    void plugin.register({
      config,
      options: {},
      container: { resolve: () => systemClock, isRegistered: () => false },
      provide: (token: InjectionToken<unknown>, provider: { useValue?: unknown }) => provided.push([token, provider.useValue]),
    } as unknown as PluginContext<Record<string, never>>);
    assert.equal(provided.length, 1);
    assert.equal(provided[0]![0], TLS_PROVIDER);
    const provider = provided[0]![1] as TlsProvider;
    assert.equal(provider.mode, "optional");
    assert.equal(provider.offersStartTls("a.example"), false, "no certificate: nothing to offer");
  });
});

describe("NodeTlsProvider over real sockets", () => {
  let dir: string;
  let ca: CertAuthority;
  let other: CertAuthority;
  let inter: CertAuthority;
  let a: Leaf;
  let b: Leaf;

  before(() => {
    dir = makeCertDir();
    ca = makeCa(dir, "Shared CA");
    other = makeCa(dir, "Untrusted CA");
    inter = makeCa(dir, "Shared Intermediate", { issuer: ca });
    a = makeLeaf(ca, { domains: ["a.example"] });
    b = makeLeaf(ca, { domains: ["b.example"] });
  });
  after(() => removeCertDir(dir));
  afterEach(() => {
    for (const socket of openSockets.splice(0)) socket.destroy();
  });

  const provider = (settings: Partial<NodeTlsSettings>) =>
    new NodeTlsProvider({ mode: "optional", domainCertfile: [], ciphers: "TLSv1.2:TLSv1.3", cacertfile: ca.cafile, ...settings });

  it("asks for the peer's certificate only when an authenticator uses it (or required_trusted)", async () => {
    const A = provider({ certfile: a.certfile });
    const noAsk = await handshake(A, provider({ certfile: b.certfile, clientCertificates: () => false }), "a.example", "b.example");
    assert.equal(noAsk.inb.peerCertificate, undefined, "dialback only: no client certificate requested");
    const ask = await handshake(A, provider({ certfile: b.certfile, clientCertificates: () => true }), "a.example", "b.example");
    assert.ok(ask.inb.peerCertificate, "SASL EXTERNAL enabled: the certificate is requested");
    const trusted = await handshake(A, provider({ mode: "required_trusted", certfile: b.certfile, clientCertificates: () => false }), "a.example", "b.example");
    assert.ok(trusted.inb.peerCertificate, "required_trusted always asks");
  });

  it("does one handshake with itself at start-up (warm-handshake.ts), then handshakes over real sockets as before", async () => {
    const logs: Array<{ what?: string; outcome?: string }> = [];
    const logger = createLogger("debug", { write: (line: string) => void logs.push(JSON.parse(line) as { what?: string; outcome?: string }) });
    const warmed = () => logs.filter((l) => l.what === "tls_warmed").map((l) => l.outcome);
    const B = new NodeTlsProvider({ mode: "optional", domainCertfile: [], ciphers: "TLSv1.2:TLSv1.3", cacertfile: ca.cafile, certfile: b.certfile }, logger);
    await eventually(() => warmed().length > 0, DEADLINE_MS, "tls_warmed");
    assert.deepEqual(warmed(), ["done"]);
    // The shared server the warm-up went through still hands real handshakes to acceptInbound.
    const { out, inb } = await handshake(provider({ certfile: a.certfile }), B, "a.example", "b.example");
    assert.equal(out.chainTrusted, true, out.chainError);
    assert.equal(inb.chainTrusted, true, inb.chainError);
    assert.equal(inb.peerCertificate?.subject, "CN=a.example");

    const bare: string[] = [];
    new NodeTlsProvider({ mode: "optional", domainCertfile: [], ciphers: "TLSv1.2:TLSv1.3" }, createLogger("debug", { write: (line: string) => void bare.push(line) }));
    await eventually(() => bare.some((l) => l.includes("tls_warmed")), DEADLINE_MS, "tls_warmed without a certificate");
    assert.match(bare.join(""), /"outcome":"no certificate"/);
  });

  it("both sides trust a chain from the shared CA; each certificate matches its domain", async () => {
    const A = provider({ certfile: a.certfile });
    const B = provider({ certfile: b.certfile });
    const { out, inb } = await handshake(A, B, "a.example", "b.example");
    assert.equal(out.chainTrusted, true, out.chainError);
    assert.equal(inb.chainTrusted, true, inb.chainError);
    assert.equal(inb.servername, "b.example", "SNI is the remote domain");
    assert.deepEqual(B.checkPeer(inb, "a.example"), { trusted: true });
    assert.deepEqual(A.checkPeer(out, "b.example"), { trusted: true });
    assert.equal(out.peerCertificate?.subject, "CN=b.example");
    assert.equal(inb.peerCertificate?.subject, "CN=a.example");
    // TLS 1.2 at least (RFC 8996); both ends here speak 1.3.
    assert.equal(out.socket.getProtocol(), "TLSv1.3");
    await roundTrip(out, inb);
  });

  it("a certificate from a CA we do not trust: chain untrusted, checkPeer says why", async () => {
    const A = provider({ certfile: a.certfile });
    const B = provider({ certfile: makeLeaf(other, { domains: ["b.example"] }).certfile });
    const { out, inb } = await handshake(A, B, "a.example", "b.example");
    assert.equal(out.chainTrusted, false);
    const check = A.checkPeer(out, "b.example");
    assert.equal(check.trusted, false);
    assert.match(check.reason ?? "", /^certificate not trusted: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    // The other direction is unaffected: B trusts the shared CA too.
    assert.deepEqual(B.checkPeer(inb, "a.example"), { trusted: true });
  });

  it("an expired certificate is refused with 'certificate expired'", async () => {
    const A = provider({ certfile: a.certfile });
    const B = provider({ certfile: makeLeaf(ca, { domains: ["b.example"], expired: true }).certfile });
    const { out } = await handshake(A, B, "a.example", "b.example");
    assert.equal(out.chainTrusted, false);
    assert.deepEqual(A.checkPeer(out, "b.example"), { trusted: false, reason: "certificate expired" });
  });

  it("a not-yet-valid certificate is refused", async () => {
    const A = provider({ certfile: a.certfile });
    const B = provider({ certfile: makeLeaf(ca, { domains: ["b.example"], notYetValid: true }).certfile });
    const { out } = await handshake(A, B, "a.example", "b.example");
    assert.deepEqual(A.checkPeer(out, "b.example"), { trusted: false, reason: "certificate not yet valid" });
  });

  it("a trusted certificate for another domain does not match", async () => {
    const A = provider({ certfile: a.certfile });
    const B = provider({ certfile: b.certfile });
    const { out } = await handshake(A, B, "a.example", "c.example");
    assert.equal(out.chainTrusted, true);
    const check = A.checkPeer(out, "c.example");
    assert.equal(check.trusted, false);
    assert.match(check.reason ?? "", /^certificate does not match c\.example \(it names DNS:b\.example, DNS:\*\.b\.example\)/);
    // The wildcard: one label below b.example, not two, not b.example itself via the wildcard.
    assert.equal(A.checkPeer(out, "muc.b.example").trusted, true);
    assert.equal(A.checkPeer(out, "x.muc.b.example").trusted, false);
  });

  it("wildcard-only certificate: *.b.example covers x.b.example, not b.example nor y.x.b.example", async () => {
    const A = provider({ certfile: a.certfile });
    const B = provider({ certfile: makeLeaf(ca, { domains: [], extraDns: ["*.b.example"] }).certfile });
    const { out } = await handshake(A, B, "a.example", "x.b.example");
    assert.deepEqual(A.checkPeer(out, "x.b.example"), { trusted: true });
    assert.equal(A.checkPeer(out, "b.example").trusted, false);
    assert.equal(A.checkPeer(out, "y.x.b.example").trusted, false);
  });

  it("XmppAddr-only and SRV-ID-only certificates match their domain", async () => {
    const A = provider({ certfile: a.certfile });
    for (const kind of ["xmppAddr", "srvName"] as const) {
      const B = provider({ certfile: makeLeaf(ca, { domains: ["b.example"], dns: false, [kind]: true }).certfile });
      const { out } = await handshake(A, B, "a.example", "b.example");
      assert.deepEqual(A.checkPeer(out, "b.example"), { trusted: true }, kind);
      assert.equal(A.checkPeer(out, "c.example").trusted, false, kind);
    }
  });

  it("SNI picks the certificate of the asked domain among two on one listener; no match gets certfile", async () => {
    const fallback = makeLeaf(ca, { domains: ["default.example"] });
    const B = provider({
      certfile: fallback.certfile,
      domainCertfile: [
        { domain: "b.example", certfile: b.certfile },
        { domain: "c.example", certfile: makeLeaf(ca, { domains: ["c.example"] }).certfile },
      ],
    });
    const A = provider({ certfile: a.certfile });
    const listener = await listen(B);
    try {
      for (const [asked, expected] of [["b.example", "CN=b.example"], ["c.example", "CN=c.example"], ["unknown.example", "CN=default.example"]]) {
        const { out, inb } = await listener.handshake(A, "a.example", asked!);
        assert.equal(out.peerCertificate?.subject, expected, `SNI ${asked}`);
        assert.equal(inb.servername, asked);
      }
    } finally {
      listener.close();
    }
  });

  it("without SNI the hint domain's certificate is presented (STARTTLS to a known 'to')", async () => {
    const B = provider({ domainCertfile: [{ domain: "b.example", certfile: b.certfile }, { domain: "c.example", certfile: makeLeaf(ca, { domains: ["c.example"] }).certfile }] });
    const result = acceptOne(B, "c.example");
    // No servername: Node sends no SNI for an IP host.
    const client = tls.connect({ host: "127.0.0.1", port: await result.port, ca: [ca.certPem], rejectUnauthorized: false });
    client.on("error", () => {});
    const [channel] = await Promise.all([result.channel, new Promise((r) => client.once("secureConnect", r))]);
    assert.equal(channel.servername, undefined);
    assert.equal(client.getPeerCertificate().subject.CN, "c.example");
    client.destroy();
    channel.socket.destroy();
  });

  it("accepts inbound a client certificate without clientAuth EKU when its chain is valid", async () => {
    const A = provider({ certfile: makeLeaf(ca, { domains: ["a.example"], ekus: ["serverAuth"] }).certfile });
    const B = provider({ certfile: b.certfile });
    const { inb } = await handshake(A, B, "a.example", "b.example");
    assert.equal(inb.chainTrusted, true, inb.chainError);
    assert.deepEqual(B.checkPeer(inb, "a.example"), { trusted: true });
  });

  it("... also through an intermediate CA the peer sends", async () => {
    const A = provider({ certfile: makeLeaf(inter, { domains: ["a.example"], ekus: ["serverAuth"] }).certfile });
    const B = provider({ certfile: b.certfile });
    const { inb } = await handshake(A, B, "a.example", "b.example");
    assert.equal(inb.chainTrusted, true, inb.chainError);
    assert.deepEqual(B.checkPeer(inb, "a.example"), { trusted: true });
  });

  it("an inbound channel keeps no copy of the peer's certificate: every later read gets the same leaf from the connection", async () => {
    // The intermediate matters: Node 20 takes certificates out of the chain OpenSSL holds when it
    // wraps one, so a read that returned the intermediate, or nothing, would show here.
    const leafFile = makeLeaf(inter, { domains: ["a.example"], ekus: ["serverAuth"] }).certfile;
    const A = provider({ certfile: leafFile });
    const B = provider({ certfile: b.certfile });
    const { inb } = await handshake(A, B, "a.example", "b.example");
    const expected = new X509Certificate(readFileSync(leafFile)).fingerprint256;
    for (let read = 0; read < 3; read++) {
      // A fresh channel over the same connection: what an idle link does once its WeakRef is cleared.
      const again = new NodeSecureChannel(inb.socket, "connection", undefined, inb.chainTrusted, inb.chainError, inb.servername);
      assert.equal(again.peerCertificate?.fingerprint256, expected, `read ${read}`);
      assert.deepEqual(B.checkPeer(again, "a.example"), { trusted: true });
    }
    assert.equal(inb.peerCertificate?.fingerprint256, expected);
  });

  it("but not from an untrusted CA, nor expired, nor self-signed (OpenSSL's INVALID_PURPOSE hides those)", async () => {
    const B = provider({ certfile: b.certfile });
    const untrusted = provider({ certfile: makeLeaf(other, { domains: ["a.example"], ekus: ["serverAuth"] }).certfile });
    let { inb } = await handshake(untrusted, B, "a.example", "b.example");
    assert.equal(inb.chainTrusted, false);
    assert.match(B.checkPeer(inb, "a.example").reason ?? "", /^certificate not trusted/);

    const expired = provider({ certfile: makeLeaf(ca, { domains: ["a.example"], ekus: ["serverAuth"], expired: true }).certfile });
    ({ inb } = await handshake(expired, B, "a.example", "b.example"));
    assert.equal(inb.chainTrusted, false);
    assert.equal(B.checkPeer(inb, "a.example").reason, "certificate expired");

    // A self-signed CA certificate used as a client certificate: node:tls reports INVALID_PURPOSE
    // alone (its last error), although nothing vouches for it.
    const selfSigned = makeCa(dir, "Self Signed");
    const file = join(dir, "self-signed.pem");
    writeFileSync(file, selfSigned.certPem + selfSigned.keyPem);
    ({ inb } = await handshake(provider({ certfile: file }), B, "a.example", "b.example"));
    assert.equal(inb.chainTrusted, false);
    assert.equal(inb.chainError, "DEPTH_ZERO_SELF_SIGNED_CERT");
  });

  it("a peer without a certificate: 'no certificate' (optional); refused under required_trusted", async () => {
    const anonymous = provider({});
    const B = provider({ certfile: b.certfile });
    const { inb } = await handshake(anonymous, B, "a.example", "b.example");
    assert.equal(inb.chainTrusted, false);
    assert.equal(inb.peerCertificate, undefined);
    assert.deepEqual(B.checkPeer(inb, "a.example"), { trusted: false, reason: "no certificate" });

    const strict = provider({ mode: "required_trusted", certfile: b.certfile });
    await assert.rejects(handshake(anonymous, strict, "a.example", "b.example"), /not trusted \(use_starttls = "required_trusted"\): no certificate/);
    const untrusted = provider({ certfile: makeLeaf(other, { domains: ["a.example"] }).certfile });
    await assert.rejects(handshake(untrusted, strict, "a.example", "b.example"), /not trusted/);
    const ok = await handshake(provider({ certfile: a.certfile }), strict, "a.example", "b.example");
    assert.equal(ok.inb.chainTrusted, true);
  });

  it("outbound presents the local domain's certificate (domain_certfile before certfile)", async () => {
    const A = provider({ certfile: a.certfile, domainCertfile: [{ domain: "a2.example", certfile: makeLeaf(ca, { domains: ["a2.example"] }).certfile }] });
    const B = provider({ certfile: b.certfile });
    let { inb } = await handshake(A, B, "a2.example", "b.example");
    assert.deepEqual(B.checkPeer(inb, "a2.example"), { trusted: true });
    ({ inb } = await handshake(A, B, "a.example", "b.example"));
    assert.deepEqual(B.checkPeer(inb, "a.example"), { trusted: true });
    assert.equal(B.checkPeer(inb, "a2.example").trusted, false);
  });

  it("offersStartTls and hasCertificateFor follow use_starttls and the certificates", () => {
    const only = provider({ domainCertfile: [{ domain: "b.example", certfile: b.certfile }] });
    assert.equal(only.hasCertificateFor("b.example"), true);
    assert.equal(only.hasCertificateFor("B.EXAMPLE"), true);
    assert.equal(only.hasCertificateFor("a.example"), false);
    assert.equal(only.offersStartTls("b.example"), true);
    assert.equal(only.offersStartTls("a.example"), false);
    const all = provider({ certfile: a.certfile });
    assert.equal(all.offersStartTls("anything.example"), true);
    for (const mode of ["optional", "required", "required_trusted"] as const) assert.equal(provider({ mode, certfile: a.certfile }).offersStartTls("a.example"), true, mode);
    const off = provider({ mode: "false", certfile: a.certfile });
    assert.equal(off.offersStartTls("a.example"), false);
    assert.equal(off.hasCertificateFor("a.example"), true, "SASL EXTERNAL outbound may still use it over direct TLS");
  });

  it("refuses protocol versions below TLS 1.2 (minVersion)", async () => {
    const B = provider({ certfile: b.certfile });
    const result = acceptOne(B, "b.example");
    const client = tls.connect({ host: "127.0.0.1", port: await result.port, maxVersion: "TLSv1.1", minVersion: "TLSv1", rejectUnauthorized: false, servername: "b.example" });
    client.on("error", () => {});
    await assert.rejects(result.channel, /TLS handshake failed|closed/);
    client.destroy();
  });

  it("passes ciphers through: a TLS 1.2 peer offering only other suites fails", async () => {
    const B = provider({ certfile: b.certfile, ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384" });
    const result = acceptOne(B, "b.example");
    const client = tls.connect({ host: "127.0.0.1", port: await result.port, maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256", rejectUnauthorized: false, servername: "b.example" });
    client.on("error", () => {});
    await assert.rejects(result.channel, /TLS handshake failed|closed/);
    client.destroy();
    const ok = acceptOne(B, "b.example");
    const good = tls.connect({ host: "127.0.0.1", port: await ok.port, maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384", rejectUnauthorized: false, servername: "b.example" });
    const channel = await ok.channel;
    assert.equal(channel.socket.getCipher().name, "ECDHE-ECDSA-AES256-GCM-SHA384");
    good.destroy();
    channel.socket.destroy();
  });

  it("a silent peer hits the handshake timeout", async () => {
    const B = provider({ certfile: b.certfile, handshakeTimeoutMs: 150 });
    const result = acceptOne(B, "b.example");
    const silent = net.connect(await result.port, "127.0.0.1");
    silent.on("error", () => {});
    const started = Date.now();
    await assert.rejects(result.channel, /not completed within 150 ms|handshake timeout/i);
    // Only "it gave up": a generous bound, the machine may be busy.
    assert.ok(Date.now() - started < 10_000);
    await new Promise<void>((resolve) => (silent.destroyed ? resolve() : silent.once("close", () => resolve())));
  });

  for (const [label, bytes] of [
    ["before sending anything", Buffer.alloc(0)],
    ["after part of its ClientHello", Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])],
  ] as const) {
    it(`a peer that closes ${label} fails the handshake at once, not at the timeout`, { timeout: 60_000 }, async () => {
      const B = provider({ certfile: b.certfile, handshakeTimeoutMs: 600_000 });
      const result = acceptOne(B, "b.example");
      const peer = net.connect(await result.port, "127.0.0.1");
      peer.on("error", () => {});
      await new Promise((r) => peer.once("connect", r));
      if (bytes.length > 0) await new Promise((r) => peer.write(bytes, r));
      peer.destroy();
      // The handshake timeout (10 minutes) outlasts this test's (1 minute): a rejection means the close was seen.
      await assert.rejects(result.channel, (err: Error) => !/not completed within/.test(err.message));
    });
  }

  it("connectOutbound rejects when the peer is not speaking TLS", async () => {
    const server = net.createServer((s) => s.end("<stream:stream>not tls at all</stream:stream>"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const raw = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    await new Promise((r) => raw.once("connect", r));
    await assert.rejects(provider({ certfile: a.certfile }).connectOutbound(raw, "a.example", "b.example"), /TLS handshake with b\.example failed|closed the connection/);
    server.close();
  });

  it("reload() re-reads the files; a broken file keeps the running certificates", async () => {
    const file = join(dir, "reloadable.pem");
    copyFileSync(b.certfile, file);
    const B = provider({ certfile: file });
    const A = provider({ certfile: a.certfile });
    let { out } = await handshake(A, B, "a.example", "b.example");
    assert.equal(out.peerCertificate?.subject, "CN=b.example");

    copyFileSync(makeLeaf(ca, { domains: ["renewed.example"] }).certfile, file);
    await B.reload();
    ({ out } = await handshake(A, B, "a.example", "b.example"));
    assert.equal(out.peerCertificate?.subject, "CN=renewed.example");

    writeFileSync(file, "garbage");
    await assert.rejects(B.reload(), (err: unknown) => isConfigError(err) && /^s2s\.certfile: no PEM certificate/.test(err.problems[0]!));
    ({ out } = await handshake(A, B, "a.example", "b.example"));
    assert.equal(out.peerCertificate?.subject, "CN=renewed.example");
  });
  // That the system roots stay trusted next to cacertfile: test/tls/handshake-hygiene.test.ts.
});

// ---------------------------------------------------------------------------------------------

interface Pair {
  out: SecureChannel;
  inb: SecureChannel;
}

/** One TCP connection: `client.connectOutbound(local -> remote)` against `server.acceptInbound(hint = remote)`. */
async function handshake(client: TlsProvider, server: TlsProvider, local: string, remote: string): Promise<Pair> {
  const listener = await listen(server);
  try {
    return await listener.handshake(client, local, remote);
  } finally {
    listener.close();
  }
}

async function listen(server: TlsProvider): Promise<{ handshake(client: TlsProvider, local: string, remote: string): Promise<Pair>; close(): void }> {
  let accept: ((s: net.Socket) => void) | undefined;
  const netServer = net.createServer((s) => accept?.(s));
  await new Promise<void>((r) => netServer.listen(0, "127.0.0.1", r));
  const port = (netServer.address() as net.AddressInfo).port;
  return {
    async handshake(client, local, remote) {
      const inbound = new Promise<SecureChannel>((resolve, reject) => {
        accept = (s) => server.acceptInbound(s, remote).then(resolve, reject);
      });
      const raw = net.connect(port, "127.0.0.1");
      await new Promise((r) => raw.once("connect", r));
      const outbound = client.connectOutbound(raw, local, remote);
      // Both are awaited below; until then a rejection must not count as unhandled.
      outbound.catch(() => {});
      inbound.catch(() => {});
      const [inb, out] = await Promise.all([inbound, outbound.catch(async (err: unknown) => {
        // The inbound side's verdict is the interesting one when it refused.
        await inbound;
        throw err;
      })]);
      openSockets.push(out.socket, inb.socket);
      return { out, inb };
    },
    close() {
      netServer.close();
    },
  };
}

/** Secured sockets of finished handshakes, destroyed after each test. */
const openSockets: net.Socket[] = [];

function acceptOne(server: TlsProvider, hint: string): { port: Promise<number>; channel: Promise<SecureChannel> } {
  let resolvePort!: (p: number) => void;
  const port = new Promise<number>((r) => (resolvePort = r));
  const channel = new Promise<SecureChannel>((resolve, reject) => {
    const netServer = net.createServer((s) => {
      netServer.close();
      server.acceptInbound(s, hint).then(resolve, reject);
    });
    netServer.listen(0, "127.0.0.1", () => resolvePort((netServer.address() as net.AddressInfo).port));
  });
  channel.catch(() => {}); // the caller awaits it; until then a rejection must not count as unhandled
  return { port, channel };
}

/** Bytes flow both ways over the secured sockets. */
async function roundTrip(out: SecureChannel, inb: SecureChannel): Promise<void> {
  const got = new Promise<string>((r) => inb.socket.once("data", (d: Buffer) => r(d.toString())));
  out.socket.write("<stream:stream>");
  assert.equal(await got, "<stream:stream>");
  const back = new Promise<string>((r) => out.socket.once("data", (d: Buffer) => r(d.toString())));
  inb.socket.write("<stream:stream id='x'>");
  assert.equal(await back, "<stream:stream id='x'>");
}
