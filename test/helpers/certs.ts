/**
 * Test PKI made on the fly with the `openssl` command line (OpenSSL 3.0 is enough), into a
 * temporary folder: certification authorities (root or intermediate) and leaf certificates for
 * XMPP domains, with the identities RFC 6125 / RFC 6120 §13.7.1.2 know (DNS-ID, SRV-ID, XmppAddr),
 * a choice of extended key usages, and validity periods in the past or future. EC P-256 keys: a
 * certificate takes a few milliseconds.
 *
 * Every certificate is signed with `openssl ca`, whose `-startdate`/`-enddate` set any validity
 * period (OpenSSL 3.0's `x509 -req` has no `-not_before`/`-not_after`; they arrived in 3.4), so
 * expired and not-yet-valid certificates need neither faketime nor a clock change.
 *
 * ```ts
 * const dir = makeCertDir();
 * const ca = makeCa(dir, "Test CA");
 * const a = makeLeaf(ca, { domains: ["a.example"] });        // DNS:a.example, DNS:*.a.example
 * const old = makeLeaf(ca, { domains: ["b.example"], expired: true });
 * const other = makeCa(dir, "Other CA");                       // a CA nobody trusts
 * // config: s2s.certfile = a.certfile, s2s.cacertfile = ca.cafile
 * removeCertDir(dir);
 * ```
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certification authority that can sign leaves (and intermediate CAs). */
export interface CertAuthority {
  readonly name: string;
  /** Folder where this CA and everything it signs are written. */
  readonly dir: string;
  /** This CA's certificate (PEM). */
  readonly certPem: string;
  readonly keyPem: string;
  readonly certPath: string;
  readonly keyPath: string;
  /**
   * The file to trust (`s2s.cacertfile`): the root of this CA's hierarchy (for a root CA, its own
   * certificate; for an intermediate, the root above it).
   */
  readonly cafile: string;
  /** Certificates a leaf signed by this CA must send after itself: this CA and any intermediate above it, up to (not including) the root. Empty for a root. */
  readonly chainPem: string;
  /** The CA that signed this one (undefined for a root). */
  readonly issuer?: CertAuthority;
  /** Internal: `openssl ca` configuration of this CA. */
  readonly configPath: string;
}

/** OpenSSL short names of extended key usages; any other short name (e.g. "emailProtection") is written as given. */
export type Eku = "serverAuth" | "clientAuth" | (string & {});

export interface LeafOptions {
  /**
   * XMPP domains the certificate is for. Each gives `DNS:<d>` and `DNS:*.<d>` (unless `dns` or
   * `wildcard` say otherwise), plus an XmppAddr and an SRV-ID when asked.
   */
  readonly domains: readonly string[];
  /** Put DNS-IDs in the subjectAltName (default true). False makes XmppAddr-only or SRV-ID-only certificates. */
  readonly dns?: boolean;
  /** Add `DNS:*.<d>` for each domain (default true when `dns`). */
  readonly wildcard?: boolean;
  /** Extra dNSName entries written as given (e.g. `"*.b.example"` alone). */
  readonly extraDns?: readonly string[];
  /** iPAddress entries (e.g. a loopback address a TLS service of a test listens on). */
  readonly ips?: readonly string[];
  /** Add `otherName 1.3.6.1.5.5.7.8.5;UTF8:<d>` (id-on-xmppAddr, RFC 6120 §13.7.1.4) per domain. Default false. */
  readonly xmppAddr?: boolean;
  /** Add `otherName 1.3.6.1.5.5.7.8.7;IA5:_xmpp-server.<d>` (SRVName, RFC 4985 / RFC 6125 SRV-ID) per domain. Default false. */
  readonly srvName?: boolean;
  /** Extended key usages (default both: `serverAuth,clientAuth`). An empty list omits the extension. */
  readonly ekus?: readonly Eku[];
  /** Subject CN (default: the first domain). RFC 6125 matching must ignore it when SANs are present. */
  readonly cn?: string;
  /** Valid 2020-01-01 to 2020-01-02 only. */
  readonly expired?: boolean;
  /** Valid from a year from now. */
  readonly notYetValid?: boolean;
  /** File name stem (default: the first domain, made unique). */
  readonly name?: string;
}

