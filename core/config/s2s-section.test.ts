import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mergeS2sValues, orderS2sProblems, s2sKeysOf } from "./s2s-section.js";

describe("s2sKeysOf (the keys a file sets, in owners' names)", () => {
  it("names sub-table keys dotted, and a key MongooseIM 6.4 moved by its classic name", () => {
    const keys = s2sKeysOf({
      shared: "s",
      outgoing: { port: 5269, connection_timeout: 1000, address: [], max_retry_delay: 30, dns: { timeout: 3 }, tls: { mode: "starttls" } },
      dns: { retries: 2 },
      host_policy: [],
    });
    assert.deepEqual(keys.sort(), ["address", "dns.retries", "dns.timeout", "host_policy", "max_retry_delay", "outgoing.connection_timeout", "outgoing.port", "outgoing.tls", "shared"]);
  });
});

describe("orderS2sProblems (documentation order whoever reports)", () => {
  it("sorts from the given index only, by key, keeping one key's problems in their order", () => {
    const problems = [
      "general.hosts: first, untouched",
      "s2s.dns.timeout: x",
      "s2s.shared: x",
      "s2s.outgoing.dns.retries: moved dns sorts with dns",
      "s2s.default_policy: x",
      "s2s.certfile: a",
      "s2s.certfile: b",
      "listen.s2s[0].tls.mode: the 6.4 TLS tables come first",
    ];
    orderS2sProblems(problems, 1);
    assert.deepEqual(problems.map((p) => p.slice(0, p.indexOf(":"))), [
      "general.hosts", "listen.s2s[0].tls.mode", "s2s.default_policy", "s2s.certfile", "s2s.certfile", "s2s.shared", "s2s.dns.timeout", "s2s.outgoing.dns.retries",
    ]);
    assert.deepEqual(problems.filter((p) => p.startsWith("s2s.certfile")), ["s2s.certfile: a", "s2s.certfile: b"]);
  });
});

describe("mergeS2sValues", () => {
  it("a field no owner gave is a bug in the owners' list, not an operator's problem", () => {
    assert.throws(() => mergeS2sValues([{ defaultPolicy: "allow" }]), /no \[s2s\] owner gave hostPolicy, .*dns\.retries/);
  });
});
