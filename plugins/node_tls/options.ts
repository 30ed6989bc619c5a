/**
 * The `[s2s]` TLS keys node_tls owns, in either MongooseIM layout: classic `use_starttls`,
 * `certfile`, `keyfile`, `cacertfile`, `ciphers`, or MongooseIM 6.4+ `[s2s.outgoing.tls]` with the
 * listeners' `tls` tables (tls-layout.ts); `domain_certfile` in both. Certificates are loaded
 * here, so a missing file, a key that does not match or a certificate that does not cover a local
 * host is a config problem at start-up, not a failed handshake later.
 */
import {
  arrayOfTables,
  certificateCovers,
  type CheckContext,
  child,
  describeNames,
  domain,
  type DomainCertfileEntry,
  field,
  item,
  type ListenerTls,
  oneOf,
  problem,
  reportDuplicates,
  required,
  type S2sChecked,
  type S2sOwner,
  type S2sSection,
  type S2sValues,
  shortPath,
  SYNTAX,
  table,
  type TableShape,
  Verbatim,
} from "../../core/index.js";
import { cacertfileCheck, certificateWithKey, ciphers, type CheckedCertificate } from "./tls-checks.js";
import { currentTlsSettings, LISTENER_TLS_SHAPE, usesCurrentTlsLayout } from "./tls-layout.js";

const DEFAULT_CIPHERS = "TLSv1.2:TLSv1.3";
const DOMAIN_CERTFILE_SHAPE: TableShape = { keys: ["domain", "certfile", "keyfile"] };

export const nodeTlsS2sOptions: S2sOwner = {
  plugin: "node_tls",
  keys: ["use_starttls", "certfile", "keyfile", "domain_certfile", "cacertfile", "ciphers", "outgoing.tls"],
  validate: validateTlsKeys,
};

/** A `domain_certfile` entry for a local host that names a certfile; `cert` undefined when it failed to load. */
interface DomainCert {
  readonly index: number;
  readonly domain: string;
  readonly cert?: CheckedCertificate;
}

function validateTlsKeys(section: S2sSection): S2sChecked {
  const { ctx, s2s, outgoing, hosts } = section;
  const listenerTls = listenerTables(ctx, section.listenerTls);
  const tls = usesCurrentTlsLayout(outgoing["tls"], listenerTls)
    ? currentTlsSettings(ctx, s2s, outgoing["tls"], "s2s.outgoing", listenerTls)
    : undefined;
  // Classic layout: a listener's tls table says only whether it is direct TLS.
  if (tls === undefined) for (const l of listenerTls) if (l.table) field(ctx, l.table, l.path, "mode", oneOf(["tls", "starttls"] as const));

  const useStarttls = tls?.useStarttls ?? field(ctx, s2s, "s2s", "use_starttls", oneOf(["false", "optional", "required", "required_trusted"] as const)) ?? "false";
  const certfile = tls ? tls.certfile : certificateWithKey(ctx, s2s, "s2s", { required: false });
  const domainCerts = domainCertificates(ctx, s2s["domain_certfile"], hosts);
  const cipherList = (tls ? tls.ciphers : field(ctx, s2s, "s2s", "ciphers", ciphers)) ?? DEFAULT_CIPHERS;
  const cacertfile = tls ? tls.cacertfile : field(ctx, s2s, "s2s", "cacertfile", cacertfileCheck);

  const certificates: Certificates = {
    useStarttls,
    certfile,
    certfileGiven: tls ? tls.certfileGiven : Object.hasOwn(s2s, "certfile"),
    certfileKey: tls ? "s2s.outgoing.tls.certfile" : "s2s.certfile",
    domainCerts: domainCerts.flatMap((e, index) =>
      e === undefined || !e.covering ? [] : [{ index, domain: e.domain, ...(e.cert === undefined ? {} : { cert: e.cert }) }],
    ),
  };

  const values: S2sValues = {
    useStarttls,
    ...(certfile === undefined ? {} : { certfile: certfile.path }),
    ...(certfile?.keyfile === undefined ? {} : { keyfile: certfile.keyfile }),
    domainCertfile: domainCerts.flatMap((e) =>
      e === undefined || e.cert === undefined
        ? []
        : [{ domain: e.domain, certfile: e.cert.path, ...(e.cert.keyfile === undefined ? {} : { keyfile: e.cert.keyfile }) } satisfies DomainCertfileEntry],
    ),
    ...(cacertfile === undefined ? {} : { cacertfile }),
    ciphers: cipherList,
  };
  return { values, crossCheck: () => checkTlsCoverage(ctx, section, certificates) };
}

