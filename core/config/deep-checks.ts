/**
 * `xmpp-s2s check-config FILE --deep` (docs/operations.md): what a valid file can still get wrong at run
 * time, checked on the certificate files themselves. The normal validation already refuses a key
 * that does not belong to its certificate; here every certificate (and the chain after it, and
 * the CAs of `cacertfile`) is checked for its validity period: expired or not yet valid is a
 * problem, expiring within 30 days a warning.
 */
import type { X509Certificate } from "node:crypto";
import { loadCaCertificates, loadCertificateWithKey } from "./certs.js";
import type { S2sConfig } from "./types.js";

/** Let's Encrypt renews at 30 days left; a certificate closer than that is not being renewed. */
export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

export interface DeepReport {
  /** Lines that make the check fail (exit 2), `dotted.path: ...`. */
  readonly problems: string[];
  readonly warnings: string[];
  /** One line per certificate checked and found fine. */
  readonly notes: string[];
}

function subject(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ", ");
}

function checkValidity(report: DeepReport, path: string, cert: X509Certificate, what: string, now: number): boolean {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const days = Math.floor((to - now) / DAY_MS);
  if (now < from) report.problems.push(`${path}: ${what} ${subject(cert)} is not valid before ${cert.validFrom}`);
  else if (now > to) report.problems.push(`${path}: ${what} ${subject(cert)} expired on ${cert.validTo}`);
  else if (days < EXPIRY_WARNING_DAYS) report.warnings.push(`${path}: warning: ${what} ${subject(cert)} expires in ${days} day(s), on ${cert.validTo}`);
  else return true;
  return false;
}

export function deepCheck(config: S2sConfig, now = Date.now()): DeepReport {
  const report: DeepReport = { problems: [], warnings: [], notes: [] };
  const files: Array<{ path: string; file: string; keyfile?: string }> = [];
  if (config.s2s.certfile) files.push({ path: "s2s.certfile", file: config.s2s.certfile, keyfile: config.s2s.keyfile });
  config.s2s.domainCertfile.forEach((e, i) => files.push({ path: `s2s.domain_certfile[${i}].certfile`, file: e.certfile, keyfile: e.keyfile }));
  for (const { path, file, keyfile } of files) {
    // With its keyfile: a certificate whose key is separate would otherwise "fail" and be skipped.
    const loaded = loadCertificateWithKey(file, keyfile);
    // Unreadable or mismatched files are already problems of the normal validation.
    if ("error" in loaded) continue;
    const [leaf, ...chain] = loaded.ok.chain;
    let fine = checkValidity(report, path, leaf!, "certificate", now);
    for (const c of chain) fine = checkValidity(report, path, c, "chain certificate", now) && fine;
    if (fine) report.notes.push(`${path}: ${subject(leaf!)}, key matches, valid until ${leaf!.validTo} (${Math.floor((Date.parse(leaf!.validTo) - now) / DAY_MS)} days)`);
  }
  if (config.s2s.cacertfile) {
    const cas = loadCaCertificates(config.s2s.cacertfile);
    if (!("error" in cas)) {
      let fine = true;
      for (const ca of cas.ok) fine = checkValidity(report, "s2s.cacertfile", ca, "CA certificate", now) && fine;
      if (fine) report.notes.push(`s2s.cacertfile: ${cas.ok.length} CA certificate(s), all valid for ${EXPIRY_WARNING_DAYS} days or more`);
    }
  }
  return report;
}
