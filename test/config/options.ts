/** Every configuration option, by its documented dotted name: the checklist the config tests and docs are held to. */
export const S2S_LISTENER_KEYS = [
  "port", "ip_address", "max_stanza_size", "tls.mode", "negotiation_timeout", "idle_timeout",
  "max_connections", "max_connections_per_ip", "shaper", "num_acceptors", "backlog", "proto", "ip_version", "hibernate_after", "proxy_protocol", "reuse_port",
  // MongooseIM 6.4+ listener TLS (tls-layout.ts)
  "tls.verify_mode", "tls.certfile", "tls.keyfile", "tls.cacertfile", "tls.ciphers", "tls.versions", "tls.disconnect_on_failure", "tls.keep_secrets",
] as const;

export const SERVICE_LISTENER_KEYS = [
  "port", "ip_address", "password", "max_stanza_size", "negotiation_timeout", "idle_timeout", "conflict_behaviour", "check_from",
  "shaper_rule", "shaper", "num_acceptors", "backlog", "proto", "hibernate_after", "ip_version",
] as const;

/** MongooseIM's [s2s] options, in its documentation's order, then ours. */
export const S2S_KEYS = [
  "default_policy", "host_policy", "use_starttls", "certfile", "domain_certfile", "shared", "address", "ciphers",
  "max_retry_delay", "outgoing.port", "outgoing.ip_versions", "outgoing.connection_timeout", "dns.timeout", "dns.retries",
  "cacertfile", "keyfile",
  // MongooseIM 6.4+ spellings and options
  "outgoing.address", "outgoing.max_retry_delay", "outgoing.shaper", "outgoing.max_stanza_size", "outgoing.dns.timeout", "outgoing.dns.retries",
  "outgoing.tls.mode", "outgoing.tls.verify_mode", "outgoing.tls.certfile", "outgoing.tls.keyfile", "outgoing.tls.cacertfile", "outgoing.tls.ciphers",
  "outgoing.tls.versions", "outgoing.tls.disconnect_on_failure", "outgoing.tls.keep_secrets", "outgoing.tls.server_name_indication",
] as const;

/** `[[listen.component]]` (MongooseIM 6.4+): the service listener's keys plus these. */
export const COMPONENT_LISTENER_KEYS = ["access", "hidden_components"] as const;

export const ALL_OPTIONS: readonly string[] = [
  "general.hosts",
  "general.loglevel",
  ...S2S_LISTENER_KEYS.map((k) => `listen.s2s.${k}`),
  ...SERVICE_LISTENER_KEYS.map((k) => `listen.service.${k}`),
  ...COMPONENT_LISTENER_KEYS.map((k) => `listen.component.${k}`),
  ...S2S_KEYS.map((k) => `s2s.${k}`),
  "shaper.max_rate",
  "cluster.backend",
  "cluster.redis_url",
  "cluster.node",
  "cluster.lease_seconds",
  "plugins",
];
