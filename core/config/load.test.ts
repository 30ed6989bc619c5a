/**
 * Every configuration option, one table: for each, valid spellings with the normalised value they
 * produce (including the default when absent), and invalid spellings with the dotted path the
 * problem line must start with. A final test checks that no option of the reference is missing
 * from either table.
 */
import { describe, it } from "node:test";
import { hostname } from "node:os";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isConfigError } from "../errors.js";
import { configFromObject, isValidatedConfig, parseConfig } from "./load.js";
import type { S2sConfig } from "./types.js";
import { ALL_OPTIONS } from "../../test/config/options.js";

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), "../../config/examples");
const CERT_A = join(EXAMPLES, "certs/a.example.pem");
const CERT_B = join(EXAMPLES, "certs/b.example.pem");
const CA = join(EXAMPLES, "certs/ca.pem");

/** Adds `[general] hosts = ["a.example"]` unless the snippet has its own [general]. */
function doc(snippet: string): string {
  return snippet.includes("[general]") ? snippet : `[general]\nhosts = ["a.example"]\n\n${snippet}`;
}

/** Parses with relative paths resolved against config/examples (so "certs/a.example.pem" works). */
function parse(snippet: string): S2sConfig {
  return parseConfig(doc(snippet), { baseDir: EXAMPLES, file: "test.toml" });
}

function problemsOf(snippet: string): readonly string[] {
  try {
    parse(snippet);
  } catch (err) {
    if (isConfigError(err)) return err.problems;
    throw err;
  }
  assert.fail(`expected a ConfigError for:\n${snippet}`);
}

interface ValidCase {
  /** Option name as in docs/configuration.md. */
  readonly option: string;
  readonly toml: string;
  readonly get: (c: S2sConfig) => unknown;
  readonly want: unknown;
}

interface InvalidCase {
  readonly option: string;
  readonly toml: string;
  /** The problem line must start with `${path}:`. */
  readonly path: string;
  /** And, when given, match this. */
  readonly match?: RegExp;
}

const S2S_L = (c: S2sConfig) => c.listen.s2s[0]!;
const SVC = (c: S2sConfig) => c.listen.service[0]!;
const SERVICE = (extra: string) => `[[listen.service]]\nport = 8888\npassword = "secret"\n${extra}`;

const TLS_BOTH = `[[listen.s2s]]\nport = 5269\ntls = {mode = "starttls_required", verify_mode = "none", certfile = "certs/a.example.pem"}\n[s2s.outgoing.tls]\nmode = "starttls_required"\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\n`;
const CL = `[s2s]\nshared = "s"\n[cluster]\nbackend = "redis"\nredis_url = "redis://127.0.0.1:6379"\n`;

