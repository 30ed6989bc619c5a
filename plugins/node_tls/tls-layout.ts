/**
 * TLS in MongooseIM's current layout (6.4 and later): `[s2s.outgoing.tls]` for outbound streams and
 * a `tls` sub-table per `[[listen.s2s]]` for inbound ones, instead of the classic `[s2s]`
 * `use_starttls`, `certfile`, `cacertfile` and `ciphers`. xmpp-s2s applies one TLS policy and one
 * certificate per local domain to both directions, so the current layout is read into the same
 * settings when its tables agree with each other, and refused with the exact equivalent when they
 * do not (docs/configuration.md "MongooseIM versions and migration").
 *
 * MongooseIM's semantics (its config spec and just_tls): a `tls` table turns TLS on for that
 * direction (absent: no TLS at all); `mode` is "starttls" (default: offered or used when offered),
 * "starttls_required" or "tls" (XEP-0368 direct TLS); `verify_mode` defaults to "peer" and, with
 * `disconnect_on_failure` (default true), makes an unverifiable certificate fail the handshake.
 */
import {
  boolean,
  type CheckContext,
  checkItems,
  child,
  field,
  isTable,
  type ListenerTls,
  missing,
  oneOf,
  problem,
  type StartTlsMode,
  table,
  type Table,
  type TableShape,
  Verbatim,
} from "../../core/index.js";
import { cacertfileCheck, certificateWithKey, ciphers, type CheckedCertificate } from "./tls-checks.js";

const COMMON_TLS_KEYS = ["mode", "verify_mode", "certfile", "keyfile", "cacertfile", "ciphers", "versions", "disconnect_on_failure", "keep_secrets"];
const REFUSED_TLS_KEYS: Readonly<Record<string, string>> = {
  password: "xmpp-s2s reads keys without a passphrase: decrypt it once (openssl pkey -in KEY -out PLAIN.key) and name the result in keyfile",
  crl_files: "xmpp-s2s does not read CRLs; remove crl_files, and deny a revoked peer in s2s.host_policy",
  dhfile: "xmpp-s2s uses ECDHE key exchange (Node's defaults), which needs no DH parameters; remove dhfile",
  early_data: "a C2S option (TLS 1.3 0-RTT); S2S streams do not use it: remove it",
  session_tickets: "a C2S option (TLS resumption); S2S streams do not use it: remove it",
};

/** `[[listen.s2s]] tls`: MongooseIM 6.4+ listener TLS keys (values are checked by `tlsSettings`). */
export const LISTENER_TLS_SHAPE: TableShape = { keys: COMMON_TLS_KEYS, hints: REFUSED_TLS_KEYS };
const OUTGOING_TLS_SHAPE: TableShape = { keys: [...COMMON_TLS_KEYS, "server_name_indication"], hints: REFUSED_TLS_KEYS };
const SNI_SHAPE: TableShape = {
  keys: ["enabled", "protocol"],
  hints: { host: "xmpp-s2s always sends the remote domain as SNI and checks the certificate against it (RFC 6125); remove host" },
};

/** The TLS settings both layouts come down to. */
export interface TlsSettings {
  readonly useStarttls: StartTlsMode;
  readonly certfile?: CheckedCertificate;
  /** A certificate was named (even if it failed to load: then it is already reported). */
  readonly certfileGiven: boolean;
  readonly cacertfile?: string;
  readonly ciphers?: string;
}

/**
 * True when the file uses the current TLS layout: `[s2s.outgoing.tls]` is present, or a listener
 * `tls` table says more than the direct-TLS switch (`tls.mode = "tls"`/`"starttls"` alone means
 * what it always meant here: direct TLS or not, with `use_starttls` deciding the rest).
 */
export function usesCurrentTlsLayout(outgoingTls: unknown, listeners: readonly ListenerTls[]): boolean {
  if (outgoingTls !== undefined) return true;
  return listeners.some((l) => l.table !== undefined && (Object.keys(l.table).some((k) => k !== "mode") || l.table["mode"] === "starttls_required"));
}

const CLASSIC_TLS_KEYS = ["use_starttls", "certfile", "keyfile", "cacertfile", "ciphers"] as const;

/**
 * The current layout's TLS tables read into one policy: `[s2s.outgoing.tls]` gives the level,
 * each listener's `tls` must give the same one, and the certificate, CA bundle and cipher list
 * named in several tables must be the same. Classic `[s2s]` TLS keys next to them are refused.
 */
