import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { didYouMean, levenshtein } from "./did-you-mean.js";
import { Verbatim, canonicalIp, normaliseDomain, shortPath, show } from "./checks.js";

describe("didYouMean", () => {
  const s2sKeys = ["default_policy", "host_policy", "use_starttls", "certfile", "domain_certfile", "outgoing.port", "dns.timeout"];
  const cases: [string, readonly string[], string | undefined][] = [
    ["use_startls", s2sKeys, "use_starttls"],
    ["USE_STARTTLS", s2sKeys, "use_starttls"],
    ["use_start", s2sKeys, "use_starttls"],
    ["certfiles", s2sKeys, "certfile"],
    ["dns_timeout", s2sKeys, "dns.timeout"],
    ["domain_cert", s2sKeys, "domain_certfile"],
    ["xyz", s2sKeys, undefined],
    ["ce", s2sKeys, undefined],
    ["gneral", ["general", "listen", "s2s", "plugins"], "general"],
  ];
  for (const [key, candidates, want] of cases) {
    it(`${key} -> ${want ?? "(nothing)"}`, () => assert.equal(didYouMean(key, candidates), want));
  }
  it("levenshtein", () => {
    assert.equal(levenshtein("kitten", "sitting"), 3);
    assert.equal(levenshtein("", "abc"), 3);
    assert.equal(levenshtein("same", "same"), 0);
  });
});

describe("normaliseDomain", () => {
  const cases: [string, string | undefined][] = [
    ["A.Example", "a.example"],
    ["a.example.", "a.example"],
    ["bücher.example", "xn--bcher-kva.example"],
    ["localhost", "localhost"],
    ["192.0.2.1", "192.0.2.1"],
    ["[::1]", "[::1]"],
    ["[0:0::1]", "[::1]"],
    ["", undefined],
    [".", undefined],
    ["a b.example", undefined],
    ["a_b.example", undefined],
    ["a/b", undefined],
    ["ex%41mple.com", undefined],
    ["-a.example", undefined],
    ["a..example", undefined],
    ["*.a.example", undefined],
    ["user@a.example", undefined],
    ["a.example:5269", undefined],
    ["xn--zz", undefined],
    [`${"a".repeat(64)}.example`, undefined],
    ["[not-ip]", undefined],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} -> ${want ?? "invalid"}`, () => assert.equal(normaliseDomain(input), want));
  }
});

describe("show (values in problem lines)", () => {
  const cases: [unknown, string][] = [
    ["seaport", '"seaport"'],
    [0, "0"],
    [Infinity, "inf"],
    [NaN, "nan"],
    [[], "[]"],
    [[4, "6"], '[4, "6"]'],
    [{ host: "b.example", port: 1 }, '{host = "b.example", port = 1}'],
    [{ "a b": true }, '{"a b" = true}'],
    [{}, "{}"],
    [new Verbatim("5269.0"), "5269.0"],
    [() => 1, "a function"],
    ["x".repeat(200), `"${"x".repeat(39)}…${"x".repeat(38)}"`],
    [new Verbatim(`/a/long/checkout/path/${"d/".repeat(60)}certs/b.example.pem with DNS:b.example`), `/a/long/checkout/path/${"d/".repeat(60)}certs/b.example.pem with DNS:b.example`],
  ];
  for (const [value, want] of cases) {
    it(want, () => assert.equal(show(value), want));
  }
});

describe("shortPath (file paths in problem lines)", () => {
  it("leaves a short path alone", () => assert.equal(shortPath("certs/b.example.pem"), "certs/b.example.pem"));
  it("keeps the file name and its nearest folders whole, whatever the checkout's depth", () => {
    const deep = `/tmp/${"a/".repeat(40)}config/examples/certs/b.example.pem`;
    const short = shortPath(deep);
    assert.ok(short.startsWith("…/") && short.endsWith("/config/examples/certs/b.example.pem"), short);
    assert.ok(short.length <= 48, short);
    assert.equal(shortPath(`/x/${"y".repeat(100)}.pem`), `…/${"y".repeat(100)}.pem`);
  });
});

describe("canonicalIp", () => {
  it("gives one spelling per IPv6 address and leaves IPv4 alone", () => {
    assert.equal(canonicalIp("0:0:0:0:0:0:0:1"), "::1");
    assert.equal(canonicalIp("2001:DB8::1"), "2001:db8::1");
    assert.equal(canonicalIp("127.0.0.1"), "127.0.0.1");
  });
});