export interface Leaf {
  /** Certificate, chain (intermediates) and private key in one PEM file, like MongooseIM's `certfile`. */
  readonly certfile: string;
  /** The leaf certificate alone (PEM). */
  readonly certPem: string;
  /** The intermediates that follow the leaf in `certfile` (PEM; empty for a leaf of a root CA). */
  readonly chainPem: string;
  /** Unencrypted PKCS#8 private key (PEM). */
  readonly keyPem: string;
  /** `s2s.cacertfile` that makes this leaf trusted: the root of its CA. */
  readonly cafile: string;
  readonly domains: readonly string[];
}

export interface CaOptions {
  /** Sign this CA with `issuer` (an intermediate CA). Default: self-signed root. */
  readonly issuer?: CertAuthority;
  readonly expired?: boolean;
}

const EC_KEY = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
const EXPIRED = { start: "20200101000000Z", end: "20200102000000Z" };
const names = new Map<string, number>();

/** A fresh temporary folder for certificates; remove it with `removeCertDir`. */
export function makeCertDir(prefix = "xmpp-s2s-certs-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeCertDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A root CA (or, with `issuer`, an intermediate CA) named `name`, written under `dir`. */
export function makeCa(dir: string, name: string, options: CaOptions = {}): CertAuthority {
  const stem = unique(dir, safe(name));
  const caDir = join(dir, stem);
  mkdirSync(join(caDir, "newcerts"), { recursive: true });
  writeFileSync(join(caDir, "index.txt"), "");
  writeFileSync(join(caDir, "serial"), `${randomSerial()}\n`);
  const configPath = join(caDir, "ca.cnf");
  const keyPath = join(caDir, "ca.key");
  const certPath = join(caDir, "ca.pem");
  writeFileSync(configPath, caConfig(caDir));
  openssl([...EC_KEY, "-out", keyPath]);
  const csr = join(caDir, "ca.csr");
  openssl(["req", "-new", "-key", keyPath, "-subj", `/O=xmpp-s2s tests/CN=${escapeDn(name)}`, "-out", csr]);
  const ext = join(caDir, "ca.ext");
  writeFileSync(ext, "[ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n");
  const issuer = options.issuer;
  if (issuer) sign(issuer, csr, certPath, ext, options.expired ?? false, false);
  else signWith(configPath, certPath, keyPath, csr, certPath, ext, options.expired ?? false, false, true);
  const certPem = readFileSync(certPath, "utf8");
  const keyPem = readFileSync(keyPath, "utf8");
  const chainPem = issuer ? certPem + issuer.chainPem : "";
  return { name, dir: caDir, certPem, keyPem, certPath, keyPath, cafile: issuer ? issuer.cafile : certPath, chainPem, issuer, configPath };
}

/** A leaf certificate signed by `ca`, written as a combined cert+chain+key file in `ca.dir`. */
export function makeLeaf(ca: CertAuthority, options: LeafOptions): Leaf {
  const domains = options.domains;
  if (domains.length === 0 && !options.extraDns?.length) throw new Error("makeLeaf: give at least one domain");
  const stem = unique(ca.dir, safe(options.name ?? domains[0] ?? options.extraDns![0]!));
  const base = join(ca.dir, stem);
  const keyPath = `${base}.key`;
  const csr = `${base}.csr`;
  const certPath = `${base}.crt`;
  openssl([...EC_KEY, "-out", keyPath]);
  const cn = options.cn ?? domains[0] ?? options.extraDns![0]!;
  openssl(["req", "-new", "-key", keyPath, "-subj", `/CN=${escapeDn(cn)}`, "-out", csr]);

  const alt: string[] = [];
  const dns = options.dns ?? true;
  const wildcard = options.wildcard ?? true;
  for (const d of domains) {
    if (dns) alt.push(`DNS.${alt.length + 1} = ${d}`);
    if (dns && wildcard) alt.push(`DNS.${alt.length + 1} = *.${d}`);
    if (options.xmppAddr) alt.push(`otherName.${alt.length + 1} = 1.3.6.1.5.5.7.8.5;UTF8:${d}`);
    if (options.srvName) alt.push(`otherName.${alt.length + 1} = 1.3.6.1.5.5.7.8.7;IA5:_xmpp-server.${d}`);
  }
  for (const d of options.extraDns ?? []) alt.push(`DNS.${alt.length + 1} = ${d}`);
  for (const ip of options.ips ?? []) alt.push(`IP.${alt.length + 1} = ${ip}`);
  const ekus = options.ekus ?? ["serverAuth", "clientAuth"];
  const ext = `${base}.ext`;
  writeFileSync(ext, [
    "[ext]",
    "basicConstraints = critical,CA:FALSE",
    "keyUsage = critical,digitalSignature,keyAgreement",
    ...(ekus.length > 0 ? [`extendedKeyUsage = ${ekus.join(",")}`] : []),
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid:always",
    ...(alt.length > 0 ? ["subjectAltName = @alt", "[alt]", ...alt] : []),
    "",
  ].join("\n"));
  sign(ca, csr, certPath, ext, options.expired ?? false, options.notYetValid ?? false);

  const certPem = readFileSync(certPath, "utf8");
  const keyPem = readFileSync(keyPath, "utf8");
  const chainPem = ca.chainPem;
  const certfile = `${base}.pem`;
  writeFileSync(certfile, certPem + chainPem + keyPem);
  return { certfile, certPem, chainPem, keyPem, cafile: ca.cafile, domains };
}

/** A PEM file holding several CA certificates (e.g. two roots in one `cacertfile`). */
export function writeCaBundle(dir: string, file: string, cas: readonly CertAuthority[]): string {
  const path = join(dir, file);
  writeFileSync(path, cas.map((c) => readFileSync(c.cafile, "utf8")).join(""));
  return path;
}

function sign(ca: CertAuthority, csr: string, out: string, ext: string, expired: boolean, notYetValid: boolean): void {
  signWith(ca.configPath, ca.certPath, ca.keyPath, csr, out, ext, expired, notYetValid, false);
}

function signWith(config: string, caCert: string, caKey: string, csr: string, out: string, ext: string, expired: boolean, notYetValid: boolean, selfSign: boolean): void {
  const dates = expired
    ? ["-startdate", EXPIRED.start, "-enddate", EXPIRED.end]
    : notYetValid
      ? ["-startdate", asn1Time(Date.now() + 365 * 86400_000), "-enddate", asn1Time(Date.now() + 2 * 365 * 86400_000)]
      // Back-dated an hour so that clock skew between test processes never matters.
      : ["-startdate", asn1Time(Date.now() - 3600_000), "-enddate", asn1Time(Date.now() + 3650 * 86400_000)];
  openssl([
    "ca", "-batch", "-notext", "-config", config, "-in", csr, "-out", out, "-extfile", ext, "-extensions", "ext", "-md", "sha256",
    ...(selfSign ? ["-selfsign", "-keyfile", caKey] : ["-cert", caCert, "-keyfile", caKey]),
    ...dates,
  ]);
}

function caConfig(dir: string): string {
  return [
    "[ca]",
    "default_ca = ca_default",
    "[ca_default]",
    `database = ${join(dir, "index.txt")}`,
    `new_certs_dir = ${join(dir, "newcerts")}`,
    `serial = ${join(dir, "serial")}`,
    "default_md = sha256",
    "policy = policy_any",
    "unique_subject = no",
    "copy_extensions = none",
    "email_in_dn = no",
    "[policy_any]",
    "commonName = supplied",
    "organizationName = optional",
    "",
  ].join("\n");
}

function openssl(args: readonly string[]): void {
  try {
    execFileSync("openssl", args, { stdio: "pipe" });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (err as Error).message}`);
  }
}

function asn1Time(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z");
}

function randomSerial(): string {
  let hex = "";
  for (let i = 0; i < 16; i++) hex += Math.floor(Math.random() * 256).toString(16).padStart(2, "0");
  // Positive: the top bit clear.
  return `1${hex.slice(1)}`;
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^\*/, "star") || "cert";
}

function unique(dir: string, stem: string): string {
  const key = `${dir}/${stem}`;
  const n = names.get(key) ?? 0;
  names.set(key, n + 1);
  return n === 0 ? stem : `${stem}-${n}`;
}

function escapeDn(value: string): string {
  return value.replace(/[/\\=+,]/g, (c) => `\\${c}`);
}
