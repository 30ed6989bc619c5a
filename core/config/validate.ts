/**
 * Validation of the whole configuration: MongooseIM's `[general]` (hosts), `[[listen.s2s]]` and
 * `[[listen.service]]` option for option, the shape of `[s2s]` and the `[s2s]` keys the core reads
 * (the other keys are checked by the plugins that own them, s2s-owners.ts), and the shape of
 * `[plugins]`; sections with their own schema are composed here. Every problem is collected, so one
 * run shows them all; the caller throws one ConfigError.
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
  arrayOfTables,
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
  subTable,
  table,
  type Check,
  type CheckContext,
  type Table,
  type TableShape,
} from "./checks.js";
import { checkInboundLimits, INBOUND_LIMIT_KEYS } from "../server/inbound-limits.js";
import { checkShaperSection, shaperOf } from "../shaper/shaper-options.js";
import { mergeS2sValues, orderS2sProblems, recordS2sKeys, s2sKeysOf, type ListenerTls, type S2sSection, type S2sValues } from "./s2s-section.js";
import { builtinS2sOwners } from "./s2s-owners.js";
import { validateAdmin } from "../admin/config.js";
import { validateHttpListeners, type HttpListenerConfig } from "../http/config.js";
import { validateInstrumentation } from "../metrics/config.js";
import { checkClusterSection } from "../cluster/options.js";
import {
  DEFAULT_MAX_STANZA_SIZE,
  type AddressEntry,
  type PluginsSectionConfig,
  type PolicyVerdict,
  type S2sConfig,
  type S2sListenerConfig,
  type S2sSectionConfig,
  type ServiceListenerConfig,
  type ShaperSpec,
} from "./types.js";

/** Defaults of the optional settings the core reads, in normalised units: MongooseIM's, as it behaves. */
export const CONFIG_DEFAULTS = Object.freeze({
  listener: Object.freeze({
    ipAddress: "0.0.0.0",
    ipv6Address: "::",
    maxStanzaSize: DEFAULT_MAX_STANZA_SIZE,
    negotiationTimeoutMs: 30_000,
    idleTimeoutMs: 600_000,
  }),
  /** `[s2s]` keys the core reads itself; plugins' keys have their defaults in their `options.ts`. */
  s2s: Object.freeze({
    defaultPolicy: "allow" as PolicyVerdict,
    maxRetryDelayMs: 300_000,
    outgoingPort: 5269,
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
const ADDRESS_SHAPE: TableShape = { keys: ["host", "ip_address", "port", "tls"] };

const MAX_STANZA_EXPECTED = 'a positive integer number of bytes, or "infinity"';

// ---------------------------------------------------------------------------------------------
// Entry point

export function validateConfig(raw: unknown, ctx: CheckContext, meta: { readonly file?: string }): S2sConfig {
  const root = table(ctx, "", raw, TOP_SHAPE, "a table with [general], [[listen.s2s]], [[listen.service]], [s2s] and [plugins]") ?? {};

  const hosts = validateGeneral(ctx, root["general"]);
  const listen = validateListen(ctx, root["listen"], checkShaperSection(ctx, root["shaper"]));
  const s2s = validateS2s(ctx, root["s2s"], hosts, listen);
  // Sections that bring their own schema: composed here, validated next to the code that uses them.
  const instrumentation = validateInstrumentation(ctx, root["instrumentation"]);
  const admin = validateAdmin(ctx, root["admin"]);
  if (listen.http.length > 0 && !instrumentation.prometheus) {
    missing(ctx, "instrumentation.prometheus", "[instrumentation.prometheus] to collect the metrics that mongoose_prometheus_handler serves");
  }
  const cluster = checkClusterSection(ctx, root["cluster"], s2s.shared);

  let plugins: PluginsSectionConfig = {};
  if (root["plugins"] !== undefined) {
    if (isTable(root["plugins"])) plugins = root["plugins"];
    else problem(ctx, "plugins", "not a table", root["plugins"], "a table ([plugins])");
  }

  const config: S2sConfig = {
    ...(meta.file === undefined ? {} : { file: meta.file }),
    baseDir: ctx.baseDir,
    general: { hosts },
    listen: { s2s: listen.s2s, service: listen.service, http: listen.http },
    s2s,
    plugins,
    instrumentation,
    ...(admin === undefined ? {} : { admin }),
    ...(cluster ? { cluster } : {}),
  };
  recordS2sKeys(config, isTable(root["s2s"]) ? s2sKeysOf(root["s2s"]) : []);
  return config;
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
  /** The `tls` tables of `[[listen.s2s]]`, for the TLS plugin's checks (plugins/node_tls/options.ts). */
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
 * A listener's `tls` table (MongooseIM 6.4+). `mode = "tls"` is XEP-0368 direct TLS, which the core
 * reads to accept TLS first; the TLS plugin checks the table's keys (plugins/node_tls/options.ts).
 */
function listenerTls(ctx: CheckContext, p: string, t: Table, tables: ListenerTls[]): boolean {
  const tlsPath = child(p, "tls");
  const tls = t["tls"];
  if (tls === undefined) {
    tables.push({ path: tlsPath });
    return false;
  }
  if (!isTable(tls)) return problem(ctx, tlsPath, "not a table", tls, 'a table, e.g. tls.mode = "tls"') ?? false;
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

/**
 * `[s2s]`: the section's shape and the keys the core reads itself (`default_policy`, `address`,
 * `max_retry_delay`, `outgoing.port`, `outgoing.max_stanza_size`, `outgoing.shaper`); every other
 * key is checked by the built-in plugin that owns it (s2s-owners.ts, each in its `options.ts`).
 */
function validateS2s(ctx: CheckContext, raw: unknown, hosts: readonly string[], listeners: Listeners): S2sSectionConfig {
  const d = CONFIG_DEFAULTS.s2s;
  const s2s = raw === undefined ? {} : table(ctx, "s2s", raw, S2S_SHAPE, "a table ([s2s])") ?? {};
  const p = "s2s";
  const outgoingPath = child(p, "outgoing");
  const outgoing = subTable(ctx, s2s, p, "outgoing", OUTGOING_SHAPE);
  const checkedFrom = ctx.problems.length;
  const section: S2sSection = {
    ctx,
    s2s,
    outgoing,
    hosts,
    listeners: listeners.s2s,
    listenerTls: listeners.s2sTls,
    // Same syntax and meaning in both places; both at once is a problem, since one would be ignored.
    moved(key) {
      const inOutgoing = Object.hasOwn(outgoing, key);
      if (inOutgoing && Object.hasOwn(s2s, key)) {
        problem(ctx, child(p, key), "set in both layouts", s2s[key], `either s2s.outgoing.${key} (MongooseIM 6.4+) or s2s.${key} (MongooseIM <= 6.3)`, `s2s.outgoing.${key} is set too`);
      }
      return inOutgoing ? { table: outgoing, path: outgoingPath } : { table: s2s, path: p };
    },
  };

  const defaultPolicy = field(ctx, s2s, p, "default_policy", oneOf(["allow", "deny"] as const)) ?? d.defaultPolicy;

  const addressAt = section.moved("address");
  const addressPath = child(addressAt.path, "address");
  const addressExpected = 'an array of tables {host = "b.example", ip_address = "192.0.2.1", port = 5269, tls = false}';
  const address = arrayOfTables(ctx, addressPath, addressAt.table["address"], ADDRESS_SHAPE, addressExpected, (t, ip) => {
    const host = required(ctx, t, ip, "host", domain, SYNTAX.domain);
    const addr = required(ctx, t, ip, "ip_address", ipAddress, SYNTAX.ip);
    const addrPort = field(ctx, t, ip, "port", port);
    const tls = field(ctx, t, ip, "tls", boolean) ?? false;
    if (host === undefined || addr === undefined) return undefined;
    return { host, ipAddress: addr, ...(addrPort === undefined ? {} : { port: addrPort }), tls } satisfies AddressEntry;
  });
  reportDuplicates(ctx, address, (e) => e.host, (i) => child(item(addressPath, i), "host"), "host");

  const retryAt = section.moved("max_retry_delay");
  const maxRetryDelayMs = field(ctx, retryAt.table, retryAt.path, "max_retry_delay", secondsToMs({ integral: true, infinity: false })) ?? d.maxRetryDelayMs;

  const maxStanza = orInfinity(integer(1, Number.MAX_SAFE_INTEGER, MAX_STANZA_EXPECTED, "a positive integer"), MAX_STANZA_EXPECTED);
  // MongooseIM 6.4+ shapes what peers send on our outbound streams too; xmpp-s2s shapes listeners only.
  field(ctx, outgoing, outgoingPath, "shaper", oneOf(["none"] as const));

  const core: S2sValues = {
    defaultPolicy,
    address: address.filter((e) => e !== undefined),
    maxRetryDelayMs,
    outgoing: {
      port: field(ctx, outgoing, outgoingPath, "port", port) ?? d.outgoingPort,
      maxStanzaSize: field(ctx, outgoing, outgoingPath, "max_stanza_size", maxStanza) ?? CONFIG_DEFAULTS.listener.maxStanzaSize,
    },
  };
  const checked = builtinS2sOwners().map((owner) => owner.validate(section));
  const config = mergeS2sValues([core, ...checked.map((c) => c.values)]);
  orderS2sProblems(ctx.problems, checkedFrom);
  for (const c of checked) c.crossCheck?.();
  return config;
}