/** The listeners' `tls` tables with their keys checked (the core has read only `mode`, for direct TLS). */
function listenerTables(ctx: CheckContext, listeners: readonly ListenerTls[]): ListenerTls[] {
  return listeners.map((l) => {
    if (l.table === undefined) return l;
    const checked = table(ctx, l.path, l.table, LISTENER_TLS_SHAPE, 'a table, e.g. tls.mode = "tls"');
    return checked === undefined ? { path: l.path } : { path: l.path, table: checked };
  });
}

function domainCertificates(ctx: CheckContext, raw: unknown, hosts: readonly string[]) {
  const path = "s2s.domain_certfile";
  const expected = 'an array of tables {domain = "a.example", certfile = "a.example.pem"}';
  const entries = arrayOfTables(ctx, path, raw, DOMAIN_CERTFILE_SHAPE, expected, (t, ip) => {
    const dom = required(ctx, t, ip, "domain", domain, SYNTAX.domain);
    const local = dom !== undefined && hosts.includes(dom);
    if (dom !== undefined && !local && hosts.length > 0) {
      problem(ctx, child(ip, "domain"), "not a local host", dom, `one of general.hosts (${hosts.map((h) => JSON.stringify(h)).join(", ")})`);
    }
    const cert = certificateWithKey(ctx, t, ip, { required: true });
    // An entry for a foreign domain is already reported; checking its certificate's names would only add noise.
    return dom === undefined ? undefined : { domain: dom, cert, covering: Object.hasOwn(t, "certfile") && local };
  });
  reportDuplicates(ctx, entries, (e) => e.domain, (i) => child(item(path, i), "domain"), "domain");
  return entries;
}

interface Certificates {
  readonly useStarttls: string;
  /** Undefined with `certfileGiven` means it failed to load (already reported). */
  readonly certfile: CheckedCertificate | undefined;
  readonly certfileGiven: boolean;
  /** Where the certificate is set in this file's layout, for coverage problems. */
  readonly certfileKey: string;
  readonly domainCerts: readonly DomainCert[];
}

/**
 * Every local host must be able to present a certificate valid for its name whenever TLS can be
 * used inbound: `use_starttls` other than "false", or a direct TLS listener (XEP-0368). A host
 * uses its `domain_certfile` entry, else `certfile`. A `domain_certfile` entry must always match
 * its own domain, TLS or not: a mismatch there is a mistake whatever the mode.
 */
function checkTlsCoverage(ctx: CheckContext, section: S2sSection, certs: Certificates): void {
  for (const entry of certs.domainCerts) {
    if (entry.cert !== undefined && !certificateCovers(entry.cert.file.leaf, entry.domain)) {
      problem(
        ctx,
        `s2s.domain_certfile[${entry.index}].certfile`,
        `certificate does not cover its domain "${entry.domain}"`,
        new Verbatim(describeNames(entry.cert.file.leaf)),
        expectedNames(entry.domain),
      );
    }
  }

  const mode = certs.useStarttls;
  const directTlsAt = section.listeners.findIndex((l) => l.directTls);
  if (mode === "false" && directTlsAt < 0) return;
  const reason =
    mode === "false" ? `listen.s2s[${directTlsAt}] uses direct TLS (tls.mode = "tls")`
    : certs.certfileKey === "s2s.certfile" ? `use_starttls = "${mode}"`
    : `the tls tables turn TLS on (like use_starttls = "${mode}")`;

  for (const host of section.hosts) {
    if (certs.domainCerts.some((e) => e.domain === host)) continue; // checked above (or already reported as unreadable)
    if (certs.certfileGiven) {
      if (certs.certfile === undefined) continue; // unreadable certfile, already reported
      if (!certificateCovers(certs.certfile.file.leaf, host)) {
        problem(
          ctx,
          certs.certfileKey,
          `no certificate covers local host "${host}"`,
          new Verbatim(`${shortPath(certs.certfile.path)} with ${describeNames(certs.certfile.file.leaf)}`),
          `${expectedNames(host)}, or a domain_certfile entry for it`,
          `needed because ${reason}`,
        );
      }
      continue;
    }
    problem(
      ctx,
      certs.certfileKey,
      `no certificate covers local host "${host}"`,
      new Verbatim("no certfile and no domain_certfile entry"),
      `a certfile or a domain_certfile entry with a certificate valid for "${host}"`,
      `needed because ${reason}`,
    );
  }
}

function expectedNames(host: string): string {
  const parent = host.includes(".") ? host.slice(host.indexOf(".") + 1) : undefined;
  const wildcard = parent !== undefined && parent.includes(".") ? `, DNS:*.${parent}` : "";
  return `a certificate with subjectAltName DNS:${host}${wildcard} or XmppAddr ${host}`;
}
