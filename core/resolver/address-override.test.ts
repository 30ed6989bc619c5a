import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { configFromObject } from "../config/load.js";
import type { S2sSectionConfig } from "../config/types.js";
import { withAddressOverride } from "./address-override.js";
import type { ConnectTarget, Resolver } from "./resolver.js";

function s2sConfig(s2s: Record<string, unknown> = {}): S2sSectionConfig {
  return configFromObject({ general: { hosts: ["a.example"] }, s2s }, { baseDir: process.cwd() }).s2s;
}

/** A Resolver plugin that records what it is asked. */
function recording(): Resolver & { asked: string[] } {
  const asked: string[] = [];
  return { asked, resolve: async (domain) => (asked.push(domain), [{ host: "192.0.2.1", port: 5269, directTls: false, family: 4, via: domain }]) };
}

describe("s2s.address, applied once by the core before any resolver", () => {
  it("an entry wins and the resolver is never asked (no DNS query); the port is the entry's", async () => {
    const plugin = recording();
    const resolver = withAddressOverride(s2sConfig({ address: [{ host: "override.example", ip_address: "127.0.0.99", port: 5111 }] }), plugin);
    const expected: ConnectTarget[] = [{ host: "127.0.0.99", port: 5111, directTls: false, family: 4, via: "override.example" }];
    assert.deepEqual(await resolver.resolve("override.example"), expected);
    assert.deepEqual(await resolver.resolve("OVERRIDE.example."), expected, "case and a trailing dot do not matter");
    assert.deepEqual(plugin.asked, []);
  });

  it("IDNA: a Unicode domain matches its ASCII entry; outgoing.port and direct TLS from the entry", async () => {
    const plugin = recording();
    const resolver = withAddressOverride(s2sConfig({ outgoing: { port: 5299 }, address: [{ host: "xn--bcher-kva.example", ip_address: "::1", tls: true }] }), plugin);
    assert.deepEqual(await resolver.resolve("bücher.example"), [{ host: "::1", port: 5299, directTls: true, family: 6, via: "xn--bcher-kva.example" }]);
    assert.deepEqual(plugin.asked, []);
  });

  it("a domain without an entry goes to the resolver plugin, as written", async () => {
    const plugin = recording();
    const resolver = withAddressOverride(s2sConfig({ address: [{ host: "override.example", ip_address: "127.0.0.99" }] }), plugin);
    assert.equal((await resolver.resolve("Other.example"))[0]!.host, "192.0.2.1");
    assert.deepEqual(plugin.asked, ["Other.example"]);
  });

  it("without s2s.address the plugin is used as is", () => {
    const plugin = recording();
    assert.equal(withAddressOverride(s2sConfig(), plugin), plugin);
  });
});
