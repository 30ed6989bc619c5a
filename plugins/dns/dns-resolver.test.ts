import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  configFromObject,
  systemClock,
  type ConnectTarget,
  ERROR_CODES,
  isS2sError,
  type PluginContext,
  type Provider,
  RESOLVER,
  type S2sSectionConfig,
} from "../../core/index.js";
import { startDnsServer, type TestDnsServer } from "../../test/helpers/dns-server.js";
import { TtlCache } from "./cache.js";
import { NEGATIVE_CACHE_MS, overallDeadlineMs, SRV_CACHE_MS } from "./dns-lookups.js";
import { DnsSrvResolver } from "./dns-resolver.js";
import plugin from "./index.js";
import { classifyDomain } from "./names.js";
import { parseDnsOptions, type DnsResolverOptions } from "./options.js";
import { isNoService, orderSrv } from "./srv-order.js";
import { seededRandom } from "../../test/helpers/seeded-random.js";

/** The `[s2s]` section as the config layer builds it from TOML-style keys. */
function s2sConfig(s2s: Record<string, unknown> = {}): S2sSectionConfig {
  return configFromObject({ general: { hosts: ["a.example"] }, s2s }, { baseDir: process.cwd() }).s2s;
}


const hostPorts = (targets: readonly ConnectTarget[]) => targets.map((t) => `${t.host}:${t.port}${t.directTls ? " tls" : ""}`);

it("rejects bad options", () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ server: ["127.0.0.1"] }, /^server: unknown option .*did you mean "servers"\?/],
    [{ servers: "127.0.0.1" }, /^servers: expected a non-empty array of DNS server addresses/],
    [{ servers: [] }, /^servers: expected a non-empty array/],
    [{ servers: ["dns.example"] }, /^servers\[0\]: expected an IP address with an optional port \(got "dns.example"/],
    [{ servers: ["127.0.0.1:0"] }, /^servers\[0\]: expected an IP address/],
    [{ servers: ["127.0.0.1:65536"] }, /^servers\[0\]: expected an IP address/],
    [{ servers: ["[::1]:99999"] }, /^servers\[0\]: expected an IP address/],
    [{ servers: ["[127.0.0.1]:53"] }, /^servers\[0\]: expected an IP address/],
    [{ servers: ["127.0.0.1", 53] }, /^servers\[1\]: expected an IP address .*got 53/],
    [{ cache_size: -1 }, /^cache_size: expected an integer from 0 to 1000000 \(got -1/],
    [{ cache_size: 1.5 }, /^cache_size: expected an integer/],
    [{ cache_size: "1000" }, /^cache_size: expected an integer/],
  ];
  for (const [raw, expected] of bad) {
    const result = parseDnsOptions(raw);
    assert.ok(result.problems, `${JSON.stringify(raw)} should be refused`);
    assert.equal(result.problems.length, 1, JSON.stringify(result.problems));
    assert.match(result.problems[0]!, expected);
  }
  assert.deepEqual(parseDnsOptions({}).options, { servers: undefined, cacheSize: 1000 });
  assert.deepEqual(parseDnsOptions({ servers: ["192.0.2.53", "127.0.0.1:5353", "::1", "[::1]", "[2001:db8::53]:53"], cache_size: 0 }).options, {
    servers: ["192.0.2.53", "127.0.0.1:5353", "::1", "[::1]", "[2001:db8::53]:53"],
    cacheSize: 0,
  });
});

it("declares the Resolver slot and registers a DnsSrvResolver", async () => {
  assert.equal(plugin.name, "dns");
  assert.deepEqual(plugin.provides, [RESOLVER]);
  const provided: Array<[unknown, Provider<unknown>]> = [];
  const ctx = {
    config: { s2s: s2sConfig() },
    options: { servers: ["127.0.0.1:53"], cacheSize: 10 },
    logger: undefined,
    container: { resolve: () => systemClock },
    provide: (token: unknown, provider: Provider<unknown>) => provided.push([token, provider]),
  } as unknown as PluginContext<DnsResolverOptions>;
  await plugin.register(ctx);
  assert.equal(provided.length, 1);
  assert.equal(provided[0]![0], RESOLVER);
  const provider = provided[0]![1];
  assert.ok("useValue" in provider && provider.useValue instanceof DnsSrvResolver);
});

