import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { xml } from "@xmpp/component";
import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { errorCondition } from "../helpers/stanzas.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority } from "../helpers/certs.js";
import { waitFor } from "../helpers/wait.js";
import { ScriptedPeer } from "../helpers/s2s-peer.js";
import type { S2sEvent } from "../../core/events/events.js";
import { startTls } from "./starttls-client.js";
import { fakeTlsPeer } from "./fake-tls-peer.js";

type Mode = "false" | "optional" | "required" | "required_trusted";

let dir: string;
let ca: CertAuthority;
let otherCa: CertAuthority;
let ipCounter = 70;


/**
 * A (component bot.a.example) and B, each with its own mode and certificate. Without XEP-0288
 * (`bidi = false`): each direction negotiates its own stream, which is what these tests look at.
 */
async function world(modeA: Mode, modeB: Mode, certB?: string) {
  const ipA = `127.0.0.${ipCounter++}`;
  const ipB = `127.0.0.${ipCounter++}`;
  const pa = await reservePorts(ipA);
  const toA = { ip: pa.ip, s2sPort: pa.s2sPort };
  const certA = makeLeaf(ca, { domains: ["a.example"] }).certfile;
  const bCert = certB ?? makeLeaf(ca, { domains: ["b.example"] }).certfile;
  const tlsKeys = (mode: Mode, certfile: string) => (mode === "false" ? {} : { certfile, cacertfile: ca.cafile });
  const twoStreams = { tcp: { bidi: false } };
  const b = await startNode({ hosts: ["b.example"], ip: ipB, plugins: twoStreams, s2s: { use_starttls: modeB, ...tlsKeys(modeB, bCert), address: [addressOf(toA, "a.example"), addressOf(toA, "bot.a.example")] } });
  // A world half made (A failed to start, the component failed to connect) still stops what it started.
  let a: TestNode | undefined;
  let bot: TestComponent;
  try {
    a = await startNode({ hosts: ["a.example"], ip: ipA, componentPassword: "pw", plugins: twoStreams, s2s: { use_starttls: modeA, ...tlsKeys(modeA, certA), address: [addressOf(b, "b.example")] } }, pa);
    bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
  } catch (error) {
    await a?.stop();
    await b.stop();
    throw error;
  }
  const events: S2sEvent[] = [];
  a.server.events$.subscribe((e) => events.push(e));
  b.server.events$.subscribe((e) => events.push(e));
  return { a, b, bot, events, stop: async () => { await bot.stop(); await a!.stop(); await b.stop(); } };
}

async function echoes(bot: TestComponent, id: string): Promise<any> {
  await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id }, xml("body", {}, `tls ${id}`)));
  return bot.next((s) => s.attrs.id === id);
}

describe("use_starttls between two of our servers", () => {
  const stops: Array<() => Promise<void>> = [];
  before(() => {
    dir = makeCertDir();
    ca = makeCa(dir, "Test CA");
    otherCa = makeCa(dir, "Other CA");
  });
  after(async () => {
    for (const s of stops) await s();
    removeCertDir(dir);
  });

  for (const [modeA, modeB] of [["optional", "optional"], ["required", "required"], ["optional", "required"], ["required", "optional"]] as const) {
    it(`${modeA} x ${modeB} delivers over TLS`, async () => {
      const w = await world(modeA, modeB);
      stops.push(w.stop);
      const echo = await echoes(w.bot, `m-${modeA}-${modeB}`);
      assert.equal(echo.attrs.type, undefined);
      assert.equal(echo.getChildText("body"), `tls m-${modeA}-${modeB}`);
      assert.ok(w.events.some((e) => e.type === "tls_up" && e.direction === "outbound" && e.local === "bot.a.example"), "A -> B used TLS");
      assert.ok(w.events.some((e) => e.type === "tls_up" && e.direction === "outbound" && e.local === "b.example"), "B -> A used TLS");
    });
  }

  it("required_trusted x required_trusted delivers, authenticated by SASL EXTERNAL both ways", async () => {
    const w = await world("required_trusted", "required_trusted");
    stops.push(w.stop);
    const echo = await echoes(w.bot, "rt1");
    assert.equal(echo.getChildText("body"), "tls rt1");
    const outbound = w.events.filter((e): e is Extract<S2sEvent, { type: "authenticated" }> => e.type === "authenticated" && e.direction === "outbound");
    assert.deepEqual(outbound.map((e) => [e.local, e.remote, e.method]).sort(), [["b.example", "bot.a.example", "sasl_external"], ["bot.a.example", "b.example", "sasl_external"]]);
  });

  it("optional x false delivers in plaintext (TLS is not offered, so not used)", async () => {
    const w = await world("optional", "false");
    stops.push(w.stop);
    const echo = await echoes(w.bot, "of1");
    assert.equal(echo.getChildText("body"), "tls of1");
    assert.equal(w.events.some((e) => e.type === "tls_up"), false);
  });

  it("required x false does not deliver: the sender gets a bounce", async () => {
    const w = await world("required", "false");
    stops.push(w.stop);
    const bounce = await echoes(w.bot, "rf1");
    assert.equal(bounce.attrs.type, "error");
    assert.equal(errorCondition(bounce), "remote-server-not-found");
    assert.match(bounce.getChild("error").getChildText("text") ?? "", /STARTTLS/);
  });

  const refusals: Array<[string, () => string, RegExp]> = [
    ["a certificate from an untrusted CA", () => makeLeaf(otherCa, { domains: ["b.example"] }).certfile, /not trusted|untrusted|self.signed|issuer/i],
    ["an expired certificate", () => makeLeaf(ca, { domains: ["b.example"], expired: true }).certfile, /expired/i],
  ];
  for (const [what, cert, reason] of refusals) {
    it(`required_trusted facing ${what} does not deliver and bounces`, async () => {
      const w = await world("required_trusted", "optional", cert());
      stops.push(w.stop);
      const bounce = await echoes(w.bot, `ref-${what.length}`);
      assert.equal(bounce.attrs.type, "error");
      assert.equal(errorCondition(bounce), "remote-server-not-found");
      const failed = w.events.find((e): e is Extract<S2sEvent, { type: "failed" }> => e.type === "failed" && e.local === "bot.a.example");
      assert.match(failed?.reason ?? "", reason);
      // Nothing but the handshake went over the channel: B never saw a dialback request from A.
      assert.equal(w.events.some((e) => e.type === "authenticated" && e.direction === "inbound" && e.remote === "bot.a.example"), false);
    });
  }

  it("required_trusted facing a certificate for another domain does not deliver and bounces", async () => {
    const peer = await fakeTlsPeer("127.0.0.99", makeLeaf(ca, { domains: ["c.example"] }).certfile);
    const ipA = `127.0.0.${ipCounter++}`;
    const a = await startNode({ hosts: ["a.example"], ip: ipA, componentPassword: "pw", s2s: { use_starttls: "required_trusted", certfile: makeLeaf(ca, { domains: ["a.example"] }).certfile, cacertfile: ca.cafile, address: [{ host: "b.example", ip_address: "127.0.0.99", port: peer.port }] } });
    const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
    stops.push(async () => { await bot.stop(); await a.stop(); peer.close(); });
    const failed = waitFor(a.server.events$, (e) => e.type === "failed");
    const bounce = await echoes(bot, "other1");
    assert.equal(errorCondition(bounce), "remote-server-not-found");
    assert.match((await failed as Extract<S2sEvent, { type: "failed" }>).reason, /does not match|b\.example/);
  });
});

