/**
 * Our own chain verification (used for inbound client certificates without clientAuth, where
 * OpenSSL's single reported error cannot be trusted): anchors, intermediates, dates, purposes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority } from "../../test/helpers/certs.js";
import { TrustStore, verifyChain } from "./chain.js";

describe("verifyChain", () => {
  let dir: string;
  let root: CertAuthority;
  let inter: CertAuthority;
  let store: TrustStore;
  const x509 = (pem: string) => new X509Certificate(pem);

  before(() => {
    dir = makeCertDir();
    root = makeCa(dir, "Root");
    inter = makeCa(dir, "Intermediate", { issuer: root });
    store = new TrustStore([root.certPem]);
  });
  after(() => removeCertDir(dir));

  it("trusts a leaf signed by an anchor, and one signed through a presented intermediate", () => {
    assert.deepEqual(verifyChain(x509(makeLeaf(root, { domains: ["a.example"], ekus: ["serverAuth"] }).certPem), [], store), { trusted: true });
    const leaf = makeLeaf(inter, { domains: ["a.example"], ekus: ["serverAuth"] });
    assert.deepEqual(verifyChain(x509(leaf.certPem), [x509(inter.certPem)], store), { trusted: true });
  });

  it("refuses when the intermediate is missing, or the root is not an anchor", () => {
    const leaf = x509(makeLeaf(inter, { domains: ["a.example"] }).certPem);
    assert.deepEqual(verifyChain(leaf, [], store), { trusted: false, error: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    assert.deepEqual(verifyChain(leaf, [x509(inter.certPem)], new TrustStore([])), { trusted: false, error: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY" });
  });

  it("refuses a self-signed certificate unless it is itself an anchor", () => {
    const self = makeCa(dir, "Lonely");
    assert.deepEqual(verifyChain(x509(self.certPem), [], store), { trusted: false, error: "DEPTH_ZERO_SELF_SIGNED_CERT" });
    assert.deepEqual(verifyChain(x509(self.certPem), [], new TrustStore([self.certPem])), { trusted: true });
  });

  it("checks the dates of every certificate on the path", () => {
    assert.deepEqual(verifyChain(x509(makeLeaf(root, { domains: ["a.example"], expired: true }).certPem), [], store), { trusted: false, error: "CERT_HAS_EXPIRED" });
    assert.deepEqual(verifyChain(x509(makeLeaf(root, { domains: ["a.example"], notYetValid: true }).certPem), [], store), { trusted: false, error: "CERT_NOT_YET_VALID" });
    const oldInter = makeCa(dir, "Expired Intermediate", { issuer: root, expired: true });
    const leaf = x509(makeLeaf(oldInter, { domains: ["a.example"] }).certPem);
    assert.deepEqual(verifyChain(leaf, [x509(oldInter.certPem)], store), { trusted: false, error: "CERT_HAS_EXPIRED" });
  });

  it("refuses a leaf whose purposes are neither server nor client authentication", () => {
    const mail = x509(makeLeaf(root, { domains: ["a.example"], ekus: ["emailProtection"] }).certPem);
    assert.deepEqual(verifyChain(mail, [], store), { trusted: false, error: "INVALID_PURPOSE" });
    const none = x509(makeLeaf(root, { domains: ["a.example"], ekus: [] }).certPem);
    assert.deepEqual(verifyChain(none, [], store), { trusted: true });
  });

  it("a signature from another key with the same issuer name does not count", () => {
    const impostor = makeCa(dir, "Root"); // same subject "O=xmpp-s2s tests, CN=Root", other key
    const forged = x509(makeLeaf(impostor, { domains: ["a.example"] }).certPem);
    assert.equal(forged.issuer, x509(root.certPem).subject);
    assert.equal(verifyChain(forged, [], store).trusted, false);
  });
});
