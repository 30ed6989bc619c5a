/**
 * Issue 12, `xmpp-s2s probe DOMAIN --config FILE`: without a running server of FILE, a temporary
 * one negotiates with the remote through the real code paths and reports each step. It succeeds
 * against a second server of ours (certificates, and plain dialback, which needs the remote to call
 * back to our listener), and fails at the right step with the right reason for NXDOMAIN, connection
 * refused, an untrusted certificate, a certificate for another name and dialback refused by policy.
 * With a running server that has an [admin] socket, the probe runs inside it.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ProbeRun } from "../../core/cli/probe-verb.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority } from "../helpers/certs.js";
import { startDnsServer, type TestDnsServer } from "../helpers/dns-server.js";
import { freePort } from "../helpers/ports.js";
import { fakeTlsPeer } from "../tls/fake-tls-peer.js";
import { ensureBuilt } from "../helpers/build.js";
import { killChildren, run as xmppS2s } from "../helpers/cli.js";
import { addressLine, opsToml, reserve, startOpsNode, type OpsNode, type Reserved } from "./world.js";

describe("xmpp-s2s probe", () => {
  let dir: string;
  let ca: CertAuthority;
  let ra: Reserved;
  let b: OpsNode; // ours, certificates
  let d: OpsNode; // ours, plain dialback
  let p: OpsNode; // ours, denies a.example
  let dns: TestDnsServer;
  const peers: Array<{ close: () => void }> = [];
  let untrusted: { port: number; close: () => void };
  let otherName: { port: number; close: () => void };
  let deadPort: number;

  before(async () => {
    ensureBuilt();
    dir = makeCertDir();
    ca = makeCa(dir, "Probe CA");
    const otherCa = makeCa(dir, "Nobody's CA");
    ra = await reserve("127.0.0.151");
    dns = await startDnsServer({});
    const tls = (domain: string) => [`use_starttls = "optional"`, `certfile = "${makeLeaf(ca, { domains: [domain] }).certfile}"`, `cacertfile = "${ca.cafile}"`];
    b = await startOpsNode({ host: "b.example", ip: "127.0.0.152", s2s: [...tls("b.example"), `address = [${addressLine("a.example", ra)}]`] });
    d = await startOpsNode({ host: "d.example", ip: "127.0.0.153", s2s: [`use_starttls = "false"`, `address = [${addressLine("a.example", ra)}]`] });
    p = await startOpsNode({ host: "p.example", ip: "127.0.0.154", s2s: [`use_starttls = "false"`, `host_policy = [{ host = "a.example", policy = "deny" }]`, `address = [${addressLine("a.example", ra)}]`] });
    untrusted = await fakeTlsPeer("127.0.0.155", makeLeaf(otherCa, { domains: ["u.example"] }).certfile);
    otherName = await fakeTlsPeer("127.0.0.156", makeLeaf(ca, { domains: ["other.example"] }).certfile);
    peers.push(untrusted, otherName);
    deadPort = await freePort("127.0.0.157");
  });

  after(async () => {
    killChildren();
    for (const peer of peers) peer.close();
    await b?.stop();
    await d?.stop();
    await p?.stop();
    await dns?.close();
    if (dir) removeCertDir(dir);
  });

  /** A's config file (A itself is not running): what an operator would probe from. */
  function configA(name: string, s2s: string[], extra = ""): string {
    const addresses = [
      addressLine("b.example", b),
      addressLine("d.example", d),
      addressLine("p.example", p),
      addressLine("u.example", { ip: "127.0.0.155", s2sPort: untrusted.port }),
      addressLine("w.example", { ip: "127.0.0.156", s2sPort: otherName.port }),
      addressLine("dead.example", { ip: "127.0.0.157", s2sPort: deadPort }),
    ];
    const file = join(dir, `${name}.toml`);
    const toml = opsToml({ host: "a.example", ip: ra.ip, s2s: [...s2s, `address = [${addresses.join(", ")}]`], extra: `[plugins.dns]\nservers = ["${dns.address}"]\n${extra}` }, ra, dir);
    writeFileSync(file, toml);
    return file;
  }

  const tlsA = () => [`use_starttls = "optional"`, `certfile = "${makeLeaf(ca, { domains: ["a.example"] }).certfile}"`, `cacertfile = "${ca.cafile}"`];
  const trustedA = () => [`use_starttls = "required_trusted"`, `certfile = "${makeLeaf(ca, { domains: ["a.example"] }).certfile}"`, `cacertfile = "${ca.cafile}"`];

  async function probe(domain: string, file: string): Promise<{ code: number | null; report: ProbeRun; stderr: string }> {
    const r = await xmppS2s(["probe", domain, "--config", file, "--json", "--timeout", "15"]);
    assert.ok(r.stdout.trim().startsWith("{"), `no JSON report (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    return { code: r.code, report: JSON.parse(r.stdout) as ProbeRun, stderr: r.stderr };
  }

  const stepOf = (report: ProbeRun, step: string) => report.steps.filter((s) => s.step === step);

  it("succeeds against a server of ours with certificates, showing every step", async () => {
    const { code, report } = await probe("b.example", configA("tls", tlsA()));
    assert.equal(code, 0, JSON.stringify(report, null, 2));
    assert.equal(report.ok, true);
    assert.equal(report.ranIn, "temporary server");
    assert.match(stepOf(report, "resolve")[0]!.detail, /s2s\.address override: b\.example 127\.0\.0\.152:\d+/);
    assert.equal(stepOf(report, "connect")[0]!.status, "ok");
    assert.ok(stepOf(report, "stream").some((s) => /plaintext; features: .*starttls/.test(s.detail)));
    assert.match(stepOf(report, "starttls")[0]!.detail, /^TLSv1\.[23] /);
    const cert = stepOf(report, "certificate")[0]!;
    assert.equal(cert.status, "ok");
    assert.match(cert.detail, /verified for b\.example .*subject CN=b\.example.*issuer CN=Probe CA.*identities: DNS:b\.example/);
    assert.equal(stepOf(report, "auth").at(-1)!.status, "ok");
    assert.match(stepOf(report, "ping")[0]!.detail, /XEP-0199 pong from b\.example after \d+ ms/);
    // Steps are in time order.
    assert.deepEqual(report.steps.map((s) => s.atMs), [...report.steps.map((s) => s.atMs)].sort((x, y) => x - y));

    const text = await xmppS2s(["probe", "b.example", "--config", configA("tls-text", tlsA())]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^\s+[\d.]+ ms\s+certificate\s+ok\s+verified for b\.example/m);
    assert.match(text.stdout, /^OK: federation from a\.example to b\.example works/m);
  });

  it("succeeds with plain dialback: the remote verifies the key with the probe's own listener", async () => {
    const { code, report } = await probe("d.example", configA("dialback", [`use_starttls = "false"`]));
    assert.equal(code, 0, JSON.stringify(report, null, 2));
    assert.equal(stepOf(report, "auth").at(-1)!.detail, "authenticated with dialback");
  });

  it("fails at resolve for NXDOMAIN", async () => {
    const { code, report } = await probe("nx.example", configA("nx", [`use_starttls = "false"`]));
    assert.equal(code, 1);
    assert.equal(report.failedStep, "resolve");
    assert.match(stepOf(report, "resolve")[0]!.detail, /^DNS .*no address for XMPP/);
    assert.ok(dns.count("_xmpp-server._tcp.nx.example") >= 1, "the real resolver asked the DNS server");
  });

  it("fails at connect when the connection is refused", async () => {
    const { code, report } = await probe("dead.example", configA("dead", [`use_starttls = "false"`]));
    assert.equal(code, 1);
    assert.equal(report.failedStep, "connect");
    assert.match(stepOf(report, "connect")[0]!.detail, /127\.0\.0\.157:\d+: .*ECONNREFUSED/);
  });

  it("fails at certificate for an untrusted certificate, under required_trusted", async () => {
    const { code, report } = await probe("u.example", configA("untrusted", trustedA()));
    assert.equal(code, 1, JSON.stringify(report, null, 2));
    assert.equal(report.failedStep, "certificate");
    const cert = stepOf(report, "certificate")[0]!;
    assert.equal(cert.status, "failed");
    assert.match(cert.detail, /NOT verified for u\.example: .*(trust|issuer|self.signed)/i);
    assert.match(cert.detail, /issuer CN=Nobody's CA/);
  });

  it("fails at certificate for a certificate of another name", async () => {
    const { code, report } = await probe("w.example", configA("othername", trustedA()));
    assert.equal(code, 1, JSON.stringify(report, null, 2));
    assert.equal(report.failedStep, "certificate");
    assert.match(stepOf(report, "certificate")[0]!.detail, /NOT verified for w\.example: .*identities: DNS:other\.example/);
  });

  it("fails at auth when the remote's policy refuses our domain", async () => {
    const { code, report } = await probe("p.example", configA("denied", [`use_starttls = "false"`]));
    assert.equal(code, 1, JSON.stringify(report, null, 2));
    assert.equal(report.failedStep, "auth");
    assert.match(report.reason ?? "", /invalid-from: .a\.example. is not allowed to federate with .p\.example./);
  });

  it("runs inside the running server when its [admin] socket answers", async () => {
    const a = await startOpsNode({ host: "a.example", ip: ra.ip, admin: true, s2s: [`use_starttls = "false"`, `address = [${addressLine("d.example", d)}]`] }, ra);
    try {
      const r = await xmppS2s(["probe", "d.example", "--config", a.configFile, "--json"]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout) as ProbeRun;
      assert.equal(report.ranIn, "running server");
      assert.equal(report.ok, true);
      // A second probe reuses the established session.
      const again = JSON.parse((await xmppS2s(["probe", "d.example", "--config", a.configFile, "--json"])).stdout) as ProbeRun;
      assert.equal(again.steps[0]!.step, "session");
      assert.equal(again.ok, true);
    } finally {
      await a.stop();
    }
  });

  it("says why when the config's listener is taken by a server without [admin]", async () => {
    const a = await startOpsNode({ host: "a.example", ip: ra.ip, s2s: [`use_starttls = "false"`] }, ra);
    try {
      const r = await xmppS2s(["probe", "d.example", "--config", a.configFile]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot open the S2S listeners of the config .*Add \[admin\] socket/);
    } finally {
      await a.stop();
    }
  });
});