export function currentTlsSettings(ctx: CheckContext, s2s: Table, outgoingTlsRaw: unknown, outgoingPath: string, listeners: readonly ListenerTls[]): TlsSettings {
  for (const key of CLASSIC_TLS_KEYS) {
    if (!Object.hasOwn(s2s, key)) continue;
    const now = key === "use_starttls" ? "s2s.outgoing.tls.mode and verify_mode" : `s2s.outgoing.tls.${key} (and listen.s2s[].tls.${key})`;
    problem(ctx, `s2s.${key}`, "mixes the MongooseIM <= 6.3 and 6.4+ layouts", s2s[key], `${now}, since this file has [s2s.outgoing.tls] or listener tls tables`, "use one layout");
  }
  const outPath = child(outgoingPath, "tls");
  const outgoing = outgoingTlsRaw === undefined ? undefined : table(ctx, outPath, outgoingTlsRaw, OUTGOING_TLS_SHAPE, 'a table, e.g. [s2s.outgoing.tls] mode = "starttls_required"');
  if (outgoing !== undefined) serverNameIndication(ctx, outgoing, outPath);

  const outLevel = outgoing === undefined ? "false" : level(ctx, outgoing, outPath, false);
  const withTls = listeners.filter((l): l is Required<ListenerTls> => l.table !== undefined);
  for (const l of listeners) {
    if (l.table !== undefined || outLevel === undefined || outLevel === "false") continue;
    // MongooseIM offers no TLS on a listener without a tls table; xmpp-s2s would apply s2s.outgoing.tls to it.
    missing(ctx, l.path, `a tls table with the mode and verify_mode of s2s.outgoing.tls (TLS ${describe(outLevel)}), since xmpp-s2s applies one TLS policy to both directions`);
  }
  for (const l of withTls) {
    const direct = l.table["mode"] === "tls";
    const lvl = level(ctx, l.table, l.path, direct);
    if (lvl === undefined || outLevel === undefined) continue;
    // A direct TLS listener without verification goes with any policy but "required_trusted" (as in the classic layout).
    const agrees = direct && lvl !== "required_trusted" ? outLevel !== "required_trusted" : lvl === outLevel;
    if (!agrees) {
      problem(
        ctx, l.path, "differs from s2s.outgoing.tls", new Verbatim(`TLS ${describe(lvl)}`),
        `the same mode and verify_mode as s2s.outgoing.tls (TLS ${describe(outLevel)})`,
        "xmpp-s2s applies one TLS policy to both directions",
      );
    }
  }
  if (outgoing === undefined && withTls.some((l) => l.table["mode"] !== "tls")) {
    problem(ctx, outPath, "missing while a listener offers STARTTLS", new Verbatim("no [s2s.outgoing.tls]"), "an [s2s.outgoing.tls] table with the listener's mode and verify_mode", "xmpp-s2s applies one TLS policy to both directions");
  }

  const sources: Array<{ t: Table; p: string }> = [...(outgoing ? [{ t: outgoing, p: outPath }] : []), ...withTls.map((l) => ({ t: l.table, p: l.path }))];
  let certfile: CheckedCertificate | undefined;
  let certfileGiven = false;
  let certAt = "";
  for (const { t, p } of sources) {
    if (!Object.hasOwn(t, "certfile") && !Object.hasOwn(t, "keyfile")) continue;
    certfileGiven = true;
    const cert = certificateWithKey(ctx, t, p, { required: false });
    if (cert === undefined) continue;
    if (certfile === undefined) {
      certfile = cert;
      certAt = p;
    } else if (cert.path !== certfile.path || cert.keyfile !== certfile.keyfile) {
      problem(ctx, child(p, "certfile"), "differs from the certificate of " + certAt, t["certfile"], `the same certfile and keyfile as ${certAt}`, "xmpp-s2s presents one certificate per local domain both ways; per-domain certificates go in s2s.domain_certfile");
    }
  }
  const cacertfile = same(ctx, sources, "cacertfile", (p, v) => cacertfileCheck(ctx, p, v));
  const cipherList = same(ctx, sources, "ciphers", (p, v) => ciphers(ctx, p, v));
  return {
    useStarttls: outLevel ?? "false",
    ...(certfile === undefined ? {} : { certfile }),
    certfileGiven,
    ...(cacertfile === undefined ? {} : { cacertfile }),
    ...(cipherList === undefined ? {} : { ciphers: cipherList }),
  };
}

/** A key that may appear in several tables: checked in each, and all values must be equal. */
function same<T>(ctx: CheckContext, sources: ReadonlyArray<{ t: Table; p: string }>, key: string, check: (path: string, value: unknown) => T | undefined): T | undefined {
  let first: { value: T; at: string } | undefined;
  for (const { t, p } of sources) {
    if (!Object.hasOwn(t, key)) continue;
    const value = check(child(p, key), t[key]);
    if (value === undefined) continue;
    if (first === undefined) first = { value, at: child(p, key) };
    else if (value !== first.value) problem(ctx, child(p, key), `differs from ${first.at}`, t[key], `the same value as ${first.at}`, "xmpp-s2s uses one setting for both directions");
  }
  return first?.value;
}

