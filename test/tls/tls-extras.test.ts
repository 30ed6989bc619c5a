import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { xml } from "@xmpp/component";
import { addressOf, reservePorts, startNode } from "../helpers/servers.js";
import { connectComponent } from "../helpers/component.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority } from "../helpers/certs.js";
import { waitFor } from "../helpers/wait.js";
import { errorCondition } from "../helpers/stanzas.js";
import type { S2sEvent } from "../../core/events/events.js";
import { startTls } from "./starttls-client.js";

describe("direct TLS, policy on SASL EXTERNAL, certificate reload", () => {
  let dir: string;
  let ca: CertAuthority;
  const cleanup: Array<() => Promise<void> | void> = [];

  before(() => {
    dir = makeCertDir();
    ca = makeCa(dir, "Extras CA");
  });
  after(async () => {
    for (const c of cleanup.reverse()) await c();
    removeCertDir(dir);
  });

  it("XEP-0368: a tls.mode = \"tls\" listener and an address with tls = true federate over direct TLS", async () => {
    const pa = await reservePorts("127.0.0.101");
    const toA = { ip: pa.ip, s2sPort: pa.s2sPort };
    const tlsKeys = (domain: string) => ({ use_starttls: "required_trusted", certfile: makeLeaf(ca, { domains: [domain] }).certfile, cacertfile: ca.cafile });
    const b = await startNode({ hosts: ["b.example"], ip: "127.0.0.102", listener: { tls: { mode: "tls" } }, s2s: { ...tlsKeys("b.example"), address: [{ ...addressOf(toA, "a.example"), tls: true }, { ...addressOf(toA, "bot.a.example"), tls: true }] } });
    const a = await startNode({ hosts: ["a.example"], ip: pa.ip, componentPassword: "pw", listener: { tls: { mode: "tls" } }, s2s: { ...tlsKeys("a.example"), address: [{ ...addressOf(b, "b.example"), tls: true }] } }, pa);
    const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
    cleanup.push(async () => { await bot.stop(); await a.stop(); await b.stop(); });
    const events: S2sEvent[] = [];
    a.server.events$.subscribe((e) => events.push(e));
    await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: "d1" }, xml("body", {}, "direct")));
    const echo = await bot.next((s) => s.attrs.id === "d1");
    assert.equal(echo.getChildText("body"), "direct");
    // No STARTTLS step: TLS was up from the first byte, and EXTERNAL authenticated the stream.
    assert.equal(events.some((e) => e.type === "tls_up"), false);
    assert.ok(events.some((e) => e.type === "authenticated" && e.direction === "outbound" && e.method === "sasl_external"));
  });

  it("policy runs on SASL EXTERNAL: a denied domain is refused although its certificate is valid", async () => {
    const pa = await reservePorts("127.0.0.103");
    const toA = { ip: pa.ip, s2sPort: pa.s2sPort };
    const tlsKeys = (domain: string) => ({ use_starttls: "required_trusted", certfile: makeLeaf(ca, { domains: [domain] }).certfile, cacertfile: ca.cafile });
    const b = await startNode({ hosts: ["b.example"], ip: "127.0.0.104", s2s: { ...tlsKeys("b.example"), host_policy: [{ host: "bot.a.example", policy: "deny" }], address: [addressOf(toA, "a.example"), addressOf(toA, "bot.a.example")] } });
    const a = await startNode({ hosts: ["a.example"], ip: pa.ip, componentPassword: "pw", s2s: { ...tlsKeys("a.example"), address: [addressOf(b, "b.example")] } }, pa);
    const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
    cleanup.push(async () => { await bot.stop(); await a.stop(); await b.stop(); });
    const decision = waitFor(b.server.events$, (e) => e.type === "policy_decision" && e.remote === "bot.a.example");
    await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: "x1" }, xml("body", {}, "denied?")));
    const bounce = await bot.next((s) => s.attrs.id === "x1");
    assert.equal(bounce.attrs.type, "error");
    assert.ok(errorCondition(bounce));
    const d = (await decision) as Extract<S2sEvent, { type: "policy_decision" }>;
    assert.equal(d.verdict, "deny");
    assert.equal(d.direction, "inbound");
  });

  it("certificate-only federation: authenticators = [\"sasl_external\"] never falls back to dialback", async () => {
    const pa = await reservePorts("127.0.0.106");
    const toA = { ip: pa.ip, s2sPort: pa.s2sPort };
    const certOnly = { authenticators: ["sasl_external"] };
    const keys = (domain: string) => ({ use_starttls: "optional", certfile: makeLeaf(ca, { domains: [domain] }).certfile, cacertfile: ca.cafile });
    const b = await startNode({ hosts: ["b.example"], ip: "127.0.0.107", plugins: certOnly, s2s: { ...keys("b.example"), address: [addressOf(toA, "a.example"), addressOf(toA, "bot.a.example")] } });
    const a = await startNode({ hosts: ["a.example"], ip: pa.ip, componentPassword: "pw", plugins: certOnly, s2s: { ...keys("a.example"), address: [addressOf(b, "b.example")] } }, pa);
    const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
    cleanup.push(async () => { await bot.stop(); await a.stop(); await b.stop(); });
    const events: S2sEvent[] = [];
    a.server.events$.subscribe((e) => events.push(e));
    b.server.events$.subscribe((e) => events.push(e));
    await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: "co1" }, xml("body", {}, "certs only")));
    const echo = await bot.next((s) => s.attrs.id === "co1");
    assert.equal(echo.getChildText("body"), "certs only");
    const methods = events.filter((e): e is Extract<S2sEvent, { type: "authenticated" }> => e.type === "authenticated").map((e) => e.method);
    // bot.a.example -> b.example, outbound on a and inbound on b; b's echo rides the same stream back (XEP-0288).
    assert.ok(methods.length >= 2, `both ends of the stream: ${methods.join(", ")}`);
    assert.deepEqual([...new Set(methods)], ["sasl_external"]);
  });

  it("reload re-reads certificate files: new connections get the new certificate", async () => {
    const first = makeLeaf(ca, { domains: ["b.example"] });
    const second = makeLeaf(ca, { domains: ["b.example"] });
    const live = join(dir, "live-b.pem");
    copyFileSync(first.certfile, live);
    const b = await startNode({ hosts: ["b.example"], ip: "127.0.0.105", s2s: { use_starttls: "optional", certfile: live, cacertfile: ca.cafile } });
    cleanup.push(() => b.stop());
    const presented = async () => {
      const { tls, peer } = await startTls(b.ip, b.s2sPort, { from: "a.example", to: "b.example" });
      const fp = tls.getPeerX509Certificate()?.fingerprint256;
      tls.destroy();
      peer.close();
      return fp;
    };
    assert.equal(await presented(), new X509Certificate(first.certPem).fingerprint256);
    copyFileSync(second.certfile, live);
    const report = await b.server.reload(b.server.config);
    assert.equal(report.certificatesReloaded, true);
    assert.equal(await presented(), new X509Certificate(second.certPem).fingerprint256);
  });
});
