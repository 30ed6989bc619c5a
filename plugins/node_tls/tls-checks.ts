/**
 * Checks of the TLS settings' files and strings, shared by the classic `[s2s]` keys and the
 * MongooseIM 6.4+ `tls` sub-tables (tls-layout.ts): a certificate with its key, CA bundles, cipher
 * lists. Each records a problem at the key whose value is wrong and returns undefined.
 */
import { resolve } from "node:path";
import { createSecureContext } from "node:tls";
import {
  type CertificateFile,
  type Check,
  type CheckContext,
  child,
  field,
  loadCaCertificates,
  loadCertificateWithKey,
  missing,
  problem,
  required,
  type Table,
} from "../../core/index.js";

export const CERTFILE_EXPECTED = "a readable PEM file holding a certificate and its private key (not protected by a passphrase), or the certificate with the key in keyfile";
export const KEYFILE_EXPECTED = "a readable PEM file holding the private key of certfile's first certificate (not protected by a passphrase)";
export const CACERTFILE_EXPECTED = "a readable PEM file holding one or more CA certificates";

export interface CheckedCertificate {
  readonly path: string;
  readonly file: CertificateFile;
  /** Absolute path of the separate key file, when one was given. */
  readonly keyfile?: string;
}

/** A non-empty path string, made absolute against the config file's folder. */
function filePath(expected: string): Check<string> {
  return (ctx, path, value) => {
    if (typeof value !== "string") return problem(ctx, path, "not a string", value, expected);
    if (value.length === 0) return problem(ctx, path, "empty", value, expected);
    return resolve(ctx.baseDir, value);
  };
}

export const cacertfileCheck: Check<string> = (ctx, path, value) => {
  const abs = filePath(CACERTFILE_EXPECTED)(ctx, path, value);
  if (abs === undefined) return undefined;
  const ca = loadCaCertificates(abs);
  return "error" in ca ? problem(ctx, path, ca.error, value, CACERTFILE_EXPECTED, ca.detail) : abs;
};

/**
 * `certfile` of table `t` with its private key: in the same file, or in `keyfile` (ours in
 * `[s2s]` and `domain_certfile` entries; MongooseIM 6.4+ `tls.keyfile`). Loaded together so that a
 * key that does not match is caught; each problem is reported at the key whose file is wrong.
 * `certfile` absent: undefined, and a `keyfile` alone is a problem.
 */
export function certificateWithKey(ctx: CheckContext, t: Table, p: string, opts: { required: boolean }): CheckedCertificate | undefined {
  const certPath = opts.required
    ? required(ctx, t, p, "certfile", filePath(CERTFILE_EXPECTED), CERTFILE_EXPECTED)
    : field(ctx, t, p, "certfile", filePath(CERTFILE_EXPECTED));
  const keyPath = field(ctx, t, p, "keyfile", filePath(KEYFILE_EXPECTED));
  if (!opts.required && keyPath !== undefined && !Object.hasOwn(t, "certfile")) {
    return missing(ctx, child(p, "certfile"), `${CERTFILE_EXPECTED}, since keyfile is given`);
  }
  if (certPath === undefined || (Object.hasOwn(t, "keyfile") && keyPath === undefined)) return undefined;
  const loaded = loadCertificateWithKey(certPath, keyPath);
  if ("error" in loaded) {
    const at = loaded.in === "keyfile" ? "keyfile" : "certfile";
    return problem(ctx, child(p, at), loaded.error, t[at], at === "keyfile" ? KEYFILE_EXPECTED : CERTFILE_EXPECTED, loaded.detail);
  }
  return { path: certPath, file: loaded.ok, ...(keyPath === undefined ? {} : { keyfile: keyPath }) };
}

export const ciphers: Check<string> = (ctx, path, value) => {
  const expected = 'an OpenSSL cipher list string, e.g. "TLSv1.2:TLSv1.3"';
  if (typeof value !== "string") return problem(ctx, path, "not a string", value, expected);
  try {
    // OpenSSL refuses a list that selects nothing ("no cipher match"); find out now, not at the first handshake.
    createSecureContext({ ciphers: value });
  } catch (err) {
    return problem(ctx, path, "not a usable cipher list", value, expected, `OpenSSL: ${(err as Error).message}`);
  }
  return value;
};