describe("TLS regressions (MongooseIM defects we must not repeat)", () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  let tdir: string;
  let tca: CertAuthority;
  before(() => {
    tdir = makeCertDir();
    tca = makeCa(tdir, "Regression CA");
  });
  after(async () => {
    for (const c of cleanup) await c();
    removeCertDir(tdir);
  });

  async function node(mode: Mode, extra: Record<string, unknown> = {}, hosts = ["b.example"]): Promise<TestNode> {
    const n = await startNode({ hosts, ip: `127.0.0.${ipCounter++}`, s2s: { use_starttls: mode, certfile: makeLeaf(tca, { domains: hosts }).certfile, cacertfile: tca.cafile, ...extra } });
    cleanup.push(() => n.stop());
    return n;
  }

  it("required: plaintext dialback is refused (only STARTTLS is offered, anything else is a policy-violation)", async () => {
    const b = await node("required");
    const p = await ScriptedPeer.connect(b.ip, b.s2sPort);
    cleanup.push(() => p.close());
    await p.open("a.example", "b.example");
    assert.match(p.data, /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
    assert.doesNotMatch(p.data, /urn:xmpp:features:dialback/);
    p.write(`<db:result from='a.example' to='b.example'>${"a".repeat(64)}</db:result>`);
    await p.waitClosed();
    assert.equal(p.streamError(), "policy-violation");
  });

  it("SASL EXTERNAL is never offered or accepted over plaintext", async () => {
    const b = await node("optional");
    const p = await ScriptedPeer.connect(b.ip, b.s2sPort);
    cleanup.push(() => p.close());
    await p.open("a.example", "b.example");
    assert.doesNotMatch(p.data, /EXTERNAL/);
    p.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>YS5leGFtcGxl</auth>`);
    await p.waitFor(/<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>|<stream:error>/);
    assert.doesNotMatch(p.data, /<success/);
  });

  it("required_trusted: an inbound peer without a certificate is refused", async () => {
    const b = await node("required_trusted");
    const { tls, peer } = await startTls(b.ip, b.s2sPort, { from: "a.example", to: "b.example" });
    cleanup.push(() => peer.close());
    await new Promise<void>((resolve) => {
      if (tls.destroyed) return resolve();
      tls.once("close", () => resolve());
      tls.write(`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='a.example' to='b.example' version='1.0'>`);
    });
    assert.ok(tls.destroyed);
  });

  it("domain_certfile: SNI picks the certificate of each local host on one listener", async () => {
    const hosts = ["b.example", "b2.example"];
    const c1 = makeLeaf(tca, { domains: ["b.example"] });
    const c2 = makeLeaf(tca, { domains: ["b2.example"] });
    const b = await startNode({ hosts, ip: `127.0.0.${ipCounter++}`, s2s: { use_starttls: "optional", domain_certfile: [{ domain: "b.example", certfile: c1.certfile }, { domain: "b2.example", certfile: c2.certfile }], cacertfile: tca.cafile } });
    cleanup.push(() => b.stop());
    for (const [domain, leaf] of [["b.example", c1], ["b2.example", c2]] as const) {
      const { tls, peer } = await startTls(b.ip, b.s2sPort, { from: "a.example", to: domain, servername: domain });
      cleanup.push(() => peer.close());
      const presented = tls.getPeerX509Certificate();
      assert.ok(presented, "a certificate was presented");
      assert.equal(presented.fingerprint256, new X509Certificate(leaf.certPem).fingerprint256, `certificate for ${domain}`);
      tls.destroy();
    }
  });
});
