/**
 * Issue 19: `s2s.keyfile` takes the private key from its own file, as Let's Encrypt ships
 * `fullchain.pem` and `privkey.pem` (and as MongooseIM 6.4+ `tls.keyfile`); also in a
 * `domain_certfile` entry. Two servers federate with `required_trusted` (SASL EXTERNAL both ways)
 * while A's certificate and key are two files, and the `established` event names the method.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { xml } from "@xmpp/component";
import { parseConfig } from "../../core/index.js";
import { isConfigError } from "../../core/errors.js";
import type { S2sEvent } from "../../core/events/events.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority } from "../helpers/certs.js";
import { connectComponent } from "../helpers/component.js";
import { addressOf, reservePorts, startNode } from "../helpers/servers.js";

let dir: string;
let ca: CertAuthority;
const stops: Array<() => Promise<void>> = [];

before(() => {
  dir = makeCertDir();
  ca = makeCa(dir, "Keyfile CA");
});
after(async () => {
  for (const stop of stops.reverse()) await stop();
  removeCertDir(dir);
});

/** A leaf for `domain` written as Let's Encrypt does: fullchain (certificates only) and privkey. */
let files = 0;
function splitLeaf(domain: string): { fullchain: string; privkey: string } {
  const leaf = makeLeaf(ca, { domains: [domain] });
  const n = files++;
  const fullchain = join(dir, `${domain}-${n}-fullchain.pem`);
  const privkey = join(dir, `${domain}-${n}-privkey.pem`);
  writeFileSync(fullchain, leaf.certPem + leaf.chainPem);
  writeFileSync(privkey, leaf.keyPem);
  return { fullchain, privkey };
}

function problems(toml: string): readonly string[] {
  try {
    parseConfig(toml, { baseDir: dir });
  } catch (err) {
    if (isConfigError(err)) return err.problems;
    throw err;
  }
  return [];
}

describe("s2s.keyfile", () => {
  it("is accepted with a certificate-only certfile, in [s2s] and in domain_certfile entries", () => {
    const a = splitLeaf("a.example");
    const b = splitLeaf("b.example");
    const config = parseConfig(
      `[general]\nhosts = ["a.example", "b.example"]\n[s2s]\nuse_starttls = "required"\ncertfile = ${JSON.stringify(a.fullchain)}\nkeyfile = ${JSON.stringify(a.privkey)}\n` +
        `domain_certfile = [{domain = "b.example", certfile = ${JSON.stringify(b.fullchain)}, keyfile = ${JSON.stringify(b.privkey)}}]\n`,
      { baseDir: dir },
    );
    assert.equal(config.s2s.keyfile, a.privkey);
    assert.deepEqual(config.s2s.domainCertfile, [{ domain: "b.example", certfile: b.fullchain, keyfile: b.privkey }]);
  });

  it("reports a key that is not certfile's at s2s.keyfile, and a certfile without a key with a hint", () => {
    const a = splitLeaf("a.example");
    const other = splitLeaf("a.example");
    const wrong = problems(`[general]\nhosts = ["a.example"]\n[s2s]\ncertfile = ${JSON.stringify(a.fullchain)}\nkeyfile = ${JSON.stringify(other.privkey)}\n`);
    assert.equal(wrong.length, 1, wrong.join("\n"));
    assert.match(wrong[0]!, /^s2s\.keyfile: the private key in .* does not belong to the first certificate of /);
    const noKey = problems(`[general]\nhosts = ["a.example"]\n[s2s]\ncertfile = ${JSON.stringify(a.fullchain)}\n`);
    assert.match(noKey.join("\n"), /^s2s\.certfile: no PEM private key .*keyfile/);
    const alone = problems(`[general]\nhosts = ["a.example"]\n[s2s]\nkeyfile = ${JSON.stringify(a.privkey)}\n`);
    assert.match(alone.join("\n"), /^s2s\.certfile: missing/);
  });

  it("serves TLS: required_trusted federation with a separate key file, established by SASL EXTERNAL", async () => {
    const a = splitLeaf("a.example");
    const bLeaf = makeLeaf(ca, { domains: ["b.example"] });
    const pa = await reservePorts("127.0.0.61");
    // Without XEP-0288, so that b connects to a too and a's split key serves TLS as a server as well as a client.
    const twoStreams = { tcp: { bidi: false } };
    const b = await startNode({
      hosts: ["b.example"], ip: "127.0.0.62", plugins: twoStreams,
      s2s: { use_starttls: "required_trusted", certfile: bLeaf.certfile, cacertfile: ca.cafile, address: [addressOf(pa, "a.example"), addressOf(pa, "bot.a.example")] },
    });
    stops.push(() => b.stop());
    const nodeA = await startNode({
      hosts: ["a.example"], ip: "127.0.0.61", componentPassword: "pw", plugins: twoStreams,
      s2s: { use_starttls: "required_trusted", certfile: a.fullchain, keyfile: a.privkey, cacertfile: ca.cafile, address: [addressOf(b, "b.example")] },
    }, pa);
    stops.push(() => nodeA.stop());
    const events: S2sEvent[] = [];
    nodeA.server.events$.subscribe((e) => events.push(e));
    b.server.events$.subscribe((e) => events.push(e));
    const bot = await connectComponent(nodeA.ip, nodeA.servicePort!, "bot.a.example", "pw");
    stops.push(() => bot.stop());
    await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@b.example", id: "k1" }, xml("body", {}, "split key")));
    const echo = await bot.next((s) => s.attrs.id === "k1");
    assert.equal(echo.attrs.type, undefined, "delivered, not bounced");
    const established = events.filter((e): e is Extract<S2sEvent, { type: "established" }> => e.type === "established");
    assert.ok(established.length >= 2, "both directions established");
    for (const e of established) assert.equal(e.method, "sasl_external", `${e.local} -> ${e.remote}`);
  });
});