describe("orderSrv (RFC 2782 usage rules)", () => {
  it("orders by priority, lowest first, whatever the wire order", () => {
    const records = [
      { name: "c", priority: 30, weight: 5 },
      { name: "a", priority: 10, weight: 5 },
      { name: "b", priority: 20, weight: 5 },
      { name: "a2", priority: 10, weight: 5 },
    ];
    const ordered = orderSrv(records, seededRandom(1)).map((r) => r.name);
    assert.deepEqual(ordered.slice(2), ["b", "c"]);
    assert.deepEqual([...ordered.slice(0, 2)].sort(), ["a", "a2"]);
  });

  it("picks by weight within a priority: 2000 picks of weights 10/30/60", () => {
    const random = seededRandom(42);
    const records = [
      { name: "w10", priority: 0, weight: 10 },
      { name: "w30", priority: 0, weight: 30 },
      { name: "w60", priority: 0, weight: 60 },
    ];
    const first = new Map<string, number>();
    const picks = 2000;
    for (let i = 0; i < picks; i++) {
      const name = orderSrv(records, random)[0]!.name;
      first.set(name, (first.get(name) ?? 0) + 1);
    }
    // RFC 2782 draws in [0, sum] inclusive, so the exact odds are 11/101, 30/101, 60/101.
    for (const [name, expected] of [["w10", 11 / 101], ["w30", 30 / 101], ["w60", 60 / 101]] as const) {
      const share = (first.get(name) ?? 0) / picks;
      assert.ok(Math.abs(share - expected) < 0.04, `${name}: ${share.toFixed(3)} first, expected about ${expected.toFixed(3)}`);
    }
  });

  it("puts weight-0 records first in the running sum: rarely chosen first, never lost", () => {
    const random = seededRandom(7);
    const records = [
      { name: "heavy", priority: 1, weight: 100 },
      { name: "zero", priority: 1, weight: 0 },
    ];
    let zeroFirst = 0;
    for (let i = 0; i < 2000; i++) {
      const ordered = orderSrv(records, random);
      assert.equal(ordered.length, 2);
      if (ordered[0]!.name === "zero") zeroFirst++;
    }
    // Chance 1/101 per pick.
    assert.ok(zeroFirst > 0 && zeroFirst < 60, `weight 0 chosen first ${zeroFirst} times in 2000`);
    // All weights zero: every order is possible and nothing is dropped.
    assert.equal(orderSrv([{ priority: 0, weight: 0 }, { priority: 0, weight: 0 }], random).length, 2);
  });

  it("uses the edges of the random source without going out of range", () => {
    const records = [
      { name: "a", priority: 0, weight: 1 },
      { name: "b", priority: 0, weight: 1 },
    ];
    assert.equal(orderSrv(records, () => 0)[0]!.name, "a");
    assert.equal(orderSrv(records, () => 0.9999999)[0]!.name, "b");
  });

  it("recognises the '.' target (node returns it as name \"\") only as a lone record", () => {
    assert.equal(isNoService([{ name: "" }]), true);
    assert.equal(isNoService([{ name: "." }]), true);
    assert.equal(isNoService([{ name: "" }, { name: "xmpp.example" }]), false);
    assert.equal(isNoService([]), false);
  });
});

