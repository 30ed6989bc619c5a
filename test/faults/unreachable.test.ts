/**
 * Issue 11, faults where the peer cannot be used: connection refused, a DNS server that never
 * answers, SERVFAIL, NXDOMAIN, and a peer that accepts TCP and then stalls after its header, after
 * `<proceed/>`, inside the TLS handshake, or after `db:result`. For each: every stanza is bounced
 * with the right condition (delivered + bounced = sent, no duplicate), not before the configured
 * timeout, and the next attempt follows the backoff (a burst sent while the pair waits is held
 * and taken along by the retry, whose delay doubles). Issue 19: a DNS lookup is logged when it
 * starts and when it fails, and a timeout bounces `remote-server-timeout` (wait).
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger } from "../../core/logging/logger.js";
import type { S2sEvent } from "../../core/events/events.js";
import { ROOT } from "../helpers/build.js";
import { startDnsServer, type TestDnsServer } from "../helpers/dns-server.js";
import { freePort } from "../helpers/ports.js";
import { startNode, type TestNode } from "../helpers/servers.js";
import { eventually } from "../helpers/wait.js";
import { describeAccounts } from "./accounting.js";
import { AccountedComponent } from "./burst.js";
import { StallingPeer, type StallPoint } from "./stalling-peer.js";

const A_IP = "127.0.31.11";
const PEER_IP = "127.0.31.12";
const SECRET = "fault-secret";
const BURST = 20;
/** [plugins.tcp] negotiation_timeout and initial_retry_delay of A, seconds. */
const NEGOTIATION_S = 2;
const INITIAL_RETRY_S = 1;
/** s2s.dns.timeout (s) with one try. */
const DNS_TIMEOUT_S = 1;

interface Scenario {
  readonly name: string;
  readonly domain: string;
  readonly condition: "remote-server-not-found" | "remote-server-timeout";
  /** Seconds the first bounce may not come before (the configured timeout that applies). */
  readonly notBeforeS: number;
  /** Whether a retry follows (NXDOMAIN: the domain has no service, retrying cannot help). */
  readonly retried: boolean;
  readonly stall?: StallPoint;
}

const STALLS: readonly StallPoint[] = ["header", "proceed", "tls", "db:result"];
const SCENARIOS: readonly Scenario[] = [
  { name: "connection refused", domain: "refused.example", condition: "remote-server-not-found", notBeforeS: 0, retried: true },
  { name: "DNS server never answers", domain: "dns-silent.example", condition: "remote-server-timeout", notBeforeS: DNS_TIMEOUT_S, retried: true },
  { name: "DNS SERVFAIL", domain: "dns-servfail.example", condition: "remote-server-not-found", notBeforeS: 0, retried: true },
  { name: "DNS NXDOMAIN", domain: "dns-nx.example", condition: "remote-server-not-found", notBeforeS: 0, retried: false },
  ...STALLS.map((stall): Scenario => ({ name: `peer stalls after ${stall === "tls" ? "the start of the TLS handshake" : stall === "header" ? "its header" : stall === "proceed" ? "<proceed/>" : "db:result"}`, domain: `stall-${stall.replace(":", "-")}.example`, condition: "remote-server-timeout", notBeforeS: NEGOTIATION_S, retried: true, stall })),
];

