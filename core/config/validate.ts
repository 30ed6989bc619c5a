/**
 * Validation of the whole configuration: MongooseIM's `[general]` (hosts), `[[listen.s2s]]`,
 * `[[listen.service]]` and `[s2s]` sections option for option, plus our `s2s.cacertfile` and
 * `[plugins]`. Every problem is collected (style rule 5); the caller throws one ConfigError.
 *
 * Input is the TOML document as plain values (integers already plain numbers, see load.ts); output
 * is the typed S2sConfig with units normalised (durations in milliseconds, paths absolute, domains
 * lower-case A-labels). Values that fail a check fall back to their default only so the remaining
 * cross-checks can run: a config with any problem is never returned to callers.
 */
import { isIP } from "node:net";
import {
  SYNTAX,
  Verbatim,
  shortPath,
  boolean,
  canonicalIp,
  checkItems,
  child,
  domain,
  field,
  integer,
  ipAddress,
  isTable,
  item,
  missing,
  nonEmptyString,
  nonNegativeInteger,
  oneOf,
  orInfinity,
  port,
  positiveInteger,
  problem,
  reportDuplicates,
  required,
  secondsToMs,
  string,
  table,
  MAX_TIMER_MS,
  type Check,
  type CheckContext,
  type Table,
  type TableShape,
} from "./checks.js";
import { checkInboundLimits, INBOUND_LIMIT_KEYS } from "../server/inbound-limits.js";
import { checkShaperSection, shaperOf } from "../shaper/shaper-options.js";
import { certificateCovers, describeNames } from "./certs.js";
import { cacertfileCheck, certificateWithKey, ciphers, type CheckedCertificate } from "./tls-checks.js";
import { currentTlsSettings, LISTENER_TLS_SHAPE, usesCurrentTlsLayout, type ListenerTls } from "./tls-layout.js";
import { validateAdmin } from "../admin/config.js";
import { validateHttpListeners, type HttpListenerConfig } from "../http/config.js";
import { validateInstrumentation } from "../metrics/config.js";
import { checkClusterSection } from "../cluster/options.js";
import {
  DEFAULT_MAX_STANZA_SIZE,
  type AddressEntry,
  type DomainCertfileEntry,
  type HostPolicyEntry,
  type PluginsSectionConfig,
  type PolicyVerdict,
  type S2sConfig,
  type S2sListenerConfig,
  type S2sSectionConfig,
  type ServiceListenerConfig,
  type ShaperSpec,
  type StartTlsMode,
} from "./types.js";

/** Defaults of every optional setting, in normalised units. Seed text defaults, with peers.md's two corrections. */
export const CONFIG_DEFAULTS = Object.freeze({
  listener: Object.freeze({
    ipAddress: "0.0.0.0",
    ipv6Address: "::",
    maxStanzaSize: DEFAULT_MAX_STANZA_SIZE,
    negotiationTimeoutMs: 30_000,
    idleTimeoutMs: 600_000,
  }),
  s2s: Object.freeze({
    defaultPolicy: "allow" as PolicyVerdict,
    useStarttls: "false" as StartTlsMode,
    ciphers: "TLSv1.2:TLSv1.3",
    maxRetryDelayMs: 300_000,
    outgoingPort: 5269,
    ipVersions: Object.freeze([4, 6] as const),
    /** MongooseIM's default 10_000 is milliseconds (peers.md), whatever its docs say. */
    connectionTimeoutMs: 10_000,
    dnsTimeoutMs: 10_000,
    dnsRetries: 2,
  }),
});

// ---------------------------------------------------------------------------------------------
// Shapes and expectations

/** MongooseIM sections a pasted mongooseim.toml may carry that xmpp-s2s has no use for. */
const MONGOOSEIM_ONLY_SECTIONS = [
  "auth", "internal_databases", "outgoing_pools", "services", "modules", "acl", "access",
  "host_config", "rdbms", "c2s",
];

const TOP_SHAPE: TableShape = {
  keys: ["general", "listen", "s2s", "shaper", "plugins", "instrumentation", "admin", "cluster"],
  hints: Object.fromEntries(MONGOOSEIM_ONLY_SECTIONS.map((s) => [s, `[${s}] is a MongooseIM section that xmpp-s2s does not use; remove it`])),
};

