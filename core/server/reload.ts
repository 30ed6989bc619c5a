import { AUTHENTICATOR, type Authenticator } from "../auth/authenticator.js";
import type { S2sConfig } from "../config/types.js";
import { EVENTS, type EventBus } from "../events/events.js";
import { LOGGER } from "../logging/logger.js";
import type { CoreComposition, PluginComposition } from "./compose.js";

/** What a reload changed, and what it could not change without a restart. */
export interface ReloadReport {
  readonly policiesReplaced: number;
  readonly certificatesReloaded: boolean;
  /** The dialback secrets (`s2s.shared`) were replaced in place (rotation, docs/operations.md). */
  readonly secretsRotated: boolean;
  /** Top-level config keys that differ but only take effect after a restart. */
  readonly needsRestart: readonly string[];
  readonly closedInbound: number;
}

/** Keys a reload applies live: policy and certificate files re-read in place. */
const LIVE_S2S_KEYS = new Set(["defaultPolicy", "hostPolicy"]);

/**
 * Apply a new, already validated config to a running server. Plugins are loaded for the new
 * config first, by the server's own composition (`composePlugins`: a scratch child of the same
 * parent container as the running server), so any plugin problem throws (ConfigError) before
 * anything changes: the running config stays. Then the policy chain is swapped and every
 * established session is judged again; those now denied are closed with `policy-violation`.
 */
export async function applyReload(live: CoreComposition, current: S2sConfig, next: S2sConfig, composePlugins: (config: S2sConfig) => Promise<PluginComposition>): Promise<ReloadReport> {
  const logger = live.container.resolve(LOGGER);
  const { policies } = await composePlugins(next);

  const chain = live.policyChain;
  const old = chain.replace([...policies], next.s2s.defaultPolicy);
  for (const p of old) await Promise.resolve(p.close?.()).catch((err: unknown) => logger.warn({ what: "policy_close_failed", policy: p.name, err }));

  const tls = live.tls;
  let certificatesReloaded = false;
  if (tls.reload) {
    await tls.reload();
    certificatesReloaded = true;
  }

  // Authenticators that apply their part of the new config in place (dialback: the s2s.shared
  // secrets, for rotation). Authenticated streams are untouched: keys matter only while authenticating.
  const authenticators: Authenticator[] = live.container.isRegistered(AUTHENTICATOR, true) ? live.container.resolveAll(AUTHENTICATOR) : [];
  const appliedLive = new Set(authenticators.flatMap((a) => a.reload?.(next) ?? []));
  const secretsRotated = appliedLive.has("shared");

  const needsRestart = restartOnlyChanges(current, next).filter((key) => !appliedLive.has(key.replace(/^s2s\./, "")));
  if (needsRestart.length) logger.warn({ what: "reload_needs_restart", keys: needsRestart }, "these changes take effect after a restart");

  // Judge established sessions again: a pair that is now denied loses its stream.
  let closedInbound = 0;
  for (const stream of [...live.listeners.streams]) {
    for (const { remote, local } of stream.pairs) {
      if ((await chain.decide({ localDomain: local, remoteDomain: remote, direction: "inbound", via: "reload" })) === "deny") {
        stream.fail("policy-violation", `'${remote}' is no longer allowed to federate with '${local}'`);
        closedInbound++;
        break;
      }
    }
  }
  await live.outbound.closeWhere(async (local, remote) => (await chain.decide({ localDomain: local, remoteDomain: remote, direction: "outbound", via: "reload" })) === "deny", "policy-violation");

  const events: EventBus = live.container.resolve(EVENTS);
  events.emit({ type: "config_reloaded" });
  logger.info({ what: "config_reloaded", policies: policies.map((p) => p.name), certificatesReloaded, secretsRotated, closedInbound });
  return { policiesReplaced: policies.length, certificatesReloaded, secretsRotated, needsRestart, closedInbound };
}

/**
 * The TOML name of each `[s2s]` field of S2sConfig, as operators wrote it (reload logs used to name
 * internal fields such as `s2s.useStarttls`). Sub-tables are compared key by key.
 */
const S2S_TOML_NAMES: Readonly<Record<Exclude<keyof S2sConfig["s2s"], "outgoing" | "dns">, string>> = {
  defaultPolicy: "default_policy",
  hostPolicy: "host_policy",
  useStarttls: "use_starttls",
  certfile: "certfile",
  keyfile: "keyfile",
  domainCertfile: "domain_certfile",
  cacertfile: "cacertfile",
  shared: "shared",
  sharedSecrets: "shared",
  address: "address",
  ciphers: "ciphers",
  maxRetryDelayMs: "max_retry_delay",
};
const OUTGOING_TOML_NAMES: Readonly<Record<keyof S2sConfig["s2s"]["outgoing"], string>> = {
  port: "outgoing.port",
  ipVersions: "outgoing.ip_versions",
  connectionTimeoutMs: "outgoing.connection_timeout",
  maxStanzaSize: "outgoing.max_stanza_size",
};
const DNS_TOML_NAMES: Readonly<Record<keyof S2sConfig["s2s"]["dns"], string>> = { timeoutMs: "dns.timeout", retries: "dns.retries" };

/** TOML paths (`s2s.use_starttls`, `listen.s2s`, `plugins.resolver`) that differ but only take effect after a restart. */
function restartOnlyChanges(current: S2sConfig, next: S2sConfig): string[] {
  const changed: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(current.general.hosts, next.general.hosts)) changed.push("general.hosts");
  if (!same(current.listen.s2s, next.listen.s2s)) changed.push("listen.s2s");
  if (!same(current.listen.service, next.listen.service)) changed.push("listen.service");
  if (!same(current.cluster, next.cluster)) changed.push("cluster"); // Redis, node name, leases (docs/cluster.md)
  const compare = <T extends object>(a: T, b: T, names: Readonly<Record<string, string>>) => {
    for (const [key, toml] of Object.entries(names)) {
      if (!LIVE_S2S_KEYS.has(key) && !same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) changed.push(`s2s.${toml}`);
    }
  };
  compare(current.s2s, next.s2s, S2S_TOML_NAMES);
  compare(current.s2s.outgoing, next.s2s.outgoing, OUTGOING_TOML_NAMES);
  compare(current.s2s.dns, next.s2s.dns, DNS_TOML_NAMES);
  // [plugins] other than policies: new resolvers or connectors need a restart.
  const plugins = new Set([...Object.keys(current.plugins), ...Object.keys(next.plugins)]);
  for (const key of [...plugins].sort()) {
    if (key === "policy") continue;
    if (!same(current.plugins[key], next.plugins[key])) changed.push(`plugins.${key}`);
  }
  return [...new Set(changed)];
}
