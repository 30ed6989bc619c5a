/**
 * RFC 6125 matching of XMPP domains against real certificates (made by openssl): DNS-ID with the
 * left-most-label wildcard rule, SRV-ID, XmppAddr, no CN fallback, and no injection through
 * JSON-quoted subjectAltName values.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { makeCa, makeCertDir, makeLeaf, removeCertDir, type CertAuthority } from "../../test/helpers/certs.js";
import { certificateIdentities, describeIdentities, matchIdentity } from "./identity.js";

describe("RFC 6125 identity matching", () => {
  let dir: string;
  let ca: CertAuthority;
  const cert = (opts: Parameters<typeof makeLeaf>[1]) => new X509Certificate(makeLeaf(ca, opts).certPem);

  before(() => {
    dir = makeCertDir();
    ca = makeCa(dir, "Identity CA");
  });
  after(() => removeCertDir(dir));

  it("a DNS-ID wildcard covers exactly one left-most label", () => {
    const wildcard = cert({ domains: [], extraDns: ["*.b.example"] });
    assert.equal(matchIdentity(wildcard, "x.b.example"), "DNS-ID");
    assert.equal(matchIdentity(wildcard, "X.B.Example"), "DNS-ID");
    assert.equal(matchIdentity(wildcard, "b.example"), undefined);
    assert.equal(matchIdentity(wildcard, "y.x.b.example"), undefined);
  });

  it("partial wildcards and wildcards below the left-most label never match", () => {
    const odd = cert({ domains: [], extraDns: ["f*.c.example", "x.*.d.example"] });
    assert.equal(matchIdentity(odd, "foo.c.example"), undefined);
    assert.equal(matchIdentity(odd, "x.y.d.example"), undefined);
  });

  it("a plain DNS-ID matches its domain, with a trailing dot and in any case", () => {
    const plain = cert({ domains: ["a.example"], wildcard: false });
    assert.equal(matchIdentity(plain, "a.example"), "DNS-ID");
    assert.equal(matchIdentity(plain, "A.EXAMPLE."), "DNS-ID");
    assert.equal(matchIdentity(plain, "sub.a.example"), undefined);
    assert.equal(matchIdentity(plain, "b.example"), undefined);
  });

  it("a reference that is not a domain name never matches (OpenSSL reads '.a.example' as any subdomain)", () => {
    const wildcard = cert({ domains: ["a.example"] });
    assert.equal(matchIdentity(wildcard, ".a.example"), undefined);
    assert.equal(matchIdentity(wildcard, ""), undefined);
    assert.equal(matchIdentity(wildcard, "a example"), undefined);
  });

  it("matches internationalised domains by their A-labels", () => {
    const idn = cert({ domains: ["xn--bcher-kva.example"], wildcard: false });
    assert.equal(matchIdentity(idn, "bücher.example"), "DNS-ID");
    assert.equal(matchIdentity(idn, "xn--bcher-kva.example"), "DNS-ID");
  });

  it("an SRV-ID-only certificate matches _xmpp-server.<domain>, and nothing else", () => {
    const srv = cert({ domains: ["s.example"], dns: false, srvName: true });
    assert.deepEqual(certificateIdentities(srv).srv, ["_xmpp-server.s.example"]);
    assert.equal(matchIdentity(srv, "s.example"), "SRV-ID");
    assert.equal(matchIdentity(srv, "x.s.example"), undefined);
    assert.equal(matchIdentity(srv, "other.example"), undefined);
  });

  it("an XmppAddr-only certificate matches its bare domain", () => {
    const xmpp = cert({ domains: ["x.example"], dns: false, xmppAddr: true });
    assert.deepEqual(certificateIdentities(xmpp).xmppAddr, ["x.example"]);
    assert.equal(matchIdentity(xmpp, "x.example"), "XmppAddr");
    assert.equal(matchIdentity(xmpp, "y.x.example"), undefined);
  });

  it("ignores the subject CN (no RFC 6125 §6.4.4 fallback)", () => {
    const cnOnly = cert({ domains: ["cn.example"], dns: false });
    assert.equal(cnOnly.subjectAltName, undefined);
    assert.equal(matchIdentity(cnOnly, "cn.example"), undefined);
    const sanElsewhere = cert({ domains: ["other.example"], cn: "cn.example" });
    assert.equal(matchIdentity(sanElsewhere, "cn.example"), undefined);
  });

  it("a JSON-quoted value cannot inject a name (no split on ', ')", () => {
    // Node prints this entry as othername:"XmppAddr:evil.example, DNS:a.example".
    const crafted = cert({ domains: ["evil.example, DNS:a.example"], dns: false, xmppAddr: true });
    assert.match(crafted.subjectAltName ?? "", /"XmppAddr:evil\.example/);
    assert.deepEqual(certificateIdentities(crafted).dns, []);
    assert.equal(matchIdentity(crafted, "a.example"), undefined);
    assert.equal(matchIdentity(crafted, "evil.example"), undefined);
  });

  it("describes the names for error messages", () => {
    const all = cert({ domains: ["d.example"], wildcard: false, xmppAddr: true, srvName: true });
    assert.equal(describeIdentities(all), "DNS:d.example, SRVName:_xmpp-server.d.example, XmppAddr:d.example");
  });
});