describe("TtlCache", () => {
  it("keeps entries for their TTL", () => {
    let now = 1000;
    const cache = new TtlCache<string>(10, () => now);
    cache.set("a", "A", 500);
    cache.set("zero", "Z", 0);
    assert.equal(cache.get("a"), "A");
    assert.equal(cache.get("zero"), undefined, "TTL 0 is not cached");
    now = 1499;
    assert.equal(cache.get("a"), "A");
    now = 1500;
    assert.equal(cache.get("a"), undefined);
    assert.equal(cache.size, 0, "an expired entry is dropped when read");
  });

  it("is bounded: a full cache evicts the least recently used entry", () => {
    const cache = new TtlCache<number>(3);
    cache.set("a", 1, 60_000);
    cache.set("b", 2, 60_000);
    cache.set("c", 3, 60_000);
    assert.equal(cache.get("a"), 1); // a is now the most recent
    cache.set("d", 4, 60_000);
    assert.equal(cache.size, 3);
    assert.equal(cache.get("b"), undefined, "b was the least recently used");
    assert.deepEqual([cache.get("a"), cache.get("c"), cache.get("d")], [1, 3, 4]);
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, i, 60_000);
    assert.equal(cache.size, 3);
  });

  it("size 0 disables caching; a negative size is refused", () => {
    const cache = new TtlCache<number>(0);
    cache.set("a", 1, 60_000);
    assert.equal(cache.get("a"), undefined);
    assert.throws(() => new TtlCache<number>(-1), RangeError);
  });
});

describe("classifyDomain", () => {
  it("finds IP literals, converts IDNA, refuses names DNS cannot carry", () => {
    assert.deepEqual(classifyDomain("127.0.0.9"), { kind: "ip", address: "127.0.0.9", family: 4 });
    assert.deepEqual(classifyDomain("[::1]"), { kind: "ip", address: "::1", family: 6 });
    assert.deepEqual(classifyDomain("Bücher.Example."), { kind: "name", ascii: "xn--bcher-kva.example" });
    assert.deepEqual(classifyDomain("a..example"), { kind: "invalid" });
    assert.deepEqual(classifyDomain(`${"x".repeat(64)}.example`), { kind: "invalid" });
    assert.deepEqual(classifyDomain(""), { kind: "invalid" });
  });
});

