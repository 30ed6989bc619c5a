/**
 * Certificate files in the config: what `certfile`, `domain_certfile` and `cacertfile` must hold,
 * and when a local host counts as covered. Certificates are made by openssl in a temp folder.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { isConfigError } from "../../core/errors.js";
import { parseConfig } from "../../core/config/load.js";
import { certificateCovers, parseSubjectAltName, xmppAddrs } from "../../core/config/certs.js";
import { TestCerts } from "./openssl.js";

let certs: TestCerts;
const files: Record<string, string> = {};

before(() => {
  certs = new TestCerts();
  files.a = certs.leaf("a.pem", { dns: ["a.example", "*.a.example"] });
  files.b = certs.leaf("b.pem", { dns: ["b.example"] });
  files.xmppOnly = certs.leaf("xmpp.pem", { cn: "ignored", xmppAddr: ["a.example"] });
  files.cnOnly = certs.leaf("cn.pem", { cn: "a.example" });
  files.idn = certs.leaf("idn.pem", { dns: ["xn--bcher-kva.example"] });
  files.encrypted = certs.leaf("enc.pem", { dns: ["a.example"], encryptKey: true });
  files.certOnly = certs.leaf("certonly.pem", { dns: ["a.example"], content: "cert" });
  files.keyOnly = certs.leaf("keyonly.pem", { dns: ["a.example"], content: "key" });
  files.mismatch = certs.mismatched("mismatch.pem", files.a, files.b);
  files.garbage = certs.write("garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n");
  // Legacy OpenSSL encryption ("Proc-Type: 4,ENCRYPTED" inside a BEGIN EC PRIVATE KEY block).
  const legacyKey = execFileSync("openssl", ["ec", "-in", `${certs.dir}/a.pem.key`, "-aes128", "-passout", "pass:x"], { stdio: "pipe" }).toString();
  files.legacyEncrypted = certs.write("legacy.pem", readFileSync(`${certs.dir}/a.pem.crt`, "utf8") + legacyKey);
  files.ca = certs.leaf("ca.pem", { dns: ["ca.example"], content: "cert" });
});
after(() => certs.cleanup());

function problems(toml: string): readonly string[] {
  try {
    parseConfig(toml, { baseDir: certs.dir });
    return [];
  } catch (err) {
    if (isConfigError(err)) return err.problems;
    throw err;
  }
}

const withCert = (file: string, mode = "required", hosts = `["a.example"]`) =>
  `[general]\nhosts = ${hosts}\n[s2s]\nuse_starttls = "${mode}"\ncertfile = ${JSON.stringify(file)}`;

describe("s2s.certfile content", () => {
  const cases: { name: string; file: () => string; match: RegExp }[] = [
    { name: "certificate without key", file: () => files.certOnly!, match: /^s2s\.certfile: no PEM private key/ },
    { name: "key without certificate", file: () => files.keyOnly!, match: /^s2s\.certfile: no PEM certificate/ },
    { name: "PKCS#8 encrypted key", file: () => files.encrypted!, match: /^s2s\.certfile: the private key in .* is encrypted/ },
    { name: "legacy encrypted key", file: () => files.legacyEncrypted!, match: /^s2s\.certfile: the private key in .* is encrypted/ },
    { name: "key of another certificate", file: () => files.mismatch!, match: /^s2s\.certfile: the private key in .* does not belong/ },
    { name: "unparsable certificate", file: () => files.garbage!, match: /^s2s\.certfile: certificate #1 in .* cannot be parsed/ },
  ];
  for (const c of cases) {
    it(`refuses a ${c.name}`, () => {
      const p = problems(withCert(c.file(), "false"));
      assert.equal(p.length, 1, p.join("\n"));
      assert.match(p[0]!, c.match);
    });
  }

  it("accepts a relative path against the config folder", () => {
    const c = parseConfig(withCert("a.pem"), { baseDir: certs.dir });
    assert.equal(c.s2s.certfile, files.a);
  });
});

describe("local hosts covered by a certificate when TLS is on", () => {
  const cases: { name: string; toml: () => string; ok: boolean; path?: string }[] = [
    { name: "dNSName equal to the host", toml: () => withCert(files.a!), ok: true },
    { name: "wildcard dNSName for a sub-domain", toml: () => withCert(files.a!, "optional", `["a.example", "muc.a.example"]`), ok: true },
    { name: "wildcard does not cover two labels down", toml: () => withCert(files.a!, "optional", `["x.muc.a.example"]`), ok: false, path: "s2s.certfile" },
    { name: "XmppAddr only", toml: () => withCert(files.xmppOnly!), ok: true },
    { name: "CN only (RFC 6125: ignored)", toml: () => withCert(files.cnOnly!), ok: false, path: "s2s.certfile" },
    { name: "IDN host against its A-label", toml: () => withCert(files.idn!, "required", `["bücher.example"]`), ok: true },
    { name: "another domain's certificate", toml: () => withCert(files.b!), ok: false, path: "s2s.certfile" },
    { name: "TLS off: no coverage needed", toml: () => withCert(files.b!, "false"), ok: true },
    {
      name: "domain_certfile wins over certfile",
      toml: () => `${withCert(files.a!, "required_trusted", `["a.example", "b.example"]`)}\ndomain_certfile = [{domain = "b.example", certfile = "b.pem"}]`,
      ok: true,
    },
    {
      name: "host without entry falls back to certfile",
      toml: () => `${withCert(files.b!, "required", `["a.example", "b.example"]`)}\ndomain_certfile = [{domain = "b.example", certfile = "b.pem"}]`,
      ok: false,
      path: "s2s.certfile",
    },
    {
      name: "domain_certfile alone covers every host",
      toml: () => `[general]\nhosts = ["a.example", "b.example"]\n[s2s]\nuse_starttls = "optional"\ndomain_certfile = [{domain = "a.example", certfile = "a.pem"}, {domain = "b.example", certfile = "b.pem"}]`,
      ok: true,
    },
    {
      name: "one host missing from domain_certfile, no certfile",
      toml: () => `[general]\nhosts = ["a.example", "b.example"]\n[s2s]\nuse_starttls = "optional"\ndomain_certfile = [{domain = "a.example", certfile = "a.pem"}]`,
      ok: false,
      path: "s2s.certfile",
    },
    { name: "cacertfile with a certificate", toml: () => `${withCert(files.a!, "required_trusted")}\ncacertfile = "ca.pem"`, ok: true },
    { name: "cacertfile without any certificate", toml: () => `${withCert(files.a!, "required_trusted")}\ncacertfile = "keyonly.pem"`, ok: false, path: "s2s.cacertfile" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = problems(c.toml());
      if (c.ok) assert.deepEqual(p, []);
      else assert.ok(p.some((l) => l.startsWith(`${c.path}:`)), `expected a problem at ${c.path}, got:\n${p.join("\n")}`);
    });
  }

  it("says which names the certificate has", () => {
    const [line] = problems(withCert(files.b!));
    assert.match(line!, /^s2s\.certfile: no certificate covers local host "a\.example" \(got .*b\.pem with DNS:b\.example, expected .*DNS:a\.example.*; needed because use_starttls = "required"\)$/);
  });
});

describe("subjectAltName parsing", () => {
  it("reads Node's quoted entries without letting a value inject names", () => {
    const san = 'DNS:a.example, othername:XmppAddr:x.example, othername:"XmppAddr:evil\\u002c DNS:b.example", DNS:"c\\u002c d", IP Address:127.0.0.1';
    assert.deepEqual(parseSubjectAltName(san), [
      { type: "DNS", value: "a.example" },
      { type: "othername", value: "XmppAddr:x.example" },
      { type: "othername", value: "XmppAddr:evil, DNS:b.example" },
      { type: "DNS", value: "c, d" },
      { type: "IP Address", value: "127.0.0.1" },
    ]);
    assert.deepEqual(parseSubjectAltName(undefined), []);
  });

  it("finds XmppAddr names in a real certificate", () => {
    const cert = new X509Certificate(readFileSync(files.xmppOnly!));
    assert.deepEqual(xmppAddrs(cert), ["a.example"]);
    assert.ok(certificateCovers(cert, "a.example"));
    assert.ok(!certificateCovers(cert, "b.example"));
  });
});