/** MongooseIM's log levels; `loglevel` is accepted so a MongooseIM [general] section pastes as is. */
const LOG_LEVELS = ["none", "emergency", "alert", "critical", "error", "warning", "notice", "info", "debug", "all"] as const;

const GENERAL_SHAPE: TableShape = {
  keys: ["hosts", "loglevel"],
  hints: {
    host_types: "S2S does not support MongooseIM's dynamic domains (host types); list the domains in hosts",
    default_server_domain: "xmpp-s2s reads only hosts (and accepts loglevel) from [general]",
  },
};

const HOSTS_EXPECTED = 'a non-empty array of unique domain names, e.g. hosts = ["a.example"]';

const LISTEN_SHAPE: TableShape = {
  // `component` is MongooseIM 6.4+'s name for `service` (XEP-0114 listeners); both are accepted.
  keys: ["s2s", "service", "component", "http"],
  hints: Object.fromEntries(
    ["c2s"].map((k) => [k, `xmpp-s2s runs only [[listen.s2s]] (federation), [[listen.component]] / [[listen.service]] (XEP-0114 components) and [[listen.http]] (metrics) listeners`]),
  ),
};

const COMPAT_LISTENER_KEYS = ["shaper", "num_acceptors", "backlog", "proto", "ip_version", "hibernate_after", "proxy_protocol", "reuse_port"] as const;
const COMMON_LISTENER_KEYS = ["port", "ip_address", "max_stanza_size", "negotiation_timeout", "idle_timeout"] as const;
/** MongooseIM 6.4+ XMPP listener keys whose meaning differs from ours: refused with the equivalent. */
const LISTENER_HINTS: Readonly<Record<string, string>> = {
  state_timeout: "MongooseIM's wait for each negotiation step (ms); xmpp-s2s bounds the whole negotiation instead: negotiation_timeout (seconds, default 30)",
};

const S2S_LISTENER_SHAPE: TableShape = {
  keys: [...COMMON_LISTENER_KEYS, "tls", ...INBOUND_LIMIT_KEYS, ...COMPAT_LISTENER_KEYS],
  listed: [...COMMON_LISTENER_KEYS, "tls.mode", ...INBOUND_LIMIT_KEYS, ...COMPAT_LISTENER_KEYS],
  hints: LISTENER_HINTS,
};

const COMPONENT_TLS_HINT = "component listeners take plain TCP only (XEP-0114); keep them on a loopback or private address";
/** `[[listen.service]]` (MongooseIM <= 6.3, `shaper_rule`) and `[[listen.component]]` (6.4+, `shaper`, `access`, `hidden_components`). */
const SERVICE_LISTENER_SHAPE: TableShape = {
  keys: [...COMMON_LISTENER_KEYS, "password", "conflict_behaviour", "check_from", "shaper_rule", "access", "hidden_components", ...COMPAT_LISTENER_KEYS],
  hints: { ...LISTENER_HINTS, tls: COMPONENT_TLS_HINT },
};

const S2S_SHAPE: TableShape = {
  keys: [
    "default_policy", "host_policy", "use_starttls", "certfile", "keyfile", "domain_certfile", "shared", "address", "ciphers",
    "max_retry_delay", "outgoing", "dns", "cacertfile",
  ],
  listed: [
    "default_policy", "host_policy", "use_starttls", "certfile", "keyfile", "domain_certfile", "shared", "address", "ciphers",
    "max_retry_delay", "outgoing.port", "outgoing.ip_versions", "outgoing.connection_timeout", "dns.timeout", "dns.retries",
    "cacertfile",
  ],
};
const OUTGOING_SHAPE: TableShape = {
  // MongooseIM <= 6.3 has port, ip_versions and connection_timeout here; 6.4 moved address, dns,
  // max_retry_delay and the TLS settings (tls) in, and added max_stanza_size and shaper.
  keys: ["port", "ip_versions", "connection_timeout", "address", "dns", "max_retry_delay", "max_stanza_size", "shaper", "tls"],
  listed: [
    "port", "ip_versions", "connection_timeout", "address", "dns.timeout", "dns.retries", "max_retry_delay", "max_stanza_size", "shaper", "tls.mode",
    "tls.verify_mode", "tls.certfile", "tls.keyfile", "tls.cacertfile", "tls.ciphers",
  ],
  hints: {
    state_timeout: "MongooseIM's wait for each negotiation step (ms); xmpp-s2s bounds the whole outbound negotiation instead: [plugins.tcp] negotiation_timeout (seconds, default 30)",
    stream_timeout: 'the same as [plugins.tcp] idle_timeout, in seconds (MongooseIM: milliseconds): stream_timeout = 600_000 is idle_timeout = 600; "infinity" stays "infinity"',
  },
};
const DNS_SHAPE: TableShape = { keys: ["timeout", "retries"] };
const HOST_POLICY_SHAPE: TableShape = { keys: ["host", "policy"] };
const DOMAIN_CERTFILE_SHAPE: TableShape = { keys: ["domain", "certfile", "keyfile"] };
const ADDRESS_SHAPE: TableShape = { keys: ["host", "ip_address", "port", "tls"] };