describe("DnsSrvResolver against a DNS server on loopback", () => {
  let dns: TestDnsServer;
  const resolver = (s2s: Record<string, unknown> = {}, options: ConstructorParameters<typeof DnsSrvResolver>[1] = {}) =>
    new DnsSrvResolver(s2sConfig(s2s), { servers: [dns.address], ...options });

  before(async () => {
    dns = await startDnsServer({
      // Priority order across one service.
      "_xmpp-server._tcp.prio.example": {
        srv: [
          { priority: 30, weight: 0, port: 5003, target: "c.prio.example" },
          { priority: 10, weight: 0, port: 5001, target: "a.prio.example" },
          { priority: 20, weight: 0, port: 5002, target: "b.prio.example" },
        ],
      },
      "a.prio.example": { a: ["127.0.1.1"] },
      "b.prio.example": { a: ["127.0.1.2"] },
      "c.prio.example": { a: ["127.0.1.3"] },
      // XEP-0368: both services merged by priority.
      "_xmpps-server._tcp.merged.example": {
        srv: [
          { priority: 10, weight: 0, port: 5270, target: "tls1.merged.example" },
          { priority: 30, weight: 0, port: 5271, target: "tls2.merged.example" },
        ],
      },
      "_xmpp-server._tcp.merged.example": {
        srv: [
          { priority: 20, weight: 0, port: 5269, target: "plain1.merged.example" },
          { priority: 5, weight: 0, port: 5268, target: "plain0.merged.example" },
        ],
      },
      "tls1.merged.example": { a: ["127.0.2.1"] },
      "tls2.merged.example": { a: ["127.0.2.2"] },
      "plain0.merged.example": { a: ["127.0.2.3"] },
      "plain1.merged.example": { a: ["127.0.2.4"] },
      // Weights, end to end.
      "_xmpp-server._tcp.weights.example": {
        srv: [
          { priority: 0, weight: 10, port: 5010, target: "light.weights.example" },
          { priority: 0, weight: 90, port: 5090, target: "heavy.weights.example" },
        ],
      },
      "light.weights.example": { a: ["127.0.3.1"] },
      "heavy.weights.example": { a: ["127.0.3.2"] },
      // "." targets (RFC 6120 §3.2.1).
      "_xmpp-server._tcp.dot.example": { srv: [{ priority: 0, weight: 0, port: 0, target: "." }] },
      "dot.example": { a: ["127.0.4.1"] },
      "_xmpps-server._tcp.bothdots.example": { srv: [{ priority: 0, weight: 0, port: 0, target: "." }] },
      "_xmpp-server._tcp.bothdots.example": { srv: [{ priority: 0, weight: 0, port: 0, target: "." }] },
      "_xmpps-server._tcp.tlsdot.example": { srv: [{ priority: 0, weight: 0, port: 0, target: "." }] },
      "_xmpp-server._tcp.tlsdot.example": { srv: [{ priority: 0, weight: 0, port: 5269, target: "xmpp.tlsdot.example" }] },
      "xmpp.tlsdot.example": { a: ["127.0.4.2"] },
      "_xmpp-server._tcp.unusable.example": { srv: [{ priority: 0, weight: 0, port: 0, target: "xmpp.unusable.example" }] },
      "unusable.example": { a: ["127.0.4.3"] },
      // A/AAAA fallback and families.
      "fallback.example": { a: ["127.0.5.1", "127.0.5.2"], aaaa: ["::1"] },
      "_xmpp-server._tcp.families.example": { srv: [{ priority: 0, weight: 0, port: 5269, target: "dual.families.example" }] },
      "dual.families.example": { a: ["127.0.6.1", "127.0.6.2"], aaaa: ["::1", "fd00::2"] },
      "v6only.example": { aaaa: ["fd00::6"] },
      "nodata.example": {},
      // IDNA.
      "_xmpp-server._tcp.xn--bcher-kva.example": { srv: [{ priority: 0, weight: 0, port: 5269, target: "xmpp.xn--bcher-kva.example" }] },
      "xmpp.xn--bcher-kva.example": { a: ["127.0.7.1"] },
      // Could not ask.
      "_xmpps-server._tcp.broken.example": { behaviour: "servfail" },
      "_xmpp-server._tcp.broken.example": { behaviour: "servfail" },
      "_xmpps-server._tcp.halfbroken.example": { behaviour: "servfail" },
      "_xmpp-server._tcp.halfbroken.example": { srv: [{ priority: 0, weight: 0, port: 5269, target: "xmpp.halfbroken.example" }] },
      "xmpp.halfbroken.example": { a: ["127.0.8.1"] },
      "_xmpps-server._tcp.brokenempty.example": { behaviour: "refused" },
      "_xmpp-server._tcp.badtarget.example": {
        srv: [
          { priority: 0, weight: 0, port: 5269, target: "down.badtarget.example" },
          { priority: 1, weight: 0, port: 5269, target: "up.badtarget.example" },
        ],
      },
      "down.badtarget.example": { behaviour: "servfail" },
      "up.badtarget.example": { a: ["127.0.8.2"] },
      "_xmpp-server._tcp.alldown.example": { srv: [{ priority: 0, weight: 0, port: 5269, target: "down.alldown.example" }] },
      "down.alldown.example": { behaviour: "servfail" },
      // Caching.
      "_xmpp-server._tcp.cached.example": { srv: [{ priority: 0, weight: 0, port: 5269, target: "xmpp.cached.example" }] },
      "xmpp.cached.example": { a: ["127.0.9.1"], ttl: 30 },
      // Override.
      "_xmpp-server._tcp.override.example": { srv: [{ priority: 0, weight: 0, port: 5999, target: "xmpp.override.example" }] },
      "xmpp.override.example": { a: ["127.0.10.1"] },
    });
  });

  after(async () => {
    await dns?.close();
  });

  it("orders SRV targets by priority and keeps each record's port", async () => {
    const targets = await resolver().resolve("prio.example");
    assert.deepEqual(hostPorts(targets), ["127.0.1.1:5001", "127.0.1.2:5002", "127.0.1.3:5003"]);
    assert.deepEqual(targets.map((t) => t.via), ["a.prio.example", "b.prio.example", "c.prio.example"]);
    assert.ok(targets.every((t) => t.family === 4 && !t.directTls));
  });

  it("merges _xmpps-server and _xmpp-server records by priority (XEP-0368), direct TLS only for xmpps", async () => {
    const targets = await resolver().resolve("merged.example");
    assert.deepEqual(hostPorts(targets), ["127.0.2.3:5268", "127.0.2.1:5270 tls", "127.0.2.4:5269", "127.0.2.2:5271 tls"]);
    assert.equal(dns.count("_xmpps-server._tcp.merged.example", "SRV"), 1);
    assert.equal(dns.count("_xmpp-server._tcp.merged.example", "SRV"), 1);
  });

  it("chooses by weight end to end (300 resolutions of weights 10/90)", async () => {
    const r = resolver();
    let heavy = 0;
    let light = 0;
    for (let i = 0; i < 300; i++) {
      const [first] = await r.resolve("weights.example");
      if (first!.port === 5090) heavy++;
      else light++;
    }
    // Expected 91/101 heavy first; bounds are wide on purpose (Math.random, not a seeded source).
    assert.ok(heavy > 210 && light > 0, `heavy first ${heavy}, light first ${light}`);
    assert.equal(dns.count("_xmpp-server._tcp.weights.example"), 1, "answers come from the cache; the choice is made per resolution");
  });

  it("a lone '.' target means no service: [] and no A/AAAA fallback", async () => {
    const r = resolver();
    assert.deepEqual(await r.resolve("dot.example"), []);
    assert.equal(dns.count("dot.example", "A"), 0, "no fallback to the domain's own address");
    assert.deepEqual(await r.resolve("bothdots.example"), []);
  });

  it("SRV records that exist but are all unusable (port 0) also mean no service, not the A fallback", async () => {
    assert.deepEqual(await resolver().resolve("unusable.example"), []);
    assert.equal(dns.count("unusable.example", "A"), 0);
  });

  it("a '.' for one service leaves the other service's records", async () => {
    assert.deepEqual(hostPorts(await resolver().resolve("tlsdot.example")), ["127.0.4.2:5269"]);
  });

  it("without SRV records, falls back to the domain's A/AAAA on outgoing.port", async () => {
    const targets = await resolver({ outgoing: { port: 5299 } }).resolve("fallback.example");
    assert.deepEqual(hostPorts(targets), ["127.0.5.1:5299", "127.0.5.2:5299", "::1:5299"]);
    assert.deepEqual(targets.map((t) => [t.family, t.via]), [[4, "fallback.example"], [4, "fallback.example"], [6, "fallback.example"]]);
  });

  it("a name that does not exist, or has no record, resolves to [] (no answer is an answer)", async () => {
    const r = resolver();
    assert.deepEqual(await r.resolve("nxdomain.example"), []);
    assert.deepEqual(await r.resolve("nodata.example"), []);
  });

  it("resolves every host in outgoing.ip_versions order", async () => {
    const both46 = await resolver({ outgoing: { ip_versions: [4, 6] } }).resolve("families.example");
    assert.deepEqual(both46.map((t) => t.host), ["127.0.6.1", "127.0.6.2", "::1", "fd00::2"]);
    const both64 = await resolver({ outgoing: { ip_versions: [6, 4] } }).resolve("families.example");
    assert.deepEqual(both64.map((t) => t.host), ["::1", "fd00::2", "127.0.6.1", "127.0.6.2"]);
    assert.deepEqual(both64.map((t) => t.family), [6, 6, 4, 4]);
    const before = dns.count("dual.families.example", "AAAA");
    const v4only = await resolver({ outgoing: { ip_versions: [4] } }).resolve("families.example");
    assert.deepEqual(v4only.map((t) => t.host), ["127.0.6.1", "127.0.6.2"]);
    assert.equal(dns.count("dual.families.example", "AAAA"), before, "[4] never asks for AAAA");
    assert.deepEqual(await resolver({ outgoing: { ip_versions: [4] } }).resolve("v6only.example"), []);
  });

  it("an IP literal is its own address on outgoing.port, without DNS", async () => {
    const before = dns.queries.length;
    const r = resolver({ outgoing: { port: 5300 } });
    assert.deepEqual(await r.resolve("127.0.0.77"), [{ host: "127.0.0.77", port: 5300, directTls: false, family: 4, via: "127.0.0.77" }]);
    assert.deepEqual(await r.resolve("[::1]"), [{ host: "::1", port: 5300, directTls: false, family: 6, via: "[::1]" }]);
    assert.deepEqual(await resolver({ outgoing: { ip_versions: [4] } }).resolve("[::1]"), []);
    assert.equal(dns.queries.length, before);
  });

  it("asks for internationalised domains in their ASCII form (IDNA)", async () => {
    const targets = await resolver().resolve("bücher.example");
    assert.deepEqual(hostPorts(targets), ["127.0.7.1:5269"]);
    assert.equal(dns.count("_xmpp-server._tcp.xn--bcher-kva.example", "SRV"), 1);
    assert.deepEqual(await resolver().resolve("a..example"), [], "a name DNS cannot carry has no address");
  });

  it("s2s.address is the core's, applied before any resolver (core/resolver/address-override.test.ts): this one asks DNS", async () => {
    const targets = await resolver({ outgoing: { port: 5299 }, address: [{ host: "fallback.example", ip_address: "127.0.0.99", port: 5111 }] }).resolve("fallback.example");
    assert.deepEqual(hostPorts(targets), ["127.0.5.1:5299", "127.0.5.2:5299", "::1:5299"]);
  });

  it("could not ask (SERVFAIL) rejects with RESOLVE_FAILED and remote-server-not-found", async () => {
    await assert.rejects(resolver().resolve("broken.example"), (err: unknown) => {
      assert.ok(isS2sError(err));
      assert.equal(err.code, ERROR_CODES.RESOLVE_FAILED);
      assert.equal(err.condition, "remote-server-not-found");
      assert.match(err.message, /ESERVFAIL/);
      return true;
    });
  });

  it("one SRV query failing while the other gave records: uses the records", async () => {
    assert.deepEqual(hostPorts(await resolver().resolve("halfbroken.example")), ["127.0.8.1:5269"]);
  });

  it("one SRV query failing while the other has none: rejects (the failed one may have had records)", async () => {
    await assert.rejects(resolver().resolve("brokenempty.example"), (err: unknown) => isS2sError(err) && err.code === ERROR_CODES.RESOLVE_FAILED && /EREFUSED/.test(err.message));
  });

  it("a target that cannot be resolved is skipped if another gives addresses, else the resolution fails", async () => {
    assert.deepEqual(hostPorts(await resolver().resolve("badtarget.example")), ["127.0.8.2:5269"]);
    await assert.rejects(resolver().resolve("alldown.example"), (err: unknown) => isS2sError(err) && err.code === ERROR_CODES.RESOLVE_FAILED);
  });

  it("reuses its channel for resolutions one after the other; concurrent ones each get their own", async () => {
    const r = resolver({}, { cacheSize: 0 });
    assert.equal(r.idleChannels, 1, "one made at start-up");
    const alone = await r.resolve("prio.example");
    assert.equal(r.idleChannels, 1, "given back");
    const [x, y] = await Promise.all([r.resolve("prio.example"), r.resolve("prio.example")]);
    assert.deepEqual(x, alone);
    assert.deepEqual(y, alone);
    assert.equal(r.idleChannels, 2, "a second channel for the second resolution at once, both given back");
  });

  it("caches answers within their TTL, negative answers briefly, and never failures", async () => {
    let now = 0;
    const r = resolver({}, { now: () => now });
    const srvName = "_xmpp-server._tcp.cached.example";
    await r.resolve("cached.example");
    await r.resolve("cached.example");
    assert.equal(dns.count(srvName, "SRV"), 1);
    assert.equal(dns.count("xmpp.cached.example", "A"), 1);
    assert.equal(dns.count("_xmpps-server._tcp.cached.example", "SRV"), 1, "the NXDOMAIN is cached too");
    now = 29_999;
    await r.resolve("cached.example");
    assert.equal(dns.count("xmpp.cached.example", "A"), 1);
    now = 30_000; // the A record's TTL (30 s)
    await r.resolve("cached.example");
    assert.equal(dns.count("xmpp.cached.example", "A"), 2);
    assert.equal(dns.count("_xmpps-server._tcp.cached.example", "SRV"), 1);
    now = NEGATIVE_CACHE_MS;
    await r.resolve("cached.example");
    assert.equal(dns.count("_xmpps-server._tcp.cached.example", "SRV"), 2, "negative answers expire after 60 s");
    assert.equal(dns.count(srvName, "SRV"), 1);
    now = SRV_CACHE_MS;
    await r.resolve("cached.example");
    assert.equal(dns.count(srvName, "SRV"), 2, "SRV answers expire after 300 s");

    const failures = dns.count("_xmpp-server._tcp.broken.example");
    await assert.rejects(r.resolve("broken.example"));
    await assert.rejects(r.resolve("broken.example"));
    assert.equal(dns.count("_xmpp-server._tcp.broken.example"), failures + 2, "a failure is asked again");

    const uncached = resolver({}, { cacheSize: 0 });
    const before = dns.count(srvName);
    await uncached.resolve("cached.example");
    await uncached.resolve("cached.example");
    assert.equal(dns.count(srvName), before + 2, "cache_size = 0 disables the cache");
  });
});

