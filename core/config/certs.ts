/**
 * Certificate files named in the config: read once at start-up so that a wrong path, a missing
 * key or a certificate for the wrong domain is a config error, not a TLS failure at the first
 * connection. Also the name matching used for "does this certificate cover that domain", which
 * the TLS layer may reuse.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { normaliseDomain } from "./checks.js";

export interface CertificateFile {
  /** Absolute path. */
  readonly path: string;
  /** First certificate in the file: the one a TLS server presents. */
  readonly leaf: X509Certificate;
  /** Every certificate in the file, leaf first. */
  readonly chain: readonly X509Certificate[];
  /** The certificates as PEM (leaf first), for a TLS context. */
  readonly certPem: string;
  /** The private key as PEM (from the certificate file, or the separate key file). */
  readonly keyPem: string;
}

export type Loaded<T> = { readonly ok: T } | { readonly error: string; readonly detail?: string };

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

interface PemBlock {
  readonly label: string;
  readonly text: string;
}

function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, text: m[0] }));
}

function readText(path: string): Loaded<string> {
  try {
    return { ok: readFileSync(path, "utf8") };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a directory" : code === "EACCES" ? "permission denied" : String((err as Error).message);
    return { error: `cannot read ${path}: ${reason}` };
  }
}

function parseCertificates(blocks: readonly PemBlock[], path: string): Loaded<X509Certificate[]> {
  const certs: X509Certificate[] = [];
  for (const [i, block] of blocks.filter((b) => b.label === "CERTIFICATE").entries()) {
    try {
      certs.push(new X509Certificate(block.text));
    } catch (err) {
      return { error: `certificate #${i + 1} in ${path} cannot be parsed`, detail: (err as Error).message };
    }
  }
  return { ok: certs };
}

/** Where a certificate problem lies: in the certificate file, or in the separate key file. */
export type CertificateProblem = { readonly error: string; readonly detail?: string; readonly in: "certfile" | "keyfile" };

/**
 * A certificate (optionally followed by its chain) and an unencrypted private key matching it:
 * both in `certPath`, as MongooseIM's `certfile` up to 6.3 requires, or the key in a separate
 * `keyPath` (`s2s.keyfile`, as Let's Encrypt ships `fullchain.pem` and `privkey.pem`, and as
 * MongooseIM's `tls.keyfile` since 6.4). A key in `keyPath` wins over one in `certPath`.
 */
export function loadCertificateWithKey(certPath: string, keyPath?: string): { readonly ok: CertificateFile } | CertificateProblem {
  const text = readText(certPath);
  if ("error" in text) return { ...text, in: "certfile" };
  const blocks = pemBlocks(text.ok);
  const certs = parseCertificates(blocks, certPath);
  if ("error" in certs) return { ...certs, in: "certfile" };
  const leaf = certs.ok[0];
  if (leaf === undefined) return { error: `no PEM certificate (-----BEGIN CERTIFICATE-----) in ${certPath}`, in: "certfile" };

  let keyBlocks = blocks;
  let keySource: "certfile" | "keyfile" = "certfile";
  if (keyPath !== undefined) {
    const keyText = readText(keyPath);
    if ("error" in keyText) return { ...keyText, in: "keyfile" };
    keyBlocks = pemBlocks(keyText.ok);
    keySource = "keyfile";
  }
  const where = keyPath ?? certPath;
  const keyBlock = keyBlocks.find((b) => b.label.endsWith("PRIVATE KEY"));
  if (keyBlock === undefined) {
    const hint = keyPath === undefined ? "; or give the key file separately with keyfile" : "";
    return { error: `no PEM private key (-----BEGIN PRIVATE KEY-----) in ${where}${hint}`, in: keySource };
  }
  // PKCS#8 "ENCRYPTED PRIVATE KEY" or legacy PEM with "Proc-Type: 4,ENCRYPTED": we have no passphrase option.
  if (keyBlock.label === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,ENCRYPTED/.test(keyBlock.text)) {
    return { error: `the private key in ${where} is encrypted; a key without a passphrase is needed`, in: keySource };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyBlock.text);
  } catch (err) {
    return { error: `the private key in ${where} cannot be parsed`, detail: (err as Error).message, in: keySource };
  }
  if (!leaf.checkPrivateKey(key)) {
    const of = keyPath === undefined ? "its first certificate" : `the first certificate of ${certPath}`;
    return { error: `the private key in ${where} does not belong to ${of}`, in: keySource };
  }
  const certPem = blocks.filter((b) => b.label === "CERTIFICATE").map((b) => b.text).join("\n") + "\n";
  return { ok: { path: certPath, leaf, chain: certs.ok, certPem, keyPem: `${keyBlock.text}\n` } };
}