const valid: ValidCase[] = [
  // [general]
  { option: "general.hosts", toml: `[general]\nhosts = ["A.Example", "bücher.example", "localhost", "c.example."]`, get: (c) => c.general.hosts, want: ["a.example", "xn--bcher-kva.example", "localhost", "c.example"] },
  { option: "general.loglevel", toml: `[general]\nhosts = ["a.example"]\nloglevel = "warning"`, get: (c) => c.general.hosts, want: ["a.example"] },

  // [[listen.s2s]]
  { option: "listen.s2s", toml: "", get: (c) => c.listen, want: { s2s: [], service: [], http: [] } },
  {
    option: "listen.s2s.port",
    toml: "[[listen.s2s]]\nport = 5269",
    get: S2S_L,
    want: { port: 5269, ipAddress: "0.0.0.0", maxStanzaSize: 65536, directTls: false, negotiationTimeoutMs: 30000, idleTimeoutMs: 600000, maxConnections: 10000, maxConnectionsPerIp: 100 },
  },
  { option: "listen.s2s.ip_address", toml: `[[listen.s2s]]\nport = 5269\nip_address = "::1"`, get: (c) => S2S_L(c).ipAddress, want: "::1" },
  { option: "listen.s2s.max_stanza_size", toml: "[[listen.s2s]]\nport = 5269\nmax_stanza_size = 10000", get: (c) => S2S_L(c).maxStanzaSize, want: 10000 },
  { option: "listen.s2s.max_stanza_size", toml: `[[listen.s2s]]\nport = 5269\nmax_stanza_size = "infinity"`, get: (c) => S2S_L(c).maxStanzaSize, want: Infinity },
  { option: "listen.s2s.tls.mode", toml: `[[listen.s2s]]\nport = 5270\ntls.mode = "tls"\n[s2s]\ncertfile = "certs/a.example.pem"`, get: (c) => S2S_L(c).directTls, want: true },
  { option: "listen.s2s.tls.mode", toml: `[[listen.s2s]]\nport = 5269\ntls = {mode = "starttls"}`, get: (c) => S2S_L(c).directTls, want: false },
  { option: "listen.s2s.negotiation_timeout", toml: "[[listen.s2s]]\nport = 5269\nnegotiation_timeout = 2.5", get: (c) => S2S_L(c).negotiationTimeoutMs, want: 2500 },
  { option: "listen.s2s.idle_timeout", toml: "[[listen.s2s]]\nport = 5269\nidle_timeout = 60", get: (c) => S2S_L(c).idleTimeoutMs, want: 60000 },
  { option: "listen.s2s.idle_timeout", toml: `[[listen.s2s]]\nport = 5269\nidle_timeout = "infinity"`, get: (c) => S2S_L(c).idleTimeoutMs, want: Infinity },
  { option: "listen.s2s.shaper", toml: `[[listen.s2s]]\nport = 5269\nshaper = "fast"\n[shaper.fast]\nmax_rate = 50_000`, get: (c) => S2S_L(c).shaper, want: { name: "fast", maxRate: 50000 } },
  { option: "listen.s2s.shaper", toml: `[[listen.s2s]]\nport = 5269\nshaper = "none"`, get: (c) => S2S_L(c).shaper, want: undefined },
  { option: "cluster.backend", toml: CL, get: (c) => c.cluster?.backend, want: "redis" },
  { option: "cluster.redis_url", toml: `[s2s]\nshared = "s"\n[cluster]\nbackend = "redis"\nredis_url = "rediss://:pw@redis.example:6380/2"`, get: (c) => c.cluster?.redisUrl, want: "rediss://:pw@redis.example:6380/2" },
  { option: "cluster.node", toml: `${CL}node = "n1"`, get: (c) => c.cluster?.node, want: "n1" },
  { option: "cluster.node", toml: CL, get: (c) => c.cluster?.node, want: hostname() },
  { option: "cluster.lease_seconds", toml: CL, get: (c) => c.cluster?.leaseMs, want: 10_000 },
  { option: "cluster.lease_seconds", toml: `${CL}lease_seconds = 3`, get: (c) => c.cluster?.leaseMs, want: 3000 },
  { option: "shaper.max_rate", toml: `[shaper.normal]\nmax_rate = 1000\n[[listen.s2s]]\nport = 5269\nshaper = "normal"`, get: (c) => S2S_L(c).shaper?.maxRate, want: 1000 },
  { option: "listen.s2s.max_connections", toml: "[[listen.s2s]]\nport = 5269\nmax_connections = 500", get: (c) => S2S_L(c).maxConnections, want: 500 },
  { option: "listen.s2s.max_connections", toml: `[[listen.s2s]]\nport = 5269\nmax_connections = "infinity"`, get: (c) => S2S_L(c).maxConnections, want: Infinity },
  { option: "listen.s2s.max_connections_per_ip", toml: "[[listen.s2s]]\nport = 5269\nmax_connections_per_ip = 2000", get: (c) => S2S_L(c).maxConnectionsPerIp, want: 2000 },
  { option: "listen.s2s.num_acceptors", toml: "[[listen.s2s]]\nport = 5269\nnum_acceptors = 10", get: (c) => S2S_L(c).port, want: 5269 },
  { option: "listen.s2s.backlog", toml: "[[listen.s2s]]\nport = 5269\nbacklog = 1024", get: (c) => S2S_L(c).port, want: 5269 },
  { option: "listen.s2s.proto", toml: `[[listen.s2s]]\nport = 5269\nproto = "tcp"`, get: (c) => S2S_L(c).port, want: 5269 },
  { option: "listen.s2s.ip_version", toml: `[[listen.s2s]]\nport = 5269\nip_version = 6`, get: (c) => S2S_L(c).ipAddress, want: "::" },
  { option: "listen.s2s.ip_version", toml: `[[listen.s2s]]\nport = 5269\nip_version = 4\nip_address = "127.0.0.1"`, get: (c) => S2S_L(c).ipAddress, want: "127.0.0.1" },
  { option: "listen.s2s.hibernate_after", toml: "[[listen.s2s]]\nport = 5269\nhibernate_after = 0", get: (c) => S2S_L(c).port, want: 5269 },

  // [[listen.service]]
  {
    option: "listen.service.port",
    toml: SERVICE(""),
    get: SVC,
    want: {
      port: 8888, ipAddress: "0.0.0.0", maxStanzaSize: 65536, negotiationTimeoutMs: 30000, idleTimeoutMs: 600000,
      password: "secret", conflictBehaviour: "disconnect", checkFrom: true,
    },
  },
  { option: "listen.service.password", toml: SERVICE(""), get: (c) => SVC(c).password, want: "secret" },
  { option: "listen.service.ip_address", toml: SERVICE(`ip_address = "127.0.0.1"`), get: (c) => SVC(c).ipAddress, want: "127.0.0.1" },
  { option: "listen.service.max_stanza_size", toml: SERVICE(`max_stanza_size = "infinity"`), get: (c) => SVC(c).maxStanzaSize, want: Infinity },
  { option: "listen.service.negotiation_timeout", toml: SERVICE("negotiation_timeout = 5"), get: (c) => SVC(c).negotiationTimeoutMs, want: 5000 },
  { option: "listen.service.idle_timeout", toml: SERVICE("idle_timeout = 0.25"), get: (c) => SVC(c).idleTimeoutMs, want: 250 },
  { option: "listen.service.conflict_behaviour", toml: SERVICE(`conflict_behaviour = "kick_old"`), get: (c) => SVC(c).conflictBehaviour, want: "kick_old" },
  { option: "listen.service.check_from", toml: SERVICE("check_from = false"), get: (c) => SVC(c).checkFrom, want: false },
  { option: "listen.service.shaper_rule", toml: SERVICE(`shaper_rule = "fast"\n[shaper.fast]\nmax_rate = 50_000`), get: (c) => SVC(c).shaper, want: { name: "fast", maxRate: 50000 } },
  { option: "listen.service.shaper", toml: SERVICE(`shaper = "fast"\n[shaper.fast]\nmax_rate = 50_000`), get: (c) => SVC(c).shaper, want: { name: "fast", maxRate: 50000 } },
  { option: "listen.service.num_acceptors", toml: SERVICE("num_acceptors = 1"), get: (c) => SVC(c).port, want: 8888 },
  { option: "listen.service.backlog", toml: SERVICE("backlog = 5"), get: (c) => SVC(c).port, want: 8888 },
  { option: "listen.service.proto", toml: SERVICE(`proto = "tcp"`), get: (c) => SVC(c).port, want: 8888 },
  { option: "listen.service.hibernate_after", toml: SERVICE("hibernate_after = 100"), get: (c) => SVC(c).port, want: 8888 },
  { option: "listen.service.ip_version", toml: SERVICE(`ip_version = 6\nip_address = "::1"`), get: (c) => SVC(c).ipAddress, want: "::1" },

  // [s2s]: defaults first
  {
    option: "s2s",
    toml: "",
    get: (c) => c.s2s,
    want: {
      defaultPolicy: "allow", hostPolicy: [], useStarttls: "false", domainCertfile: [], address: [], ciphers: "TLSv1.2:TLSv1.3",
      maxRetryDelayMs: 300000, outgoing: { port: 5269, ipVersions: [4, 6], connectionTimeoutMs: 10000, maxStanzaSize: 65536 }, dns: { timeoutMs: 10000, retries: 2 },
    },
  },
  { option: "s2s.default_policy", toml: `[s2s]\ndefault_policy = "deny"`, get: (c) => c.s2s.defaultPolicy, want: "deny" },
  {
    option: "s2s.host_policy",
    toml: `[s2s]\nhost_policy = [{host = "Good.Example", policy = "allow"}, {host = "bad.example", policy = "deny"}]`,
    get: (c) => c.s2s.hostPolicy,
    want: [{ host: "good.example", policy: "allow" }, { host: "bad.example", policy: "deny" }],
  },
  { option: "s2s.use_starttls", toml: `[s2s]\nuse_starttls = "false"`, get: (c) => c.s2s.useStarttls, want: "false" },
  { option: "s2s.use_starttls", toml: `[s2s]\nuse_starttls = "optional"\ncertfile = "certs/a.example.pem"`, get: (c) => c.s2s.useStarttls, want: "optional" },
  { option: "s2s.use_starttls", toml: `[s2s]\nuse_starttls = "required"\ncertfile = "certs/a.example.pem"`, get: (c) => c.s2s.useStarttls, want: "required" },
  { option: "s2s.use_starttls", toml: `[s2s]\nuse_starttls = "required_trusted"\ncertfile = "certs/a.example.pem"`, get: (c) => c.s2s.useStarttls, want: "required_trusted" },
  { option: "s2s.certfile", toml: `[s2s]\ncertfile = "certs/a.example.pem"`, get: (c) => c.s2s.certfile, want: CERT_A },
  { option: "s2s.certfile", toml: `[s2s]\ncertfile = ${JSON.stringify(CERT_A)}`, get: (c) => c.s2s.certfile, want: CERT_A },
  {
    option: "s2s.domain_certfile",
    toml: `[general]\nhosts = ["a.example", "b.example"]\n[s2s]\nuse_starttls = "required"\ndomain_certfile = [{domain = "a.example", certfile = "certs/a.example.pem"}, {domain = "B.example", certfile = "certs/b.example.pem"}]`,
    get: (c) => c.s2s.domainCertfile,
    want: [{ domain: "a.example", certfile: CERT_A }, { domain: "b.example", certfile: CERT_B }],
  },
  { option: "s2s.shared", toml: `[s2s]\nshared = "82gc8b23ct7824"`, get: (c) => c.s2s.shared, want: "82gc8b23ct7824" },
  { option: "s2s.shared", toml: "", get: (c) => c.s2s.shared, want: undefined },
  { option: "s2s.shared", toml: `[s2s]\nshared = ["n3w", "0ld"]`, get: (c) => [c.s2s.shared, ...(c.s2s.sharedSecrets ?? [])], want: ["n3w", "n3w", "0ld"] },
  {
    option: "s2s.address",
    toml: `[s2s]\naddress = [{host = "My.Example", ip_address = "192.0.2.1"}, {host = "your.example", ip_address = "2001:db8::1", port = 5271, tls = true}]`,
    get: (c) => c.s2s.address,
    want: [
      { host: "my.example", ipAddress: "192.0.2.1", tls: false },
      { host: "your.example", ipAddress: "2001:db8::1", port: 5271, tls: true },
    ],
  },
  { option: "s2s.ciphers", toml: `[s2s]\nciphers = "HIGH:!aNULL"`, get: (c) => c.s2s.ciphers, want: "HIGH:!aNULL" },
  { option: "s2s.max_retry_delay", toml: "[s2s]\nmax_retry_delay = 60", get: (c) => c.s2s.maxRetryDelayMs, want: 60000 },
  { option: "s2s.outgoing.port", toml: "[s2s]\noutgoing.port = 5270", get: (c) => c.s2s.outgoing.port, want: 5270 },
  { option: "s2s.outgoing.port", toml: "[s2s.outgoing]\nport = 5271", get: (c) => c.s2s.outgoing.port, want: 5271 },
  { option: "s2s.outgoing.ip_versions", toml: "[s2s]\noutgoing.ip_versions = [6]", get: (c) => c.s2s.outgoing.ipVersions, want: [6] },
  { option: "s2s.outgoing.ip_versions", toml: "[s2s]\noutgoing = {ip_versions = [6, 4]}", get: (c) => c.s2s.outgoing.ipVersions, want: [6, 4] },
  { option: "s2s.outgoing.connection_timeout", toml: "[s2s]\noutgoing.connection_timeout = 5000", get: (c) => c.s2s.outgoing.connectionTimeoutMs, want: 5000 },
  { option: "s2s.outgoing.connection_timeout", toml: `[s2s]\noutgoing.connection_timeout = "infinity"`, get: (c) => c.s2s.outgoing.connectionTimeoutMs, want: Infinity },
  { option: "s2s.dns.timeout", toml: "[s2s]\ndns.timeout = 3", get: (c) => c.s2s.dns.timeoutMs, want: 3000 },
  { option: "s2s.dns.retries", toml: "[s2s]\ndns.retries = 1", get: (c) => c.s2s.dns.retries, want: 1 },
  { option: "s2s.cacertfile", toml: `[s2s]\ncacertfile = "certs/ca.pem"`, get: (c) => c.s2s.cacertfile, want: CA },

  // [plugins]
  { option: "plugins", toml: "", get: (c) => c.plugins, want: {} },
  {
    option: "plugins",
    toml: `[plugins.echo]\nenabled = false\n[plugins.limits]\nmax = 10\nratio = 0.5\nnames = ["x"]`,
    get: (c) => c.plugins,
    want: { echo: { enabled: false }, limits: { max: 10, ratio: 0.5, names: ["x"] } },
  },
  // MongooseIM 6.4+ layout (tls-layout.ts, docs/configuration.md "MongooseIM versions and migration")
  { option: "s2s.keyfile", toml: `[s2s]\ncertfile = "certs/a.example.pem"\nkeyfile = "certs/a.example.pem"`, get: (c) => c.s2s.keyfile, want: CERT_A },
  { option: "s2s.outgoing.address", toml: `[s2s.outgoing]\naddress = [{host = "b.example", ip_address = "192.0.2.1"}]`, get: (c) => c.s2s.address, want: [{ host: "b.example", ipAddress: "192.0.2.1", tls: false }] },
  { option: "s2s.outgoing.max_retry_delay", toml: "[s2s.outgoing]\nmax_retry_delay = 60", get: (c) => c.s2s.maxRetryDelayMs, want: 60000 },
  { option: "s2s.outgoing.shaper", toml: `[s2s.outgoing]\nshaper = "none"`, get: (c) => c.s2s.outgoing.port, want: 5269 },
  { option: "s2s.outgoing.max_stanza_size", toml: `[s2s.outgoing]\nmax_stanza_size = "infinity"`, get: (c) => c.s2s.outgoing.maxStanzaSize, want: Infinity },
  { option: "s2s.outgoing.dns.timeout", toml: "[s2s.outgoing]\ndns.timeout = 30", get: (c) => c.s2s.dns.timeoutMs, want: 30000 },
  { option: "s2s.outgoing.dns.retries", toml: "[s2s.outgoing]\ndns.retries = 1", get: (c) => c.s2s.dns.retries, want: 1 },
  { option: "s2s.outgoing.tls.mode", toml: `[s2s.outgoing.tls]\nmode = "starttls"\nverify_mode = "none"\ncertfile = "certs/a.example.pem"`, get: (c) => c.s2s.useStarttls, want: "optional" },
  { option: "s2s.outgoing.tls.verify_mode", toml: `[s2s.outgoing.tls]\nmode = "starttls_required"\nverify_mode = "peer"\ncertfile = "certs/a.example.pem"`, get: (c) => c.s2s.useStarttls, want: "required_trusted" },
  { option: "s2s.outgoing.tls.certfile", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"`, get: (c) => c.s2s.certfile, want: CERT_A },
  { option: "s2s.outgoing.tls.keyfile", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\nkeyfile = "certs/a.example.pem"`, get: (c) => c.s2s.keyfile, want: CERT_A },
  { option: "s2s.outgoing.tls.cacertfile", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\ncacertfile = "certs/ca.pem"`, get: (c) => c.s2s.cacertfile, want: join(EXAMPLES, "certs/ca.pem") },
  { option: "s2s.outgoing.tls.ciphers", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\nciphers = "HIGH:!aNULL"`, get: (c) => c.s2s.ciphers, want: "HIGH:!aNULL" },
  { option: "s2s.outgoing.tls.versions", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\nversions = ["tlsv1.3", "tlsv1.2"]`, get: (c) => c.s2s.useStarttls, want: "optional" },
  { option: "s2s.outgoing.tls.disconnect_on_failure", toml: `[s2s.outgoing.tls]\ndisconnect_on_failure = false\ncertfile = "certs/a.example.pem"`, get: (c) => c.s2s.useStarttls, want: "optional" },
  { option: "s2s.outgoing.tls.keep_secrets", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\nkeep_secrets = false\ncertfile = "certs/a.example.pem"`, get: (c) => c.s2s.useStarttls, want: "optional" },
  { option: "s2s.outgoing.tls.server_name_indication", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\nserver_name_indication.enabled = true\ncertfile = "certs/a.example.pem"`, get: (c) => c.s2s.useStarttls, want: "optional" },
  { option: "listen.s2s.tls.verify_mode", toml: TLS_BOTH, get: (c) => c.s2s.useStarttls, want: "required" },
  { option: "listen.s2s.tls.certfile", toml: TLS_BOTH, get: (c) => c.s2s.certfile, want: CERT_A },
  { option: "listen.s2s.tls.keyfile", toml: `[[listen.s2s]]\nport = 5269\ntls = {verify_mode = "none", certfile = "certs/a.example.pem", keyfile = "certs/a.example.pem"}\n[s2s.outgoing.tls]\nverify_mode = "none"\ndisconnect_on_failure = false\ncertfile = "certs/a.example.pem"\nkeyfile = "certs/a.example.pem"`, get: (c) => c.s2s.keyfile, want: CERT_A },
  { option: "listen.s2s.tls.cacertfile", toml: TLS_BOTH.replace('verify_mode = "none", ', 'verify_mode = "none", cacertfile = "certs/ca.pem", '), get: (c) => c.s2s.cacertfile, want: join(EXAMPLES, "certs/ca.pem") },
  { option: "listen.s2s.tls.ciphers", toml: TLS_BOTH.replace('verify_mode = "none", ', 'verify_mode = "none", ciphers = "HIGH", '), get: (c) => c.s2s.ciphers, want: "HIGH" },
  { option: "listen.s2s.tls.versions", toml: TLS_BOTH.replace('verify_mode = "none", ', 'verify_mode = "none", versions = ["tlsv1.2", "tlsv1.3"], '), get: (c) => c.s2s.useStarttls, want: "required" },
  { option: "listen.s2s.tls.disconnect_on_failure", toml: TLS_BOTH.replace(/verify_mode = "none"/g, "disconnect_on_failure = false"), get: (c) => c.s2s.useStarttls, want: "required" },
  { option: "listen.s2s.tls.keep_secrets", toml: TLS_BOTH.replace('verify_mode = "none", ', 'verify_mode = "none", keep_secrets = false, '), get: (c) => c.s2s.useStarttls, want: "required" },
  { option: "listen.s2s.proxy_protocol", toml: "[[listen.s2s]]\nport = 5269\nproxy_protocol = false", get: (c) => c.listen.s2s.length, want: 1 },
  { option: "listen.s2s.reuse_port", toml: "[[listen.s2s]]\nport = 5269\nreuse_port = false", get: (c) => c.listen.s2s.length, want: 1 },
  { option: "listen.component.access", toml: `[[listen.component]]\nport = 8888\npassword = "p"\naccess = "all"`, get: (c) => c.listen.service.length, want: 1 },
  { option: "listen.component.hidden_components", toml: `[[listen.component]]\nport = 8888\npassword = "p"\nhidden_components = true`, get: (c) => c.listen.service.length, want: 1 },
];

const invalid: InvalidCase[] = [
  // top level
  { option: "(top level)", toml: `[s2ss]\nshared = "x"`, path: "s2ss", match: /unknown key .*did you mean "s2s"\?/ },
  { option: "(top level)", toml: `[modules]\nmod_ping = {}`, path: "modules", match: /MongooseIM section/ },

  // [general]
  { option: "general.hosts", toml: `[general]\nloglevel = "info"`, path: "general.hosts", match: /^general\.hosts: missing \(expected / },
  { option: "general.hosts", toml: `# no [general] section at all\n[s2s]\nshared = "x"`, path: "general.hosts", match: /missing/ },
  { option: "general.hosts", toml: `[general]\nhosts = []`, path: "general.hosts", match: /empty/ },
  { option: "general.hosts", toml: `[general]\nhosts = "a.example"`, path: "general.hosts", match: /not an array/ },
  { option: "general.hosts", toml: `[general]\nhosts = ["a.example", "A.EXAMPLE"]`, path: "general.hosts[1]", match: /duplicate host/ },
  { option: "general.hosts", toml: `[general]\nhosts = ["a_b.example"]`, path: "general.hosts[0]", match: /not a valid domain name/ },
  { option: "general.hosts", toml: `[general]\nhosts = ["a.example/x"]`, path: "general.hosts[0]" },
  { option: "general.hosts", toml: `[general]\nhosts = [1]`, path: "general.hosts[0]", match: /not a string/ },
  { option: "general.loglevel", toml: `[general]\nhosts = ["a.example"]\nloglevel = "verbose"`, path: "general.loglevel" },
  { option: "general.loglevel", toml: `[general]\nhosts = ["a.example"]\nlanguage = "en"`, path: "general.language", match: /unknown key/ },
  { option: "general.loglevel", toml: `[general]\nhosts = ["a.example"]\nhost_types = ["t"]`, path: "general.host_types", match: /dynamic domains/ },

  // [[listen.s2s]]
  { option: "listen.s2s", toml: "[listen.s2s]\nport = 5269", path: "listen.s2s", match: /\[\[listen\.s2s\]\]/ },
  { option: "listen.s2s", toml: "[[listen.c2s]]\nport = 5222", path: "listen.c2s", match: /unknown key/ },
  { option: "listen.s2s.port", toml: "[[listen.s2s]]\nip_address = \"127.0.0.1\"", path: "listen.s2s[0].port", match: /missing/ },
  { option: "listen.s2s.port", toml: `[[listen.s2s]]\nport = "seaport"`, path: "listen.s2s[0].port", match: /got "seaport", expected an integer port number 1-65535/ },
  { option: "listen.s2s.port", toml: "[[listen.s2s]]\nport = 0", path: "listen.s2s[0].port", match: /out of range/ },
  { option: "listen.s2s.port", toml: "[[listen.s2s]]\nport = 65536", path: "listen.s2s[0].port" },
  { option: "listen.s2s.port", toml: "[[listen.s2s]]\nport = 5269.0", path: "listen.s2s[0].port", match: /got 5269\.0/ },
  { option: "listen.s2s.port", toml: "[[listen.s2s]]\nport = 5269\n[[listen.s2s]]\nport = 5269", path: "listen.s2s[1].port", match: /already used by listen\.s2s\[0\]/ },
  { option: "listen.s2s.ip_address", toml: `[[listen.s2s]]\nport = 5269\nip_address = "localhost"`, path: "listen.s2s[0].ip_address", match: /not an IP address/ },
  { option: "listen.s2s.ip_address", toml: `[[listen.s2s]]\nport = 5269\nip_address = "::1"\n[[listen.s2s]]\nport = 5269\nip_address = "0:0::1"`, path: "listen.s2s[1].port", match: /already in use/ },
  { option: "listen.s2s.max_stanza_size", toml: "[[listen.s2s]]\nport = 5269\nmax_stanza_size = 0", path: "listen.s2s[0].max_stanza_size" },
  { option: "listen.s2s.max_stanza_size", toml: `[[listen.s2s]]\nport = 5269\nmax_stanza_size = "64k"`, path: "listen.s2s[0].max_stanza_size" },
  { option: "listen.s2s.tls.mode", toml: `[[listen.s2s]]\nport = 5269\ntls.mode = "ssl"`, path: "listen.s2s[0].tls.mode" },
  // MongooseIM 6.4+ layout: a listener's tls.certfile is read (and must exist), and asks for [s2s.outgoing.tls] too.
  { option: "listen.s2s.tls.certfile", toml: `[[listen.s2s]]\nport = 5269\ntls.certfile = "x.pem"`, path: "listen.s2s[0].tls.certfile", match: /cannot read/ },
  { option: "listen.s2s.tls.mode", toml: `[[listen.s2s]]\nport = 5269\ntls = "tls"`, path: "listen.s2s[0].tls", match: /not a table/ },
  { option: "listen.s2s.tls.mode", toml: `[[listen.s2s]]\nport = 5270\ntls.mode = "tls"`, path: "s2s.certfile", match: /no certificate covers local host "a\.example".*direct TLS/ },
  { option: "listen.s2s.negotiation_timeout", toml: "[[listen.s2s]]\nport = 5269\nnegotiation_timeout = 0", path: "listen.s2s[0].negotiation_timeout" },
  { option: "listen.s2s.negotiation_timeout", toml: `[[listen.s2s]]\nport = 5269\nnegotiation_timeout = "infinity"`, path: "listen.s2s[0].negotiation_timeout" },
  { option: "listen.s2s.idle_timeout", toml: "[[listen.s2s]]\nport = 5269\nidle_timeout = -1", path: "listen.s2s[0].idle_timeout" },
  { option: "listen.s2s.idle_timeout", toml: "[[listen.s2s]]\nport = 5269\nidle_timeout = 3000000", path: "listen.s2s[0].idle_timeout", match: /at most 2147483/ },
  { option: "listen.s2s.shaper", toml: "[[listen.s2s]]\nport = 5269\nshaper = 1", path: "listen.s2s[0].shaper" },
  { option: "listen.s2s.shaper", toml: `[[listen.s2s]]\nport = 5269\nshaper = "s2s_shaper"`, path: "listen.s2s[0].shaper", match: /undefined shaper \(got "s2s_shaper", expected "none" or the name of a \[shaper\.NAME\] table \(none is defined\)\)/ },
  { option: "cluster.backend", toml: `[s2s]\nshared = "s"\n[cluster]\nbackend = "mnesia"\nredis_url = "redis://h"`, path: "cluster.backend", match: /unknown value/ },
  { option: "cluster.backend", toml: `[s2s]\nshared = "s"\n[cluster]\nredis_url = "redis://h"`, path: "cluster.backend", match: /missing/ },
  { option: "cluster.redis_url", toml: `[s2s]\nshared = "s"\n[cluster]\nbackend = "redis"\nredis_url = "http://h:6379"`, path: "cluster.redis_url", match: /unsupported scheme/ },
  { option: "cluster.redis_url", toml: `[s2s]\nshared = "s"\n[cluster]\nbackend = "redis"`, path: "cluster.redis_url", match: /missing/ },
  { option: "cluster.node", toml: `${CL}node = ""`, path: "cluster.node", match: /empty/ },
  { option: "cluster.lease_seconds", toml: `${CL}lease_seconds = 1`, path: "cluster.lease_seconds", match: /out of range/ },
  { option: "cluster.lease_seconds", toml: `${CL}lease = 5`, path: "cluster.lease", match: /did you mean "lease_seconds"\?/ },
  { option: "s2s.shared", toml: `[cluster]\nbackend = "redis"\nredis_url = "redis://h"`, path: "s2s.shared", match: /secret common to every node/ },
  { option: "shaper.max_rate", toml: "[shaper.fast]\nmax_rate = 0", path: "shaper.fast.max_rate", match: /out of range \(got 0, expected a positive integer number of bytes per second/ },
  { option: "shaper.max_rate", toml: "[shaper.fast]\nmaxrate = 10", path: "shaper.fast.maxrate", match: /did you mean "max_rate"\?/ },
  { option: "shaper.max_rate", toml: "[shaper.fast]", path: "shaper.fast.max_rate", match: /missing/ },
  { option: "listen.s2s.max_connections", toml: "[[listen.s2s]]\nport = 5269\nmax_connections = 0", path: "listen.s2s[0].max_connections", match: /out of range \(got 0, expected a positive integer or "infinity"\)/ },
  { option: "listen.s2s.max_connections_per_ip", toml: `[[listen.s2s]]\nport = 5269\nmax_connections_per_ip = "lots"`, path: "listen.s2s[0].max_connections_per_ip" },
  { option: "listen.s2s.num_acceptors", toml: "[[listen.s2s]]\nport = 5269\nnum_acceptors = 0", path: "listen.s2s[0].num_acceptors" },
  { option: "listen.s2s.backlog", toml: `[[listen.s2s]]\nport = 5269\nbacklog = "big"`, path: "listen.s2s[0].backlog" },
  { option: "listen.s2s.proto", toml: `[[listen.s2s]]\nport = 5269\nproto = "udp"`, path: "listen.s2s[0].proto" },
  { option: "listen.s2s.ip_version", toml: `[[listen.s2s]]\nport = 5269\nip_version = 5`, path: "listen.s2s[0].ip_version" },
  { option: "listen.s2s.ip_version", toml: `[[listen.s2s]]\nport = 5269\nip_version = 6\nip_address = "127.0.0.1"`, path: "listen.s2s[0].ip_version", match: /does not match ip_address/ },
  { option: "listen.s2s.hibernate_after", toml: "[[listen.s2s]]\nport = 5269\nhibernate_after = -1", path: "listen.s2s[0].hibernate_after" },
  { option: "listen.s2s.port", toml: "[[listen.s2s]]\nport = 5269\nportt = 1", path: "listen.s2s[0].portt", match: /did you mean "port"\?/ },

  // [[listen.service]]
  { option: "listen.service.port", toml: `[[listen.service]]\npassword = "x"`, path: "listen.service[0].port", match: /missing/ },
  { option: "listen.service.port", toml: `[[listen.s2s]]\nport = 8888\n${SERVICE("")}`, path: "listen.service[0].port", match: /already used by listen\.s2s\[0\]/ },
  { option: "listen.service.password", toml: "[[listen.service]]\nport = 8888", path: "listen.service[0].password", match: /missing/ },
  { option: "listen.service.password", toml: `[[listen.service]]\nport = 8888\npassword = ""`, path: "listen.service[0].password", match: /empty/ },
  { option: "listen.service.ip_address", toml: SERVICE(`ip_address = "1.2.3"`), path: "listen.service[0].ip_address" },
  { option: "listen.service.max_stanza_size", toml: SERVICE("max_stanza_size = 1.5"), path: "listen.service[0].max_stanza_size" },
  { option: "listen.service.negotiation_timeout", toml: SERVICE(`negotiation_timeout = "30s"`), path: "listen.service[0].negotiation_timeout" },
  { option: "listen.service.idle_timeout", toml: SERVICE("idle_timeout = 0"), path: "listen.service[0].idle_timeout" },
  { option: "listen.service.conflict_behaviour", toml: SERVICE(`conflict_behaviour = "kick-old"`), path: "listen.service[0].conflict_behaviour", match: /did you mean "kick_old"\?/ },
  { option: "listen.service.check_from", toml: SERVICE(`check_from = "true"`), path: "listen.service[0].check_from" },
  { option: "listen.service.shaper_rule", toml: SERVICE("shaper_rule = true"), path: "listen.service[0].shaper_rule" },
  { option: "listen.service.shaper", toml: SERVICE("shaper = []"), path: "listen.service[0].shaper" },
  { option: "listen.service.num_acceptors", toml: SERVICE("num_acceptors = -3"), path: "listen.service[0].num_acceptors" },
  { option: "listen.service.backlog", toml: SERVICE("backlog = 0"), path: "listen.service[0].backlog" },
  { option: "listen.service.proto", toml: SERVICE(`proto = "sctp"`), path: "listen.service[0].proto" },
  { option: "listen.service.hibernate_after", toml: SERVICE(`hibernate_after = "never"`), path: "listen.service[0].hibernate_after" },
  { option: "listen.service.ip_version", toml: SERVICE(`ip_version = 4\nip_address = "::1"`), path: "listen.service[0].ip_version" },
  { option: "listen.service.port", toml: SERVICE(`tls.mode = "tls"`), path: "listen.service[0].tls", match: /unknown key/ },

  // [s2s] (every key MongooseIM documents, including those whose behaviour differs from its docs)
  { option: "s2s", toml: `[s2s]\nuse_startls = "required"`, path: "s2s.use_startls", match: /^s2s\.use_startls: unknown key \(got "required", expected one of .*; did you mean "use_starttls"\?\)$/ },
  { option: "s2s", toml: "[s2s]\ndns_timeout = 3", path: "s2s.dns_timeout", match: /did you mean "dns\.timeout"\?/ },
  { option: "s2s", toml: "[s2s]\nport = 5270", path: "s2s.port", match: /did you mean "outgoing\.port"\?/ },
  { option: "s2s.default_policy", toml: `[s2s]\ndefault_policy = "ask"`, path: "s2s.default_policy", match: /got "ask", expected one of "allow", "deny"/ },
  { option: "s2s.host_policy", toml: `[s2s]\nhost_policy = [{host = "b.example", policy = "allow"}, {host = "B.example", policy = "deny"}]`, path: "s2s.host_policy[1].host", match: /duplicate host/ },
  { option: "s2s.host_policy", toml: `[s2s]\nhost_policy = [{host = "b.example", policy = "maybe"}]`, path: "s2s.host_policy[0].policy" },
  { option: "s2s.host_policy", toml: `[s2s]\nhost_policy = [{policy = "deny"}]`, path: "s2s.host_policy[0].host", match: /missing/ },
  { option: "s2s.host_policy", toml: `[s2s]\nhost_policy = [{host = "b.example"}]`, path: "s2s.host_policy[0].policy", match: /missing/ },
  { option: "s2s.host_policy", toml: `[s2s]\nhost_policy = [{host = "b.example", policy = "deny", reason = "x"}]`, path: "s2s.host_policy[0].reason", match: /unknown key/ },
  { option: "s2s.host_policy", toml: `[s2s]\nhost_policy = "allow"`, path: "s2s.host_policy", match: /not an array/ },
  { option: "s2s.use_starttls", toml: `[s2s]\nuse_starttls = "sometimes"`, path: "s2s.use_starttls", match: /unknown value/ },
  { option: "s2s.use_starttls", toml: `[s2s]\nuse_starttls = false`, path: "s2s.use_starttls", match: /got false, expected one of "false", "optional", "required", "required_trusted"; write it as a string: "false"/ },
  { option: "s2s.use_starttls", toml: `[s2s]\nuse_starttls = "required"`, path: "s2s.certfile", match: /^s2s\.certfile: no certificate covers local host "a\.example" \(got no certfile and no domain_certfile entry, expected .*use_starttls = "required"\)$/ },
  { option: "s2s.certfile", toml: `[s2s]\ncertfile = "certs/missing.pem"`, path: "s2s.certfile", match: /file not found \(got "certs\/missing\.pem"/ },
  { option: "s2s.certfile", toml: `[s2s]\ncertfile = "certs/ca.pem"`, path: "s2s.certfile", match: /no PEM private key/ },
  { option: "s2s.certfile", toml: `[s2s]\ncertfile = "certs"`, path: "s2s.certfile", match: /is a directory/ },
  { option: "s2s.certfile", toml: `[s2s]\nuse_starttls = "optional"\ncertfile = "certs/b.example.pem"`, path: "s2s.certfile", match: /no certificate covers local host "a\.example" \(got .*DNS:b\.example/ },
  { option: "s2s.certfile", toml: `[s2s]\ncertfile = 1`, path: "s2s.certfile", match: /not a string/ },
  { option: "s2s.domain_certfile", toml: `[s2s]\ndomain_certfile = [{domain = "c.example", certfile = "certs/a.example.pem"}]`, path: "s2s.domain_certfile[0].domain", match: /not a local host/ },
  {
    option: "s2s.domain_certfile",
    toml: `[s2s]\ndomain_certfile = [{domain = "a.example", certfile = "certs/a.example.pem"}, {domain = "a.example", certfile = "certs/a.example.pem"}]`,
    path: "s2s.domain_certfile[1].domain",
    match: /duplicate domain/,
  },
  { option: "s2s.domain_certfile", toml: `[s2s]\ndomain_certfile = [{domain = "a.example", certfile = "certs/b.example.pem"}]`, path: "s2s.domain_certfile[0].certfile", match: /does not cover its domain "a\.example"/ },
  { option: "s2s.domain_certfile", toml: `[s2s]\ndomain_certfile = [{domain = "a.example", certfile = "nope.pem"}]`, path: "s2s.domain_certfile[0].certfile", match: /file not found/ },
  { option: "s2s.domain_certfile", toml: `[s2s]\ndomain_certfile = [{domain = "a.example"}]`, path: "s2s.domain_certfile[0].certfile", match: /missing/ },
  { option: "s2s.shared", toml: "[s2s]\nshared = 1", path: "s2s.shared", match: /not a string/ },
  { option: "s2s.shared", toml: `[s2s]\nshared = ""`, path: "s2s.shared", match: /empty/ },
  { option: "s2s.shared", toml: `[s2s]\nshared = []`, path: "s2s.shared", match: /empty/ },
  { option: "s2s.shared", toml: `[s2s]\nshared = ["a", "a"]`, path: "s2s.shared[1]", match: /duplicate secret/ },
  { option: "s2s.address", toml: `[s2s]\naddress = [{host = "b.example", ip_address = "300.0.0.1"}]`, path: "s2s.address[0].ip_address", match: /not an IP address/ },
  { option: "s2s.address", toml: `[s2s]\naddress = [{host = "b.example", ip_address = "192.0.2.1", port = 0}]`, path: "s2s.address[0].port" },
  { option: "s2s.address", toml: `[s2s]\naddress = [{host = "b.example", ip_address = "192.0.2.1", port = "5269"}]`, path: "s2s.address[0].port" },
  { option: "s2s.address", toml: `[s2s]\naddress = [{ip_address = "192.0.2.1"}]`, path: "s2s.address[0].host", match: /missing/ },
  { option: "s2s.address", toml: `[s2s]\naddress = [{host = "b.example"}]`, path: "s2s.address[0].ip_address", match: /missing/ },
  { option: "s2s.address", toml: `[s2s]\naddress = [{host = "b.example", ip_address = "192.0.2.1", tls = "yes"}]`, path: "s2s.address[0].tls" },
  {
    option: "s2s.address",
    toml: `[s2s]\naddress = [{host = "b.example", ip_address = "192.0.2.1"}, {host = "b.example", ip_address = "192.0.2.2"}]`,
    path: "s2s.address[1].host",
    match: /duplicate host/,
  },
  { option: "s2s.ciphers", toml: "[s2s]\nciphers = 1", path: "s2s.ciphers", match: /not a string/ },
  { option: "s2s.ciphers", toml: `[s2s]\nciphers = "NO-SUCH-CIPHER"`, path: "s2s.ciphers", match: /not a usable cipher list/ },
  { option: "s2s.max_retry_delay", toml: "[s2s]\nmax_retry_delay = 0", path: "s2s.max_retry_delay" },
  { option: "s2s.max_retry_delay", toml: "[s2s]\nmax_retry_delay = 1.5", path: "s2s.max_retry_delay" },
  { option: "s2s.outgoing.port", toml: `[s2s]\noutgoing.port = "x"`, path: "s2s.outgoing.port", match: /not a port number \(got "x"/ },
  { option: "s2s.outgoing.port", toml: "[s2s]\noutgoing = 5269", path: "s2s.outgoing", match: /not a table/ },
  { option: "s2s.outgoing.port", toml: "[s2s]\noutgoing.prot = 5269", path: "s2s.outgoing.prot", match: /did you mean "port"\?/ },
  { option: "s2s.outgoing.ip_versions", toml: "[s2s]\noutgoing.ip_versions = []", path: "s2s.outgoing.ip_versions", match: /empty/ },
  { option: "s2s.outgoing.ip_versions", toml: `[s2s]\noutgoing.ip_versions = [4, "6"]`, path: "s2s.outgoing.ip_versions[1]" },
  { option: "s2s.outgoing.ip_versions", toml: "[s2s]\noutgoing.ip_versions = [4, 4]", path: "s2s.outgoing.ip_versions[1]", match: /duplicate/ },
  { option: "s2s.outgoing.ip_versions", toml: "[s2s]\noutgoing.ip_versions = [5]", path: "s2s.outgoing.ip_versions[0]" },
  { option: "s2s.outgoing.ip_versions", toml: "[s2s]\noutgoing.ip_versions = 4", path: "s2s.outgoing.ip_versions", match: /not an array/ },
  { option: "s2s.outgoing.connection_timeout", toml: "[s2s]\noutgoing.connection_timeout = 0", path: "s2s.outgoing.connection_timeout" },
  { option: "s2s.outgoing.connection_timeout", toml: `[s2s]\noutgoing.connection_timeout = "forever"`, path: "s2s.outgoing.connection_timeout" },
  { option: "s2s.outgoing.connection_timeout", toml: "[s2s]\noutgoing.connection_timeout = 2.5", path: "s2s.outgoing.connection_timeout" },
  { option: "s2s.dns.timeout", toml: "[s2s]\ndns.timeout = 0", path: "s2s.dns.timeout" },
  { option: "s2s.dns.timeout", toml: `[s2s]\ndns.timeout = "10"`, path: "s2s.dns.timeout" },
  { option: "s2s.dns.retries", toml: "[s2s]\ndns.retries = 0", path: "s2s.dns.retries" },
  { option: "s2s.dns.retries", toml: "[s2s]\ndns.retires = 3", path: "s2s.dns.retires", match: /did you mean "retries"\?/ },
  { option: "s2s.cacertfile", toml: `[s2s]\ncacertfile = "certs/none.pem"`, path: "s2s.cacertfile", match: /file not found/ },
  { option: "s2s.cacertfile", toml: `[s2s]\ncacertfile = "a.toml"`, path: "s2s.cacertfile" },
  { option: "s2s.cacertfile", toml: `[s2s]\ncacertfile = ""`, path: "s2s.cacertfile", match: /empty/ },

  // [plugins]
  { option: "plugins", toml: `plugins = "echo"\n[general]\nhosts = ["a.example"]`, path: "plugins", match: /not a table/ },
  { option: "plugins", toml: `plugins = [1]\n[general]\nhosts = ["a.example"]`, path: "plugins", match: /not a table/ },
  // MongooseIM 6.4+ layout
  { option: "s2s.keyfile", toml: `[s2s]\nkeyfile = "certs/a.example.pem"`, path: "s2s.certfile", match: /missing .*since keyfile is given/ },
  { option: "s2s.keyfile", toml: `[s2s]\ncertfile = "certs/a.example.pem"\nkeyfile = "certs/ca.pem"`, path: "s2s.keyfile", match: /no PEM private key/ },
  { option: "s2s.outgoing.address", toml: `[s2s]\naddress = []\noutgoing.address = []`, path: "s2s.address", match: /set in both layouts/ },
  { option: "s2s.outgoing.address", toml: `[s2s.outgoing]\naddress = [{host = "b.example"}]`, path: "s2s.outgoing.address[0].ip_address", match: /missing/ },
  { option: "s2s.outgoing.max_retry_delay", toml: "[s2s.outgoing]\nmax_retry_delay = 0", path: "s2s.outgoing.max_retry_delay" },
  { option: "s2s.outgoing.shaper", toml: "[s2s.outgoing]\nshaper = 1", path: "s2s.outgoing.shaper" },
  { option: "s2s.outgoing.shaper", toml: `[s2s.outgoing]\nshaper = "fast"`, path: "s2s.outgoing.shaper", match: /expected one of "none"/ },
  { option: "s2s.outgoing.max_stanza_size", toml: "[s2s.outgoing]\nmax_stanza_size = 0", path: "s2s.outgoing.max_stanza_size" },
  { option: "s2s.outgoing.dns.timeout", toml: "[s2s.outgoing]\ndns.timeout = 0", path: "s2s.outgoing.dns.timeout" },
  { option: "s2s.outgoing.dns.retries", toml: "[s2s.outgoing]\ndns.retries = 0", path: "s2s.outgoing.dns.retries" },
  { option: "s2s.outgoing.tls.mode", toml: `[s2s.outgoing.tls]\nmode = "tls"\nverify_mode = "none"`, path: "s2s.outgoing.tls.mode", match: /tls = true/ },
  { option: "s2s.outgoing.tls.verify_mode", toml: `[s2s.outgoing.tls]\nverify_mode = "selfsigned_peer"`, path: "s2s.outgoing.tls.verify_mode", match: /no xmpp-s2s equivalent/ },
  { option: "s2s.outgoing.tls.certfile", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "nowhere.pem"`, path: "s2s.outgoing.tls.certfile", match: /cannot read/ },
  { option: "s2s.outgoing.tls.keyfile", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\nkeyfile = "certs/a.example.pem"`, path: "s2s.outgoing.tls.certfile", match: /missing/ },
  { option: "s2s.outgoing.tls.cacertfile", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\ncacertfile = "nowhere.pem"`, path: "s2s.outgoing.tls.cacertfile" },
  { option: "s2s.outgoing.tls.ciphers", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\nciphers = "NOTHING-AT-ALL"`, path: "s2s.outgoing.tls.ciphers" },
  { option: "s2s.outgoing.tls.versions", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\nversions = ["tlsv1.3"]`, path: "s2s.outgoing.tls.versions", match: /not supported/ },
  { option: "s2s.outgoing.tls.disconnect_on_failure", toml: `[s2s.outgoing.tls]\ndisconnect_on_failure = "no"`, path: "s2s.outgoing.tls.disconnect_on_failure" },
  { option: "s2s.outgoing.tls.keep_secrets", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\nkeep_secrets = true`, path: "s2s.outgoing.tls.keep_secrets" },
  { option: "s2s.outgoing.tls.server_name_indication", toml: `[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\nserver_name_indication.host = "x.example"`, path: "s2s.outgoing.tls.server_name_indication.host", match: /unknown key .*remove host/ },
  { option: "listen.s2s.tls.verify_mode", toml: `[[listen.s2s]]\nport = 5269\ntls = {verify_mode = "none", certfile = "certs/a.example.pem"}\n[s2s.outgoing.tls]\nmode = "starttls_required"\nverify_mode = "none"`, path: "listen.s2s[0].tls", match: /differs from s2s\.outgoing\.tls/ },
  { option: "listen.s2s.tls.certfile", toml: `[[listen.s2s]]\nport = 5269\ntls = {verify_mode = "none", certfile = "certs/b.example.pem"}\n[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"`, path: "listen.s2s[0].tls.certfile", match: /differs from the certificate of s2s\.outgoing\.tls/ },
  { option: "listen.s2s.tls.keyfile", toml: `[[listen.s2s]]\nport = 5269\ntls = {verify_mode = "none", certfile = "certs/a.example.pem", keyfile = "certs/ca.pem"}\n[s2s.outgoing.tls]\nverify_mode = "none"`, path: "listen.s2s[0].tls.keyfile", match: /no PEM private key/ },
  { option: "listen.s2s.tls.cacertfile", toml: `[[listen.s2s]]\nport = 5269\ntls = {verify_mode = "none", cacertfile = "certs/a.example.pem"}\n[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"\ncacertfile = "certs/ca.pem"`, path: "listen.s2s[0].tls.cacertfile", match: /differs from s2s\.outgoing\.tls\.cacertfile/ },
  { option: "listen.s2s.tls.ciphers", toml: `[[listen.s2s]]\nport = 5269\ntls = {verify_mode = "none", ciphers = 1}\n[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"`, path: "listen.s2s[0].tls.ciphers" },
  { option: "listen.s2s.tls.versions", toml: `[[listen.s2s]]\nport = 5269\ntls = {verify_mode = "none", versions = "tlsv1.2"}\n[s2s.outgoing.tls]\nverify_mode = "none"\ncertfile = "certs/a.example.pem"`, path: "listen.s2s[0].tls.versions" },
  { option: "listen.s2s.tls.disconnect_on_failure", toml: `[[listen.s2s]]\nport = 5269\ntls = {disconnect_on_failure = 1}`, path: "listen.s2s[0].tls.disconnect_on_failure" },
  { option: "listen.s2s.tls.keep_secrets", toml: `[[listen.s2s]]\nport = 5269\ntls = {verify_mode = "none", keep_secrets = true}`, path: "listen.s2s[0].tls.keep_secrets" },
  { option: "listen.s2s.tls.verify_mode", toml: `[[listen.s2s]]\nport = 5269\ntls = {dhfile = "dh.pem"}`, path: "listen.s2s[0].tls.dhfile", match: /unknown key .*ECDHE/ },
  { option: "listen.s2s.proxy_protocol", toml: "[[listen.s2s]]\nport = 5269\nproxy_protocol = true", path: "listen.s2s[0].proxy_protocol", match: /not supported/ },
  { option: "listen.s2s.reuse_port", toml: "[[listen.s2s]]\nport = 5269\nreuse_port = 1", path: "listen.s2s[0].reuse_port" },
  { option: "listen.s2s", toml: "[[listen.s2s]]\nport = 5269\nstate_timeout = 5000", path: "listen.s2s[0].state_timeout", match: /negotiation_timeout/ },
  { option: "listen.component.access", toml: `[[listen.component]]\nport = 8888\npassword = "p"\naccess = "component"`, path: "listen.component[0].access" },
  { option: "listen.component.hidden_components", toml: `[[listen.component]]\nport = 8888\npassword = "p"\nhidden_components = "yes"`, path: "listen.component[0].hidden_components" },
];

describe("config options (table-driven)", () => {
  describe("valid values are normalised", () => {
    for (const c of valid) {
      it(`${c.option}: ${c.toml.replace(/\n/g, " ⏎ ").slice(0, 100) || "(absent)"}`, () => {
        assert.deepEqual(c.get(parse(c.toml)), c.want);
      });
    }
  });

  describe("invalid values name their path", () => {
    for (const c of invalid) {
      it(`${c.path}: ${c.toml.replace(/\n/g, " ⏎ ").slice(0, 100)}`, () => {
        const problems = problemsOf(c.toml);
        const line = problems.find((p) => p.startsWith(`${c.path}:`));
        assert.ok(line, `no problem starting with "${c.path}:" in:\n${problems.join("\n")}`);
        if (c.match) assert.match(line, c.match);
        // Every problem line has the documented shape.
        for (const p of problems) assert.match(p, /^[^\s:]+: .+ \((got .+, )?expected .+\)$/);
      });
    }
  });

  it("covers every option with a valid and an invalid case", () => {
    for (const option of ALL_OPTIONS) {
      assert.ok(valid.some((c) => c.option === option), `no valid case for ${option}`);
      assert.ok(invalid.some((c) => c.option === option), `no invalid case for ${option}`);
    }
  });
});

describe("parseConfig", () => {
  it("reports every problem at once, in one ConfigError", () => {
    const problems = problemsOf(`[s2s]\ndns.timeout = 0\ndns.retries = 0\ndefault_policy = "ask"\nshared = 1\nmax_retry_delay = 0\nciphers = 1\noutgoing.port = "x"\noutgoing.ip_versions = []\noutgoing.connection_timeout = 0`);
    assert.deepEqual(
      problems.map((p) => p.slice(0, p.indexOf(":"))),
      ["s2s.default_policy", "s2s.shared", "s2s.ciphers", "s2s.max_retry_delay", "s2s.outgoing.port", "s2s.outgoing.ip_versions", "s2s.outgoing.connection_timeout", "s2s.dns.timeout", "s2s.dns.retries"],
    );
  });

  it("returns a deeply frozen config", () => {
    const c = parse(`[[listen.s2s]]\nport = 5269\n[s2s]\naddress = [{host = "b.example", ip_address = "192.0.2.1"}]\n[plugins.x]\nlist = [{a = 1}]`);
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.general.hosts));
    assert.ok(Object.isFrozen(c.listen.s2s[0]));
    assert.ok(Object.isFrozen(c.s2s.address[0]));
    assert.ok(Object.isFrozen(c.s2s.outgoing.ipVersions));
    assert.ok(Object.isFrozen((c.plugins["x"] as { list: object[] }).list[0]));
    assert.throws(() => {
      (c.s2s as { ciphers: string }).ciphers = "x";
    }, TypeError);
    assert.ok(isValidatedConfig(c));
  });

  it("reports a TOML syntax error with line and column", () => {
    assert.throws(
      () => parseConfig(`[general]\nhosts = ["a.example"\n`, { baseDir: EXAMPLES, file: "bad.toml" }),
      (err: unknown) => {
        assert.ok(isConfigError(err));
        assert.equal(err.problems.length, 1);
        assert.match(err.problems[0]!, /^bad\.toml: TOML syntax error at line \d+, column \d+: \S/);
        return true;
      },
    );
    assert.throws(() => parseConfig("= 1", { baseDir: EXAMPLES }), (err: unknown) => isConfigError(err) && /^config: TOML syntax error/.test(err.problems[0]!));
  });

  it("stores the absolute file and base folder", () => {
    const c = parseConfig(`[general]\nhosts = ["a.example"]`, { baseDir: "config/examples", file: "config/examples/x.toml" });
    assert.equal(c.baseDir, join(process.cwd(), "config/examples"));
    assert.equal(c.file, join(process.cwd(), "config/examples/x.toml"));
  });

  it("keeps a certificate's names whole in a problem line, however deep the checkout is", () => {
    // The names are what the operator needs; only the path may be shortened (a long checkout path must not push them out of the line).
    const snippet = `[s2s]\nuse_starttls = "optional"\ncertfile = "certs/b.example.pem"`;
    const namesIn = (baseDir: string) => {
      try {
        parseConfig(doc(snippet), { baseDir, file: "test.toml" });
      } catch (err) {
        if (!isConfigError(err)) throw err;
        const line = err.problems.find((p) => p.startsWith("s2s.certfile:")) ?? "";
        return { line, names: line.slice(line.indexOf(" with ") + 6, line.indexOf(", expected ")) };
      }
      return assert.fail("expected a ConfigError");
    };
    const deep = mkdtempSync(join(tmpdir(), "x".repeat(60) + "-"));
    try {
      const nested = join(deep, ...Array.from({ length: 12 }, (_, i) => `level-${i}-of-a-long-checkout-path`));
      mkdirSync(join(nested, "certs"), { recursive: true });
      copyFileSync(CERT_B, join(nested, "certs/b.example.pem"));
      const here = namesIn(EXAMPLES);
      const there = namesIn(nested);
      assert.match(here.names, /DNS:b\.example/);
      assert.ok(!here.names.includes("…"), here.line);
      assert.equal(there.names, here.names, there.line);
      assert.match(there.line, /\/certs\/b\.example\.pem with /);
    } finally {
      rmSync(deep, { recursive: true, force: true });
    }
  });

  it("resolves relative certificate paths against baseDir", () => {
    assert.equal(parse(`[s2s]\ncertfile = "./certs/../certs/a.example.pem"`).s2s.certfile, CERT_A);
  });
});

describe("configFromObject", () => {
  it("validates an object with the TOML layout, treating undefined as absent", () => {
    const c = configFromObject(
      { general: { hosts: ["A.example"] }, s2s: { outgoing: { port: 5270 }, shared: undefined, certfile: undefined }, plugins: { echo: { enabled: true } } },
      { baseDir: EXAMPLES },
    );
    assert.deepEqual(c.general.hosts, ["a.example"]);
    assert.equal(c.s2s.outgoing.port, 5270);
    assert.equal(c.s2s.shared, undefined);
    assert.equal(c.file, undefined);
    assert.deepEqual(c.plugins, { echo: { enabled: true } });
  });

  it("does not freeze or keep the caller's objects", () => {
    const raw = { general: { hosts: ["a.example"] }, plugins: { echo: { enabled: true } } };
    const c = configFromObject(raw, { baseDir: EXAMPLES });
    assert.ok(!Object.isFrozen(raw.plugins.echo));
    assert.notEqual(c.plugins["echo"], raw.plugins.echo);
  });

  it("accepts integral numbers where TOML integers are expected, and BigInt", () => {
    const c = configFromObject({ general: { hosts: ["a.example"] }, s2s: { dns: { retries: 3n }, outgoing: { port: 5270.0 } } }, { baseDir: EXAMPLES });
    assert.equal(c.s2s.dns.retries, 3);
    assert.equal(c.s2s.outgoing.port, 5270);
  });

  it("refuses values TOML cannot hold, with their path", () => {
    assert.throws(
      () => configFromObject({ general: { hosts: ["a.example"] }, plugins: { x: { f: () => 1, list: [undefined] } } }, { baseDir: EXAMPLES }),
      (err: unknown) => {
        assert.ok(isConfigError(err));
        assert.deepEqual(err.problems.map((p) => p.slice(0, p.indexOf(":"))), ["plugins.x.f", "plugins.x.list[0]"]);
        return true;
      },
    );
  });

  it("refuses a root that is not a table", () => {
    assert.throws(() => configFromObject("hosts", { baseDir: EXAMPLES }), (err: unknown) => isConfigError(err) && /^config: not a table/.test(err.problems[0]!));
  });

  it("refuses circular structures", () => {
    const loop: Record<string, unknown> = {};
    loop["self"] = loop;
    assert.throws(
      () => configFromObject({ general: { hosts: ["a.example"] }, plugins: { loop } }, { baseDir: EXAMPLES }),
      (err: unknown) => isConfigError(err) && err.problems.some((p) => p.startsWith("plugins.loop.self: circular reference")),
    );
  });
});
