/**
 * Issue 19: MongooseIM 6.4 moved the S2S options ([s2s.outgoing] address/dns/max_retry_delay/tls,
 * listener tls tables, [[listen.component]]). Both layouts are accepted option for option, or a
 * key is refused with the exact equivalent; the same deployment written both ways loads to the same
 * frozen configuration. config/examples/mongooseim-6.3.toml and mongooseim-6.4.toml are that pair.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfigFile, parseConfig } from "../../core/index.js";
import { isConfigError } from "../../core/errors.js";
import type { S2sConfig } from "../../core/config/types.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const EXAMPLES = join(ROOT, "config/examples");

function withoutFile(c: S2sConfig): Omit<S2sConfig, "file"> {
  const { file: _file, ...rest } = c;
  return rest;
}

function problems(toml: string): readonly string[] {
  try {
    parseConfig(`[general]\nhosts = ["a.example"]\n${toml}`, { baseDir: EXAMPLES });
  } catch (err) {
    if (isConfigError(err)) return err.problems;
    throw err;
  }
  return [];
}

describe("MongooseIM <= 6.3 and 6.4+ layouts", () => {
  it("the same deployment in both layouts loads to the same frozen config", () => {
    const classic = loadConfigFile(join(EXAMPLES, "mongooseim-6.3.toml"));
    const current = loadConfigFile(join(EXAMPLES, "mongooseim-6.4.toml"));
    assert.deepEqual(withoutFile(current), withoutFile(classic));
    assert.ok(Object.isFrozen(current.s2s.outgoing));
    assert.equal(current.s2s.useStarttls, "required_trusted");
    assert.equal(current.listen.service.length, 1, "[[listen.component]] is a component listener");
    assert.equal(current.s2s.maxRetryDelayMs, 60_000);
    assert.deepEqual(current.s2s.dns, { timeoutMs: 20_000, retries: 1 });
  });

  it("maps each outgoing.tls mode / verify_mode to the use_starttls it stands for", () => {
    const cert = 'certfile = "certs/a.example.pem"';
    const mode = (tls: string) => parseConfig(`[general]\nhosts = ["a.example"]\n[[listen.s2s]]\nport = 5269\ntls = {${tls}, ${cert}}\n[s2s.outgoing.tls]\n${tls.replace(/, /g, "\n")}\n${cert}\n`, { baseDir: EXAMPLES }).s2s.useStarttls;
    assert.equal(mode('mode = "starttls", verify_mode = "none"'), "optional");
    assert.equal(mode('mode = "starttls", verify_mode = "peer", disconnect_on_failure = false'), "optional");
    assert.equal(mode('mode = "starttls_required", verify_mode = "none"'), "required");
    assert.equal(mode('mode = "starttls_required"'), "required_trusted");
    // No TLS table anywhere: no TLS, as MongooseIM 6.4+ (and use_starttls "false").
    assert.equal(parseConfig(`[general]\nhosts = ["a.example"]\n[s2s.outgoing]\nport = 5269`, { baseDir: EXAMPLES }).s2s.useStarttls, "false");
  });

  it("refuses what has no equivalent, naming the exact equivalent", () => {
    const verify = problems(`[s2s.outgoing.tls]\ncertfile = "certs/a.example.pem"\ncacertfile = "certs/ca.pem"`);
    assert.equal(verify.length, 1, verify.join("\n"));
    assert.match(verify[0]!, /^s2s\.outgoing\.tls\.verify_mode: certificate verification with optional TLS has no xmpp-s2s equivalent .*verify_mode = "none".*mode = "starttls_required".*defaults to "peer"/);

    const timeouts = problems(`[s2s.outgoing]\nstate_timeout = 1000\nstream_timeout = 100_000`);
    assert.match(timeouts.find((p) => p.startsWith("s2s.outgoing.state_timeout:")) ?? "", /\[plugins\.tcp\] negotiation_timeout/);
    assert.match(timeouts.find((p) => p.startsWith("s2s.outgoing.stream_timeout:")) ?? "", /\[plugins\.tcp\] idle_timeout/);

    const mixed = problems(`[s2s]\nuse_starttls = "optional"\ncertfile = "certs/a.example.pem"\noutgoing.tls.mode = "starttls"\noutgoing.tls.verify_mode = "none"`);
    assert.ok(mixed.some((p) => /^s2s\.use_starttls: mixes the MongooseIM <= 6\.3 and 6\.4\+ layouts/.test(p)), mixed.join("\n"));

    const twice = problems(`[s2s]\nmax_retry_delay = 30\noutgoing.max_retry_delay = 60`);
    assert.match(twice.join("\n"), /^s2s\.max_retry_delay: set in both layouts .*s2s\.outgoing\.max_retry_delay/);

    const asymmetric = problems(`[[listen.s2s]]\nport = 5269\ntls.mode = "starttls"\ntls.verify_mode = "none"\ntls.certfile = "certs/a.example.pem"\n[s2s.outgoing.tls]\nmode = "starttls_required"\nverify_mode = "none"`);
    assert.match(asymmetric.join("\n"), /^listen\.s2s\[0\]\.tls: differs from s2s\.outgoing\.tls .*one TLS policy to both directions/m);

    const bare = problems(`[[listen.s2s]]\nport = 5269\n[s2s.outgoing.tls]\nmode = "starttls_required"\nverify_mode = "none"\ncertfile = "certs/a.example.pem"`);
    assert.match(bare.join("\n"), /^listen\.s2s\[0\]\.tls: missing \(expected a tls table with the mode and verify_mode of s2s\.outgoing\.tls/m);

    const direct = problems(`[s2s.outgoing.tls]\nmode = "tls"\nverify_mode = "none"`);
    assert.match(direct.join("\n"), /^s2s\.outgoing\.tls\.mode: direct TLS to every peer is not supported .*tls = true/);
  });

  it("a file shaped like MongooseIM's S2S-only sample (6.4+) gives no bare unknown-key error", () => {
    const found = problems(`
[s2s]
  default_policy = "allow"
  shared = "shared secret"
  [[s2s.host_policy]]
    host = "fed1.example"
    policy = "allow"
  [s2s.outgoing]
    connection_timeout = 4_000
    dns.timeout = 30
    dns.retries = 1
    ip_versions = [6, 4]
    max_retry_delay = 30
    max_stanza_size = 10_000
    port = 5299
    shaper = "none"
    tls.cacertfile = "certs/ca.pem"
    tls.certfile = "certs/a.example.pem"
    tls.verify_mode = "none"
    tls.server_name_indication.enabled = true
    [[s2s.outgoing.address]]
      host = "fed1.example"
      ip_address = "127.0.0.1"
`);
    assert.deepEqual(found, []);
    // Without a certificate, TLS cannot be offered to inbound peers: said at the current layout's key.
    const noCert = problems(`[s2s.outgoing.tls]\nverify_mode = "none"`);
    assert.match(noCert.join("\n"), /^s2s\.outgoing\.tls\.certfile: no certificate covers local host "a\.example" .*the tls tables turn TLS on/);
    const c = parseConfig(`[general]\nhosts = ["a.example"]\n[s2s.outgoing]\nmax_stanza_size = 10_000\naddress = [{host = "fed1.example", ip_address = "127.0.0.1"}]`, { baseDir: EXAMPLES });
    assert.equal(c.s2s.outgoing.maxStanzaSize, 10_000);
    assert.deepEqual(c.s2s.address, [{ host: "fed1.example", ipAddress: "127.0.0.1", tls: false }]);
  });
});