/**
 * The classic `use_starttls` value a `tls` table stands for, or undefined (problem recorded) when
 * there is none: xmpp-s2s verifies certificates as a requirement only when TLS is required.
 */
function level(ctx: CheckContext, t: Table, p: string, listenerDirect: boolean): StartTlsMode | undefined {
  const mode = field(ctx, t, p, "mode", oneOf(["starttls", "starttls_required", "tls"] as const)) ?? "starttls";
  const verify = field(ctx, t, p, "verify_mode", oneOf(["peer", "selfsigned_peer", "none"] as const)) ?? "peer";
  const disconnect = field(ctx, t, p, "disconnect_on_failure", boolean) ?? true;
  versions(ctx, t, p);
  if (field(ctx, t, p, "keep_secrets", boolean) === true) {
    problem(ctx, child(p, "keep_secrets"), "not supported", true, "false, or remove it", "xmpp-s2s never writes TLS session keys");
  }
  if (mode === "tls" && !listenerDirect) {
    return problem(ctx, child(p, "mode"), "direct TLS to every peer is not supported", mode, '"starttls" or "starttls_required"', "use direct TLS per peer: s2s.outgoing.address entries with tls = true (XEP-0368), or the peer's _xmpps-server SRV records");
  }
  if (verify === "selfsigned_peer") {
    return problem(ctx, child(p, "verify_mode"), "no xmpp-s2s equivalent", verify, '"peer" with the peer\'s certificate in cacertfile, or "none"');
  }
  const enforced = verify === "peer" && disconnect;
  const required = mode !== "starttls";
  if (enforced && !required) {
    const note = Object.hasOwn(t, "verify_mode") ? undefined : 'verify_mode defaults to "peer"';
    return problem(
      ctx, child(p, "verify_mode"), "certificate verification with optional TLS has no xmpp-s2s equivalent", new Verbatim(`verify_mode "peer" with mode "${mode}"`),
      'verify_mode = "none" (like use_starttls "optional": a valid certificate still allows SASL EXTERNAL, dialback otherwise) or mode = "starttls_required" (like use_starttls "required_trusted")',
      note,
    );
  }
  return enforced ? "required_trusted" : required ? "required" : "optional";
}

function describe(mode: StartTlsMode): string {
  return { false: "off", optional: "optional", required: "required", required_trusted: "required and verified" }[mode] + ` (use_starttls "${mode}")`;
}

/** MongooseIM's `versions`: xmpp-s2s negotiates TLS 1.2 and 1.3 (RFC 7590 §3.1), so only that set is accepted. */
function versions(ctx: CheckContext, t: Table, p: string): void {
  if (!Object.hasOwn(t, "versions")) return;
  const expected = '["tlsv1.2", "tlsv1.3"] (xmpp-s2s negotiates TLS 1.2 and 1.3), or remove versions';
  const items = checkItems(ctx, child(p, "versions"), t["versions"], (c, ip, v) => (typeof v === "string" ? v : problem(c, ip, "not a string", v, expected)), expected);
  if (items === undefined || items.some((i) => i === undefined)) return;
  const set = new Set(items);
  if (set.size !== 2 || !set.has("tlsv1.2") || !set.has("tlsv1.3")) problem(ctx, child(p, "versions"), "not supported", t["versions"], expected);
}

/** `server_name_indication`: SNI is always on with the remote domain, which is MongooseIM's default. */
function serverNameIndication(ctx: CheckContext, outgoing: Table, outPath: string): void {
  const raw = outgoing["server_name_indication"];
  if (raw === undefined) return;
  const p = child(outPath, "server_name_indication");
  const sni = isTable(raw) ? table(ctx, p, raw, SNI_SHAPE, "a table with enabled = true") : problem(ctx, p, "not a table", raw, "a table with enabled = true");
  if (sni === undefined) return;
  if (field(ctx, sni, p, "enabled", boolean) === false) {
    problem(ctx, child(p, "enabled"), "not supported", false, "true (the default)", "xmpp-s2s always sends the remote domain as SNI: peers with several domains need it to pick the certificate");
  }
  const protocol = field(ctx, sni, p, "protocol", oneOf(["default", "https"] as const));
  if (protocol === "https") {
    problem(ctx, child(p, "protocol"), "not supported", protocol, '"default"', "xmpp-s2s matches names per RFC 6125 / RFC 6120 §13.7.1.2 (wildcard in the left-most label only)");
  }
}
