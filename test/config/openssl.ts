/**
 * Test certificates made on the fly with the `openssl` command line, into a temporary folder, so
 * tests can cover odd certificate files (encrypted keys, XmppAddr-only names, mismatched keys)
 * without committing them. EC P-256 keys: each certificate takes a few milliseconds.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LeafOptions {
  /** Subject CN (default: first DNS name, or "test"). */
  readonly cn?: string;
  readonly dns?: readonly string[];
  /** id-on-xmppAddr otherName values (RFC 6120 §13.7.1.4). */
  readonly xmppAddr?: readonly string[];
  /** Protect the key with a passphrase. */
  readonly encryptKey?: boolean;
  /** What to write: certificate then key (default), certificate only, or key only. */
  readonly content?: "cert+key" | "cert" | "key";
}

export class TestCerts {
  readonly dir = mkdtempSync(join(tmpdir(), "xmpp-s2s-config-test-"));

  /** Writes `<dir>/<file>` and returns its absolute path. */
  leaf(file: string, opts: LeafOptions = {}): string {
    const cfg = join(this.dir, `${file}.cnf`);
    const alt = [
      ...(opts.dns ?? []).map((d, i) => `DNS.${i + 1} = ${d}`),
      ...(opts.xmppAddr ?? []).map((x, i) => `otherName.${i + 1} = 1.3.6.1.5.5.7.8.5;UTF8:${x}`),
    ];
    writeFileSync(
      cfg,
      ["[req]", "distinguished_name = dn", "[dn]", "[ext]", "basicConstraints = CA:FALSE", "extendedKeyUsage = serverAuth,clientAuth",
        ...(alt.length > 0 ? ["subjectAltName = @alt", "[alt]", ...alt] : []), ""].join("\n"),
    );
    const keyPath = join(this.dir, `${file}.key`);
    const certPath = join(this.dir, `${file}.crt`);
    const cn = opts.cn ?? opts.dns?.[0] ?? "test";
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", keyPath, "-out", certPath, "-days", "36500", "-subj", `/CN=${cn}`, "-config", cfg, "-extensions", "ext",
    ], { stdio: "pipe" });
    let key = readFileSync(keyPath, "utf8");
    if (opts.encryptKey) {
      key = execFileSync("openssl", ["pkcs8", "-topk8", "-in", keyPath, "-passout", "pass:secret", "-v2", "aes-128-cbc"], { stdio: "pipe" }).toString();
    }
    const cert = readFileSync(certPath, "utf8");
    const content = opts.content ?? "cert+key";
    const out = join(this.dir, file);
    writeFileSync(out, content === "cert" ? cert : content === "key" ? key : cert + key);
    return out;
  }

  /** A file with the certificate of `a` and the key of `b`. */
  mismatched(file: string, a: string, b: string): string {
    const certOf = (p: string) => /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/.exec(readFileSync(p, "utf8"))![0];
    const keyOf = (p: string) => /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----\n/.exec(readFileSync(p, "utf8"))![0];
    const out = join(this.dir, file);
    writeFileSync(out, certOf(a) + keyOf(b));
    return out;
  }

  write(file: string, text: string): string {
    const out = join(this.dir, file);
    writeFileSync(out, text);
    return out;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
