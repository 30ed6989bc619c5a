import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { xml } from "@xmpp/component";
import type { S2sEvent } from "../../core/events/events.js";
import { connectComponent, type TestComponent } from "../helpers/component.js";
import { startDnsServer, startUnansweringAddress, type TestDnsServer, type UnansweringAddress } from "../helpers/dns-server.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { eventually } from "../helpers/wait.js";

/**
 * `dns.timeout`, `dns.retries` and `outgoing.connection_timeout` from TOML keys to the wire: a DNS
 * server that never answers, and a loopback address whose TCP handshake never completes
 * (a listener with a full accept queue, see test/helpers/dns-server.ts).
 */
describe("time limits of finding and reaching a peer", () => {
  let silentDns: TestDnsServer;
  let hole: UnansweringAddress;
  let a: TestNode;
  let bot: TestComponent;
  const events: S2sEvent[] = [];

  before(async () => {
    silentDns = await startDnsServer();
    silentDns.silent = true;
    hole = await startUnansweringAddress("127.0.0.53");
    a = await startNode({
      hosts: ["a.example"],
      ip: "127.0.0.51",
      componentPassword: "pw",
      plugins: { dns: { servers: [silentDns.address] } },
      s2s: {
        dns: { timeout: 1, retries: 2 },
        outgoing: { connection_timeout: 300 },
        address: [{ host: "hole.example", ip_address: hole.host, port: hole.port }],
      },
    });
    a.server.events$.subscribe((e) => events.push(e));
    bot = await connectComponent(a.ip, a.servicePort!, "bot.a.example", "pw");
  });

  after(async () => {
    await bot?.stop();
    await a?.stop();
    await hole?.close();
    await silentDns?.close();
  });

  async function bounceOf(to: string, id: string): Promise<any> {
    await bot.send(xml("message", { from: "alice@bot.a.example/r", to, type: "chat", id }, xml("body", {}, "hello?")));
    const bounce = await bot.next((s) => s.attrs.id === id);
    assert.equal(bounce.attrs.type, "error", bounce.toString());
    return bounce;
  }

  it("dns.timeout and dns.retries: each SRV query is sent `retries` times, then the stanza bounces remote-server-timeout (wait)", async () => {
    const started = Date.now();
    const bounce = await bounceOf("echo@slow.example", "dns1");
    const elapsed = Date.now() - started;
    // Issue 19: no answer in time is a timeout (RFC 6120 §8.3.3.16), not "no such server".
    assert.ok(bounce.getChild("error")?.getChild("remote-server-timeout"), bounce.toString());
    assert.equal(bounce.getChild("error")?.attrs.type, "wait", bounce.toString());
    assert.equal(silentDns.count("_xmpp-server._tcp.slow.example", "SRV"), 2);
    assert.equal(silentDns.count("_xmpps-server._tcp.slow.example", "SRV"), 2);
    // At least one dns.timeout waited; generous upper bound (the overall deadline is 2 × 1 s × 2 + 1 s).
    assert.ok(elapsed >= 900 && elapsed < 15_000, `bounced after ${elapsed} ms`);
    const failed = events.find((e): e is Extract<S2sEvent, { type: "failed" }> => e.type === "failed" && e.remote === "slow.example");
    assert.ok(failed);
    assert.equal(failed.condition, "remote-server-timeout");
    assert.match(failed.reason, /ETIMEOUT/);
    // "Could not ask" is worth retrying later, unlike "no such service".
    await eventually(() => events.some((e) => e.type === "retry_scheduled" && e.remote === "slow.example"), undefined, "retry_scheduled");
  });

  it("outgoing.connection_timeout: an address that never answers fails after the timeout, with the reason in connect_failed", async () => {
    const bounce = await bounceOf("echo@hole.example", "tcp1");
    assert.ok(bounce.getChild("error")?.getChild("remote-server-not-found"), bounce.toString());
    const failures = events.filter((e): e is Extract<S2sEvent, { type: "connect_failed" }> => e.type === "connect_failed" && e.remote === "hole.example");
    assert.deepEqual(failures.map((f) => [f.target, f.reason]), [[`${hole.host}:${hole.port}`, "no TCP connection within 300 ms"]]);
  });
});