describe("faults: unreachable peers, with stanza accounting", { concurrency: true }, () => {
  let a: TestNode;
  let dns: TestDnsServer;
  const peers = new Map<string, StallingPeer>();
  const events: Array<{ at: number; e: S2sEvent }> = [];
  const logs: Array<Record<string, unknown>> = [];

  before(async () => {
    dns = await startDnsServer({
      "_xmpp-server._tcp.dns-silent.example": { behaviour: "silent" },
      "_xmpps-server._tcp.dns-silent.example": { behaviour: "silent" },
      "_xmpp-server._tcp.dns-servfail.example": { behaviour: "servfail" },
      "_xmpps-server._tcp.dns-servfail.example": { behaviour: "servfail" },
    });
    const address: Array<{ host: string; ip_address: string; port: number }> = [];
    address.push({ host: "refused.example", ip_address: PEER_IP, port: await freePort(PEER_IP) });
    for (const s of SCENARIOS) {
      if (!s.stall) continue;
      const peer = await StallingPeer.start(PEER_IP, s.stall);
      peers.set(s.domain, peer);
      address.push({ host: s.domain, ip_address: PEER_IP, port: peer.port });
    }
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n")) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    a = await startNode({
      hosts: ["a.example"],
      ip: A_IP,
      componentPassword: SECRET,
      baseDir: ROOT,
      logger: createLogger("debug", sink),
      s2s: { use_starttls: "optional", certfile: "config/examples/certs/a.example.pem", address, dns: { timeout: DNS_TIMEOUT_S, retries: 1 } },
      plugins: { dns: { servers: [dns.address] }, tcp: { negotiation_timeout: NEGOTIATION_S, initial_retry_delay: INITIAL_RETRY_S } },
    });
    a.server.events$.subscribe((e) => events.push({ at: performance.now(), e }));
  });

  after(async () => {
    await a?.stop();
    for (const p of peers.values()) await p.close();
    await dns?.close();
  });

  for (const s of SCENARIOS) {
    it(`${s.name}: every stanza bounced ${s.condition}, not before ${s.notBeforeS} s${s.retried ? ", retry after the backoff" : ", no retry"}`, async (t) => {
      const component = await AccountedComponent.connect(A_IP, a.servicePort!, `c-${s.domain.split(".")[0]}.a.example`, SECRET);
      try {
        const accounting = component.accounting;
        const to = `echo@${s.domain}`;
        const started = performance.now();
        await component.burst(to, BURST);
        await eventually(() => accounting.settled === BURST, undefined, `${BURST} bounces from ${s.domain}`);
        const firstMs = performance.now() - started;
        assert.ok(firstMs >= s.notBeforeS * 1000 - 50, `bounced after ${firstMs.toFixed(0)} ms, before the ${s.notBeforeS} s timeout`);
        if (s.retried) {
          // The pair now waits initial_retry_delay (±10 %); what is sent meanwhile is held for the retry.
          const retry1 = retryOf(s.domain, 1);
          assert.ok(retry1, `retry_scheduled attempt 1 for ${s.domain}`);
          assert.ok(Math.abs(retry1.delayMs - INITIAL_RETRY_S * 1000) <= INITIAL_RETRY_S * 100 + 1, `first retry delay ${retry1.delayMs} ms`);
          await component.burst(to, BURST * 2, undefined, BURST);
          await eventually(() => accounting.settled === BURST * 2, undefined, `${BURST * 2} bounces from ${s.domain}`);
          const retry2 = retryOf(s.domain, 2);
          assert.ok(retry2, `retry_scheduled attempt 2 for ${s.domain}: the held burst went with the retry, which failed too`);
          assert.ok(Math.abs(retry2.delayMs - 2 * INITIAL_RETRY_S * 1000) <= 2 * INITIAL_RETRY_S * 100 + 1, `second retry delay ${retry2.delayMs} ms (doubles)`);
          // The retry's connection attempt came no earlier than the scheduled delay after the failure.
          const failedAt = events.find((x) => x.e.type === "failed" && x.e.remote === s.domain)!.at;
          const connecting = events.filter((x) => x.e.type === "connecting" && x.e.remote === s.domain);
          assert.ok(connecting.length >= 2, `two attempts at ${s.domain}`);
          assert.ok(connecting[1]!.at - failedAt >= retry1.delayMs - 20, `second attempt ${(connecting[1]!.at - failedAt).toFixed(0)} ms after the failure, delay ${retry1.delayMs} ms`);
        } else {
          assert.equal(retryOf(s.domain, 1), undefined, "no retry for a domain without XMPP service");
        }
        const accounts = accounting.accounts();
        t.diagnostic(describeAccounts(s.name, accounts));
        assert.equal(accounts.delivered + accounts.bounced, accounts.sent);
        assert.equal(accounts.duplicated, 0);
        assert.deepEqual(accounts.conditions, { [s.condition]: accounts.sent });
        if (s.domain === "dns-silent.example") {
          // Issue 19: the lookup is visible while it runs and when it fails.
          assert.ok(logs.some((l) => l.what === "resolve_started" && l.remote === s.domain), "resolve_started logged");
          assert.ok(logs.some((l) => l.what === "resolve_failed" && l.remote === s.domain && l.condition === "remote-server-timeout"), "resolve_failed logged with remote-server-timeout");
        }
        if (s.stall) assert.ok(peers.get(s.domain)!.accepts.length >= 2, "the retry reached the peer again");
      } finally {
        component.close();
      }
    });
  }

  function retryOf(remote: string, attempt: number): { delayMs: number } | undefined {
    const found = events.find((x) => x.e.type === "retry_scheduled" && x.e.remote === remote && x.e.attempt === attempt);
    return found?.e.type === "retry_scheduled" ? { delayMs: found.e.delayMs } : undefined;
  }
});
