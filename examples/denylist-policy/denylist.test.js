// @ts-check
/**
 * The plugin's own end-to-end test, written with the kit xmpp-s2s ships for plugin authors
 * (`xmpp-s2s/testing`): two servers from TOML files on loopback, A loading this plugin through
 * `[plugins]`, an XEP-0114 component on A as the sender, echo@b.example as the far end.
 * `npm test` runs it (node --test) wherever xmpp-s2s is installed.
 */
/** @import { TestComponent, TestServer } from "xmpp-s2s/testing" */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { el } from "xmpp-s2s";
import { connectComponent, loopbackToml, reservePorts, stanzaErrorCondition, startServer } from "xmpp-s2s/testing";

const dir = mkdtempSync(join(tmpdir(), "denylist-policy-test-"));
/** @type {TestServer} */ let a;
/** @type {TestServer} */ let b;
/** @type {TestComponent} */ let bot;

before(async () => {
  const pa = await reservePorts("127.0.0.181");
  const pb = await reservePorts("127.0.0.182");
  const atB = (/** @type {string} */ host) => ({ host, ip: pb.ip, port: pb.s2sPort });
  const atA = (/** @type {string} */ host) => ({ host, ip: pa.ip, port: pa.s2sPort });
  writeFileSync(join(dir, "denied.txt"), "# never federate with\ndenied.example\n");
  writeFileSync(
    join(dir, "a.toml"),
    loopbackToml({ hosts: ["a.example"], ip: pa.ip, s2sPort: pa.s2sPort, servicePort: pa.servicePort, address: [atB("b.example"), atB("denied.example"), atB("later.example")] }) +
      `
[plugins]
policy = ["host_policy", "denylist"]

[plugins.denylist]
module = ${JSON.stringify(fileURLToPath(new URL("./index.js", import.meta.url)))}
file = "denied.txt"
`,
  );
  writeFileSync(join(dir, "b.toml"), loopbackToml({ hosts: ["b.example", "denied.example", "later.example"], ip: pb.ip, s2sPort: pb.s2sPort, address: [atA("a.example"), atA("bot.a.example")] }));
  b = await startServer(join(dir, "b.toml"));
  a = await startServer(join(dir, "a.toml"));
  await a.waitFor("denylist_loaded");
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

test("a domain that is not listed federates: the echo comes back", async () => {
  const echo = await sendAndWait("echo@b.example", "ok1");
  assert.equal(echo.attr("from"), "echo@b.example");
  assert.equal(echo.getChildText("body"), "hello");
});

test("a listed domain is refused with service-unavailable, decided by the denylist", async () => {
  const decision = a.waitFor("policy_decision", (e) => e.remote === "denied.example");
  const bounce = await sendAndWait("echo@denied.example", "no1");
  assert.equal(bounce.attr("type"), "error");
  assert.equal(stanzaErrorCondition(bounce), "service-unavailable");
  assert.equal((await decision).decidedBy, "denylist");
});

test("a domain appended to the file is denied without a restart", async () => {
  // later.example has no session yet: established sessions stay until they close or a config reload.
  const reloaded = a.waitFor("denylist_loaded", (e) => Array.isArray(e.added) && e.added.includes("later.example"));
  appendFileSync(join(dir, "denied.txt"), "later.example\n");
  await reloaded;
  assert.equal(stanzaErrorCondition(await sendAndWait("echo@later.example", "later1")), "service-unavailable");
});
