/**
 * When the remote server refuses us by its policy, the stanzas waiting for it bounce the
 * same way whatever authentication was tried: `service-unavailable` (cancel), as for a refusal by
 * our own policy (README "Embedding"; RFC 6120 §8.3.3.19), with the peer's explanation (its
 * stream error `<text/>`, RFC 6120 §4.9.2) in the bounce text. It used to be `remote-server-timeout`
 * (wait) under SASL EXTERNAL and `remote-server-not-found` (cancel) under dialback, text dropped.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { xml } from "@xmpp/component";
import { addressOf, reservePorts, startNode } from "../helpers/servers.js";
import { errorCondition } from "../helpers/stanzas.js";
import { connectComponent } from "../helpers/component.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority } from "../helpers/certs.js";

let dir: string;
let ca: CertAuthority;
const stops: Array<() => Promise<void>> = [];
before(() => {
  dir = makeCertDir();
  ca = makeCa(dir, "Refusal CA");
});
after(async () => {
  for (const stop of stops.reverse()) await stop();
  removeCertDir(dir);
});

/** A (component bot.a.example) -> B, where B denies bot.a.example; `tls` picks the auth method. */
async function refusedBounce(ipA: string, ipB: string, mode: "dialback" | "sasl_external") {
  const tls = (domain: string) =>
    mode === "sasl_external" ? { use_starttls: "required_trusted", certfile: makeLeaf(ca, { domains: [domain] }).certfile, cacertfile: ca.cafile } : {};
  const pa = await reservePorts(ipA);
  const b = await startNode({
    hosts: ["b.example"], ip: ipB,
    s2s: { ...tls("b.example"), host_policy: [{ host: "bot.a.example", policy: "deny" }], address: [addressOf(pa, "a.example"), addressOf(pa, "bot.a.example")] },
  });
  stops.push(() => b.stop());
  const a = await startNode({ hosts: ["a.example"], ip: ipA, componentPassword: "pw", s2s: { ...tls("a.example"), address: [addressOf(b, "b.example")] } }, pa);
  stops.push(() => a.stop());
  const bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
  stops.push(() => bot.stop());
  const methods: string[] = [];
  a.server.events$.subscribe((e) => { if (e.type === "auth_failed") methods.push(e.method); });
  await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: `r-${mode}` }, xml("body", {}, "may I?")));
  const bounce = await bot.next((s) => s.attrs.id === `r-${mode}`);
  return { bounce, methods };
}

describe("a refusal by the remote's policy bounces one way, whatever the auth method", () => {
  for (const [mode, ipA, ipB] of [["dialback", "127.0.0.81", "127.0.0.82"], ["sasl_external", "127.0.0.83", "127.0.0.84"]] as const) {
    it(`${mode}: service-unavailable (cancel), with the peer's stream error text`, async () => {
      const { bounce, methods } = await refusedBounce(ipA, ipB, mode);
      assert.equal(bounce.attrs.type, "error");
      assert.equal(errorCondition(bounce), "service-unavailable");
      assert.equal(bounce.getChild("error").attrs.type, "cancel");
      const text = bounce.getChild("error").getChildText("text") ?? "";
      // B's stream error text (inbound-stream.ts #admit): the peer's own words reach the sender.
      assert.match(text, /'bot\.a\.example' is not allowed to federate with 'b\.example'/);
      assert.ok(methods.includes(mode), `the refusal came during ${mode} (auth_failed: ${methods.join(", ")})`);
    });
  }
});