const MAX_STANZA_EXPECTED = 'a positive integer number of bytes, or "infinity"';
const CONNECTION_TIMEOUT_EXPECTED = `a positive integer number of milliseconds, at most ${MAX_TIMER_MS}, or "infinity"`;

// ---------------------------------------------------------------------------------------------
// Entry point

export function validateConfig(raw: unknown, ctx: CheckContext, meta: { readonly file?: string }): S2sConfig {
  const root = table(ctx, "", raw, TOP_SHAPE, "a table with [general], [[listen.s2s]], [[listen.service]], [s2s] and [plugins]") ?? {};

  const hosts = validateGeneral(ctx, root["general"]);
  const listen = validateListen(ctx, root["listen"], checkShaperSection(ctx, root["shaper"]));
  const s2s = validateS2s(ctx, root["s2s"], hosts, listen.s2sTls);
  checkTlsCoverage(ctx, hosts, listen.s2s, s2s);
  // Sections that bring their own schema (style rule 13): composed here, validated where they are used.
  const instrumentation = validateInstrumentation(ctx, root["instrumentation"]);
  const admin = validateAdmin(ctx, root["admin"]);
  if (listen.http.length > 0 && !instrumentation.prometheus) {
    missing(ctx, "instrumentation.prometheus", "[instrumentation.prometheus] to collect the metrics that mongoose_prometheus_handler serves");
  }
  const cluster = checkClusterSection(ctx, root["cluster"], s2s.config.shared);

  let plugins: PluginsSectionConfig = {};
  if (root["plugins"] !== undefined) {
    if (isTable(root["plugins"])) plugins = root["plugins"];
    else problem(ctx, "plugins", "not a table", root["plugins"], "a table ([plugins])");
  }

  return {
    ...(meta.file === undefined ? {} : { file: meta.file }),
    baseDir: ctx.baseDir,
    general: { hosts },
    listen: { s2s: listen.s2s, service: listen.service, http: listen.http },
    s2s: s2s.config,
    plugins,
    instrumentation,
    ...(admin === undefined ? {} : { admin }),
    ...(cluster ? { cluster } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// [general]

function validateGeneral(ctx: CheckContext, raw: unknown): string[] {
  if (raw === undefined) {
    missing(ctx, "general.hosts", HOSTS_EXPECTED);
    return [];
  }
  const general = table(ctx, "general", raw, GENERAL_SHAPE, "a table ([general]) with hosts");
  if (general === undefined) return [];
  field(ctx, general, "general", "loglevel", oneOf(LOG_LEVELS)); // MongooseIM compatibility only; --log-level rules our logs
  if (!Object.hasOwn(general, "hosts")) {
    missing(ctx, "general.hosts", HOSTS_EXPECTED);
    return [];
  }
  const hosts = checkItems(ctx, "general.hosts", general["hosts"], domain, HOSTS_EXPECTED, { nonEmpty: true }) ?? [];
  reportDuplicates(ctx, hosts, (h) => h, (i) => item("general.hosts", i), "host");
  return [...new Set(hosts.filter((h) => h !== undefined))];
}

// ---------------------------------------------------------------------------------------------
// [[listen.s2s]] and [[listen.service]]

interface Listeners {
  s2s: S2sListenerConfig[];
  service: ServiceListenerConfig[];
  /** The `tls` tables of `[[listen.s2s]]`, for tls-layout.ts. */
  s2sTls: ListenerTls[];
  http: HttpListenerConfig[];
}

function validateListen(ctx: CheckContext, raw: unknown, shapers: ReadonlyMap<string, ShaperSpec>): Listeners {
  const out: Listeners = { s2s: [], service: [], s2sTls: [], http: [] };
  if (raw === undefined) return out;
  const listen = table(ctx, "listen", raw, LISTEN_SHAPE, "a table of listener arrays ([[listen.s2s]], [[listen.component]] or [[listen.service]])");
  if (listen === undefined) return out;

  const bound: { path: string; ip: string; port: number }[] = [];
  for (const kind of ["s2s", "service", "component"] as const) {
    const path = child("listen", kind);
    const list = listen[kind];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      problem(ctx, path, "not an array of tables", list, `an array of tables, written [[${path}]]`);
      continue;
    }
    list.forEach((rawListener, i) => {
      const p = item(path, i);
      const shape = kind === "s2s" ? S2S_LISTENER_SHAPE : SERVICE_LISTENER_SHAPE;
      const t = table(ctx, p, rawListener, shape, `a table with at least port, written [[${path}]]`);
      if (t === undefined) return;
      const common = listenerCommon(ctx, p, t);
      const shaper = shaperOf(ctx, t, p, kind !== "s2s" && t["shaper_rule"] !== undefined ? "shaper_rule" : "shaper", shapers);
      if (common.port !== undefined) bound.push({ path: p, ip: common.ipAddress, port: common.port });
      const base = {
        port: common.port ?? 0,
        ipAddress: common.ipAddress,
        maxStanzaSize: common.maxStanzaSize,
        negotiationTimeoutMs: common.negotiationTimeoutMs,
        idleTimeoutMs: common.idleTimeoutMs,
        ...(shaper ? { shaper } : {}),
      };
      if (kind === "s2s") {
        out.s2s.push({ ...base, directTls: listenerTls(ctx, p, t, out.s2sTls), ...checkInboundLimits(ctx, t, p) });
      } else {
        // MongooseIM < 6.4 names the component shaper `shaper_rule` (6.4: `shaper`); both take a shaper name.
        if (t["shaper_rule"] !== undefined) field(ctx, t, p, "shaper", string);
        // MongooseIM compatibility, no effect: hidden_components (a flag other MongooseIM modules
        // read; nothing here does).
        field(ctx, t, p, "hidden_components", boolean);
        // MongooseIM's access rule for who may talk to components: xmpp-s2s has no ACLs, only "all".
        field(ctx, t, p, "access", oneOf(["all"] as const));
        out.service.push({
          ...base,
          password: required(ctx, t, p, "password", nonEmptyString, SYNTAX.nonEmptyString) ?? "",
          conflictBehaviour: field(ctx, t, p, "conflict_behaviour", oneOf(["disconnect", "kick_old"] as const)) ?? "disconnect",
          checkFrom: field(ctx, t, p, "check_from", boolean) ?? true,
        });
      }
    });
  }

  out.http = validateHttpListeners(ctx, listen["http"]);
  out.http.forEach((h, i) => bound.push({ path: item("listen.http", i), ip: h.ipAddress, port: h.port }));

  // Two listeners on one address and port cannot both bind; say so before any socket is opened.
  const firstAt = new Map<string, string>();
  for (const b of bound) {
    const key = `${canonicalIp(b.ip)}|${b.port}`;
    const first = firstAt.get(key);
    if (first === undefined) firstAt.set(key, b.path);
    else
      problem(
        ctx,
        child(b.path, "port"),
        "listener address already in use",
        new Verbatim(`${b.ip} port ${b.port}`),
        "an ip_address and port pair no other listener uses",
        `already used by ${first}`,
      );
  }
  return out;
}

interface ListenerCommon {
  port: number | undefined;
  ipAddress: string;
  maxStanzaSize: number;
  negotiationTimeoutMs: number;
  idleTimeoutMs: number;
}

const ipVersion: Check<4 | 6> = (ctx, path, value) => {
  const v = integer(4, 6, "4 or 6", "an integer")(ctx, path, value);
  if (v === undefined) return undefined;
  return v === 4 || v === 6 ? v : problem(ctx, path, "out of range", value, "4 or 6");
};

function listenerCommon(ctx: CheckContext, p: string, t: Table): ListenerCommon {
  const listenerPort = required(ctx, t, p, "port", port, SYNTAX.port);
  const ip = field(ctx, t, p, "ip_address", ipAddress);
  const version = field(ctx, t, p, "ip_version", ipVersion);
  if (version !== undefined && ip !== undefined && isIP(ip) !== version) {
    problem(ctx, child(p, "ip_version"), "does not match ip_address", version, `${isIP(ip)}, the family of ip_address ${JSON.stringify(ip)}`);
  }
  // Compatibility keys: type-checked so a typo'd value is caught, otherwise without effect.
  field(ctx, t, p, "num_acceptors", positiveInteger);
  field(ctx, t, p, "backlog", positiveInteger);
  field(ctx, t, p, "proto", oneOf(["tcp"] as const));
  field(ctx, t, p, "hibernate_after", nonNegativeInteger);
  // MongooseIM 6.4+ socket options, off by default there: accepted only off (no effect then).
  field(ctx, t, p, "proxy_protocol", onlyOff("xmpp-s2s reads no PROXY protocol header; peers must connect directly"));
  field(ctx, t, p, "reuse_port", onlyOff("xmpp-s2s binds each listener once (no SO_REUSEPORT)"));
  const maxStanza = orInfinity(integer(1, Number.MAX_SAFE_INTEGER, MAX_STANZA_EXPECTED, "a positive integer"), MAX_STANZA_EXPECTED);
  const d = CONFIG_DEFAULTS.listener;
  return {
    port: listenerPort,
    // MongooseIM picks the wildcard of the family given by ip_version when ip_address is absent.
    ipAddress: ip ?? (version === 6 ? d.ipv6Address : d.ipAddress),
    maxStanzaSize: field(ctx, t, p, "max_stanza_size", maxStanza) ?? d.maxStanzaSize,
    negotiationTimeoutMs: field(ctx, t, p, "negotiation_timeout", secondsToMs({ integral: false, infinity: false })) ?? d.negotiationTimeoutMs,
    idleTimeoutMs: field(ctx, t, p, "idle_timeout", secondsToMs({ integral: false, infinity: true })) ?? d.idleTimeoutMs,
  };
}

/**
 * A listener's `tls` table (MongooseIM 6.4+). `mode = "tls"` is XEP-0368 direct TLS; in the
 * classic layout that is all the table says, otherwise tls-layout.ts reads the rest.
 */
function listenerTls(ctx: CheckContext, p: string, t: Table, tables: ListenerTls[]): boolean {
  const tlsPath = child(p, "tls");
  if (t["tls"] === undefined) {
    tables.push({ path: tlsPath });
    return false;
  }
  const tls = table(ctx, tlsPath, t["tls"], LISTENER_TLS_SHAPE, 'a table, e.g. tls.mode = "tls"');
  if (tls === undefined) return false;
  tables.push({ path: tlsPath, table: tls });
  return tls["mode"] === "tls";
}

/** `false` only: a MongooseIM switch that is off by default and has no xmpp-s2s counterpart when on. */
function onlyOff(why: string): Check<false> {
  return (ctx, path, value) => {
    if (typeof value !== "boolean") return problem(ctx, path, "not a boolean", value, "false");
    return value ? problem(ctx, path, "not supported", value, "false, or remove it", why) : false;
  };
}

// ---------------------------------------------------------------------------------------------
// [s2s]

interface S2sResult {
  config: S2sSectionConfig;
  /** Certificates that loaded, for the coverage check. Undefined `certfile` with `certfileGiven` means it failed. */
  certfile?: CheckedCertificate;
  certfileGiven: boolean;
  /** Where the certificate is set in this file's layout, for coverage problems. */
  certfileKey: string;
  /** domain_certfile entries for local hosts that name a certfile; `cert` undefined when it failed to load. */
  domainCerts: { index: number; domain: string; cert?: CheckedCertificate }[];
}

const ipVersionsExpected = "a non-empty array of unique IP versions, 4 and/or 6, e.g. [4, 6]";
const ipVersions: Check<(4 | 6)[]> = (ctx, path, value) => {
  const ipVersion: Check<4 | 6> = (c, p, v) => {
    const n = integer(4, 6, ipVersionsExpected, "an integer")(c, p, v);
    return n === undefined ? undefined : n === 4 || n === 6 ? n : problem(c, p, "not an IP version", v, ipVersionsExpected);
  };
  const versions = checkItems(ctx, path, value, ipVersion, ipVersionsExpected, { nonEmpty: true });
  if (versions === undefined) return undefined;
  const before = ctx.problems.length;
  reportDuplicates(ctx, versions, (v) => v, (i) => item(path, i), "IP version");
  return versions.every((v) => v !== undefined) && ctx.problems.length === before ? (versions as (4 | 6)[]) : undefined;
};

/** An array of tables, each through `entry`; item problems carry `path[i]`. */
function arrayOfTables<T>(
  ctx: CheckContext,
  path: string,
  value: unknown,
  shape: TableShape,
  expected: string,
  entry: (t: Table, p: string) => T | undefined,
): (T | undefined)[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problem(ctx, path, "not an array", value, expected);
    return [];
  }
  return value.map((v, i) => {
    const p = item(path, i);
    const t = table(ctx, p, v, shape, expected);
    return t === undefined ? undefined : entry(t, p);
  });
}

function validateS2s(ctx: CheckContext, raw: unknown, hosts: readonly string[], listenerTls: readonly ListenerTls[]): S2sResult {
  const d = CONFIG_DEFAULTS.s2s;
  const s2s = raw === undefined ? {} : table(ctx, "s2s", raw, S2S_SHAPE, "a table ([s2s])") ?? {};
  const p = "s2s";
  const outgoingPath = child(p, "outgoing");
  const outgoing = subTable(ctx, s2s, p, "outgoing", OUTGOING_SHAPE);
  /**
   * A key MongooseIM 6.4 moved from `[s2s]` into `[s2s.outgoing]` (same syntax and meaning): read
   * from wherever the file has it; both at once is a problem, since one would be ignored.
   */
  const moved = (key: string): { t: Table; at: string } => {
    const inOutgoing = Object.hasOwn(outgoing, key);
    if (inOutgoing && Object.hasOwn(s2s, key)) {
      problem(ctx, child(p, key), "set in both layouts", s2s[key], `either s2s.outgoing.${key} (MongooseIM 6.4+) or s2s.${key} (MongooseIM <= 6.3)`, `s2s.outgoing.${key} is set too`);
    }
    return inOutgoing ? { t: outgoing, at: outgoingPath } : { t: s2s, at: p };
  };
  const tls = usesCurrentTlsLayout(outgoing["tls"], listenerTls)
    ? currentTlsSettings(ctx, s2s, outgoing["tls"], outgoingPath, listenerTls)
    : undefined;
  // Classic layout: a listener's tls table says only whether it is direct TLS.
  if (tls === undefined) for (const l of listenerTls) if (l.table) field(ctx, l.table, l.path, "mode", oneOf(["tls", "starttls"] as const));
  // Options are checked in the order of MongooseIM's documentation, so problems come out in that order.

  const defaultPolicy = field(ctx, s2s, p, "default_policy", oneOf(["allow", "deny"] as const)) ?? d.defaultPolicy;

  const policyPath = child(p, "host_policy");
  const policyExpected = 'an array of tables {host = "b.example", policy = "allow" or "deny"}';
  const hostPolicy = arrayOfTables(ctx, policyPath, s2s["host_policy"], HOST_POLICY_SHAPE, policyExpected, (t, ip) => {
    const host = required(ctx, t, ip, "host", domain, SYNTAX.domain);
    const policy = required(ctx, t, ip, "policy", oneOf(["allow", "deny"] as const), '"allow" or "deny"');
    return host === undefined || policy === undefined ? undefined : ({ host, policy } satisfies HostPolicyEntry);
  });
  reportDuplicates(ctx, hostPolicy, (e) => e.host, (i) => child(item(policyPath, i), "host"), "host");

  const useStarttls =
    tls?.useStarttls ?? field(ctx, s2s, p, "use_starttls", oneOf(["false", "optional", "required", "required_trusted"] as const)) ?? d.useStarttls;

  const certfile = tls ? tls.certfile : certificateWithKey(ctx, s2s, p, { required: false });

  const domainCertPath = child(p, "domain_certfile");
  const domainCertExpected = 'an array of tables {domain = "a.example", certfile = "a.example.pem"}';
  const domainCerts = arrayOfTables(ctx, domainCertPath, s2s["domain_certfile"], DOMAIN_CERTFILE_SHAPE, domainCertExpected, (t, ip) => {
    const dom = required(ctx, t, ip, "domain", domain, SYNTAX.domain);
    const local = dom !== undefined && hosts.includes(dom);
    if (dom !== undefined && !local && hosts.length > 0) {
      problem(ctx, child(ip, "domain"), "not a local host", dom, `one of general.hosts (${hosts.map((h) => JSON.stringify(h)).join(", ")})`);
    }
    const cert = certificateWithKey(ctx, t, ip, { required: true });
    // An entry for a foreign domain is already reported; checking its certificate's names would only add noise.
    return dom === undefined ? undefined : { domain: dom, cert, covering: Object.hasOwn(t, "certfile") && local };
  });
  reportDuplicates(ctx, domainCerts, (e) => e.domain, (i) => child(item(domainCertPath, i), "domain"), "domain");

  const shared = field(ctx, s2s, p, "shared", nonEmptyString);

  const addressAt = moved("address");
  const addressPath = child(addressAt.at, "address");
  const addressExpected = 'an array of tables {host = "b.example", ip_address = "192.0.2.1", port = 5269, tls = false}';
  const address = arrayOfTables(ctx, addressPath, addressAt.t["address"], ADDRESS_SHAPE, addressExpected, (t, ip) => {
    const host = required(ctx, t, ip, "host", domain, SYNTAX.domain);
    const addr = required(ctx, t, ip, "ip_address", ipAddress, SYNTAX.ip);
    const addrPort = field(ctx, t, ip, "port", port);
    const tls = field(ctx, t, ip, "tls", boolean) ?? false;
    if (host === undefined || addr === undefined) return undefined;
    return { host, ipAddress: addr, ...(addrPort === undefined ? {} : { port: addrPort }), tls } satisfies AddressEntry;
  });
  reportDuplicates(ctx, address, (e) => e.host, (i) => child(item(addressPath, i), "host"), "host");

  const cipherList = (tls ? tls.ciphers : field(ctx, s2s, p, "ciphers", ciphers)) ?? d.ciphers;
  const retryAt = moved("max_retry_delay");
  const maxRetryDelayMs = field(ctx, retryAt.t, retryAt.at, "max_retry_delay", secondsToMs({ integral: true, infinity: false })) ?? d.maxRetryDelayMs;

  const maxStanza = orInfinity(integer(1, Number.MAX_SAFE_INTEGER, MAX_STANZA_EXPECTED, "a positive integer"), MAX_STANZA_EXPECTED);
  // MongooseIM 6.4+ shapes what peers send on our outbound streams too; xmpp-s2s shapes listeners only.
  field(ctx, outgoing, outgoingPath, "shaper", oneOf(["none"] as const));
  const connectionTimeout = orInfinity(
    integer(1, MAX_TIMER_MS, CONNECTION_TIMEOUT_EXPECTED, "a positive integer"),
    CONNECTION_TIMEOUT_EXPECTED,
  );
  const outgoingConfig = {
    port: field(ctx, outgoing, outgoingPath, "port", port) ?? d.outgoingPort,
    ipVersions: field(ctx, outgoing, outgoingPath, "ip_versions", ipVersions) ?? [...d.ipVersions],
    connectionTimeoutMs: field(ctx, outgoing, outgoingPath, "connection_timeout", connectionTimeout) ?? d.connectionTimeoutMs,
    maxStanzaSize: field(ctx, outgoing, outgoingPath, "max_stanza_size", maxStanza) ?? CONFIG_DEFAULTS.listener.maxStanzaSize,
  };

  const dnsAt = moved("dns");
  const dnsPath = child(dnsAt.at, "dns");
  const dns = subTable(ctx, dnsAt.t, dnsAt.at, "dns", DNS_SHAPE);
  const dnsConfig = {
    timeoutMs: field(ctx, dns, dnsPath, "timeout", secondsToMs({ integral: true, infinity: false })) ?? d.dnsTimeoutMs,
    retries: field(ctx, dns, dnsPath, "retries", positiveInteger) ?? d.dnsRetries,
  };

  const cacertfile = tls ? tls.cacertfile : field(ctx, s2s, p, "cacertfile", cacertfileCheck);

  const config: S2sSectionConfig = {
    defaultPolicy,
    hostPolicy: hostPolicy.filter((e) => e !== undefined),
    useStarttls,
    ...(certfile === undefined ? {} : { certfile: certfile.path }),
    ...(certfile?.keyfile === undefined ? {} : { keyfile: certfile.keyfile }),
    domainCertfile: domainCerts.flatMap((e) =>
      e === undefined || e.cert === undefined
        ? []
        : [{ domain: e.domain, certfile: e.cert.path, ...(e.cert.keyfile === undefined ? {} : { keyfile: e.cert.keyfile }) } satisfies DomainCertfileEntry],
    ),
    ...(cacertfile === undefined ? {} : { cacertfile }),
    ...(shared === undefined ? {} : { shared }),
    address: address.filter((e) => e !== undefined),
    ciphers: cipherList,
    maxRetryDelayMs,
    outgoing: outgoingConfig,
    dns: dnsConfig,
  };

  return {
    config,
    ...(certfile === undefined ? {} : { certfile }),
    certfileGiven: tls ? tls.certfileGiven : Object.hasOwn(s2s, "certfile"),
    certfileKey: tls ? "s2s.outgoing.tls.certfile" : "s2s.certfile",
    domainCerts: domainCerts.flatMap((e, index) =>
      e === undefined || !e.covering ? [] : [{ index, domain: e.domain, ...(e.cert === undefined ? {} : { cert: e.cert }) }],
    ),
  };
}

/** `outgoing.port = 1` and `[s2s.outgoing] port = 1` both arrive as a sub-table. */
function subTable(ctx: CheckContext, parent: Table, parentPath: string, key: string, shape: TableShape): Table {
  const value = parent[key];
  if (value === undefined) return {};
  const example = `${key}.${shape.keys[0]} = ...`;
  return table(ctx, child(parentPath, key), value, shape, `a table with ${shape.keys.join(", ")} (write ${example})`) ?? {};
}

// ---------------------------------------------------------------------------------------------
// Certificates against local hosts

/**
 * Every local host must be able to present a certificate valid for its name whenever TLS can be
 * used inbound: `use_starttls` other than "false", or a direct TLS listener (XEP-0368). A host
 * uses its `domain_certfile` entry, else `certfile`. A `domain_certfile` entry must always match
 * its own domain, TLS or not: a mismatch there is a mistake whatever the mode.
 */
function checkTlsCoverage(ctx: CheckContext, hosts: readonly string[], listeners: readonly S2sListenerConfig[], s2s: S2sResult): void {
  for (const entry of s2s.domainCerts) {
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

  const mode = s2s.config.useStarttls;
  const directTlsAt = listeners.findIndex((l) => l.directTls);
  if (mode === "false" && directTlsAt < 0) return;
  const reason =
    mode === "false" ? `listen.s2s[${directTlsAt}] uses direct TLS (tls.mode = "tls")`
    : s2s.certfileKey === "s2s.certfile" ? `use_starttls = "${mode}"`
    : `the tls tables turn TLS on (like use_starttls = "${mode}")`;

  for (const host of hosts) {
    const perDomain = s2s.domainCerts.find((e) => e.domain === host);
    if (perDomain !== undefined) continue; // checked above (or already reported as unreadable)
    if (s2s.certfileGiven) {
      if (s2s.certfile === undefined) continue; // unreadable certfile, already reported
      if (!certificateCovers(s2s.certfile.file.leaf, host)) {
        problem(
          ctx,
          s2s.certfileKey,
          `no certificate covers local host "${host}"`,
          new Verbatim(`${shortPath(s2s.certfile.path)} with ${describeNames(s2s.certfile.file.leaf)}`),
          `${expectedNames(host)}, or a domain_certfile entry for it`,
          `needed because ${reason}`,
        );
      }
      continue;
    }
    problem(
      ctx,
      s2s.certfileKey,
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
