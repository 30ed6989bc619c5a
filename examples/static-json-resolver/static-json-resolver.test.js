// @ts-check
/**
 * The plugin's own end-to-end test, written with `xmpp-s2s/testing`: A finds B only through the
 * JSON file (no DNS, no `s2s.address` for b.example), an XEP-0114 component on A sends.
 * `npm test` runs it (node --test) wherever xmpp-s2s is installed.
 */
/** @import { TestComponent, TestServer } from "xmpp-s2s/testing" */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { el } from "xmpp-s2s";
import { connectComponent, loopbackToml, reservePorts, stanzaErrorCondition, startServer } from "xmpp-s2s/testing";

const dir = mkdtempSync(join(tmpdir(), "static-json-resolver-test-"));
/** @type {TestServer} */ let a;
/** @type {TestServer} */ let b;
/** @type {TestComponent} */ let bot;

before(async () => {
  const pa = await reservePorts("127.0.0.183");
  const pb = await reservePorts("127.0.0.184");
  writeFileSync(join(dir, "hosts.json"), JSON.stringify({ "b.example": [{ host: pb.ip, port: pb.s2sPort }] }));
  writeFileSync(
    join(dir, "a.toml"),
    loopbackToml({ hosts: ["a.example"], ip: pa.ip, s2sPort: pa.s2sPort, servicePort: pa.servicePort }) +
      `
[plugins]
resolver = "static_json"

[plugins.static_json]
module = ${JSON.stringify(fileURLToPath(new URL("./index.js", import.meta.url)))}
file = "hosts.json"
`,
  );
  const atA = (/** @type {string} */ host) => ({ host, ip: pa.ip, port: pa.s2sPort });
  writeFileSync(join(dir, "b.toml"), loopbackToml({ hosts: ["b.example"], ip: pb.ip, s2sPort: pb.s2sPort, address: [atA("a.example"), atA("bot.a.example")] }));
  b = await startServer(join(dir, "b.toml"));
  a = await startServer(join(dir, "a.toml"));
  assert.equal((await a.waitFor("static_json_loaded")).domains, 1);
  bot = await connectComponent({ host: pa.ip, port: pa.servicePort, domain: "bot.a.example", password: "secret" });
});

after(async () => {
  await bot?.stop();
  await a?.stop();
  await b?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A message from the component, and the first stanza back with its id (the echo, or a bounce).
 * @param {string} to
 * @param {string} id
 */
function sendAndWait(to, id) {
  return bot.sendAndWait(el("message", { from: "u@bot.a.example", to, id }, undefined, el("body", {}, undefined, "hello")));
}

test("a domain in the file is reached at the address the file gives", async () => {
  const echo = await sendAndWait("echo@b.example", "json1");
  assert.equal(echo.attr("from"), "echo@b.example");
  assert.equal(echo.getChildText("body"), "hello");
});

test("a domain the file does not list bounces with remote-server-not-found at once", async () => {
  const bounce = await sendAndWait("echo@unknown.example", "json2");
  assert.equal(stanzaErrorCondition(bounce), "remote-server-not-found");
});
