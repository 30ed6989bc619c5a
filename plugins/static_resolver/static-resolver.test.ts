import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { configFromObject, type PluginContext, type Provider, RESOLVER, type S2sSectionConfig } from "../../core/index.js";
import plugin from "./index.js";
import { parseStaticOptions, type StaticResolverOptions } from "./options.js";
import { StaticResolver } from "./static-resolver.js";

function s2sConfig(s2s: Record<string, unknown> = {}): S2sSectionConfig {
  return configFromObject({ general: { hosts: ["a.example"] }, s2s }, { baseDir: process.cwd() }).s2s;
}

it("rejects bad options", () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ host: [] }, /^host: unknown option .*expected hosts/],
    [{ hosts: "b.example=127.0.0.2" }, /^hosts: expected an array of tables/],
    [{ hosts: ["b.example"] }, /^hosts\[0\]: expected a table/],
    [{ hosts: [{ host: "127.0.0.2" }] }, /^hosts\[0\]\.domain: expected a domain name \(got nothing/],
    [{ hosts: [{ domain: "b.example" }] }, /^hosts\[0\]\.host: expected an IP address or host name \(got nothing/],
    [{ hosts: [{ domain: "b.example", host: "" }] }, /^hosts\[0\]\.host: expected an IP address or host name/],
    [{ hosts: [{ domain: "b.example", host: "127.0.0.2", port: 0 }] }, /^hosts\[0\]\.port: expected a port number \(got 0, expected 1-65535\)/],
    [{ hosts: [{ domain: "b.example", host: "127.0.0.2", port: "5269" }] }, /^hosts\[0\]\.port: expected a port number/],
    [{ hosts: [{ domain: "b.example", host: "127.0.0.2", tls: "yes" }] }, /^hosts\[0\]\.tls: expected a boolean/],
    [{ hosts: [{ domain: "b.example", host: "127.0.0.2", ip: "x" }] }, /^hosts\[0\]\.ip: unknown key/],
  ];
  for (const [raw, expected] of bad) {
    const result = parseStaticOptions(raw);
    assert.ok(result.problems, `${JSON.stringify(raw)} should be refused`);
    assert.ok(result.problems.some((p) => expected.test(p)), `${JSON.stringify(result.problems)} should match ${expected}`);
  }
  assert.deepEqual(parseStaticOptions({}).options, { hosts: [] });
  assert.deepEqual(parseStaticOptions({ hosts: [{ domain: "Bücher.Example", host: "127.0.0.2", port: 5270, tls: true }] }).options, {
    hosts: [{ domain: "xn--bcher-kva.example", host: "127.0.0.2", port: 5270, tls: true }],
  });
});

it("declares the Resolver slot and registers a StaticResolver", async () => {
  assert.equal(plugin.name, "static_resolver");
  assert.deepEqual(plugin.provides, [RESOLVER]);
  const provided: Array<[unknown, Provider<unknown>]> = [];
  const ctx = {
    config: { s2s: s2sConfig() },
    options: { hosts: [] },
    provide: (token: unknown, provider: Provider<unknown>) => provided.push([token, provider]),
  } as unknown as PluginContext<StaticResolverOptions>;
  await plugin.register(ctx);
  assert.equal(provided[0]![0], RESOLVER);
  const provider = provided[0]![1];
  assert.ok("useValue" in provider && provider.useValue instanceof StaticResolver);
});

describe("StaticResolver", () => {
  const table = parseStaticOptions({
    hosts: [
      { domain: "b.example", host: "127.0.0.2", port: 5270, tls: true },
      { domain: "b.example", host: "::1" },
      { domain: "c.example", host: "xmpp.c.example", port: 5300 },
    ],
  }).options!.hosts;

  it("returns the domain's entries in table order, port defaulting to outgoing.port", async () => {
    const resolver = new StaticResolver(s2sConfig({ outgoing: { port: 5299 } }), table);
    assert.deepEqual(await resolver.resolve("b.example"), [
      { host: "127.0.0.2", port: 5270, directTls: true, family: 4, via: "b.example" },
      { host: "::1", port: 5299, directTls: false, family: 6, via: "b.example" },
    ]);
    assert.deepEqual(await resolver.resolve("c.example"), [{ host: "xmpp.c.example", port: 5300, directTls: false, family: undefined, via: "c.example" }]);
  });

  it("a domain in no table has no address: [] (its stanzas bounce at once)", async () => {
    const resolver = new StaticResolver(s2sConfig(), table);
    assert.deepEqual(await resolver.resolve("unknown.example"), []);
  });

  it("s2s.address is the core's, applied before any resolver (core/resolver/address-override.test.ts): this one reads its table", async () => {
    const resolver = new StaticResolver(s2sConfig({ address: [{ host: "c.example", ip_address: "127.0.0.50" }] }), table);
    assert.deepEqual(await resolver.resolve("c.example"), [{ host: "xmpp.c.example", port: 5300, directTls: false, family: undefined, via: "c.example" }]);
  });
});