describe("DnsSrvResolver time limits against a DNS server that never answers", () => {
  let silent: TestDnsServer;
  before(async () => {
    silent = await startDnsServer();
    silent.silent = true;
  });
  after(async () => {
    await silent?.close();
  });

  it("sends each query dns.retries times, waits dns.timeout per try, then rejects with ETIMEOUT", async () => {
    for (const retries of [1, 2]) {
      const domain = `silent${retries}.example`;
      const r = new DnsSrvResolver(s2sConfig({ dns: { timeout: 1, retries } }), { servers: [silent.address] });
      const started = Date.now();
      await assert.rejects(r.resolve(domain), (err: unknown) => {
        assert.ok(isS2sError(err));
        assert.equal(err.code, ERROR_CODES.RESOLVE_FAILED);
        assert.equal(err.condition, "remote-server-timeout");
        assert.match(err.message, /ETIMEOUT/);
        return true;
      });
      const elapsed = Date.now() - started;
      assert.equal(silent.count(`_xmpp-server._tcp.${domain}`, "SRV"), retries, "dns.retries is the total number of tries");
      assert.equal(silent.count(`_xmpps-server._tcp.${domain}`, "SRV"), retries);
      assert.equal(silent.count(domain), 0, "no A/AAAA fallback after a failure");
      // Generous bounds: at least one timeout waited, never beyond the overall deadline plus scheduling noise.
      assert.ok(elapsed >= 900, `gave up after ${elapsed} ms`);
      assert.ok(elapsed < overallDeadlineMs(1000, retries) + 10_000, `gave up after ${elapsed} ms`);
    }
  });

  it("enforces an overall deadline with resolver.cancel()", async () => {
    assert.equal(overallDeadlineMs(10_000, 2), 41_000, "2 × timeout × retries + 1 s");
    // c-ares alone would wait 1 + 2 + 4 + 8 s for 4 tries; a 1.5 s deadline cancels first.
    const r = new DnsSrvResolver(s2sConfig({ dns: { timeout: 1, retries: 4 } }), { servers: [silent.address], deadlineMs: 1500 });
    await assert.rejects(r.resolve("deadline.example"), (err: unknown) => {
      assert.ok(isS2sError(err));
      assert.equal(err.code, ERROR_CODES.RESOLVE_FAILED);
      assert.match(err.message, /ECANCELLED: no DNS answer within the overall deadline of 1500 ms/);
      return true;
    });
    assert.equal(r.idleChannels, 0, "a cancelled channel is not reused");
  });

  it("an abort signal cancels the resolution", async () => {
    const r = new DnsSrvResolver(s2sConfig({ dns: { timeout: 30, retries: 3 } }), { servers: [silent.address] });
    const controller = new AbortController();
    const pending = r.resolve("aborted.example", controller.signal);
    controller.abort();
    await assert.rejects(pending, (err: unknown) => isS2sError(err) && err.code === ERROR_CODES.RESOLVE_FAILED && /resolution aborted/.test(err.message));
    assert.equal(r.idleChannels, 0, "a cancelled channel is not reused");
  });
});