/** A PEM bundle of trusted CA certificates (at least one). */
export function loadCaCertificates(path: string): Loaded<readonly X509Certificate[]> {
  const text = readText(path);
  if ("error" in text) return text;
  const certs = parseCertificates(pemBlocks(text.ok), path);
  if ("error" in certs) return certs;
  if (certs.ok.length === 0) return { error: `no PEM certificate (-----BEGIN CERTIFICATE-----) in ${path}` };
  return { ok: certs.ok };
}

// ---------------------------------------------------------------------------------------------
// Names in a certificate

export interface SubjectAltName {
  /** As Node prints it: "DNS", "IP Address", "URI", "email", "othername", ... */
  readonly type: string;
  /** For "othername", the part after the colon still carries its own type: "XmppAddr:a.example". */
  readonly value: string;
}

/**
 * Splits `X509Certificate.subjectAltName` into entries. Node separates entries with ", " and, when
 * a value contains a separator or other special character, prints it as a JSON string literal
 * (`DNS:"a, b"`, `othername:"XmppAddr:a\u002c b"`), so a naive split on ", " would let a crafted
 * name inject extra entries. A malformed string yields the entries read so far.
 */
export function parseSubjectAltName(text: string | undefined): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (text[j] === '"') {
      // JSON string literal: scan to the closing quote, honouring backslash escapes.
      let k = j + 1;
      while (k < text.length && text[k] !== '"') k += text[k] === "\\" ? 2 : 1;
      try {
        value = JSON.parse(text.slice(j, k + 1)) as string;
      } catch {
        break; // an unterminated or malformed quoted value: the names before it are all we can read
      }
      j = k + 1;
    } else {
      const end = text.indexOf(", ", j);
      value = text.slice(j, end < 0 ? text.length : end);
      j = end < 0 ? text.length : end;
    }
    out.push({ type, value });
    if (text.startsWith(", ", j)) j += 2;
    else if (j < text.length) break;
    i = j;
  }
  return out;
}

/** XMPP addresses (id-on-xmppAddr, RFC 6120 §13.7.1.4) in a certificate's subjectAltName. */
export function xmppAddrs(cert: X509Certificate): string[] {
  return parseSubjectAltName(cert.subjectAltName)
    .filter((n) => n.type === "othername" && n.value.startsWith("XmppAddr:"))
    .map((n) => n.value.slice("XmppAddr:".length));
}

/**
 * True when `cert` is valid for the XMPP domain `domain` (RFC 6125 / RFC 6120 §13.7.1.2): a
 * dNSName matching it (wildcard in the left-most label only, as `checkHost` does) or an XmppAddr
 * equal to it (both sides normalised: lower case, IDNA A-labels). The subject CN is ignored, as RFC 6125 §6.4.4 advises when SANs are present.
 */
export function certificateCovers(cert: X509Certificate, domain: string): boolean {
  if (cert.checkHost(domain, { subject: "never" }) !== undefined) return true;
  return xmppAddrs(cert).some((addr) => normaliseDomain(addr) === domain);
}

/** Short description of the names a certificate carries, for problem lines. */
export function describeNames(cert: X509Certificate): string {
  const names = parseSubjectAltName(cert.subjectAltName)
    .filter((n) => n.type === "DNS" || (n.type === "othername" && n.value.startsWith("XmppAddr:")))
    .map((n) => (n.type === "DNS" ? `DNS:${n.value}` : n.value));
  return names.length > 0 ? names.join(", ") : `no DNS or XmppAddr names (subject ${cert.subject.replace(/\n/g, ", ")})`;
}
