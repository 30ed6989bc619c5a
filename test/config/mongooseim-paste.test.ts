/**
 * An [s2s] section pasted from MongooseIM's documentation, with every option at its documented
 * example value, must load unchanged (certificates made by openssl under the documented names).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { loadConfigFile } from "../../core/config/load.js";
import { TestCerts } from "./openssl.js";

const PASTED = `
[general]
  hosts = ["localhost1.com", "localhost2.com"]
  loglevel = "warning"

[[listen.s2s]]
  port = 5269
  shaper = "s2s_shaper"
  max_stanza_size = 131072

# MongooseIM < 6.4 read listen.s2s.shaper as an [access] rule name; xmpp-s2s (like 6.4) names a
# shaper directly, so the pasted file defines it.
[shaper.s2s_shaper]
  max_rate = 50_000

[s2s]
  default_policy = "deny"
  host_policy = [
    {host = "good.xmpp.org", policy = "allow"},
    {host = "bad.xmpp.org", policy = "deny"}
  ]
  use_starttls = "required"
  certfile = "cert.pem"
  domain_certfile = [
    {domain = "localhost1.com", certfile = "cert1.pem"},
    {domain = "localhost2.com", certfile = "cert2.pem"}
  ]
  shared = "82gc8b23ct7824"
  address = [
    {host = "my.xmpp.org", ip_address = "192.0.100.1"},
    {host = "your.xmpp.org", ip_address = "192.0.1.100", port = 5271}
  ]
  ciphers = "TLSv1.2"
  max_retry_delay = 300
  outgoing.port = 5270
  outgoing.ip_versions = [6]
  outgoing.connection_timeout = 5000
  dns.timeout = 30
  dns.retries = 1
`;

describe("a MongooseIM [s2s] section pasted as is", () => {
  let certs: TestCerts;
  before(() => {
    certs = new TestCerts();
    certs.leaf("cert.pem", { dns: ["localhost1.com", "localhost2.com"] });
    certs.leaf("cert1.pem", { dns: ["localhost1.com"] });
    certs.leaf("cert2.pem", { dns: ["localhost2.com"] });
    writeFileSync(join(certs.dir, "mongooseim.toml"), PASTED);
  });
  after(() => certs.cleanup());

  it("loads with every value normalised", () => {
    const c = loadConfigFile(join(certs.dir, "mongooseim.toml"));
    assert.deepEqual(c.general.hosts, ["localhost1.com", "localhost2.com"]);
    assert.equal(c.listen.s2s[0]!.maxStanzaSize, 131072);
    assert.deepEqual(c.s2s, {
      defaultPolicy: "deny",
      hostPolicy: [{ host: "good.xmpp.org", policy: "allow" }, { host: "bad.xmpp.org", policy: "deny" }],
      useStarttls: "required",
      certfile: join(certs.dir, "cert.pem"),
      domainCertfile: [
        { domain: "localhost1.com", certfile: join(certs.dir, "cert1.pem") },
        { domain: "localhost2.com", certfile: join(certs.dir, "cert2.pem") },
      ],
      shared: "82gc8b23ct7824",
      sharedSecrets: ["82gc8b23ct7824"],
      address: [
        { host: "my.xmpp.org", ipAddress: "192.0.100.1", tls: false },
        { host: "your.xmpp.org", ipAddress: "192.0.1.100", port: 5271, tls: false },
      ],
      ciphers: "TLSv1.2",
      maxRetryDelayMs: 300_000,
      outgoing: { port: 5270, ipVersions: [6], connectionTimeoutMs: 5000, maxStanzaSize: 65536 },
      dns: { timeoutMs: 30_000, retries: 1 },
    });
  });
});
