/**
 * A healthy outbound session whose first method is not offered (no TLS, so the peer offers no SASL
 * EXTERNAL, XEP-0178 §3) falls back to dialback: logged once as `auth_fallback` (info), never as
 * `auth_failed`, which stays for real failures.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { el, NS } from "../../core/xml/element.js";
import { loopbackToml, reservePorts, startServer, type LogLine, type TestServer } from "../../testing/index.js";
import { waitFor } from "../helpers/wait.js";

describe("outbound authentication: EXTERNAL not offered, then dialback", () => {
  let dir: string;
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-auth-fallback-"));
    const pa = await reservePorts("127.0.0.171");
    const pb = await reservePorts("127.0.0.172");
    writeFileSync(join(dir, "a.toml"), loopbackToml({ hosts: ["a.example"], ip: pa.ip, s2sPort: pa.s2sPort, address: [{ host: "b.example", ip: pb.ip, port: pb.s2sPort }] }));
    writeFileSync(join(dir, "b.toml"), loopbackToml({ hosts: ["b.example"], ip: pb.ip, s2sPort: pb.s2sPort, address: [{ host: "a.example", ip: pa.ip, port: pa.s2sPort }] }));
    b = await startServer(join(dir, "b.toml"));
    a = await startServer(join(dir, "a.toml"));
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("logs auth_fallback (info) from sasl_external to dialback, and no auth_failed", async () => {
    const echo = waitFor(a.server.stanzas$, (s) => s.attr("id") === "fb1");
    const authenticated = a.waitFor("authenticated", (e) => (e as LogLine).direction === "outbound");
    a.server.send(el("message", { from: "u@a.example", to: "echo@b.example", id: "fb1" }, NS.SERVER, el("body", {}, NS.SERVER, "hi")));
    assert.equal((await echo).getChildText("body"), "hi");
    assert.equal(((await authenticated) as LogLine).method, "dialback");

    const lines: LogLine[] = [];
    a.logs$.subscribe((l) => lines.push(l)).unsubscribe();
    const fallbacks = lines.filter((l) => l.what === "auth_fallback");
    assert.equal(fallbacks.length, 1, JSON.stringify(fallbacks));
    assert.deepEqual({ ...fallbacks[0], time: undefined }, { level: 30, time: undefined, name: "xmpp-s2s", what: "auth_fallback", direction: "outbound", local: "a.example", remote: "b.example", method: "sasl_external", next: "dialback", reason: "b.example does not offer SASL EXTERNAL" });
    assert.deepEqual(lines.filter((l) => l.what === "auth_failed"), []);
  });
});
