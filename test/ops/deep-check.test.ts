/**
 * Issue 12: `check-config --deep` checks the certificate files' validity periods (warning within
 * 30 days, problem when expired or not yet valid); a key that does not match its certificate is
 * refused by the normal check already, and --deep says so too.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../core/config/load.js";
import { deepCheck } from "../../core/config/deep-checks.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority } from "../helpers/certs.js";
import { ensureBuilt } from "../helpers/build.js";
import { killChildren, run as xmppS2s } from "../helpers/cli.js";

const DAY = 86_400_000;

describe("check-config --deep", () => {
  let dir: string;
  let ca: CertAuthority;

  before(() => {
    ensureBuilt();
    dir = makeCertDir();
    ca = makeCa(dir, "Deep CA");
  });
  after(() => {
    killChildren();
    removeCertDir(dir);
  });

  const config = (certfile: string) =>
    parseConfig(`[general]\nhosts = ["a.example"]\n[s2s]\nuse_starttls = "optional"\ncertfile = "${certfile}"\ncacertfile = "${ca.cafile}"\n`, { baseDir: dir });

  it("warns 30 days before expiry and reports expired certificates", () => {
    const leaf = makeLeaf(ca, { domains: ["a.example"] });
    const c = config(leaf.certfile);
    const fine = deepCheck(c);
    assert.deepEqual(fine.problems, []);
    assert.deepEqual(fine.warnings, []);
    assert.match(fine.notes[0]!, /^s2s\.certfile: CN=a\.example, key matches, valid until .* \(\d+ days\)$/);

    const validTo = Date.parse(new X509Certificate(leaf.certPem).validTo);
    const soon = deepCheck(c, validTo - 20 * DAY);
    assert.match(soon.warnings[0] ?? "", /^s2s\.certfile: warning: certificate CN=a\.example expires in 20 day\(s\)/);
    assert.deepEqual(soon.problems, []);
    const late = deepCheck(c, validTo + DAY);
    assert.match(late.problems.join("\n"), /^s2s\.certfile: certificate CN=a\.example expired on /m);
  });

  it("checks a certificate whose key is in its own s2s.keyfile (Let's Encrypt layout)", () => {
    const leaf = makeLeaf(ca, { domains: ["a.example"], name: "split" });
    const certOnly = join(dir, "split-cert.pem");
    const keyOnly = join(dir, "split-key.pem");
    writeFileSync(certOnly, leaf.certPem + leaf.chainPem);
    writeFileSync(keyOnly, leaf.keyPem);
    const c = parseConfig(`[general]\nhosts = ["a.example"]\n[s2s]\nuse_starttls = "optional"\ncertfile = "${certOnly}"\nkeyfile = "${keyOnly}"\n`, { baseDir: dir });
    const report = deepCheck(c);
    assert.deepEqual(report.problems, []);
    assert.match(report.notes[0] ?? "", /^s2s\.certfile: CN=a\.example, key matches, valid until /);
  });

  it("the CLI exits 0 with the summary, 2 with the problem", async () => {
    const good = join(dir, "good.toml");
    writeFileSync(good, `[general]\nhosts = ["a.example"]\n[s2s]\nuse_starttls = "optional"\ncertfile = "${makeLeaf(ca, { domains: ["a.example"] }).certfile}"\n`);
    const ok = await xmppS2s(["check-config", good, "--deep"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /key matches, valid until/);

    const other = makeLeaf(ca, { domains: ["a.example"], name: "other" });
    const mixed = join(dir, "mixed.pem");
    writeFileSync(mixed, makeLeaf(ca, { domains: ["a.example"], name: "mixed" }).certPem + readFileSync(other.certfile, "utf8").split(/(?=-----BEGIN PRIVATE KEY-----)/)[1]);
    const bad = join(dir, "bad.toml");
    writeFileSync(bad, `[general]\nhosts = ["a.example"]\n[s2s]\nuse_starttls = "optional"\ncertfile = "${mixed}"\n`);
    const refused = await xmppS2s(["check-config", bad, "--deep"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^s2s\.certfile: .*does not belong to its first certificate/m);
  });
});
